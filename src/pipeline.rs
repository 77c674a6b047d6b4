//! The analysis pipeline on worker threads: `source -> decode` on a reader thread, `flow` (and,
//! later, `diagnose`) on a flow thread, and typed [`Event`]s to whoever consumes them (the CLI,
//! the desktop app, a test).
//!
//! Events end with exactly one [`Event::End`], carrying the analysis (possibly partial) and the
//! error that stopped the input, if any. Consumers may drop the receiver at any time; the
//! workers then stop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use crate::analysis::{Analysis, Stats, Warning};
use crate::decode::{self, Skip, TcpSegment};
use crate::diagnose::{self, Diagnosis};
use crate::flow::{Connection, FlowConfig, FlowKey, FlowTracker, PacketRecord};
use crate::source::live::kernel::{KernelReset, Tracer};
use crate::source::live::{CaptureStats, LiveCounters, LiveSource};
use crate::source::{
    ByteCounter, CaptureReader, PacketSource, Pulled, SourceError, SourceInfo, SourceSpec,
};

/// Settings of one analysis.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub flow: FlowConfig,
    /// How often progress and connection batches are sent.
    pub update_interval: Duration,
    /// Send [`Event::Connections`] batches while loading (the app does; the CLI does not).
    pub live_updates: bool,
    /// The share of its time the connection-tracking thread rests while loading (0 to 0.9), at
    /// the start: [`Handle::set_yield_share`] changes it while the analysis runs. Reading and
    /// tracking otherwise take both cores of a small machine, and a window drawn without a GPU
    /// then stutters while a large capture loads; the command line wants 0.
    pub yield_share: f32,
    /// Free, before the diagnosis, the packet records of every connection it will not read
    /// ([`diagnose::reads_records`]): a report never shows records, and at a million
    /// connections they are an eighth of its memory. For reports of one capture (the command
    /// line); the app draws them and the two-point comparison reads them.
    pub drop_unused_records: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            flow: FlowConfig::default(),
            update_interval: Duration::from_millis(100),
            live_updates: false,
            yield_share: 0.0,
            drop_unused_records: false,
        }
    }
}

/// What the pipeline reports, in order: `Started`, then any mix of `Progress`, `Connections` and
/// `Warning`, then one `End`.
#[derive(Debug)]
pub enum Event {
    Started(SourceInfo),
    Progress(Progress),
    Connections(ConnectionBatch),
    Warning(Warning),
    End(Box<Outcome>),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes taken from the file or pipe (compressed bytes for a gzip file).
    pub bytes_read: u64,
    pub total_bytes: Option<u64>,
    pub frames: u64,
    pub tcp_packets: u64,
    pub connections: u64,
    /// A live capture's kernel counters and bytes saved.
    pub capture: Option<CaptureStats>,
}

/// Connections created or changed since the previous batch, with their new packet records.
#[derive(Debug, Default)]
pub struct ConnectionBatch {
    pub connections: Vec<Connection>,
    /// `(connection id, records appended since the previous batch)`.
    pub new_packets: Vec<(u32, Vec<PacketRecord>)>,
    /// The diagnosis so far of each changed connection that has a RST. The final analysis may
    /// still change it (later packets, `mass-reset` across connections).
    pub diagnoses: Vec<(u32, Diagnosis)>,
}

/// The result of a whole analysis.
#[derive(Debug)]
pub struct Outcome {
    /// `None` when the capture could not be opened at all.
    pub analysis: Option<Analysis>,
    /// Why the input stopped early or could not be read; `None` after a clean end.
    pub error: Option<SourceError>,
}

/// A running analysis: its events and a way to cancel it.
pub struct Handle {
    pub events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    /// The flow thread's resting share, as `f32` bits.
    pace: Arc<AtomicU32>,
    /// The reader thread, which joins the flow thread before it ends.
    thread: Option<thread::JoinHandle<()>>,
}

