//! Reports: a readable text table and JSON. Both read an [`Analysis`]; neither decides anything.

pub mod json;

pub use json::ReportOptions;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::analysis::Analysis;
use crate::decode::flags;
use crate::diagnose::{Confidence, Diagnosis, Incident, SenderKind};
use crate::flow::{Connection, Dir};
use crate::source::SourceError;
use crate::time::{millis, rfc3339, secs};

/// Writes the JSON report, indented for a person to read or on one line for a program.
pub fn write_json(
    out: &mut dyn Write,
    a: &Analysis,
    error: Option<&SourceError>,
    options: ReportOptions,
    pretty: bool,
) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, &json::report(a, error, options))?;
    } else {
        json::write_compact(out, a, error, options)?;
    }
    writeln!(out)
}

/// Writes one JSON record per line: see [`json::write_lines`].
pub fn write_lines(
    out: &mut dyn Write,
    a: &Analysis,
    error: Option<&SourceError>,
    options: ReportOptions,
) -> io::Result<()> {
    json::write_lines(out, a, error, options)
}

/// Writes the text report: a summary, a table of connections, a block per reset connection,
/// and what to change for each cause found (in every block with `verbose_text`).
pub fn write_text(
    out: &mut dyn Write,
    a: &Analysis,
    error: Option<&SourceError>,
    options: ReportOptions,
) -> io::Result<()> {
    let resets_only = options.resets_only;
    let resets: usize = a.connections.iter().map(|c| c.resets.len()).sum();
    let reset_conns = a
        .connections
        .iter()
        .filter(|c| !c.resets.is_empty())
        .count();
    writeln!(out, "{}", a.source.name)?;
    let span = match (a.stats.first_ts_ns, a.stats.last_ts_ns) {
        (Some(f), Some(l)) => format!(", {} to {} ({:.3} s)", rfc3339(f), rfc3339(l), secs(l - f)),
        _ => String::new(),
    };
    writeln!(
        out,
        "  {} frames, {} TCP packets, {}, {} with a RST ({}){span}",
        a.stats.frames,
        a.stats.tcp_packets,
        plural(a.connections.len(), "connection"),
        reset_conns,
        plural(resets, "RST")
    )?;
    if let Some(e) = error {
        writeln!(out, "  INCOMPLETE: {e}")?;
    }
    // The INCOMPLETE line above already says why the input stopped.
    for w in a.warnings.iter().filter(|w| w.kind != "input-stopped") {
        writeln!(out, "  note: {}", w.message)?;
    }
    write_cause_summary(out, a)?;
    let diagnosis = |c: &Connection| a.diagnoses.get(c.id as usize).and_then(Option::as_deref);
    let shown: Vec<&Connection> = a
        .connections
        .iter()
        .filter(|c| !resets_only || !c.resets.is_empty() || diagnosis(c).is_some())
        .collect();
    if shown.is_empty() {
        writeln!(
            out,
            "\n  no {}connections",
            if resets_only { "reset " } else { "" }
        )?;
        return Ok(());
    }
    writeln!(out)?;
    // Two passes over the rows, the first for the column widths: the rows of a million
    // connections are not kept.
    let t0 = a.stats.first_ts_ns.unwrap_or(0);
    let head = [
        "#",
        "client",
        "server",
        "start",
        "duration",
        "packets c/s",
        "bytes c/s",
        "end",
        "cause",
        "zeek",
    ];
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    let mut cells: [String; 10] = Default::default();
    for c in &shown {
        row(&mut cells, c, diagnosis(c), t0);
        for (w, cell) in widths.iter_mut().zip(&cells) {
            *w = (*w).max(cell.len());
        }
    }
    let mut line = String::new();
    let mut put = |out: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        line.clear();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let right = matches!(i, 0 | 4 | 5 | 6);
            if right {
                let _ = write!(line, "{cell:>w$}  ");
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        writeln!(out, "{}", line.trim_end())
    };
    put(out, &head)?;
    for c in &shown {
        row(&mut cells, c, diagnosis(c), t0);
        let refs: [&str; 10] = std::array::from_fn(|i| cells[i].as_str());
        put(out, &refs)?;
    }
    let mut named: BTreeMap<&'static str, crate::diagnose::Cause> = BTreeMap::new();
    for c in shown
        .iter()
        .filter(|c| !c.resets.is_empty() || diagnosis(c).is_some())
    {
        writeln!(out)?;
        let d = diagnosis(c);
        let incident = d.and_then(|d| d.incident).and_then(|i| a.incidents.get(i));
        if let Some(d) = d {
            named.insert(d.cause.id(), d.cause);
        }
        write_reset_block(out, c, d, incident, options.verbose_text)?;
    }
    if !options.verbose_text {
        write_fixes_by_cause(out, &named, &a.incidents)?;
    }
    Ok(())
}

