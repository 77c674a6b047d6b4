//! `rstscope capture`: a live capture on the command line, printing each reset with its
//! diagnosis as it happens, saving every packet to pcapng.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rstscope::diagnose::{Cause, Diagnosis, Incident};
use rstscope::flow::Connection;
use rstscope::pipeline::{self, Event, Options};
use rstscope::report::{self, json::Conn};
use rstscope::source::SourceSpec;
use rstscope::source::live::{self, CaptureStats, LiveConfig};

#[derive(clap::Args)]
#[command(
    after_help = "Without privileges, either give rstscope the capture capabilities once\n  (sudo setcap cap_net_raw,cap_net_admin=eip $(command -v rstscope))\nor pipe a capture in: sudo tcpdump -i IFACE -U -w - tcp | rstscope -"
)]
pub struct CaptureArgs {
    /// The interface to capture on (`any` for all on Linux); see `--list`.
    #[arg(short, long, value_name = "IFACE", required_unless_present = "list")]
    interface: Option<String>,
    /// Capture filter, in tcpdump's syntax.
    #[arg(short, long, value_name = "FILTER", default_value = live::DEFAULT_FILTER)]
    filter: String,
    /// The pcapng file every packet is written to (default: a new file in the data directory).
    #[arg(short, long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Output format: text blocks, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = crate::Format::Text)]
    format: crate::Format,
    /// Snapshot length: bytes kept of each packet.
    #[arg(short, long, value_name = "BYTES", default_value_t = live::DEFAULT_SNAPLEN)]
    snaplen: u32,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Attach the kernel's own reason to each RST this machine sends (Linux, root, tracefs).
    #[arg(long)]
    kernel_reasons: bool,
    /// Stop after this many seconds (default: at Ctrl+C).
    #[arg(short = 'a', long, value_name = "SECS")]
    duration: Option<f64>,
    /// List the interfaces with their addresses and state, and exit.
    #[arg(short = 'D', long)]
    list: bool,
}

pub fn run(args: &CaptureArgs) -> ExitCode {
    if args.list {
        return list();
    }
    let Some(interface) = args.interface.clone() else {
        eprintln!("rstscope: name an interface with -i (see `rstscope capture --list`)");
        return ExitCode::from(2);
    };
    if let Some(d) = args.duration
        && !(d.is_finite() && d > 0.0)
    {
        eprintln!("rstscope: --duration must be a positive number of seconds");
        return ExitCode::from(2);
    }
    let config = LiveConfig {
        interface,
        filter: args.filter.clone(),
        snaplen: args.snaplen,
        promisc: !args.no_promisc,
        save_to: args.write.clone(),
        kernel_reasons: args.kernel_reasons,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // The first Ctrl+C ends the capture cleanly (the file is finished); a second one quits.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
    let options = Options {
        live_updates: true,
        update_interval: Duration::from_millis(100),
        ..Options::default()
    };
    let handle = pipeline::start(SourceSpec::Live(config), options, None);
    let started = Instant::now();
    let mut printer = Printer::new(args.format == crate::Format::Json);
    let mut cancelled = false;
    loop {
        let over = args
            .duration
            .is_some_and(|d| started.elapsed().as_secs_f64() >= d);
        if !cancelled && (over || stop.load(Ordering::Relaxed) || printer.closed) {
            handle.cancel();
            cancelled = true;
        }
        let event = match handle.events.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => e,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return ExitCode::from(2),
        };
        match event {
            Event::Started(info) => printer.started(&info),
            Event::Connections(batch) => {
                for c in batch.connections {
                    let id = c.id;
                    printer.conns.insert(id, c);
                }
                if !batch.diagnoses.is_empty() {
                    for (id, d) in batch.diagnoses {
                        printer.reset(id, d);
                    }
                    printer.incidents();
                }
            }
            Event::Progress(p) => {
                if let Some(s) = p.capture {
                    printer.progress(s);
                }
            }
            Event::Warning(w) => {
                // Some warnings come as they happen and again with the final analysis.
                if printer.warned.insert(w.message.clone()) {
                    eprintln!("rstscope: warning: {}", w.message);
                }
            }
            Event::End(outcome) => return printer.end(*outcome),
        }
    }
}