impl Handle {
    /// Asks the workers to stop; an `End` with what was read so far follows.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Sets the share of its time the connection-tracking thread rests (see
    /// [`Options::yield_share`]); it applies from the next batch of packets.
    pub fn set_yield_share(&self, share: f32) {
        self.pace
            .store(share.clamp(0.0, 0.9).to_bits(), Ordering::Relaxed);
    }
}

/// A callback that wakes the consumer (the app passes `ctx.request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Starts analysing `spec` on worker threads.
///
/// Returns at once; opening errors arrive as an `End` event like every other outcome.
pub fn start(spec: SourceSpec, options: Options, waker: Option<Waker>) -> Handle {
    let (tx, events) = unbounded();
    let cancel = Arc::new(AtomicBool::new(false));
    let out = Out { tx, waker };
    let cancel_flag = Arc::clone(&cancel);
    let pace = Arc::new(AtomicU32::new(
        options.yield_share.clamp(0.0, 0.9).to_bits(),
    ));
    let flow_pace = Arc::clone(&pace);
    let spawned = thread::Builder::new()
        .name("rstscope-reader".to_owned())
        .spawn(move || run(&spec, options, &out, &cancel_flag, flow_pace));
    let thread = match spawned {
        Ok(t) => t,
        Err(e) => {
            let (tx, rx) = unbounded();
            let _ = tx.send(Event::End(Box::new(Outcome {
                analysis: None,
                error: Some(SourceError::Io {
                    offset: 0,
                    cause: e,
                }),
            })));
            return Handle {
                events: rx,
                cancel,
                pace,
                thread: None,
            };
        }
    };
    Handle {
        events,
        cancel,
        pace,
        thread: Some(thread),
    }
}

/// Runs an analysis to its end on this thread's caller, returning the outcome once both worker
/// threads have ended (and freed what they held). Convenient for tests, the CLI and the fuzz
/// targets; events other than `End` are dropped.
pub fn analyze(spec: SourceSpec, options: Options) -> Outcome {
    let mut handle = start(spec, options, None);
    let outcome = handle.events.iter().find_map(|event| match event {
        Event::End(outcome) => Some(*outcome),
        _ => None,
    });
    if let Some(t) = handle.thread.take() {
        let _ = t.join();
    }
    outcome.unwrap_or(Outcome {
        analysis: None,
        error: None,
    })
}

#[derive(Clone)]
struct Out {
    tx: Sender<Event>,
    waker: Option<Waker>,
}

impl Out {
    /// Sends an event; false when the consumer has gone.
    fn send(&self, event: Event) -> bool {
        let ok = self.tx.send(event).is_ok();
        if let Some(w) = &self.waker {
            w();
        }
        ok
    }
}

/// Decoded frames travel to the flow thread in batches of this many.
const BATCH: usize = 512;

/// Decoded segments with their frame numbers and timestamps.
type Batch = Vec<(u64, i64, TcpSegment, FlowKey)>;

enum ReaderMsg {
    Batch(Batch),
    /// A RST this machine's kernel sent, with its reason.
    Kernel(KernelReset),
    Done(ReaderEnd),
}

#[derive(Default)]
struct ReaderEnd {
    frames: u64,
    skipped: BTreeMap<Skip, u64>,
    /// The earliest and latest packet times (tshark's span: a clock that stepped back does not
    /// make it negative).
    first_ts_ns: Option<i64>,
    last_ts_ns: Option<i64>,
    /// Frames whose time is earlier than the frame before them.
    backwards: u64,
    /// Frames whose time lay outside `source::TS_RANGE_NS` and was clamped to it.
    clamped: u64,
    error: Option<SourceError>,
    /// Problems the source reported when closing (a live capture's drops).
    problems: Vec<String>,
    /// The kernel's RST records a live capture saved in the file being read.
    saved_kernel: Vec<KernelReset>,
}

