//! Live capture through libpcap, saved to pcapng as it arrives.
//!
//! [`LiveSource`] is a [`PacketSource`] like a file reader: the pipeline's reader thread pulls
//! packets from it, and it writes each one to the save file before handing it on. It also
//! reports when no packet came within the poll timeout ([`Pulled::Idle`]), so that the pipeline
//! passes on what it holds instead of waiting for a full batch.

pub mod kernel;
pub mod libpcap;

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::save::{EndStats, PcapngWriter};
use super::{Format, Packet, PacketSource, Pulled, SourceError, SourceInfo};

pub use libpcap::Interface;

/// What to capture and where to save it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    pub interface: String,
    /// A capture filter in tcpdump's syntax; empty captures everything.
    pub filter: String,
    pub snaplen: u32,
    pub promisc: bool,
    /// The pcapng file to write; `None` makes a new one in [`default_capture_dir`].
    pub save_to: Option<PathBuf>,
    /// Attach the kernel's own reason for each RST this machine sends (Linux, root, tracefs).
    pub kernel_reasons: bool,
}

/// Wireshark's default snapshot length: whole packets.
pub const DEFAULT_SNAPLEN: u32 = 262_144;
pub const DEFAULT_FILTER: &str = "tcp";

impl LiveConfig {
    pub fn new(interface: impl Into<String>) -> Self {
        Self {
            interface: interface.into(),
            filter: DEFAULT_FILTER.to_owned(),
            snaplen: DEFAULT_SNAPLEN,
            promisc: true,
            save_to: None,
            kernel_reasons: false,
        }
    }
}

/// What the capture is, known once it started.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LiveInfo {
    pub interface: String,
    pub filter: String,
    pub snaplen: u32,
    pub link_type: u32,
    /// The pcapng file every packet is written to.
    pub saved_to: PathBuf,
    /// libpcap's version string.
    pub libpcap: String,
}

/// The kernel's counters for a running capture, shared with whoever shows them.
#[derive(Debug, Default)]
pub struct LiveCounters {
    received: AtomicU64,
    dropped: AtomicU64,
    if_dropped: AtomicU64,
    saved_bytes: AtomicU64,
}

/// A snapshot of [`LiveCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    /// Packets the kernel passed the filter (libpcap's `ps_recv`).
    pub received: u64,
    /// Packets the kernel dropped because rstscope did not read them fast enough (`ps_drop`).
    pub dropped: u64,
    /// Packets the interface dropped (`ps_ifdrop`).
    pub if_dropped: u64,
    /// Bytes written to the save file.
    pub saved_bytes: u64,
}

impl LiveCounters {
    pub fn snapshot(&self) -> CaptureStats {
        CaptureStats {
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            if_dropped: self.if_dropped.load(Ordering::Relaxed),
            saved_bytes: self.saved_bytes.load(Ordering::Relaxed),
        }
    }
}

/// The interfaces libpcap can capture on.
pub fn interfaces() -> Result<Vec<Interface>, SourceError> {
    let pcap = libpcap::load().map_err(|e| SourceError::Capture {
        message: missing_libpcap(&e),
        partial: false,
    })?;
    pcap.interfaces().map_err(|e| SourceError::Capture {
        message: format!("cannot list the network interfaces: {e}"),
        partial: false,
    })
}

/// libpcap's version, or why it cannot be loaded.
pub fn libpcap_version() -> Result<String, String> {
    libpcap::load()
        .map(libpcap::Pcap::version)
        .map_err(|e| missing_libpcap(&e))
}

/// Where captures are saved unless the user says otherwise: the user's data directory
/// (`~/.local/share/rstscope/captures` on Linux, `~/Library/Application Support/...` on macOS).
pub fn default_capture_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("rstscope")
        .join("captures")
}

