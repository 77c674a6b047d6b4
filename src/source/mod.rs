//! Capture sources: pcap and pcapng files, gzip-compressed or not, from a path or from stdin.
//!
//! The reader is a streaming pull parser: [`CaptureReader::next_packet`] hands out one record at a
//! time, borrowed from an internal buffer that only ever holds the record being read. Nothing is
//! loaded whole and nothing needs `Seek`, so a pipe (`tcpdump -w - | rstscope -`) works like a file.
//!
//! Why this is written by hand rather than with `pcap-file` 2.0: that crate takes pcapng
//! Enhanced Packet Block timestamps as nanoseconds whatever the interface's `if_tsresol` says,
//! ignores `if_tsoffset`, cannot read the modified ("Kuznetzov") pcap format, does not report the
//! byte offset where a damaged file stops, and does not make libpcap's open-time checks (reserved
//! link-type bits, unsupported versions, header/trailer length mismatch). Those are exactly the
//! cases a user's capture exercises, so the framing (a few hundred lines) lives here.

mod gzip;
pub mod live;
mod pcap;
mod pcapng;
pub mod save;
mod stream;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use stream::ByteStream;

/// Link-layer header types (LINKTYPE_* values from tcpdump.org's registry) that matter here.
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    pub const RAW: u32 = 101;
    /// `DLT_RAW` as numbered on some BSDs, found in pcap files written there.
    pub const RAW_BSD_12: u32 = 12;
    pub const RAW_BSD_14: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const PPP_ETHER: u32 = 51;
    pub const C_HDLC: u32 = 104;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const ARCNET_LINUX: u32 = 129;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const NFLOG: u32 = 239;
    pub const LINUX_SLL2: u32 = 276;
}

/// The container format of a capture, as recognised from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Pcap,
    PcapNg,
}

/// One packet record, borrowed from the reader until the next call.
#[derive(Debug)]
pub struct Packet<'a> {
    /// 1-based record number in file order, as Wireshark and tshark number frames.
    pub frame: u64,
    /// Capture time in nanoseconds since the Unix epoch, within [`TS_RANGE_NS`].
    pub ts_ns: i64,
    /// The record's own time lay outside [`TS_RANGE_NS`] and was clamped to it.
    pub ts_clamped: bool,
    /// LINKTYPE_* of the interface the packet was captured on.
    pub link_type: u32,
    /// Length of the packet on the wire; `data` may be shorter (snapshot length).
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// Why reading stopped before the end of the input, or why it never started.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open {}: {cause}", path.display())]
    Open { path: PathBuf, cause: io::Error },
    #[error(
        "not a pcap or pcapng capture (it starts with {magic}); save it from Wireshark or tcpdump as pcap or pcapng"
    )]
    UnknownFormat { magic: String },
    #[error("the input is empty: it holds no capture header")]
    Empty,
    /// The file is one libpcap refuses to open; the text matches libpcap's where it has one.
    #[error("{0}")]
    Rejected(String),
    /// A damaged or cut file: every record before `offset` was read.
    #[error("stopped at byte {offset}{}: {reason}", if *.compressed { " of the decompressed stream" } else { "" })]
    Stopped {
        offset: u64,
        compressed: bool,
        reason: String,
    },
    #[error("read error at byte {offset}: {cause}")]
    Io { offset: u64, cause: io::Error },
    /// A live capture could not start (`partial: false`) or stopped (`partial: true`); the
    /// message says what to do.
    #[error("{message}")]
    Capture { message: String, partial: bool },
}

impl SourceError {
    /// True when packets may have been read before this error (a partial result), false when
    /// the capture could not be opened at all.
    pub fn is_partial(&self) -> bool {
        matches!(
            self,
            Self::Stopped { .. } | Self::Io { .. } | Self::Capture { partial: true, .. }
        )
    }
}

/// Where a capture comes from, as the user named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    File(PathBuf),
    Stdin,
    /// A capture held in memory (the desktop app's embedded samples), with a name to show.
    Bytes(String, std::sync::Arc<[u8]>),
    /// A live capture on a network interface, saved as it arrives.
    Live(live::LiveConfig),
}