/// What to change, once per cause found (and per kind of incident).
fn write_fixes_by_cause(
    out: &mut dyn Write,
    named: &BTreeMap<&'static str, crate::diagnose::Cause>,
    incidents: &[Incident],
) -> io::Result<()> {
    if named.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nWhat to change, by cause:")?;
    for cause in named.values() {
        writeln!(out, "  {} ({}):", cause.id(), cause.title())?;
        for f in cause.fixes() {
            writeln!(out, "    fix: {f}")?;
        }
    }
    let kinds: std::collections::BTreeSet<_> = incidents.iter().map(|i| i.kind).collect();
    for kind in kinds {
        writeln!(out, "  {} (incident):", kind.id())?;
        for f in kind.fixes() {
            writeln!(out, "    fix: {f}")?;
        }
    }
    Ok(())
}

/// Resets by cause, and the RST senders ranked: the answer to "who is sending the RSTs?".
fn write_cause_summary(out: &mut dyn Write, a: &Analysis) -> io::Result<()> {
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut senders: BTreeMap<String, usize> = BTreeMap::new();
    for (c, d) in a.connections.iter().zip(&a.diagnoses) {
        let Some(d) = d else { continue };
        *causes.entry(d.cause.id()).or_default() += 1;
        let addr = match d.sender {
            Dir::Client => c.client.ip(),
            Dir::Server => c.server.ip(),
        };
        let who = match d.sender_kind {
            SenderKind::Endpoint => format!("{addr}"),
            SenderKind::Middlebox => format!("a device on the path, as {addr}"),
        };
        *senders.entry(who).or_default() += 1;
    }
    if causes.is_empty() {
        return Ok(());
    }
    let list = |m: BTreeMap<String, usize>| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        v.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        out,
        "  resets by cause: {}",
        list(causes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    )?;
    writeln!(out, "  RST senders: {}", list(senders))?;
    for inc in &a.incidents {
        writeln!(out, "  INCIDENT {}: {}", inc.kind.id(), inc.summary)?;
    }
    Ok(())
}

/// One table row, written into `cells` (reused across rows).
fn row(cells: &mut [String; 10], c: &Connection, d: Option<&Diagnosis>, t0: i64) {
    for cell in cells.iter_mut() {
        cell.clear();
    }
    let cl = c.dir(Dir::Client);
    let sv = c.dir(Dir::Server);
    let _ = write!(cells[0], "{}", c.id);
    let _ = write!(cells[1], "{}", c.client);
    let _ = write!(cells[2], "{}", c.server);
    let _ = write!(cells[3], "+{:.3}", secs(c.first_ts_ns - t0));
    let _ = write!(cells[4], "{:.3}", secs(c.duration_ns()));
    let _ = write!(cells[5], "{}/{}", cl.packets, sv.packets);
    let _ = write!(cells[6], "{}/{}", cl.payload_bytes, sv.payload_bytes);
    cells[7].push_str(c.termination().as_str());
    cells[8].push_str(d.map_or("-", |d| d.cause.id()));
    let z = c.zeek_current();
    let _ = write!(cells[9], "{} {}", z.conn_state, z.history);
}