/// A fresh file name for a capture on `interface`, in `dir`.
pub fn new_capture_path(dir: &Path, interface: &str) -> PathBuf {
    let safe: String = interface
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let mut path = dir.join(format!("{safe}-{stamp}.pcapng"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{safe}-{stamp}-{n}.pcapng"));
        n += 1;
    }
    path
}

/// How long one poll for packets waits; also the longest a packet waits before the pipeline
/// passes it on when traffic stops.
const POLL_TIMEOUT_MS: u32 = 50;
/// Kernel buffer: 32 MiB absorbs bursts of roughly a second at 100,000 small packets/s.
const KERNEL_BUFFER: u32 = 32 << 20;
/// How often the save file is flushed and the kernel's counters read while packets flow.
const HOUSEKEEPING: Duration = Duration::from_millis(100);

/// A running capture.
pub struct LiveSource {
    handle: libpcap::Handle,
    link_type: u32,
    frame: u64,
    writer: Option<PcapngWriter<BufWriter<File>>>,
    save_error: Option<String>,
    counters: Arc<LiveCounters>,
    last_housekeeping: Instant,
    first_ts_ns: Option<i64>,
    last_ts_ns: i64,
    info: LiveInfo,
    /// The last poll timed out: housekeeping is due.
    idle: bool,
}

impl LiveSource {
    /// Loads libpcap, opens the interface, applies the filter and creates the save file.
    pub fn open(cfg: &LiveConfig) -> Result<(Self, SourceInfo), SourceError> {
        let fail = |message| SourceError::Capture {
            message,
            partial: false,
        };
        if cfg!(all(unix, target_pointer_width = "32")) {
            // libpcap's packet header holds a `struct timeval`, whose size on 32-bit Linux
            // depends on how the distribution built it (32- or 64-bit time_t).
            return Err(fail(
                "live capture is not available in 32-bit builds; capture with tcpdump and pipe it in: `sudo tcpdump -i IFACE -U -w - tcp | rstscope -`".to_owned(),
            ));
        }
        let pcap = libpcap::load().map_err(|e| fail(missing_libpcap(&e)))?;
        let settings = libpcap::OpenSettings {
            interface: &cfg.interface,
            // 0 means "whole packets", as for tcpdump; below 128 bytes TCP headers with
            // options would be cut.
            snaplen: if cfg.snaplen == 0 {
                DEFAULT_SNAPLEN
            } else {
                cfg.snaplen.max(128)
            },
            promisc: cfg.promisc,
            timeout_ms: POLL_TIMEOUT_MS,
            buffer_bytes: KERNEL_BUFFER,
            filter: &cfg.filter,
        };
        let handle = pcap
            .open(&settings)
            .map_err(|e| fail(open_message(cfg, &e)))?;
        let link_type = handle.link_type();
        let path = if let Some(p) = &cfg.save_to {
            p.clone()
        } else {
            let dir = default_capture_dir();
            fs::create_dir_all(&dir).map_err(|e| {
                fail(format!(
                    "cannot create {} to save the capture in: {e}; choose a file to save to (`-w FILE`)",
                    dir.display()
                ))
            })?;
            new_capture_path(&dir, &cfg.interface)
        };
        let file = File::create(&path).map_err(|e| {
            fail(format!(
                "cannot create {} to save the capture in: {e}; choose another file (`-w FILE`)",
                path.display()
            ))
        })?;
        let mut writer = PcapngWriter::new(
            BufWriter::with_capacity(256 * 1024, file),
            link_type,
            settings.snaplen,
            &cfg.interface,
            &cfg.filter,
        )
        .and_then(|mut w| w.flush().map(|()| w))
        .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
        writer.flush().ok();
        let info = LiveInfo {
            interface: cfg.interface.clone(),
            filter: cfg.filter.clone(),
            snaplen: settings.snaplen,
            link_type,
            saved_to: path,
            libpcap: pcap.version(),
        };
        let source_info = SourceInfo {
            name: format!("live capture on {}", cfg.interface),
            format: Format::PcapNg,
            gzip: false,
            file_bytes: None,
            live: Some(info.clone()),
        };
        Ok((
            Self {
                handle,
                link_type,
                frame: 0,
                writer: Some(writer),
                save_error: None,
                counters: Arc::default(),
                last_housekeeping: Instant::now(),
                first_ts_ns: None,
                last_ts_ns: 0,
                info,
                idle: false,
            },
            source_info,
        ))
    }

    pub fn counters(&self) -> Arc<LiveCounters> {
        Arc::clone(&self.counters)
    }

    fn housekeeping(&mut self) {
        self.last_housekeeping = Instant::now();
        if let Some(w) = &mut self.writer
            && let Err(e) = w.flush()
        {
            self.writer = None;
            self.save_error = Some(save_failed(&self.info, self.frame, &e));
        }
        if let Some(s) = self.handle.stats() {
            // libpcap's counters are 32-bit and wrap; shown as they are (they are per capture).
            self.counters
                .received
                .store(u64::from(s.received), Ordering::Relaxed);
            self.counters
                .dropped
                .store(u64::from(s.dropped), Ordering::Relaxed);
            self.counters
                .if_dropped
                .store(u64::from(s.if_dropped), Ordering::Relaxed);
        }
        if let Some(w) = &self.writer {
            self.counters
                .saved_bytes
                .store(w.written(), Ordering::Relaxed);
        }
    }
}

/// What to say when writing the save file failed after `frame`.
fn save_failed(info: &LiveInfo, frame: u64, e: &std::io::Error) -> String {
    format!(
        "saving to {} stopped at frame {frame}: {e}; the analysis went on, but later packets were not saved",
        info.saved_to.display()
    )
}

impl PacketSource for LiveSource {
    fn pull(&mut self) -> Result<Pulled<'_>, SourceError> {
        if self.idle || self.last_housekeeping.elapsed() >= HOUSEKEEPING {
            self.idle = false;
            self.housekeeping();
        }
        // Every field by name: the packet borrows `handle` until the caller is done with it.
        let Self {
            handle,
            writer,
            frame,
            save_error,
            first_ts_ns,
            last_ts_ns,
            link_type,
            info,
            idle,
            ..
        } = self;
        match handle.next_packet() {
            libpcap::Next::Packet {
                ts_ns: raw_ts_ns,
                orig_len,
                data,
            } => {
                *frame += 1;
                // A clock before 1970 on a live machine: raised to the epoch, as files are.
                let ts_clamped = raw_ts_ns < *crate::source::TS_RANGE_NS.start();
                let ts_ns = raw_ts_ns.max(*crate::source::TS_RANGE_NS.start());
                if let Some(w) = writer
                    && let Err(e) = w.packet(ts_ns, orig_len, data)
                {
                    *writer = None;
                    *save_error = Some(save_failed(info, *frame, &e));
                }
                // Earliest and latest, as for files (a clock stepped back mid-capture).
                let first = first_ts_ns.get_or_insert(ts_ns);
                *first = (*first).min(ts_ns);
                *last_ts_ns = (*last_ts_ns).max(ts_ns);
                Ok(Pulled::Packet(Packet {
                    frame: *frame,
                    ts_ns,
                    ts_clamped,
                    link_type: *link_type,
                    orig_len,
                    data,
                }))
            }
            libpcap::Next::Timeout => {
                // Flush and read the counters on the next pull (the handle is busy here).
                *idle = true;
                Ok(Pulled::Idle)
            }
            libpcap::Next::Error(e) => Err(SourceError::Capture {
                message: format!(
                    "the capture on {} stopped: {e}; the {} packets before were saved to {}",
                    info.interface,
                    *frame,
                    info.saved_to.display()
                ),
                partial: true,
            }),
        }
    }

    fn is_live(&self) -> bool {
        true
    }

    fn close(&mut self, kernel: &[kernel::KernelReset]) -> Vec<String> {
        self.housekeeping();
        let stats = self.counters.snapshot();
        if let Some(mut w) = self.writer.take() {
            let end = EndStats {
                start_ns: self.first_ts_ns.unwrap_or(self.last_ts_ns),
                end_ns: self.last_ts_ns,
                received: stats.received,
                os_dropped: stats.dropped,
                if_dropped: stats.if_dropped,
            };
            let comments = kernel::to_comments(kernel);
            if let Err(e) = w.statistics(&end, &comments).and_then(|()| w.flush()) {
                self.save_error = Some(format!(
                    "finishing {} failed: {e}",
                    self.info.saved_to.display()
                ));
            }
            self.counters
                .saved_bytes
                .store(w.written(), Ordering::Relaxed);
        }
        let mut problems: Vec<String> = self.save_error.take().into_iter().collect();
        if stats.dropped > 0 || stats.if_dropped > 0 {
            problems.push(format!(
                "the kernel dropped {} of {} packets (and the interface {}): rstscope did not read them fast enough; a narrower capture filter or a smaller snapshot length helps",
                stats.dropped, stats.received, stats.if_dropped
            ));
        }
        problems
    }
}