impl SourceSpec {
    /// `-` means standard input, anything else a path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Self::Stdin
        } else {
            Self::File(PathBuf::from(arg))
        }
    }

    pub fn display_name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "<stdin>".to_owned(),
            Self::Bytes(name, _) => name.clone(),
            Self::Live(cfg) => format!("live capture on {}", cfg.interface),
        }
    }
}

/// Counts the bytes taken from the underlying file or pipe, before decompression, so progress
/// can be shown against the file size. Shared with the thread that reports progress.
#[derive(Clone, Debug, Default)]
pub struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Shared bytes as a `Cursor` source.
struct SharedBytes(std::sync::Arc<[u8]>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct CountingRead<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

enum Framing {
    Pcap(pcap::PcapState),
    PcapNg(pcapng::PcapNgState),
}

/// Streaming reader of one capture.
pub struct CaptureReader {
    stream: ByteStream<Box<dyn Read + Send>>,
    framing: Framing,
    frame: u64,
    compressed: bool,
    finished: bool,
    /// [`Pulled::Idle`] was returned since the last packet.
    idle_reported: bool,
}

/// Metadata known once the capture header has been read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceInfo {
    pub name: String,
    pub format: Format,
    pub gzip: bool,
    /// Size of the file in bytes, when it is a regular file.
    pub file_bytes: Option<u64>,
    /// The interface, filter and save file of a live capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<live::LiveInfo>,
}

/// What a [`PacketSource`] has to give.
#[derive(Debug)]
pub enum Pulled<'a> {
    Packet(Packet<'a>),
    /// Nothing more right now: the next pull may wait (a pipe, a quiet network). Whoever
    /// holds packets back for batching should pass them on.
    Idle,
    /// The end of the input.
    End,
}

/// Anything packets are pulled from: a capture file or stream, or a live capture.
pub trait PacketSource {
    fn pull(&mut self) -> Result<Pulled<'_>, SourceError>;
    /// A live capture: pulls return at least every few tens of milliseconds.
    fn is_live(&self) -> bool {
        false
    }
    /// Ends the input (a live capture finishes its save file, with the kernel's RST records
    /// given); returns problems to report.
    fn close(&mut self, kernel: &[live::kernel::KernelReset]) -> Vec<String> {
        let _ = kernel;
        Vec::new()
    }
    /// The kernel's RST records saved in the input by an earlier live capture.
    fn saved_kernel_resets(&mut self) -> Vec<live::kernel::KernelReset> {
        Vec::new()
    }
}

impl CaptureReader {
    /// Opens a capture by name (a path or `-` for stdin) and reads its header.
    ///
    /// Synchronously checks that the file exists and is a capture; damage further in is reported
    /// by [`Self::next_packet`].
    pub fn open(spec: &SourceSpec) -> Result<(Self, SourceInfo, ByteCounter), SourceError> {
        let counter = ByteCounter::default();
        let (raw, file_bytes): (Box<dyn Read + Send>, Option<u64>) = match spec {
            SourceSpec::File(path) => {
                let file = open_file(path)?;
                let len = file
                    .metadata()
                    .ok()
                    .filter(std::fs::Metadata::is_file)
                    .map(|m| m.len());
                (Box::new(file), len)
            }
            SourceSpec::Stdin => (Box::new(io::stdin()), None),
            SourceSpec::Bytes(_, bytes) => (
                Box::new(io::Cursor::new(SharedBytes(std::sync::Arc::clone(bytes)))),
                Some(bytes.len() as u64),
            ),
            SourceSpec::Live(_) => {
                return Err(SourceError::Capture {
                    message: "a live capture is not read as a stream; use LiveSource".to_owned(),
                    partial: false,
                });
            }
        };
        let counting = CountingRead {
            inner: raw,
            counter: counter.clone(),
        };
        let (reader, format, gzip) = Self::from_read(Box::new(counting))?;
        let info = SourceInfo {
            name: spec.display_name(),
            format,
            gzip,
            file_bytes,
            live: None,
        };
        Ok((reader, info, counter))
    }

