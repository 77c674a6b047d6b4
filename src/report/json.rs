//! The JSON report, schema `rstscope.analysis/1` (documented in docs/json-schema.md).

use std::net::SocketAddr;

use serde::Serialize;

use crate::analysis::{Analysis, Warning};
use crate::decode::flags;
use crate::diagnose::Diagnosis;
use crate::flow::{Connection, Dir, Reset};
use crate::source::SourceError;
use crate::time::{millis, rfc3339, secs};

pub const SCHEMA: &str = "rstscope.analysis/1";

#[derive(Serialize)]
pub struct Report<'a> {
    pub schema: &'static str,
    pub source: Source<'a>,
    pub connections: Vec<Conn<'a>>,
    pub incidents: &'a [crate::diagnose::Incident],
    pub warnings: &'a [Warning],
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
    pub ip: String,
    pub port: u16,
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Self {
        Self {
            ip: a.ip().to_string(),
            port: a.port(),
        }
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
pub struct Zeek {
    pub conn_state: &'static str,
    pub history: String,
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
    pub zeek: Zeek,
    /// Earlier connections Zeek would log separately for these packets (its timers split what
    /// Wireshark calls one conversation); usually empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zeek_earlier: Vec<Zeek>,
    /// Who sent the first RST and why; `null` for connections that ended gracefully.
    pub diagnosis: Option<&'a Diagnosis>,
}

impl<'a> Conn<'a> {
    pub fn new(c: &Connection, diagnosis: Option<&'a Diagnosis>) -> Self {
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
            zeek: Zeek {
                conn_state: c.zeek.conn_state(),
                history: c.zeek.history(),
            },
            zeek_earlier: c
                .zeek_earlier
                .iter()
                .map(|z| Zeek {
                    conn_state: z.conn_state,
                    history: z.history.clone(),
                })
                .collect(),
            diagnosis,
        }
    }
}

/// Builds the report of one analysis; `resets_only` keeps connections with at least one RST.
pub fn report<'a>(a: &'a Analysis, error: Option<&SourceError>, resets_only: bool) -> Report<'a> {
    Report {
        schema: SCHEMA,
        source: source(a, error),
        connections: a
            .connections
            .iter()
            .filter(|c| !resets_only || !c.resets.is_empty())
            .map(|c| Conn::new(c, a.diagnoses.get(c.id as usize).and_then(Option::as_ref)))
            .collect(),
        incidents: &a.incidents,
        warnings: &a.warnings,
    }
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

/// The same report as [`report`], on one line, with the connections serialized on all cores:
/// for a capture of many connections, turning them into JSON otherwise takes as long as
/// reading the capture. The fields are written in the order of [`Report`]; a test checks that
/// both paths give the same document.
pub fn write_compact(
    out: &mut dyn std::io::Write,
    a: &Analysis,
    error: Option<&SourceError>,
    resets_only: bool,
) -> std::io::Result<()> {
    let conns: Vec<&Connection> = a
        .connections
        .iter()
        .filter(|c| !resets_only || !c.resets.is_empty())
        .collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .max(1);
    let chunk = conns.len().div_ceil(workers).max(1);
    let serialize = |part: &[&Connection]| -> serde_json::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(part.len() * 1024);
        for (i, c) in part.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            let d = a.diagnoses.get(c.id as usize).and_then(Option::as_ref);
            serde_json::to_writer(&mut buf, &Conn::new(c, d))?;
        }
        Ok(buf)
    };
    let parts: Vec<serde_json::Result<Vec<u8>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .chunks(chunk)
            .skip(1)
            .map(|part| {
                std::thread::Builder::new()
                    .name("rstscope-json".to_owned())
                    .spawn_scoped(scope, move || serialize(part))
            })
            .collect();
        let mut parts = vec![serialize(conns.chunks(chunk).next().unwrap_or(&[]))];
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
    out.write_all(b"{\"schema\":")?;
    serde_json::to_writer(&mut *out, SCHEMA)?;
    out.write_all(b",\"source\":")?;
    serde_json::to_writer(&mut *out, &source(a, error))?;
    out.write_all(b",\"connections\":[")?;
    let mut first = true;
    for part in parts {
        let part = part?;
        if part.is_empty() {
            continue;
        }
        if !first {
            out.write_all(b",")?;
        }
        out.write_all(&part)?;
        first = false;
    }
    out.write_all(b"],\"incidents\":")?;
    serde_json::to_writer(&mut *out, &a.incidents)?;
    out.write_all(b",\"warnings\":")?;
    serde_json::to_writer(&mut *out, &a.warnings)?;
    out.write_all(b"}")
}
