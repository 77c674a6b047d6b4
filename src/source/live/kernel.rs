//! The kernel's own word on the RSTs this machine sends: Linux's `tcp:tcp_send_reset`
//! tracepoint, read from a private tracefs instance while a live capture runs.
//!
//! The tracepoint fires inside the kernel's TCP stack each time it sends a RST and names the
//! reason (`NO_SOCKET`, `TCP_ABORT_ON_CLOSE`, `TCP_KEEPALIVE_TIMEOUT`, ...; kernel 6.10 and
//! later) and the socket's state. A private instance (`instances/rstscope-PID`) leaves the
//! global trace buffer, and anyone else using it, alone. Trace times are converted to the wall
//! clock with a marker written at start: the marker's trace time and the wall time it was
//! written at give the offset.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{SystemTime, UNIX_EPOCH};

/// One RST the kernel of this machine sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KernelReset {
    /// The RST's source (this machine) and destination.
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The socket's state (`TCP_CLOSE`, `TCP_ESTABLISHED`, ...; `UNKNOWN` with no socket).
    pub state: String,
    /// The kernel's reason (`NO_SOCKET`, ...), `NOT_SPECIFIED` on kernels before 6.10.
    pub reason: String,
    /// When it was sent, in nanoseconds since the Unix epoch.
    pub wall_ns: i64,
}

/// The first line of a pcapng comment holding the kernel's records (one per line after it).
const COMMENT_HEAD: &str =
    "rstscope: RSTs this machine's kernel sent (tcp:tcp_send_reset): wall_ns src dst state reason";

/// The records as pcapng comments (each under the 64 KiB option limit), saved with a capture
/// so that analysing the file later shows the same verified reasons as the live view.
pub fn to_comments(resets: &[KernelReset]) -> Vec<String> {
    resets
        .chunks(500)
        .map(|chunk| {
            let mut text = COMMENT_HEAD.to_owned();
            for r in chunk {
                let _ = write!(
                    text,
                    "\n{} {} {} {} {}",
                    r.wall_ns, r.src, r.dst, r.state, r.reason
                );
            }
            text
        })
        .collect()
}

/// Reads the records back from a comment written by [`to_comments`]; other comments give none.
pub fn from_comment(text: &str) -> Vec<KernelReset> {
    let mut lines = text.lines();
    if lines.next() != Some(COMMENT_HEAD) {
        return Vec::new();
    }
    lines
        .filter_map(|l| {
            let mut f = l.split(' ');
            Some(KernelReset {
                wall_ns: f.next()?.parse().ok()?,
                src: f.next()?.parse().ok()?,
                dst: f.next()?.parse().ok()?,
                state: f.next()?.to_owned(),
                reason: f.next()?.to_owned(),
            })
        })
        .collect()
}

const MARK_SYNC: &str = "rstscope-clock-sync";
const MARK_STOP: &str = "rstscope-stop";