    /// Builds a reader over any byte stream; recognises gzip by its magic bytes.
    pub fn from_read(input: Box<dyn Read + Send>) -> Result<(Self, Format, bool), SourceError> {
        let mut buffered = BufReader::with_capacity(256 * 1024, input);
        // The gzip magic is two bytes, and a slow pipe may hand over one at a time
        // (`ssh host 'tcpdump -w - | gzip' | rstscope -`): read until both are here.
        let mut head = [0u8; 2];
        let mut got = 0;
        while got < head.len() {
            match buffered.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(cause) => return Err(SourceError::Io { offset: 0, cause }),
            }
        }
        let gzip = head[..got] == [0x1f, 0x8b];
        let rejoined = io::Cursor::new(head).take(got as u64).chain(buffered);
        let input: Box<dyn Read + Send> = if gzip {
            gzip::Inflating::spawn(gzip::GzipReader::new(rejoined))
        } else {
            Box::new(rejoined)
        };
        let mut stream = ByteStream::new(input);
        let (framing, format) =
            Self::open_framing(&mut stream).map_err(|e| decompression_failed(e, gzip))?;
        Ok((
            Self {
                stream,
                framing,
                frame: 0,
                compressed: gzip,
                finished: false,
                idle_reported: false,
            },
            format,
            gzip,
        ))
    }

    /// Recognises the format by its magic number (waiting for all 4 bytes) and reads its header.
    fn open_framing(
        stream: &mut ByteStream<Box<dyn Read + Send>>,
    ) -> Result<(Framing, Format), SourceError> {
        match stream.fill(4) {
            Ok(true) => {}
            Ok(false) if stream.available() == 0 => return Err(SourceError::Empty),
            Ok(false) => {
                return Err(SourceError::UnknownFormat {
                    magic: hex(stream.peek(stream.available())),
                });
            }
            Err(cause) => return Err(SourceError::Io { offset: 0, cause }),
        }
        let magic = stream.peek(4);
        if pcapng::is_shb(magic) {
            Ok((
                Framing::PcapNg(pcapng::PcapNgState::open(stream)?),
                Format::PcapNg,
            ))
        } else if pcap::is_magic(magic) {
            Ok((Framing::Pcap(pcap::PcapState::open(stream)?), Format::Pcap))
        } else {
            Err(SourceError::UnknownFormat { magic: hex(magic) })
        }
    }

    /// The next packet record, `Ok(None)` at a clean end of input.
    ///
    /// After an error the reader is finished: every record returned before it stands, and
    /// further calls return `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, SourceError> {
        if self.finished {
            return Ok(None);
        }
        let result = match &mut self.framing {
            Framing::Pcap(state) => state.next_record(&mut self.stream),
            Framing::PcapNg(state) => state.next_record(&mut self.stream),
        };
        match result {
            Ok(Some(rec)) => {
                self.frame += 1;
                Ok(Some(Packet {
                    frame: self.frame,
                    ts_ns: rec.ts_ns,
                    ts_clamped: rec.ts_clamped,
                    link_type: rec.link_type,
                    orig_len: rec.orig_len,
                    data: self.stream.record(rec.data_start, rec.data_len),
                }))
            }
            Ok(None) => {
                self.finished = true;
                Ok(None)
            }
            Err(err) => {
                self.finished = true;
                Err(self.located(err))
            }
        }
    }

    /// Bytes consumed so far (of the decompressed stream for gzip input): after a record, the
    /// offset where the next one starts.
    pub fn offset(&self) -> u64 {
        self.stream.offset()
    }

    fn located(&self, err: Damage) -> SourceError {
        match err {
            Damage::Stopped { offset, reason } => SourceError::Stopped {
                offset,
                compressed: self.compressed,
                reason,
            },
            Damage::Io { offset, cause } => {
                decompression_failed(SourceError::Io { offset, cause }, self.compressed)
            }
        }
    }
}

