//! The JSON report, schema `rstscope.analysis/2`, and its line-per-record form
//! `rstscope.lines/1` (both documented in docs/json-schema.md).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde::Serialize;

use crate::analysis::{Analysis, Warning};
use crate::decode::flags;
use crate::diagnose::{Cause, Diagnosis};
use crate::flow::{Connection, Dir, Reset, ZeekVerdict};
use crate::source::SourceError;
use crate::time::{millis, rfc3339, secs};

/// Version 2 states each cause's explanation and fixes once, in `causes`, where version 1
/// repeated them in every diagnosis (half of the document for a capture of many resets).
pub const SCHEMA: &str = "rstscope.analysis/2";
/// The line-per-record form (`--format jsonl`).
pub const LINES_SCHEMA: &str = "rstscope.lines/1";

/// What a report includes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReportOptions {
    /// Only connections with at least one RST.
    pub resets_only: bool,
    /// Repeat each cause's explanation and fixes in every diagnosis (schema 1's form).
    pub verbose_text: bool,
}

#[derive(Serialize)]
pub struct Report<'a> {
    pub schema: &'static str,
    pub source: Source<'a>,
    pub connections: Vec<Conn<'a>>,
    pub causes: BTreeMap<&'static str, CauseText>,
    pub incidents: &'a [crate::diagnose::Incident],
    pub warnings: &'a [Warning],
}

/// A cause's words, stated once per document.
#[derive(Serialize)]
pub struct CauseText {
    pub title: &'static str,
    pub explanation: &'static str,
    pub fixes: &'static [&'static str],
}

impl CauseText {
    pub fn of(c: Cause) -> Self {
        Self {
            title: c.title(),
            explanation: c.explanation(),
            fixes: c.fixes(),
        }
    }
}

/// The causes a document names: every verdict and every alternative.
pub fn causes_named(a: &Analysis, options: ReportOptions) -> BTreeMap<&'static str, CauseText> {
    let mut named: BTreeSet<Cause> = BTreeSet::new();
    for (c, d) in a.connections.iter().zip(&a.diagnoses) {
        let Some(d) = d else { continue };
        if options.resets_only && c.resets.is_empty() {
            continue;
        }
        named.insert(d.cause);
        named.extend(d.alternatives.iter().map(|alt| alt.cause));
    }
    for inc in &a.incidents {
        named.extend(inc.causes.keys().copied());
    }
    named
        .into_iter()
        .map(|c| (c.id(), CauseText::of(c)))
        .collect()
}

/// A diagnosis as the document writes it: with its cause's words only when asked.
#[derive(Serialize)]
#[serde(untagged)]
pub enum DiagnosisJson<'a> {
    Plain(&'a Diagnosis),
    Verbose(VerboseDiagnosis<'a>),
}

#[derive(Serialize)]
pub struct VerboseDiagnosis<'a> {
    #[serde(flatten)]
    pub diagnosis: &'a Diagnosis,
    pub explanation: &'static str,
    pub fixes: &'static [&'static str],
}

impl<'a> DiagnosisJson<'a> {
    pub fn new(d: &'a Diagnosis, verbose: bool) -> Self {
        if verbose {
            Self::Verbose(VerboseDiagnosis {
                diagnosis: d,
                explanation: d.explanation(),
                fixes: d.fixes(),
            })
        } else {
            Self::Plain(d)
        }
    }
}

#[derive(Serialize)]
pub struct Source<'a> {
    pub name: &'a str,
    pub format: crate::source::Format,
    pub gzip: bool,
    pub file_bytes: Option<u64>,
    pub frames: u64,
    pub tcp_packets: u64,
    pub first_packet: Option<String>,
    pub last_packet: Option<String>,
    /// False when the input stopped early; `error` says why.
    pub complete: bool,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct Endpoint {
    pub ip: Ip,
    pub port: u16,
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Self {
        Self {
            ip: Ip(a.ip()),
            port: a.port(),
        }
    }
}

/// An address written as its usual text, spelled by [`crate::addr::IpText`].
pub struct Ip(pub std::net::IpAddr);

impl Serialize for Ip {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::addr::IpText::of(self.0).as_str())
    }
}

/// A value per direction.
#[derive(Serialize)]
pub struct PerDir<T> {
    pub client: T,
    pub server: T,
}