/// What to install when libpcap is missing.
fn missing_libpcap(e: &libpcap::LoadError) -> String {
    let install = if cfg!(target_os = "macos") {
        "libpcap ships with macOS; check that /usr/lib/libpcap.A.dylib is readable"
    } else if cfg!(windows) {
        "install Npcap from https://npcap.com (with \"WinPcap API-compatible mode\")"
    } else {
        "install it: `sudo apt-get install libpcap0.8` (Debian, Ubuntu), `sudo dnf install libpcap` (Fedora, RHEL) or `sudo pacman -S libpcap` (Arch)"
    };
    format!(
        "live capture needs libpcap, which could not be loaded (tried {}: {}). To capture, {install}. Or capture with tcpdump and pipe it in: `sudo tcpdump -i IFACE -U -w - tcp | rstscope -`",
        e.tried.join(", "),
        e.last_error
    )
}

/// Turns libpcap's failure into what the user should do.
fn open_message(cfg: &LiveConfig, e: &libpcap::OpenError) -> String {
    let iface = &cfg.interface;
    let pipe = format!(
        "sudo tcpdump -i {iface} -U -w - {} | rstscope -",
        shell_quote(&cfg.filter)
    );
    match (e.step, e.status) {
        ("filter", _) => format!(
            "the capture filter `{}` is not valid: {}. Filters use tcpdump's syntax, for example `tcp port 443` or `host 10.0.0.5 and tcp`",
            cfg.filter, e.message
        ),
        (_, libpcap::ERROR_PERM_DENIED) => {
            let exe = std::env::current_exe()
                .map_or_else(|_| "rstscope".to_owned(), |p| p.display().to_string());
            if cfg!(target_os = "macos") {
                format!(
                    "no permission to capture on {iface} ({}). Let your user read /dev/bpf* (Wireshark's \"Install ChmodBPF\" does it), or run rstscope with sudo, or capture with tcpdump and pipe it in: `{pipe}`",
                    e.message
                )
            } else {
                format!(
                    "no permission to capture on {iface} ({}). Give rstscope the capture capabilities once: `sudo setcap cap_net_raw,cap_net_admin=eip {exe}` (then run it as yourself), or capture with tcpdump and pipe it in: `{pipe}`",
                    e.message
                )
            }
        }
        (_, libpcap::ERROR_PROMISC_PERM_DENIED) => format!(
            "no permission to put {iface} in promiscuous mode ({}). Capture without it (`--no-promisc`, or untick Promiscuous): you still see this machine's own traffic",
            e.message
        ),
        (_, libpcap::ERROR_NO_SUCH_DEVICE) => {
            let names = interfaces().map_or_else(
                |_| String::new(),
                |list| {
                    let n: Vec<String> = list.into_iter().map(|i| i.name).collect();
                    format!(" Interfaces here: {}.", n.join(", "))
                },
            );
            format!(
                "there is no interface named `{iface}` ({}).{names} `rstscope capture --list` shows them with their addresses",
                e.message
            )
        }
        (_, libpcap::ERROR_IFACE_NOT_UP) => format!(
            "{iface} is down ({}): bring it up (`sudo ip link set {iface} up`) or choose another interface",
            e.message
        ),
        (_, libpcap::ERROR_RFMON_NOTSUP) => {
            format!("{iface} cannot capture in monitor mode ({})", e.message)
        }
        _ => format!("cannot capture on {iface}: {}", e.message),
    }
}

/// Quotes a filter for a shell command line shown to the user.
fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_file_names_are_safe_and_fresh() {
        let dir = std::env::temp_dir().join(format!("rstscope-names-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let a = new_capture_path(&dir, "eth0:1/x");
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("eth0_1_x-"), "{name}");
        assert!(name.ends_with(".pcapng"), "{name}");
        fs::write(&a, b"").unwrap();
        let b = new_capture_path(&dir, "eth0:1/x");
        assert_ne!(a, b, "an existing file is never overwritten");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn filters_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("tcp"), "tcp");
        assert_eq!(shell_quote("tcp port 80"), "'tcp port 80'");
        assert_eq!(shell_quote("host a'b"), r"'host a'\''b'");
    }
}