/// What the flow thread needs to know about the source.
struct SourceSide {
    info: SourceInfo,
    counter: ByteCounter,
    live: Option<Arc<LiveCounters>>,
    /// Set when the consumer has gone, so that the reader stops too (a quiet live capture
    /// would otherwise never notice).
    cancel: Arc<AtomicBool>,
    /// The resting share (`f32` bits): see [`Handle::set_yield_share`].
    pace: Arc<AtomicU32>,
}

/// The reader thread's body: opens the source, starts the flow thread, decodes.
fn run(
    spec: &SourceSpec,
    options: Options,
    out: &Out,
    cancel: &Arc<AtomicBool>,
    pace: Arc<AtomicU32>,
) {
    let opened_error = |error| {
        out.send(Event::End(Box::new(Outcome {
            analysis: None,
            error: Some(error),
        })));
    };
    if let SourceSpec::Live(cfg) = spec {
        // A capture may run for hours: bound the records each connection keeps.
        let mut options = options;
        options
            .flow
            .record_limit
            .get_or_insert(crate::flow::RecordLimit::LIVE);
        // The capture handle belongs to this thread: libpcap handles are not shared.
        let (mut source, info) = match LiveSource::open(cfg) {
            Ok(opened) => opened,
            Err(e) => return opened_error(e),
        };
        let side = SourceSide {
            info,
            counter: ByteCounter::default(),
            live: Some(source.counters()),
            cancel: Arc::clone(cancel),
            pace,
        };
        let kernel = cfg.kernel_reasons;
        drive(&mut source, side, options, out, cancel, kernel);
    } else {
        let (mut reader, info, counter) = match CaptureReader::open(spec) {
            Ok(opened) => opened,
            Err(e) => return opened_error(e),
        };
        let side = SourceSide {
            info,
            counter,
            live: None,
            cancel: Arc::clone(cancel),
            pace,
        };
        drive(&mut reader, side, options, out, cancel, false);
    }
}

/// Starts the flow thread (and the kernel tracer when asked), then reads `source` to its end.
fn drive<S: PacketSource>(
    source: &mut S,
    side: SourceSide,
    options: Options,
    out: &Out,
    cancel: &Arc<AtomicBool>,
    kernel_reasons: bool,
) {
    let (batch_tx, batch_rx) = bounded::<ReaderMsg>(64);
    // The kernel's reasons are being read before the capture is announced: a RST sent right
    // after `Started` has its reason.
    let mut problems = Vec::new();
    // Kept for the save file as well as sent to the flow thread.
    let kernel_log: Arc<std::sync::Mutex<Vec<KernelReset>>> = Arc::default();
    let tracer = if kernel_reasons {
        let tx = batch_tx.clone();
        let log = Arc::clone(&kernel_log);
        match Tracer::start(move |r| {
            if let Ok(mut l) = log.lock() {
                l.push(r.clone());
            }
            tx.send(ReaderMsg::Kernel(r)).is_ok()
        }) {
            Ok(t) => Some(t),
            Err(e) => {
                problems.push(format!("the kernel's reasons are not shown: {e}"));
                None
            }
        }
    } else {
        None
    };
    out.send(Event::Started(side.info.clone()));
    for p in &problems {
        out.send(Event::Warning(Warning {
            kind: "kernel-reasons",
            frames: None,
            message: p.clone(),
        }));
    }
    // Emptied batches go back to the reader: batches are big enough that the allocator would
    // otherwise map and zero fresh pages for every one.
    let (spare_tx, spare_rx) = bounded::<Batch>(16);
    let flow_out = out.clone();
    let flow = thread::Builder::new()
        .name("rstscope-flow".to_owned())
        .spawn(move || flow_thread(&batch_rx, &spare_tx, side, options, &flow_out));
    let flow = match flow {
        Ok(handle) => handle,
        Err(e) => {
            out.send(Event::End(Box::new(Outcome {
                analysis: None,
                error: Some(SourceError::Io {
                    offset: 0,
                    cause: e,
                }),
            })));
            return;
        }
    };
    let mut end = read_all(source, &batch_tx, &spare_rx, cancel);
    // Stopping the tracer delivers every record the kernel wrote before the stop.
    drop(tracer);
    end.problems.extend(problems);
    let kernel = kernel_log.lock().map(|l| l.clone()).unwrap_or_default();
    end.problems.extend(source.close(&kernel));
    end.saved_kernel = source.saved_kernel_resets();
    let _ = batch_tx.send(ReaderMsg::Done(end));
    drop(batch_tx);
    let _ = flow.join();
}