impl<T> PerDir<T> {
    fn of(c: &Connection, f: impl Fn(&crate::flow::Direction) -> T) -> Self {
        Self {
            client: f(c.dir(Dir::Client)),
            server: f(c.dir(Dir::Server)),
        }
    }
}

#[derive(Serialize)]
pub struct Handshake {
    pub syn_frame: Option<u64>,
    pub synack_frame: Option<u64>,
    pub ack_frame: Option<u64>,
    pub rtt_ms: Option<f64>,
}

#[derive(Serialize)]
pub struct IdleGap {
    pub after_frame: u64,
    pub before_frame: u64,
    pub seconds: f64,
}

#[derive(Serialize)]
pub struct Ttl {
    pub min: u8,
    pub max: u8,
}

#[derive(Serialize)]
pub struct ResetJson {
    pub frame: u64,
    pub time: String,
    pub from: Dir,
    pub flags: String,
    pub seq: u32,
    pub ack: u32,
    pub seq_rel: Option<u32>,
    pub ack_rel: Option<u32>,
    pub in_window: Option<bool>,
    pub exact: Option<bool>,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub payload_len: u32,
    pub text: Option<String>,
}

impl From<&Reset> for ResetJson {
    fn from(r: &Reset) -> Self {
        Self {
            frame: r.frame,
            time: rfc3339(r.ts_ns),
            from: r.from,
            flags: flags::tcpdump(r.flags),
            seq: r.seq,
            ack: r.ack,
            seq_rel: r.seq_rel,
            ack_rel: r.ack_rel,
            in_window: r.in_window,
            exact: r.exact,
            ttl: r.ttl,
            ip_id: r.ip_id,
            payload_len: r.payload_len,
            text: r.text.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct Conn<'a> {
    pub id: u32,
    pub client: Endpoint,
    pub server: Endpoint,
    pub role_basis: crate::flow::RoleBasis,
    pub first_frame: u64,
    pub last_frame: u64,
    pub start: String,
    pub duration_s: f64,
    pub packets: PerDir<u64>,
    pub payload_bytes: PerDir<u64>,
    pub retransmissions: PerDir<u32>,
    pub zero_windows: PerDir<u32>,
    pub keepalives: PerDir<u32>,
    pub ttl: PerDir<Option<Ttl>>,
    pub fin_frame: PerDir<Option<u64>>,
    pub handshake: Option<Handshake>,
    pub idle_gaps: Vec<IdleGap>,
    pub termination: &'static str,
    pub resets: Vec<ResetJson>,
    pub zeek: &'a ZeekVerdict,
    /// Earlier connections Zeek would log separately for these packets (its timers split what
    /// Wireshark calls one conversation); usually empty.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub zeek_earlier: &'a [ZeekVerdict],
    /// Who sent the first RST and why; `null` for connections that ended gracefully.
    pub diagnosis: Option<DiagnosisJson<'a>>,
}

impl<'a> Conn<'a> {
    /// `verbose`: the diagnosis repeats its cause's explanation and fixes (for a line that must
    /// stand on its own, such as a live capture's events).
    pub fn new(c: &'a Connection, diagnosis: Option<&'a Diagnosis>, verbose: bool) -> Self {
        let h = &c.handshake;
        Self {
            id: c.id,
            client: c.client.into(),
            server: c.server.into(),
            role_basis: c.role_basis,
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            start: rfc3339(c.first_ts_ns),
            duration_s: secs(c.duration_ns()),
            packets: PerDir::of(c, |d| d.packets),
            payload_bytes: PerDir::of(c, |d| d.payload_bytes),
            retransmissions: PerDir::of(c, |d| d.retransmissions),
            zero_windows: PerDir::of(c, |d| d.zero_windows),
            keepalives: PerDir::of(c, |d| d.keepalives),
            ttl: PerDir::of(c, |d| {
                (d.packets > 0).then_some(Ttl {
                    min: d.ttl.min,
                    max: d.ttl.max,
                })
            }),
            fin_frame: PerDir::of(c, |d| d.fin_frame),
            handshake: h.syn_frame.or(h.synack_frame).map(|_| Handshake {
                syn_frame: h.syn_frame,
                synack_frame: h.synack_frame,
                ack_frame: h.ack_frame,
                rtt_ms: h.rtt_ns.map(millis),
            }),
            idle_gaps: c
                .idle_gaps
                .iter()
                .map(|g| IdleGap {
                    after_frame: g.after_frame,
                    before_frame: g.before_frame,
                    seconds: secs(g.ns),
                })
                .collect(),
            termination: c.termination().as_str(),
            resets: c.resets.iter().map(ResetJson::from).collect(),
            zeek: c.zeek_current(),
            zeek_earlier: c.zeek_earlier(),
            diagnosis: diagnosis.map(|d| DiagnosisJson::new(d, verbose)),
        }
    }
}

/// Builds the report of one analysis.
pub fn report<'a>(
    a: &'a Analysis,
    error: Option<&SourceError>,
    options: ReportOptions,
) -> Report<'a> {
    Report {
        schema: SCHEMA,
        source: source(a, error),
        connections: shown(a, options)
            .map(|c| Conn::new(c, diagnosis(a, c), options.verbose_text))
            .collect(),
        causes: causes_named(a, options),
        incidents: &a.incidents,
        warnings: &a.warnings,
    }
}

