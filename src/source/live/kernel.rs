//! The kernel's own word on the RSTs this machine sends: Linux's `tcp:tcp_send_reset`
//! tracepoint, read from a private tracefs instance while a live capture runs.
//!
//! The tracepoint fires inside the kernel's TCP stack each time it sends a RST and names the
//! reason (`NO_SOCKET`, `TCP_ABORT_ON_CLOSE`, `TCP_KEEPALIVE_TIMEOUT`, ...; kernel 6.10 and
//! later) and the socket's state. A private instance (`instances/rstscope-PID`) leaves the
//! global trace buffer, and anyone else using it, alone. Trace times are converted to the wall
//! clock with a marker written at start: the marker's trace time and the wall time it was
//! written at give the offset.

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

const MARK_SYNC: &str = "rstscope-clock-sync";
const MARK_STOP: &str = "rstscope-stop";

/// A running tracer; stops and removes its tracefs instance when dropped.
pub struct Tracer {
    instance: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn tracefs_root() -> Result<PathBuf, String> {
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        let root = Path::new(root);
        if root.join("instances").is_dir() {
            return Ok(root.to_owned());
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
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let marker_dir = instance.clone();
        let spawned = thread::Builder::new()
            .name("rstscope-kernel".to_owned())
            .spawn(move || read_events(pipe, &marker_dir, &stop_flag, &deliver));
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
    instance: &Path,
    stop: &AtomicBool,
    deliver: &(impl Fn(KernelReset) -> bool + Send),
) {
    let sync_wall = now_ns();
    let mut offset_ns: Option<i64> = None;
    if mark(instance, MARK_SYNC).is_err() {
        return;
    }
    let sync_wall = sync_wall.midpoint(now_ns());
    let mut lines = BufReader::new(pipe).lines();
    while !stop.load(Ordering::Relaxed) {
        let Some(Ok(line)) = lines.next() else {
            return;
        };
        match parse_line(&line) {
            Some(Line::Marker { trace_ns, text }) if text.starts_with(MARK_SYNC) => {
                offset_ns = Some(sync_wall - trace_ns);
            }
            Some(Line::Reset {
                trace_ns,
                mut reset,
            }) => {
                // Events before the sync marker cannot occur (the instance is new), but be
                // safe: without an offset the time is unknown and the wall clock stands in.
                reset.wall_ns = offset_ns.map_or_else(now_ns, |o| trace_ns + o);
                if !deliver(reset) {
                    return;
                }
            }
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