/// Packets of a live source wait at most this long in a partial batch.
const LIVE_FLUSH: Duration = Duration::from_millis(20);

fn read_all<S: PacketSource>(
    source: &mut S,
    batch_tx: &Sender<ReaderMsg>,
    spare_rx: &Receiver<Batch>,
    cancel: &AtomicBool,
) -> ReaderEnd {
    let mut end = ReaderEnd::default();
    let live = source.is_live();
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_flush = Instant::now();
    let mut last_ts: Option<i64> = None;
    // Sends the batch; false when the consumer has gone or asked to stop.
    let flush = |batch: &mut Batch, last_flush: &mut Instant| {
        *last_flush = Instant::now();
        if !batch.is_empty() {
            let next = spare_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH));
            let full = std::mem::replace(batch, next);
            if batch_tx.send(ReaderMsg::Batch(full)).is_err() {
                return false;
            }
        }
        !cancel.load(Ordering::Relaxed)
    };
    loop {
        match source.pull() {
            Ok(Pulled::Packet(p)) => {
                end.frames = p.frame;
                if last_ts.is_some_and(|t| p.ts_ns < t) {
                    end.backwards += 1;
                }
                last_ts = Some(p.ts_ns);
                end.clamped += u64::from(p.ts_clamped);
                end.first_ts_ns = Some(end.first_ts_ns.map_or(p.ts_ns, |t| t.min(p.ts_ns)));
                end.last_ts_ns = Some(end.last_ts_ns.map_or(p.ts_ns, |t| t.max(p.ts_ns)));
                match decode::decode(p.link_type, p.data, p.orig_len) {
                    Ok(seg) => {
                        let key = FlowKey::of(&seg);
                        batch.push((p.frame, p.ts_ns, seg, key));
                    }
                    Err(skip) => *end.skipped.entry(skip).or_default() += 1,
                }
                let due = batch.len() == BATCH
                    || (live && last_flush.elapsed() >= LIVE_FLUSH)
                    || (live && cancel.load(Ordering::Relaxed));
                if due && !flush(&mut batch, &mut last_flush) {
                    break;
                }
            }
            Ok(Pulled::Idle) => {
                if !flush(&mut batch, &mut last_flush) {
                    break;
                }
            }
            Ok(Pulled::End) => break,
            Err(e) => {
                end.error = Some(e);
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = batch_tx.send(ReaderMsg::Batch(batch));
    }
    end
}

// One loop with its end: splitting it would pass a dozen locals around.
#[allow(clippy::too_many_lines)]
fn flow_thread(
    rx: &Receiver<ReaderMsg>,
    spare_tx: &Sender<Batch>,
    side: SourceSide,
    options: Options,
    out: &Out,
) {
    let SourceSide {
        info,
        counter,
        live,
        cancel,
        pace,
    } = side;
    let gone = || cancel.store(true, Ordering::Relaxed);
    let mut tracker = FlowTracker::new(options.flow);
    let mut sent_packets: Vec<usize> = Vec::new();
    let mut kernel: Vec<KernelReset> = Vec::new();
    // Connections sent with a diagnosis lately, and those to send again because the kernel's
    // record of their RST came after them.
    let mut sent_diagnosed: Vec<u32> = Vec::new();
    let mut again: Vec<u32> = Vec::new();
    let mut last_update = Instant::now();
    let mut busy_since = Instant::now();
    let mut frames_seen = 0u64;
    // Something changed since the last update was sent.
    let mut pending = false;
    let progress = |tracker: &FlowTracker, frames: u64| Progress {
        bytes_read: counter.get(),
        total_bytes: info.file_bytes,
        frames,
        tcp_packets: tracker.tcp_packets(),
        connections: tracker.connections().len() as u64,
        capture: live.as_ref().map(|l| l.snapshot()),
    };
    let end = loop {
        // Wake at the update interval even when nothing arrives, so that what came last is
        // shown (a pipe or a capture that went quiet) and a capture's counters stay current.
        let msg = match rx.recv_timeout(options.update_interval) {
            Ok(msg) => Some(msg),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
            // The reader died without saying why: report what we have.
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                break ReaderEnd {
                    frames: frames_seen,
                    ..ReaderEnd::default()
                };
            }
        };
        match msg {
            Some(ReaderMsg::Batch(mut batch)) => {
                if let Some((frame, ..)) = batch.last() {
                    frames_seen = *frame;
                }
                for (frame, ts, seg, key) in &batch {
                    tracker.observe_keyed(*frame, *ts, seg, *key);
                }
                pending |= !batch.is_empty();
                batch.clear();
                let _ = spare_tx.try_send(batch);
                // Pace: after working a few milliseconds, rest for the share asked.
                let worked = busy_since.elapsed();
                let yield_share = f32::from_bits(pace.load(Ordering::Relaxed));
                if worked >= Duration::from_millis(4) {
                    if yield_share > 0.0 {
                        thread::sleep(worked.mul_f32(yield_share / (1.0 - yield_share)));
                    }
                    busy_since = Instant::now();
                }
            }
            Some(ReaderMsg::Kernel(k)) => {
                let conns = tracker.connections();
                again.extend(sent_diagnosed.iter().copied().filter(|&id| {
                    let c = &conns[id as usize];
                    (c.client == k.src && c.server == k.dst)
                        || (c.server == k.src && c.client == k.dst)
                }));
                kernel.push(k);
                pending = true;
            }
            Some(ReaderMsg::Done(mut end)) => {
                kernel.append(&mut end.saved_kernel);
                break end;
            }
            None => {}
        }
        if last_update.elapsed() >= options.update_interval && (pending || live.is_some()) {
            last_update = Instant::now();
            if options.live_updates && pending {
                let batch = changed_batch(&mut tracker, &mut sent_packets, &kernel, &mut again);
                sent_diagnosed.extend(batch.diagnoses.iter().map(|(id, _)| *id));
                if sent_diagnosed.len() > 4096 {
                    sent_diagnosed.drain(..2048);
                }
                if !out.send(Event::Connections(batch)) {
                    return gone();
                }
            }
            pending = false;
            if !out.send(Event::Progress(progress(&tracker, frames_seen))) {
                return gone();
            }
        }
    };
    if options.live_updates {
        let batch = changed_batch(&mut tracker, &mut sent_packets, &kernel, &mut again);
        if !batch.connections.is_empty() {
            out.send(Event::Connections(batch));
        }
    }
    out.send(Event::Progress(progress(&tracker, end.frames)));
    let mut warnings = skip_warnings(&end.skipped);
    if end.clamped > 0 {
        warnings.push(Warning {
            kind: "time-clamped",
            frames: Some(end.clamped),
            message: format!(
                "{} outside 1970-01-01 to 2262-04-11 (the interface's time offset or resolution is wrong), clamped to that range",
                if end.clamped == 1 {
                    "1 frame has a time".to_owned()
                } else {
                    format!("{} frames have times", end.clamped)
                }
            ),
        });
    }
    if end.backwards > 0 {
        warnings.push(Warning {
            kind: "time-backwards",
            frames: Some(end.backwards),
            message: format!(
                "{} earlier than the frame before {} (the capture's clock stepped back, or files were merged out of order); spans run from the earliest time to the latest",
                if end.backwards == 1 {
                    "1 frame is".to_owned()
                } else {
                    format!("{} frames are", end.backwards)
                },
                if end.backwards == 1 { "it" } else { "them" }
            ),
        });
    }
    if let Some(err) = &end.error {
        warnings.push(Warning {
            kind: "input-stopped",
            frames: None,
            message: format!("{err}; the {} frames before it were analysed", end.frames),
        });
    }
    for p in &end.problems {
        warnings.push(Warning {
            kind: if p.starts_with("the kernel's reasons") {
                "kernel-reasons"
            } else {
                "capture"
            },
            frames: None,
            message: p.clone(),
        });
    }
    for w in &warnings {
        out.send(Event::Warning(w.clone()));
    }
    let stats = Stats {
        frames: end.frames,
        tcp_packets: tracker.tcp_packets(),
        first_ts_ns: end.first_ts_ns,
        last_ts_ns: end.last_ts_ns,
        retained_packet_bytes: tracker.retained_packet_bytes() as u64,
    };
    let (connections, mut packets) = tracker.finish();
    if options.drop_unused_records {
        for (c, p) in connections.iter().zip(&mut packets) {
            if !diagnose::reads_records(c) {
                *p = Vec::new();
            }
        }
    }
    let (mut diagnoses, mut incidents) = diagnose::diagnose_all(&connections, &packets);
    if !kernel.is_empty() {
        for (c, d) in connections.iter().zip(&mut diagnoses) {
            if let Some(d) = d {
                diagnose::kernel::attach(d, c, &kernel);
            }
        }
        // The kernel's word may have changed a member's cause.
        diagnose::incident::recount(&mut incidents, &connections, &diagnoses);
    }
    out.send(Event::End(Box::new(Outcome {
        analysis: Some(Analysis {
            source: info,
            connections,
            packets,
            diagnoses,
            incidents,
            warnings,
            stats,
        }),
        error: end.error,
    })));
}