/// A running tracer; stops and removes its tracefs instance when dropped.
pub struct Tracer {
    instance: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn tracefs_root() -> Result<PathBuf, String> {
    let find = || {
        ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .map(Path::new)
            .find(|root| root.join("instances").is_dir())
            .map(Path::to_owned)
    };
    if let Some(root) = find() {
        return Ok(root);
    }
    // Not mounted: as root, mount it where the kernel provides the mount point (what
    // `perf` and `bpftrace` do too).
    if Path::new("/sys/kernel/tracing").is_dir() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            .stderr(std::process::Stdio::null())
            .status();
        if let Some(root) = find() {
            return Ok(root);
        }
    }
    Err(
        "tracefs is not mounted: mount it with `sudo mount -t tracefs nodev /sys/kernel/tracing`"
            .to_owned(),
    )
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    fs::write(dir.join(file), value)
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Tracer {
    /// Starts tracing; `deliver` gets each RST and returns false to stop.
    pub fn start(deliver: impl Fn(KernelReset) -> bool + Send + 'static) -> Result<Self, String> {
        let root = tracefs_root()?;
        let event = root.join("events/tcp/tcp_send_reset");
        if !event.is_dir() {
            return Err(
                "this kernel has no tcp:tcp_send_reset tracepoint (Linux 4.15 or later has it)"
                    .to_owned(),
            );
        }
        remove_stale_instances(&root.join("instances"));
        let instance = root
            .join("instances")
            .join(format!("rstscope-{}", std::process::id()));
        if let Err(e) = fs::create_dir(&instance)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(format!(
                "cannot create a tracefs instance ({}: {e}); the kernel's reasons need root",
                instance.display()
            ));
        }
        let tracer_dir = instance.clone();
        let setup = (|| {
            // A clock shared by all CPUs, so that one offset converts every event.
            if write(&instance, "trace_clock", "mono").is_err() {
                write(&instance, "trace_clock", "global")?;
            }
            write(&instance, "events/tcp/tcp_send_reset/enable", "1")?;
            write(&instance, "tracing_on", "1")
        })();
        if let Err(e) = setup {
            let _ = fs::remove_dir(&instance);
            return Err(format!("cannot enable tcp:tcp_send_reset: {e}"));
        }
        let pipe = match File::open(instance.join("trace_pipe")) {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_dir(&instance);
                return Err(format!("cannot read the trace: {e}"));
            }
        };
        // The clock marker is written before returning, so that every RST from now on can be
        // placed on the wall clock.
        let before = now_ns();
        if let Err(e) = mark(&instance, MARK_SYNC) {
            let _ = fs::remove_dir(&instance);
            return Err(format!("cannot write to the trace: {e}"));
        }
        let sync_wall = before.midpoint(now_ns());
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let spawned = thread::Builder::new()
            .name("rstscope-kernel".to_owned())
            .spawn(move || read_events(pipe, sync_wall, &stop_flag, &deliver));
        match spawned {
            Ok(handle) => Ok(Self {
                instance: tracer_dir,
                stop,
                thread: Some(handle),
            }),
            Err(e) => {
                let _ = fs::remove_dir(&instance);
                Err(format!("cannot start the tracing thread: {e}"))
            }
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the reader, which blocks until the trace has something to say.
        let _ = mark(&self.instance, MARK_STOP);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = write(&self.instance, "events/tcp/tcp_send_reset/enable", "0");
        let _ = write(&self.instance, "tracing_on", "0");
        let _ = fs::remove_dir(&self.instance);
    }
}

/// Removes the instances of rstscope processes that were killed before they could clean up.
fn remove_stale_instances(instances: &Path) {
    let Ok(entries) = fs::read_dir(instances) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("rstscope-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = write(&e.path(), "events/tcp/tcp_send_reset/enable", "0");
            let _ = fs::remove_dir(e.path());
        }
    }
}

fn mark(instance: &Path, text: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(instance.join("trace_marker"))?;
    f.write_all(text.as_bytes())
}

fn read_events(
    pipe: File,
    sync_wall: i64,
    stop: &AtomicBool,
    deliver: &(impl Fn(KernelReset) -> bool + Send),
) {
    let mut offset_ns: Option<i64> = None;
    // RSTs traced before the marker (between enabling and marking) wait for the offset.
    let mut early: Vec<(i64, KernelReset)> = Vec::new();
    let mut lines = BufReader::new(pipe).lines();
    while !stop.load(Ordering::Relaxed) {
        let Some(Ok(line)) = lines.next() else {
            return;
        };
        match parse_line(&line) {
            Some(Line::Marker { trace_ns, text }) if text.starts_with(MARK_SYNC) => {
                let offset = sync_wall - trace_ns;
                offset_ns = Some(offset);
                for (t, mut reset) in early.drain(..) {
                    reset.wall_ns = t + offset;
                    if !deliver(reset) {
                        return;
                    }
                }
            }
            Some(Line::Reset {
                trace_ns,
                mut reset,
            }) => match offset_ns {
                Some(offset) => {
                    reset.wall_ns = trace_ns + offset;
                    if !deliver(reset) {
                        return;
                    }
                }
                None => early.push((trace_ns, reset)),
            },
            _ => {}
        }
    }
}

/// A line of `trace_pipe` that matters.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Marker { trace_ns: i64, text: String },
    Reset { trace_ns: i64, reset: KernelReset },
}

