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
    let mut out = Vec::new();
    let mut text = COMMENT_HEAD.to_owned();
    for r in resets {
        let mut line = String::new();
        let _ = write!(
            line,
            "\n{} {} {} {} {}",
            r.wall_ns, r.src, r.dst, r.state, r.reason
        );
        if text.len() + line.len() > COMMENT_MAX {
            out.push(std::mem::replace(&mut text, COMMENT_HEAD.to_owned()));
        }
        text.push_str(&line);
    }
    if text.len() > COMMENT_HEAD.len() {
        out.push(text);
    }
    out
}

/// A pcapng option holds at most 65,535 bytes.
const COMMENT_MAX: usize = 60_000;

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
                src: canonical(f.next()?.parse().ok()?),
                dst: canonical(f.next()?.parse().ok()?),
                state: identifier(f.next()?)?,
                reason: identifier(f.next()?)?,
            })
        })
        .collect()
}

/// The kernel names states and reasons as identifiers (`TCP_CLOSE`, `NO_SOCKET`, or a number
/// such as `0x1f` for one it has no name for); a field with anything else (a damaged or edited
/// comment: spaces, control characters, nothing) is not one of its records.
fn identifier(field: &str) -> Option<String> {
    let ok = !field.is_empty()
        && field.len() <= 64
        && field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| field.to_owned())
}

const MARK_SYNC: &str = "rstscope-clock-sync";
const MARK_STOP: &str = "rstscope-stop";

/// A running tracer; stops and removes its tracefs instance when dropped.
pub struct Tracer {
    instance: PathBuf,
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
        let spawned = thread::Builder::new()
            .name("rstscope-kernel".to_owned())
            .spawn(move || read_events(pipe, sync_wall, &deliver));
        match spawned {
            Ok(handle) => Ok(Self {
                instance: tracer_dir,
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
        // The reader reads on until this marker, so records before it are delivered; it also
        // wakes the reader, which blocks until the trace has something to say. Without the
        // marker the reader would never return: leave it (it ends with the process).
        if mark(&self.instance, MARK_STOP).is_ok()
            && let Some(t) = self.thread.take()
        {
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

fn read_events(pipe: File, sync_wall: i64, deliver: &(impl Fn(KernelReset) -> bool + Send)) {
    let mut offset_ns: Option<i64> = None;
    // RSTs traced before the marker (between enabling and marking) wait for the offset.
    let mut early: Vec<(i64, KernelReset)> = Vec::new();
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // Bytes, not `lines()`: a task name cut inside a UTF-8 character must not end tracing.
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        match parse_line(&line) {
            // What the kernel recorded before the stop marker has been read: done.
            Some(Line::Marker { text, .. }) if text.starts_with(MARK_STOP) => return,
            Some(Line::Marker { trace_ns, text }) if text.starts_with(MARK_SYNC) => {
                let offset = sync_wall.saturating_sub(trace_ns);
                offset_ns = Some(offset);
                for (t, mut reset) in early.drain(..) {
                    reset.wall_ns = t.saturating_add(offset);
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
                    reset.wall_ns = trace_ns.saturating_add(offset);
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
    // Linux 6.10 and later: `src=IP:PORT dest=IP:PORT ... reason=...`. Before: the
    // tcp_event_sk_skb format, `sport=P dport=P saddr=IPv4 daddr=IPv4 saddrv6=IPv6 daddrv6=IPv6`.
    let (src, dst) = if let (Some(s), Some(d)) = (field("src"), field("dest")) {
        (s.parse().ok()?, d.parse().ok()?)
    } else {
        let v6 = |a: &str, p: &str| -> Option<SocketAddr> {
            Some(SocketAddr::new(
                field(a)?.parse::<std::net::Ipv6Addr>().ok()?.into(),
                field(p)?.parse().ok()?,
            ))
        };
        (v6("saddrv6", "sport")?, v6("daddrv6", "dport")?)
    };
    Some(Line::Reset {
        trace_ns,
        reset: KernelReset {
            src: canonical(src),
            dst: canonical(dst),
            state: field("state").unwrap_or("UNKNOWN").to_owned(),
            reason: field("reason").unwrap_or("NOT_SPECIFIED").to_owned(),
            wall_ns: 0,
        },
    })
}

/// A dual-stack (IPv6) socket's IPv4 peer is printed as `::ffff:a.b.c.d`; packets carry the
/// IPv4 address.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// `12345.678901` (seconds with 6 or 9 decimals) in nanoseconds.
fn parse_seconds(s: &str) -> Option<i64> {
    let (secs, frac) = s.split_once('.')?;
    let secs: i64 = secs.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = 10i64.pow(9 - u32::try_from(frac.len()).ok()?);
    secs.checked_mul(1_000_000_000)?
        .checked_add(frac.parse::<i64>().ok()? * scale)
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
        assert!(comments.len() >= 2, "split under the option size limit");
        assert!(comments.iter().all(|c| c.len() <= COMMENT_MAX));
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
        // Linux before 6.10 (the tcp_event_sk_skb class's format, include/trace/events/tcp.h).
        let old_kernel = " x-1 [000] ..... 7.5: tcp_send_reset: skbaddr=0000000012345678 skaddr=00000000abcdef01 family=AF_INET sport=8080 dport=56696 saddr=10.77.2.2 daddr=10.77.1.2 saddrv6=::ffff:10.77.2.2 daddrv6=::ffff:10.77.1.2 state=TCP_ESTABLISHED";
        let Some(Line::Reset { reset, .. }) = parse_line(old_kernel) else {
            panic!("not parsed");
        };
        assert_eq!(reset.reason, "NOT_SPECIFIED");
        assert_eq!(reset.src, "10.77.2.2:8080".parse().unwrap());
        assert_eq!(reset.dst, "10.77.1.2:56696".parse().unwrap());
        assert_eq!(reset.state, "TCP_ESTABLISHED");
        // A dual-stack listener's IPv4 peer (6.10 and later print the socket's addresses).
        let mapped = " x-1 [000] ..... 7.5: tcp_send_reset: skbaddr=0 skaddr=0 src=[::ffff:10.0.0.5]:8080 dest=[::ffff:10.0.0.6]:4000 state=TCP_CLOSE reason=TCP_ABORT_ON_CLOSE";
        let Some(Line::Reset { reset, .. }) = parse_line(mapped) else {
            panic!("not parsed");
        };
        assert_eq!(reset.src, "10.0.0.5:8080".parse().unwrap());
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
