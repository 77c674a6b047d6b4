//! Reports: a readable text table and JSON. Both read an [`Analysis`]; neither decides anything.

pub mod json;

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
    resets_only: bool,
    pretty: bool,
) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, &json::report(a, error, resets_only))?;
    } else {
        json::write_compact(out, a, error, resets_only)?;
    }
    writeln!(out)
}

/// Writes the text report: a summary, a table of connections, and a block per reset connection.
pub fn write_text(
    out: &mut dyn Write,
    a: &Analysis,
    error: Option<&SourceError>,
    resets_only: bool,
) -> io::Result<()> {
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
    let diagnosis = |c: &Connection| a.diagnoses.get(c.id as usize).and_then(Option::as_ref);
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
    let rows: Vec<[String; 10]> = shown
        .iter()
        .map(|c| row(c, diagnosis(c), a.stats.first_ts_ns.unwrap_or(0)))
        .collect();
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
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let right = matches!(i, 0 | 4 | 5 | 6);
            if right {
                let _ = write!(s, "{cell:>w$}  ");
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&head))?;
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cells))?;
    }
    for c in shown
        .iter()
        .filter(|c| !c.resets.is_empty() || diagnosis(c).is_some())
    {
        writeln!(out)?;
        let incident = diagnosis(c)
            .and_then(|d| d.incident)
            .and_then(|i| a.incidents.get(i));
        write_reset_block(out, c, diagnosis(c), incident)?;
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

fn row(c: &Connection, d: Option<&Diagnosis>, t0: i64) -> [String; 10] {
    let cl = c.dir(Dir::Client);
    let sv = c.dir(Dir::Server);
    [
        c.id.to_string(),
        c.client.to_string(),
        c.server.to_string(),
        format!("+{:.3}", secs(c.first_ts_ns - t0)),
        format!("{:.3}", secs(c.duration_ns())),
        format!("{}/{}", cl.packets, sv.packets),
        format!("{}/{}", cl.payload_bytes, sv.payload_bytes),
        c.termination().as_str().to_owned(),
        d.map_or_else(|| "-".to_owned(), |d| d.cause.id().to_owned()),
        format!("{} {}", c.zeek.conn_state(), c.zeek.history()),
    ]
}

/// One reset connection: its diagnosis, handshake, TTLs, idle gaps, FINs and every RST.
pub fn write_reset_block(
    out: &mut dyn Write,
    c: &Connection,
    d: Option<&Diagnosis>,
    incident: Option<&Incident>,
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
        write_diagnosis(out, d, incident)?;
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
    for f in &d.fixes {
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