/// Parses `  comm-PID  [CPU] flags  SECONDS.MICROS: event: fields`.
fn parse_line(line: &str) -> Option<Line> {
    let (head, event, rest) = if let Some(i) = line.find(": tcp_send_reset: ") {
        (&line[..i], "reset", &line[i + ": tcp_send_reset: ".len()..])
    } else if let Some(i) = line.find(": tracing_mark_write: ") {
        (
            &line[..i],
            "mark",
            &line[i + ": tracing_mark_write: ".len()..],
        )
    } else {
        return None;
    };
    let stamp = head.split_whitespace().last()?;
    let trace_ns = parse_seconds(stamp)?;
    if event == "mark" {
        return Some(Line::Marker {
            trace_ns,
            text: rest.trim().to_owned(),
        });
    }
    let field = |name: &str| {
        rest.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    Some(Line::Reset {
        trace_ns,
        reset: KernelReset {
            src: field("src")?.parse().ok()?,
            dst: field("dest")?.parse().ok()?,
            state: field("state").unwrap_or("UNKNOWN").to_owned(),
            reason: field("reason").unwrap_or("NOT_SPECIFIED").to_owned(),
            wall_ns: 0,
        },
    })
}

/// `12345.678901` (seconds with 6 or 9 decimals) in nanoseconds.
fn parse_seconds(s: &str) -> Option<i64> {
    let (secs, frac) = s.split_once('.')?;
    let secs: i64 = secs.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = 10i64.pow(9 - u32::try_from(frac.len()).ok()?);
    Some(secs * 1_000_000_000 + frac.parse::<i64>().ok()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_pcapng_comment() {
        let r = |reason: &str, src: &str| KernelReset {
            src: src.parse().unwrap(),
            dst: "[fd00::2]:3333".parse().unwrap(),
            state: "TCP_CLOSE".into(),
            reason: reason.into(),
            wall_ns: 1_764_000_000_123_456_789,
        };
        let records: Vec<KernelReset> = (0..1200)
            .map(|i| {
                r(
                    if i % 2 == 0 { "NO_SOCKET" } else { "TCP_STATE" },
                    "[fd00::1]:80",
                )
            })
            .collect();
        let comments = to_comments(&records);
        assert_eq!(comments.len(), 3, "500 records per comment");
        assert!(comments.iter().all(|c| c.len() < 65_535));
        let back: Vec<KernelReset> = comments.iter().flat_map(|c| from_comment(c)).collect();
        assert_eq!(back, records);
        assert!(from_comment("captured at the office").is_empty());
    }

    #[test]
    fn parses_the_kernels_lines() {
        // Lines as Linux 6.18 writes them (copied from this machine's trace_pipe).
        let reset = "          <idle>-0       [001] ..s2. 81234.567890: tcp_send_reset: skbaddr=00000000a1b2c3d4 skaddr=0000000000000000 src=127.0.0.1:40000 dest=127.0.0.1:51234 state=UNKNOWN reason=NO_SOCKET";
        assert_eq!(
            parse_line(reset),
            Some(Line::Reset {
                trace_ns: 81_234_567_890_000,
                reset: KernelReset {
                    src: "127.0.0.1:40000".parse().unwrap(),
                    dst: "127.0.0.1:51234".parse().unwrap(),
                    state: "UNKNOWN".into(),
                    reason: "NO_SOCKET".into(),
                    wall_ns: 0,
                }
            })
        );
        let v6 = " python3-1234 [000] ..... 5.000000001: tcp_send_reset: skbaddr=0 skaddr=0 src=[fd00::1]:80 dest=[fd00::2]:3333 state=TCP_ESTABLISHED reason=TCP_ABORT_ON_CLOSE";
        let Some(Line::Reset { trace_ns, reset }) = parse_line(v6) else {
            panic!("not parsed");
        };
        assert_eq!(trace_ns, 5_000_000_001);
        assert_eq!(reset.src, "[fd00::1]:80".parse().unwrap());
        assert_eq!(reset.reason, "TCP_ABORT_ON_CLOSE");
        let old_kernel = " x-1 [000] ..... 7.5: tcp_send_reset: skbaddr=0 skaddr=0 src=10.0.0.1:1 dest=10.0.0.2:2 state=TCP_CLOSE";
        let Some(Line::Reset { reset, .. }) = parse_line(old_kernel) else {
            panic!("not parsed");
        };
        assert_eq!(reset.reason, "NOT_SPECIFIED");
        let marker = "  rstscope-9 [001] ..... 100.000200: tracing_mark_write: rstscope-clock-sync";
        assert_eq!(
            parse_line(marker),
            Some(Line::Marker {
                trace_ns: 100_000_200_000,
                text: MARK_SYNC.into()
            })
        );
        assert_eq!(parse_line("# tracer: nop"), None);
    }
}