/// One reset connection: its diagnosis, handshake, TTLs, idle gaps, FINs and every RST; with
/// `fixes`, what to change as well.
pub fn write_reset_block(
    out: &mut dyn Write,
    c: &Connection,
    d: Option<&Diagnosis>,
    incident: Option<&Incident>,
    fixes: bool,
) -> io::Result<()> {
    writeln!(
        out,
        "connection {}: {} -> {}, {}",
        c.id,
        c.client,
        c.server,
        c.termination().as_str()
    )?;
    if let Some(d) = d {
        write_diagnosis(out, d, incident, fixes)?;
    }
    if let Some(syn) = c.handshake.syn_frame {
        let rtt = c.handshake.rtt_ns.map_or(String::new(), |ns| {
            format!(", initial RTT {:.3} ms", millis(ns))
        });
        writeln!(
            out,
            "  handshake: SYN frame {syn}, SYN-ACK {}, ACK {}{rtt}",
            opt(c.handshake.synack_frame),
            opt(c.handshake.ack_frame)
        )?;
    }
    let ttl = |d: Dir| {
        let t = c.dir(d).ttl;
        if c.dir(d).packets == 0 {
            "-".to_owned()
        } else if t.min == t.max {
            t.min.to_string()
        } else {
            format!("{}..{}", t.min, t.max)
        }
    };
    writeln!(
        out,
        "  TTL seen: from the client {}, from the server {}",
        ttl(Dir::Client),
        ttl(Dir::Server)
    )?;
    for g in &c.idle_gaps {
        writeln!(
            out,
            "  idle {:.3} s between frames {} and {}",
            secs(g.ns),
            g.after_frame,
            g.before_frame
        )?;
    }
    for (name, d) in [("client", Dir::Client), ("server", Dir::Server)] {
        if let Some(f) = c.dir(d).fin_frame {
            writeln!(out, "  FIN from the {name} in frame {f}")?;
        }
    }
    for r in &c.resets {
        let verdict = d
            .and_then(|d| d.resets.iter().find(|v| v.frame == r.frame))
            .map_or(String::new(), |v| format!("; {}", v.note));
        let who = match r.from {
            Dir::Client => "client",
            Dir::Server => "server",
        };
        let window = match r.in_window {
            Some(true) if r.exact == Some(true) => "exactly the expected seq",
            Some(true) => "in window",
            Some(false) => "OUT OF WINDOW",
            None => "window unknown",
        };
        let ip_id = r.ip_id.map_or_else(|| "-".to_owned(), |i| i.to_string());
        writeln!(
            out,
            "  RST frame {} at {} from the {who}: flags {} seq {} (rel {}) ack {} (rel {}), {window}, ttl {}, ip id {ip_id}, {}{verdict}",
            r.frame,
            rfc3339(r.ts_ns),
            flags::tcpdump(r.flags),
            r.seq,
            opt(r.seq_rel),
            r.ack,
            opt(r.ack_rel),
            r.ttl,
            plural(r.payload_len as usize, "payload byte")
        )?;
        if let Some(t) = &r.text {
            writeln!(out, "    text: {t:?}")?;
        }
    }
    Ok(())
}

fn write_diagnosis(
    out: &mut dyn Write,
    d: &Diagnosis,
    incident: Option<&Incident>,
    fixes: bool,
) -> io::Result<()> {
    writeln!(out, "  {}", d.summary)?;
    if let Some(t) = &d.rst_time {
        writeln!(
            out,
            "  at {t} (UTC): the moment to look for in the sender's logs"
        )?;
    }
    let kind = match d.sender_kind {
        SenderKind::Endpoint => "an endpoint",
        SenderKind::Middlebox => "a device on the path",
    };
    let doubt = d
        .sender_doubt
        .as_ref()
        .map_or(String::new(), |x| format!(" ({x})"));
    writeln!(
        out,
        "  cause: {} ({}), sent by {kind}{doubt}; confidence {}: {}",
        d.cause.id(),
        d.cause.title(),
        confidence_word(d.confidence),
        d.confidence_reasons.join("; ")
    )?;
    if let Some(inc) = incident {
        writeln!(out, "  incident {}: {}", inc.kind.id(), inc.badge())?;
    }
    if let Some(t) = &d.known_timeout {
        writeln!(out, "  {t}")?;
    }
    if let Some(k) = &d.kernel {
        let verdict = match k.agrees {
            Some(true) => "agrees with the diagnosis",
            Some(false) => "DOES NOT fit the diagnosis",
            None => "says nothing about the cause",
        };
        writeln!(
            out,
            "  kernel (verified): this machine sent frame {} with reason {}, socket state {}: {}; {verdict}",
            k.frame, k.reason, k.state, k.meaning
        )?;
    }
    for e in &d.evidence {
        writeln!(out, "    frame {}: {}", e.frame, e.note)?;
    }
    for e in &d.consequences {
        writeln!(out, "    frame {} (another RST): {}", e.frame, e.note)?;
    }
    for alt in &d.alternatives {
        let by = match alt.sender_kind {
            SenderKind::Endpoint => "",
            SenderKind::Middlebox => ", sent on the path",
        };
        writeln!(
            out,
            "  or perhaps {}{by}: {}; to tell: {}",
            alt.cause.id(),
            alt.why,
            alt.tell_apart
        )?;
    }
    if let Some(w) = &d.would_settle {
        writeln!(out, "  what would settle it: {w}")?;
    }
    if !fixes {
        return Ok(());
    }
    for f in d.fixes() {
        writeln!(out, "  fix: {f}")?;
    }
    if let Some(inc) = incident {
        for f in &inc.fixes {
            writeln!(out, "  fix ({}): {f}", inc.kind.id())?;
        }
    }
    Ok(())
}

fn confidence_word(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |x| x.to_string())
}