fn list() -> ExitCode {
    match live::interfaces() {
        Ok(list) => {
            for i in list {
                let mut state = vec![if i.up { "up" } else { "down" }];
                if i.running {
                    state.push("running");
                }
                if i.loopback {
                    state.push("loopback");
                }
                if i.wireless {
                    state.push("wireless");
                }
                if i.disconnected {
                    state.push("disconnected");
                }
                let addrs: Vec<String> = i.addresses.iter().map(ToString::to_string).collect();
                let desc = if i.description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", i.description)
                };
                println!(
                    "{}{desc}  [{}]  {}",
                    i.name,
                    state.join(", "),
                    addrs.join(" ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rstscope: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints resets as they are diagnosed, and what changed at the end.
struct Printer {
    json: bool,
    conns: HashMap<u32, Connection>,
    /// Connections printed, with the RST frame and cause printed.
    printed: HashMap<u32, (Option<u64>, Cause)>,
    diagnoses: HashMap<u32, Diagnosis>,
    /// Incidents printed, by host and first frame.
    incidents_printed: HashSet<(IpAddr, u64)>,
    dropped_reported: u64,
    /// The kernel's counters, as last reported.
    last_stats: Option<CaptureStats>,
    /// Warnings printed.
    warned: HashSet<String>,
    /// Standard output went away (`| head`).
    closed: bool,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            conns: HashMap::new(),
            printed: HashMap::new(),
            diagnoses: HashMap::new(),
            incidents_printed: HashSet::new(),
            dropped_reported: 0,
            last_stats: None,
            warned: HashSet::new(),
            closed: false,
        }
    }

    fn emit(&mut self, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.closed {
            return;
        }
        let stdout = io::stdout();
        let mut out = stdout.lock();
        if f(&mut out).and_then(|()| out.flush()).is_err() {
            self.closed = true;
        }
    }

    fn started(&mut self, info: &rstscope::source::SourceInfo) {
        let Some(l) = &info.live else { return };
        eprintln!(
            "rstscope: capturing on {} (filter `{}`, {}); saving every packet to {}. Ctrl+C stops.",
            l.interface,
            l.filter,
            l.libpcap,
            l.saved_to.display()
        );
        if self.json {
            let line = serde_json::json!({ "event": "start", "capture": l });
            self.emit(|out| writeln!(out, "{line}"));
        }
    }

    fn reset(&mut self, id: u32, d: Diagnosis) {
        let key = (d.rst_frame, d.cause);
        let before = self.printed.get(&id).copied();
        // Printed once per RST; again only when the kernel's word arrives later.
        let kernel_new = d.kernel.is_some()
            && self
                .diagnoses
                .get(&id)
                .is_some_and(|old| old.kernel.is_none());
        if before.is_none_or(|b| b.0 != key.0) || kernel_new {
            self.print_reset(id, &d, if before.is_some() { "update" } else { "reset" });
            self.printed.insert(id, key);
        }
        self.diagnoses.insert(id, d);
    }

    fn print_reset(&mut self, id: u32, d: &Diagnosis, event: &str) {
        let Some(c) = self.conns.get(&id).cloned() else {
            return;
        };
        let json = self.json;
        self.emit(|out| {
            if json {
                let line =
                    serde_json::json!({ "event": event, "connection": Conn::new(&c, Some(d), true) });
                writeln!(out, "{line}")
            } else {
                let when = c
                    .resets
                    .iter()
                    .find(|r| Some(r.frame) == d.rst_frame)
                    .map_or(c.last_ts_ns, |r| r.ts_ns);
                let label = if event == "reset" { "" } else { " (updated)" };
                writeln!(out, "[{}]{label}", clock(when))?;
                report::write_reset_block(out, &c, Some(d), None, true)?;
                writeln!(out)
            }
        });
    }

    /// `mass-reset` across the connections diagnosed so far.
    fn incidents(&mut self) {
        let mut ids: Vec<u32> = self.diagnoses.keys().copied().collect();
        ids.sort_unstable();
        let conns: Vec<Connection> = ids
            .iter()
            .filter_map(|i| self.conns.get(i).cloned())
            .collect();
        let diags: Vec<Option<Box<Diagnosis>>> = conns
            .iter()
            .map(|c| self.diagnoses.get(&c.id).cloned().map(Box::new))
            .collect();
        let found = rstscope::diagnose::incidents(&conns, &diags);
        for inc in &found {
            if self.incidents_printed.insert((inc.host, inc.first_frame)) {
                self.print_incident(inc);
            }
        }
    }

    fn print_incident(&mut self, inc: &Incident) {
        let json = self.json;
        self.emit(|out| {
            if json {
                let line = serde_json::json!({ "event": "incident", "incident": inc });
                writeln!(out, "{line}")
            } else {
                writeln!(out, "{}: {}\n", inc.kind.id(), inc.summary)
            }
        });
    }

    fn progress(&mut self, s: CaptureStats) {
        self.last_stats = Some(s);
        if s.dropped > self.dropped_reported {
            eprintln!(
                "rstscope: the kernel has dropped {} of {} packets: rstscope is not keeping up (narrow the filter, or lower the snapshot length)",
                s.dropped, s.received
            );
            self.dropped_reported = s.dropped;
        }
    }

    fn end(mut self, outcome: pipeline::Outcome) -> ExitCode {
        let Some(a) = outcome.analysis else {
            let msg = outcome
                .error
                .map_or_else(|| "the capture stopped".to_owned(), |e| e.to_string());
            eprintln!("rstscope: {msg}");
            return ExitCode::from(2);
        };
        // The final analysis sees every packet (data that kept arriving after a RST, RSTs the
        // live view had no packets for yet): print what it adds or changes.
        for c in &a.connections {
            self.conns.insert(c.id, c.clone());
            let Some(Some(d)) = a.diagnoses.get(c.id as usize) else {
                continue;
            };
            match self.printed.get(&c.id) {
                None => self.print_reset(c.id, d, "reset"),
                Some(&(frame, cause)) if frame != d.rst_frame || cause != d.cause => {
                    self.print_reset(c.id, d, "revised");
                }
                _ => {}
            }
        }
        for inc in &a.incidents {
            if self.incidents_printed.insert((inc.host, inc.first_frame)) {
                self.print_incident(inc);
            }
        }
        let resets = a.diagnoses.iter().flatten().count();
        let capture = a.source.live.clone();
        let counters = self.last_stats;
        let saved = capture.as_ref().map(|l| l.saved_to.clone());
        if self.json {
            let line = serde_json::json!({
                "event": "end",
                "frames": a.stats.frames,
                "tcp_packets": a.stats.tcp_packets,
                "connections": a.connections.len(),
                "diagnosed": resets,
                "saved_to": saved,
                "kernel": counters,
                "warnings": a.warnings,
                "error": outcome.error.as_ref().map(ToString::to_string),
            });
            self.emit(|out| writeln!(out, "{line}"));
        }
        let kernel = counters.map_or_else(String::new, |s| {
            format!(
                "; kernel counters: {} received (loopback counts each packet twice), {} dropped, {} dropped by the interface",
                s.received, s.dropped, s.if_dropped
            )
        });
        eprintln!(
            "rstscope: {} packets, {} TCP connections, {} diagnosed; saved to {}{kernel}",
            a.stats.frames,
            a.connections.len(),
            resets,
            saved.map_or_else(|| "-".to_owned(), |p| p.display().to_string())
        );
        match outcome.error {
            Some(e) => {
                eprintln!("rstscope: {e}");
                ExitCode::from(if e.is_partial() { 1 } else { 2 })
            }
            None => ExitCode::SUCCESS,
        }
    }
}

/// Local wall-clock time of a capture timestamp.
fn clock(ts_ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ts_ns)
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S%.3f")
        .to_string()
}