fn shown(a: &Analysis, options: ReportOptions) -> impl Iterator<Item = &Connection> {
    a.connections
        .iter()
        .filter(move |c| !options.resets_only || !c.resets.is_empty())
}

fn diagnosis<'a>(a: &'a Analysis, c: &Connection) -> Option<&'a Diagnosis> {
    a.diagnoses.get(c.id as usize).and_then(Option::as_deref)
}

fn source<'a>(a: &'a Analysis, error: Option<&SourceError>) -> Source<'a> {
    Source {
        name: &a.source.name,
        format: a.source.format,
        gzip: a.source.gzip,
        file_bytes: a.source.file_bytes,
        frames: a.stats.frames,
        tcp_packets: a.stats.tcp_packets,
        first_packet: a.stats.first_ts_ns.map(rfc3339),
        last_packet: a.stats.last_ts_ns.map(rfc3339),
        complete: error.is_none(),
        error: error.map(|e| format!("{e}")),
    }
}

/// Connections are serialized on all cores this many at a time per core, and written before
/// the next ones are: the document is never held in memory whole (a million connections make
/// about a gigabyte of JSON).
const CHUNK: usize = 2048;

/// Serializes `items` with `each` on all cores, a bounded run at a time, writing each run in
/// order with `sep` between items. Serializing a million connections on one core takes longer
/// than reading their capture; on two it keeps up (measured: bench/README.md).
fn write_parallel<T: Sync>(
    out: &mut dyn std::io::Write,
    items: &[T],
    sep: &[u8],
    each: &(dyn Fn(&mut Vec<u8>, &T) -> serde_json::Result<()> + Sync),
) -> std::io::Result<()> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 8);
    let serialize = |part: &[T]| -> serde_json::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(part.len() * 1024);
        for (i, item) in part.iter().enumerate() {
            if i > 0 {
                buf.extend_from_slice(sep);
            }
            each(&mut buf, item)?;
        }
        Ok(buf)
    };
    let mut first = true;
    for run in items.chunks(CHUNK * workers) {
        let parts: Vec<serde_json::Result<Vec<u8>>> = std::thread::scope(|scope| {
            let mut chunks = run.chunks(CHUNK);
            let head = chunks.next().unwrap_or(&[]);
            let handles: Vec<_> = chunks
                .map(|part| {
                    std::thread::Builder::new()
                        .name("rstscope-json".to_owned())
                        .spawn_scoped(scope, move || serialize(part))
                })
                .collect();
            let mut parts = vec![serialize(head)];
            for h in handles {
                parts.push(match h {
                    Ok(h) => h.join().unwrap_or_else(|_| {
                        Err(serde_json::Error::io(std::io::Error::other(
                            "a JSON worker panicked",
                        )))
                    }),
                    Err(e) => Err(serde_json::Error::io(e)),
                });
            }
            parts
        });
        for part in parts {
            let part = part?;
            if part.is_empty() {
                continue;
            }
            if !first {
                out.write_all(sep)?;
            }
            out.write_all(&part)?;
            first = false;
        }
    }
    Ok(())
}