fn changed_batch(
    tracker: &mut FlowTracker,
    sent_packets: &mut Vec<usize>,
    kernel: &[KernelReset],
    again: &mut Vec<u32>,
) -> ConnectionBatch {
    let mut ids = tracker.take_changed();
    for id in again.drain(..) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let mut batch = ConnectionBatch::default();
    sent_packets.resize(tracker.connections().len(), 0);
    for id in ids {
        let Some(conn) = tracker.snapshot(id) else {
            continue;
        };
        let records = tracker.packets(id);
        if !conn.resets.is_empty()
            && let Some(mut d) = diagnose::diagnose(&conn, records)
        {
            diagnose::kernel::attach(&mut d, &conn, kernel);
            batch.diagnoses.push((id, d));
        }
        batch.connections.push(conn);
        // Counted in records ever appended: with a record limit the tracker drops old ones,
        // and the newest `appended - sent` (at most all it holds) are the new ones.
        let already = &mut sent_packets[id as usize];
        let appended = usize::try_from(tracker.appended(id)).unwrap_or(usize::MAX);
        if appended > *already {
            let new = (appended - *already).min(records.len());
            batch
                .new_packets
                .push((id, records[records.len() - new..].to_vec()));
            *already = appended;
        }
    }
    batch
}

fn skip_warnings(skipped: &BTreeMap<Skip, u64>) -> Vec<Warning> {
    skipped
        .iter()
        .map(|(skip, &n)| Warning {
            kind: match skip {
                Skip::LinkType(_) => "link-type",
                Skip::NotIp => "not-ip",
                Skip::NotTcp(_) => "not-tcp",
                Skip::Fragment => "fragment",
                Skip::Empty => "empty",
                Skip::Truncated => "truncated",
                Skip::Malformed => "malformed",
            },
            frames: Some(n),
            message: format!(
                "{}: {}",
                crate::diagnose::words::plural(n, "frame"),
                skip.describe()
            ),
        })
        .collect()
}