impl PacketSource for CaptureReader {
    /// Reports [`Pulled::Idle`] once whenever everything buffered has been handed out, before
    /// reading on: a pipe (`tcpdump -U -w - | rstscope -`) may then block until the next packet
    /// arrives, and the packets already read should not wait with it.
    fn pull(&mut self) -> Result<Pulled<'_>, SourceError> {
        if !self.finished && !self.idle_reported && self.stream.available() == 0 {
            self.idle_reported = true;
            return Ok(Pulled::Idle);
        }
        self.idle_reported = false;
        Ok(match self.next_packet()? {
            Some(p) => Pulled::Packet(p),
            None => Pulled::End,
        })
    }

    fn saved_kernel_resets(&mut self) -> Vec<live::kernel::KernelReset> {
        match &mut self.framing {
            Framing::PcapNg(state) => std::mem::take(&mut state.kernel_resets),
            Framing::Pcap(_) => Vec::new(),
        }
    }
}

/// A gzip stream that is cut or corrupt makes the decompressor fail a read with
/// `InvalidData` (`gzip::GzipReader` reports all damage so): that is damage to the capture,
/// reported as such ("stopped at byte N of the decompressed stream"), not a read error of the
/// disk or pipe, which keeps its own kind and its own message.
fn decompression_failed(err: SourceError, gzip: bool) -> SourceError {
    match err {
        SourceError::Io { offset, cause } if gzip && cause.kind() == io::ErrorKind::InvalidData => {
            SourceError::Stopped {
                offset,
                compressed: true,
                reason: format!("the gzip data is cut or damaged ({cause})"),
            }
        }
        other => other,
    }
}

fn open_file(path: &Path) -> Result<File, SourceError> {
    File::open(path).map_err(|cause| SourceError::Open {
        path: path.to_owned(),
        cause,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A record located in the stream's buffer by the format parsers.
struct RecordRef {
    ts_ns: i64,
    ts_clamped: bool,
    link_type: u32,
    orig_len: u32,
    data_start: usize,
    data_len: usize,
}

/// Damage found while reading records; located into a [`SourceError`] by the reader.
enum Damage {
    Stopped { offset: u64, reason: String },
    Io { offset: u64, cause: io::Error },
}

impl Damage {
    fn stopped(offset: u64, reason: impl Into<String>) -> Self {
        Self::Stopped {
            offset,
            reason: reason.into(),
        }
    }
}

/// Byte order of a pcap file or pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Self::Little => u16::from_le_bytes(a),
            Self::Big => u16::from_be_bytes(a),
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Self::Little => u32::from_le_bytes(a),
            Self::Big => u32::from_be_bytes(a),
        }
    }
    fn u64(self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        match self {
            Self::Little => u64::from_le_bytes(a),
            Self::Big => u64::from_be_bytes(a),
        }
    }
}

/// The packet times rstscope keeps: nanoseconds from the Unix epoch (1970-01-01T00:00:00Z) to
/// the last one an `i64` holds (2262-04-11T23:47:16.854775807Z). A pcap file cannot say earlier
/// (its seconds are unsigned) and only a pcapng `if_tsoffset` or resolution can say later; such
/// times are clamped to this range and counted in a warning. Because every time is non-negative,
/// the difference of any two never overflows: every duration downstream is exact.
pub const TS_RANGE_NS: std::ops::RangeInclusive<i64> = 0..=i64::MAX;

/// Converts a count of `units_per_sec`-ths of a second, plus an offset in seconds, to
/// nanoseconds since the epoch, clamped to [`TS_RANGE_NS`]; `true` when it had to be clamped.
fn to_ns(ticks: u64, units_per_sec: u64, offset_s: i64) -> (i64, bool) {
    // The common resolutions without 128-bit division (this runs once per packet).
    if offset_s == 0 && ticks < (1 << 53) {
        match units_per_sec {
            // Below 2^53 both fit an i64 and are non-negative.
            1_000_000 => return (i64::try_from(ticks * 1000).unwrap_or(i64::MAX), false),
            1_000_000_000 => return (i64::try_from(ticks).unwrap_or(i64::MAX), false),
            _ => {}
        }
    }
    let units = i128::from(units_per_sec.max(1));
    let ns = i128::from(ticks) * 1_000_000_000 / units + i128::from(offset_s) * 1_000_000_000;
    let clamped = ns.clamp(
        i128::from(*TS_RANGE_NS.start()),
        i128::from(*TS_RANGE_NS.end()),
    );
    (i64::try_from(clamped).unwrap_or(i64::MAX), clamped != ns)
}