/// The same report as [`report`], on one line, written as it is serialized. The fields are
/// written in the order of [`Report`]; a test checks that both paths give the same document.
pub fn write_compact(
    out: &mut dyn std::io::Write,
    a: &Analysis,
    error: Option<&SourceError>,
    options: ReportOptions,
) -> std::io::Result<()> {
    let conns: Vec<&Connection> = shown(a, options).collect();
    out.write_all(b"{\"schema\":")?;
    serde_json::to_writer(&mut *out, SCHEMA)?;
    out.write_all(b",\"source\":")?;
    serde_json::to_writer(&mut *out, &source(a, error))?;
    out.write_all(b",\"connections\":[")?;
    write_parallel(out, &conns, b",", &|buf, c| {
        serde_json::to_writer(buf, &Conn::new(c, diagnosis(a, c), options.verbose_text))
    })?;
    out.write_all(b"],\"causes\":")?;
    serde_json::to_writer(&mut *out, &causes_named(a, options))?;
    out.write_all(b",\"incidents\":")?;
    serde_json::to_writer(&mut *out, &a.incidents)?;
    out.write_all(b",\"warnings\":")?;
    serde_json::to_writer(&mut *out, &a.warnings)?;
    out.write_all(b"}")
}

/// One record per line (`--format jsonl`), each an object whose `record` says what it is, as
/// Suricata's EVE log does: first `source` (with `schema`), then one `connection` per line,
/// then `cause`, `incident` and `warning` lines. `jq`, `DuckDB`'s `read_json` and a shell pipe
/// read it a line at a time.
pub fn write_lines(
    out: &mut dyn std::io::Write,
    a: &Analysis,
    error: Option<&SourceError>,
    options: ReportOptions,
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Head<'a> {
        schema: &'static str,
        #[serde(flatten)]
        source: Source<'a>,
    }
    let name = a.source.name.as_str();
    let line = |out: &mut dyn std::io::Write,
                record: &str,
                body: &dyn erased::Body|
     -> std::io::Result<()> {
        out.write_all(b"{\"record\":")?;
        serde_json::to_writer(&mut *out, record)?;
        out.write_all(b",\"capture\":")?;
        serde_json::to_writer(&mut *out, name)?;
        body.write_fields(out)?;
        out.write_all(b"}\n")
    };
    line(
        out,
        "source",
        &Head {
            schema: LINES_SCHEMA,
            source: source(a, error),
        },
    )?;
    let conns: Vec<&Connection> = shown(a, options).collect();
    write_parallel(out, &conns, b"", &|buf, c| {
        buf.extend_from_slice(b"{\"record\":\"connection\",\"capture\":");
        serde_json::to_writer(&mut *buf, name)?;
        erased::fields(buf, &Conn::new(c, diagnosis(a, c), options.verbose_text))?;
        buf.extend_from_slice(b"}\n");
        Ok(())
    })?;
    for (id, text) in causes_named(a, options) {
        #[derive(Serialize)]
        struct CauseLine {
            cause: &'static str,
            #[serde(flatten)]
            text: CauseText,
        }
        line(out, "cause", &CauseLine { cause: id, text })?;
    }
    for (index, inc) in a.incidents.iter().enumerate() {
        #[derive(Serialize)]
        struct IncidentLine<'a> {
            index: usize,
            #[serde(flatten)]
            incident: &'a crate::diagnose::Incident,
        }
        line(
            out,
            "incident",
            &IncidentLine {
                index,
                incident: inc,
            },
        )?;
    }
    for w in &a.warnings {
        line(out, "warning", w)?;
    }
    Ok(())
}

/// Writing a serializable object's fields after fields already written: its JSON without the
/// opening brace, behind a comma.
mod erased {
    use serde::Serialize;

    pub trait Body {
        fn write_fields(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
    }

    impl<T: Serialize> Body for T {
        fn write_fields(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
            let mut buf = Vec::new();
            fields(&mut buf, self)?;
            out.write_all(&buf)
        }
    }

    /// Appends `value`'s fields to `buf` as `,"a":1,"b":2` (nothing for an empty object).
    pub fn fields<T: Serialize>(buf: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
        let start = buf.len();
        serde_json::to_writer(&mut *buf, value)?;
        // An object: `{...}`. Its opening brace becomes the comma; its closing one goes.
        if buf.len() - start <= 2 {
            buf.truncate(start);
        } else {
            buf[start] = b',';
            buf.pop();
        }
        Ok(())
    }
}
