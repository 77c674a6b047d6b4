//! Diagnosis: for every connection that ends in a RST (or dies unanswered), who really sent it,
//! why (a [`Cause`]), the frames that prove it, how sure that is, what else it could be, and
//! the fix; and the [`Incident`]s that span connections.
//!
//! Read first: RFC 9293 3.10.7 (how TCP answers segments, when it sends RSTs), RFC 5961 3 (which
//! RSTs a receiver accepts), RFC 1122 4.2.2.13 (closing with unread data resets) and 4.2.3.6
//! (keep-alives), RFC 2525 2.17. Every RST of a connection is attributed (sent by its claimed
//! endpoint or forged on the path); the first one that took effect decides the cause. Every
//! rule in [`rules`] judges its own hypothesis; [`verdict`] weighs them.

pub mod causes;
pub mod incident;
pub mod kernel;
mod rules;
mod signals;
pub mod timeouts;
pub mod twopoint;
mod verdict;
pub mod words;

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

pub use causes::Cause;
pub use incident::{Incident, IncidentKind};
pub use rules::{BurstFacts, HostFacts};

use crate::decode::flags;
use crate::flow::{Connection, Dir, PacketRecord};

/// What kind of thing sent the RST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    /// One of the two hosts of the connection.
    Endpoint,
    /// A device on the path, forging an endpoint's address.
    Middlebox,
}

/// Who, on the sending host, decided to send it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    /// The application (its close or abort made the kernel send it).
    Application,
    /// The kernel on its own (no socket, keep-alive gave up, port closed).
    Kernel,
    /// A device on the path.
    PathDevice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// A frame and what it shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub frame: u64,
    pub note: String,
}

/// A cause the verdict did not rule out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alternative {
    pub cause: Cause,
    /// Who would have sent the RST if this were it.
    pub sender_kind: SenderKind,
    /// What in the capture fits it.
    pub why: String,
    /// What would tell it apart from the verdict.
    pub tell_apart: String,
}

/// What a RST did to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RstEffect {
    /// It ended the connection: the verdict is about it.
    EndedConnection,
    /// Its receiver ignored it (outside the window) and the connection went on.
    Ignored,
    /// It came after the connection had been reset: a repeat, or an answer to what still
    /// arrived.
    AfterReset,
}

/// Who sent one RST of the connection, and what it did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RstVerdict {
    pub frame: u64,
    /// Wall-clock time (UTC, RFC 3339).
    pub time: String,
    /// The side whose address it carries.
    pub from: Dir,
    /// `None` for a row that stands for RSTs not judged one by one (an injector's spray).
    pub sender_kind: Option<SenderKind>,
    /// Sent by the endpoint whose address it carries (`None`: not judged).
    pub genuine: Option<bool>,
    pub effect: RstEffect,
    pub note: String,
}

/// The verdict on one connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// The mechanism that reset the connection.
    pub cause: Cause,
    /// The side whose address the RST carries (or, with no RST, the side that went silent).
    pub sender: Dir,
    pub sender_kind: SenderKind,
    pub actor: Actor,
    /// Another sender the packets cannot rule out ("or a firewall in front of it").
    pub sender_doubt: Option<String>,
    pub confidence: Confidence,
    /// Why that confidence: what agrees, what is missing.
    pub confidence_reasons: Vec<String>,
    /// The RST that decided (the first one that took effect), if there is one.
    pub rst_frame: Option<u64>,
    /// Its wall-clock time (UTC, RFC 3339): the moment to look for in the sender's logs.
    pub rst_time: Option<String>,
    #[serde(skip)]
    pub rst_ts_ns: Option<i64>,
    /// The packet the RST answers, if it answers one.
    pub trigger_frame: Option<u64>,
    /// Seconds from the trigger to the RST.
    pub trigger_delay_s: Option<f64>,
    /// The silence before the RST (or before what triggered it), in seconds.
    pub idle_before_s: Option<f64>,
    /// A published default timeout that silence matches.
    pub known_timeout: Option<String>,
    /// Estimated hops between the capture point and the device that sent the RST (`None`
    /// when its TTL cannot say: a forger that started from another initial TTL).
    pub hops_from_capture: Option<u8>,
    pub evidence: Vec<Evidence>,
    /// The connection's other RSTs and what they are.
    pub consequences: Vec<Evidence>,
    /// Every RST of the connection, attributed.
    pub resets: Vec<RstVerdict>,
    /// The causes not ruled out, strongest first (empty for high confidence).
    pub alternatives: Vec<Alternative>,
    /// The incident this connection belongs to (an index into the analysis's incidents).
    pub incident: Option<usize>,
    /// The RST's sender, a server, had a request it never answered when it reset (what the
    /// incident rules weigh: a timer does not fire on a request waiting for an answer).
    #[serde(skip)]
    pub request_pending: bool,
    /// One sentence: who sent it and why. The cause's explanation and fixes are the same for
    /// every connection it resets: [`Diagnosis::explanation`], [`Diagnosis::fixes`] (the JSON
    /// report states them once, in its `causes` table).
    pub summary: String,
    /// What evidence would settle it, when the verdict is not certain.
    pub would_settle: Option<String>,
    /// The kernel's own record of sending this RST (live capture with kernel reasons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<kernel::KernelWord>,
}

impl Diagnosis {
    /// Gives back what its texts and lists reserved beyond their length: texts put together
    /// piece by piece hold up to twice what they need, and a capture with a hundred thousand
    /// resets keeps every diagnosis to the end (1.8 KB each before, 1.2 KB after: heaptrack,
    /// bench/README.md).
    pub fn shrink_to_fit(&mut self) {
        fn texts(v: &mut Vec<Evidence>) {
            v.shrink_to_fit();
            for e in v {
                e.note.shrink_to_fit();
            }
        }
        for t in [
            &mut self.sender_doubt,
            &mut self.rst_time,
            &mut self.known_timeout,
            &mut self.would_settle,
        ]
        .into_iter()
        .flatten()
        {
            t.shrink_to_fit();
        }
        self.summary.shrink_to_fit();
        self.confidence_reasons.shrink_to_fit();
        for r in &mut self.confidence_reasons {
            r.shrink_to_fit();
        }
        texts(&mut self.evidence);
        texts(&mut self.consequences);
        self.resets.shrink_to_fit();
        for r in &mut self.resets {
            r.time.shrink_to_fit();
            r.note.shrink_to_fit();
        }
        self.alternatives.shrink_to_fit();
        for a in &mut self.alternatives {
            a.why.shrink_to_fit();
            a.tell_apart.shrink_to_fit();
        }
    }

    /// The cause in plain words.
    pub fn explanation(&self) -> &'static str {
        self.cause.explanation()
    }

    /// What to change so that the cause goes away.
    pub fn fixes(&self) -> &'static [&'static str] {
        self.cause.fixes()
    }
}

/// Words for a hop distance estimated from a TTL: "no router between it and the capture point",
/// "2 routers from the capture point".
pub fn hop_words(hops: u8) -> String {
    words::hops(hops)
}

/// Diagnoses one connection on its own; `None` for connections that ended gracefully or are
/// still open. [`diagnose_all`] knows more (the hosts' other packets, incidents).
pub fn diagnose(conn: &Connection, packets: &[PacketRecord]) -> Option<Diagnosis> {
    verdict::decide(conn, packets, |_| HostFacts::default(), None)
}

/// The TTL habit of every host across the capture: the most common TTL of its non-RST packets.
/// A direction whose TTL never changed (nearly all) counts by its counters; only the others
/// are read packet by packet.
fn host_ttls(conns: &[Connection], packets: &[Vec<PacketRecord>]) -> HashMap<IpAddr, (u8, usize)> {
    let mut counts: HashMap<IpAddr, HashMap<u8, usize>> = HashMap::new();
    for c in conns {
        for d in [Dir::Client, Dir::Server] {
            let dir = c.dir(d);
            let ip = match d {
                Dir::Client => c.client.ip(),
                Dir::Server => c.server.ip(),
            };
            let rsts = c.resets.iter().filter(|r| r.from == d).count();
            let others = usize::try_from(dir.packets)
                .unwrap_or(usize::MAX)
                .saturating_sub(rsts);
            if others == 0 {
                continue;
            }
            let host = counts.entry(ip).or_default();
            if !dir.ttl.varied() {
                *host.entry(dir.ttl.min).or_default() += others;
            } else if let Some(ps) = packets.get(c.id as usize) {
                for p in ps
                    .iter()
                    .filter(|p| p.dir == d && p.flags & flags::RST == 0)
                {
                    *host.entry(p.ttl).or_default() += 1;
                }
            }
        }
    }
    counts
        .into_iter()
        .filter_map(|(ip, m)| {
            m.into_iter()
                .max_by_key(|&(ttl, n)| (n, ttl))
                .map(|best| (ip, best))
        })
        .collect()
}

/// Whether [`diagnose_all`] reads this connection's packet records: a RST's verdict and an
/// incident's members do, so do the verdict on data nobody answered and the hosts' TTL habits
/// for a direction whose TTL changed. Every other connection is judged by its counters.
pub fn reads_records(c: &Connection) -> bool {
    !c.resets.is_empty()
        || c.termination() == crate::flow::Termination::Unanswered
        || c.dirs.iter().any(|d| d.ttl.varied())
}

/// Incidents among diagnosed connections (for a live view that has no packet records at
/// hand): see [`incident::find`].
pub fn incidents(conns: &[Connection], diagnoses: &[Option<Box<Diagnosis>>]) -> Vec<Incident> {
    let span = conns
        .iter()
        .map(|c| c.first_ts_ns)
        .min()
        .zip(conns.iter().map(|c| c.last_ts_ns).max());
    incident::find(
        conns,
        diagnoses,
        span.map_or(0, |(a, b)| b.saturating_sub(a)),
    )
}

/// Diagnoses every connection with what the whole capture says (each host's TTL habit), finds
/// the incidents, and judges the members of each again knowing they went down together.
pub fn diagnose_all(
    conns: &[Connection],
    packets: &[Vec<PacketRecord>],
) -> (Vec<Option<Box<Diagnosis>>>, Vec<Incident>) {
    let ttls = host_ttls(conns, packets);
    let records = |c: &Connection| packets.get(c.id as usize).map_or(&[][..], Vec::as_slice);
    let host_of = |c: &Connection| {
        let ttls = &ttls;
        let (client, server) = (c.client.ip(), c.server.ip());
        move |d: Dir| HostFacts {
            ttl: ttls
                .get(&match d {
                    Dir::Client => client,
                    Dir::Server => server,
                })
                .copied(),
        }
    };
    let mut diagnoses: Vec<Option<Box<Diagnosis>>> = par_map(conns, |c| {
        verdict::decide(c, records(c), host_of(c), None).map(Box::new)
    });
    let mut found = incidents(conns, &diagnoses);
    // Connections by id: the ids need not be positions (a caller may pass a subset). For a
    // whole capture they are, and a map of a million ids cost 71 MB at the peak (heaptrack).
    let by_position = conns.iter().enumerate().all(|(i, c)| c.id as usize == i);
    let index: HashMap<u32, usize> = if by_position {
        HashMap::new()
    } else {
        conns.iter().enumerate().map(|(i, c)| (c.id, i)).collect()
    };
    let position = |id: u32| {
        if by_position {
            Some(id as usize).filter(|&i| i < conns.len())
        } else {
            index.get(&id).copied()
        }
    };
    for (i, inc) in found.iter().enumerate() {
        let burst = BurstFacts {
            connections: inc.connections.len(),
            window_s: inc.window_ms / 1e3,
            idle_ages_differ: incident::idle_ages_differ(inc),
        };
        for &id in &inc.connections {
            let Some(at) = position(id) else {
                continue;
            };
            let c = &conns[at];
            if let Some(mut d) = verdict::decide(c, records(c), host_of(c), Some(burst)) {
                d.incident = Some(i);
                diagnoses[at] = Some(Box::new(d));
            }
        }
    }
    incident::recount(&mut found, conns, &diagnoses);
    (diagnoses, found)
}

/// `f` over `items` on all cores (up to 8), in order. Verdicts are independent of each other
/// once the hosts' TTL habits are known; a million connections take about 4.6 s on one core
/// (bench/README.md).
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 8);
    if workers == 1 || items.len() < 4096 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(workers);
    let f = &f;
    std::thread::scope(|scope| {
        let mut parts = items.chunks(chunk);
        let head = parts.next().unwrap_or(&[]);
        let handles: Vec<_> = parts
            .map(|part| {
                let spawned = std::thread::Builder::new()
                    .name("rstscope-diagnose".to_owned())
                    .spawn_scoped(scope, move || part.iter().map(f).collect::<Vec<R>>());
                (part, spawned)
            })
            .collect();
        let mut out: Vec<R> = Vec::with_capacity(items.len());
        out.extend(head.iter().map(f));
        for (part, handle) in handles {
            // A thread that could not start, or that panicked: its part on this thread.
            match handle.ok().and_then(|h| h.join().ok()) {
                Some(done) => out.extend(done),
                None => out.extend(part.iter().map(f)),
            }
        }
        out
    })
}

/// One capture as the two-point comparison reads it.
#[derive(Clone, Copy)]
pub struct CaptureView<'a> {
    pub connections: &'a [Connection],
    pub packets: &'a [Vec<PacketRecord>],
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
}

/// What a second capture of the same traffic proved, for [`cross_check`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrossCheck {
    /// Connections found in both captures.
    pub paired: usize,
    /// RSTs the other capture proved forged on the path (never sent by their claimed sender).
    pub forged: usize,
    /// RSTs the other capture showed their claimed sender really sending.
    pub confirmed: usize,
}

/// Two-point captures: matches the connections of `a` and `b` (the same traffic captured at
/// two places, for example at the client and at the server) and uses each capture as proof for
/// the other's diagnoses. A RST one capture received that the other, at its claimed sender,
/// never sent came from the path: it becomes a `middlebox` verdict with high confidence.
// Each witness verdict with what it changes, in one place.
#[allow(clippy::too_many_lines)]
pub fn cross_check(
    a: CaptureView<'_>,
    a_diagnoses: &mut [Option<Box<Diagnosis>>],
    b: CaptureView<'_>,
    b_diagnoses: &mut [Option<Box<Diagnosis>>],
    a_name: &str,
    b_name: &str,
) -> CrossCheck {
    use twopoint::{Side, Witness};
    let pairs = twopoint::pair(a, b);
    let witnesses = twopoint::witness_resets(a, b, &pairs);
    let mut out = CrossCheck {
        paired: pairs.len(),
        ..CrossCheck::default()
    };
    for w in witnesses {
        let (target, other_name) = match w.capture {
            Side::A => (&mut *a_diagnoses, b_name),
            Side::B => (&mut *b_diagnoses, a_name),
        };
        let Some(Some(d)) = target.get_mut(w.conn as usize) else {
            continue;
        };
        let sd = words::side(w.claimed_from);
        let other = w
            .other_frame
            .map_or(String::new(), |f| format!(" (its frame {f})"));
        let note = match w.verdict {
            Witness::NeverSent => format!(
                "{other_name}, captured at the {sd}, shows the {sd} never sent this RST: it came from the path"
            ),
            Witness::SentBySender => {
                format!("{other_name}, captured at the {sd}, shows the {sd} sending it{other}")
            }
            Witness::Arrived => {
                format!("{other_name}, captured at the receiver, shows it arriving{other}")
            }
            Witness::NeverArrived => format!(
                "{other_name}, captured at the receiver, shows it never arrived: dropped on the path"
            ),
            Witness::NotCovered => format!("{other_name} does not cover that moment"),
        };
        d.evidence.push(Evidence {
            frame: w.frame,
            note,
        });
        d.evidence.sort_by_key(|e| e.frame);
        for r in d.resets.iter_mut().filter(|r| r.frame == w.frame) {
            match w.verdict {
                Witness::NeverSent => {
                    r.genuine = Some(false);
                    r.sender_kind = Some(SenderKind::Middlebox);
                }
                Witness::SentBySender => {
                    r.genuine = Some(true);
                    r.sender_kind = Some(SenderKind::Endpoint);
                }
                _ => {}
            }
        }
        if d.rst_frame != Some(w.frame) {
            continue;
        }
        match w.verdict {
            Witness::NeverSent => {
                out.forged += 1;
                if d.sender_kind != SenderKind::Middlebox {
                    d.cause = Cause::MiddleboxReset;
                    d.sender_kind = SenderKind::Middlebox;
                    d.actor = Actor::PathDevice;
                    d.summary = words::summary(
                        w.claimed_from,
                        Actor::PathDevice,
                        w.frame,
                        &words::Story::Forged {
                            signs: vec![format!(
                                "{other_name}, captured at the {sd}, shows the {sd} never sent it"
                            )],
                        },
                    );
                }
                d.confidence = Confidence::High;
                d.confidence_reasons
                    .push(format!("{other_name} at the {sd} shows it never sent it"));
                d.would_settle = None;
                d.alternatives.clear();
            }
            Witness::SentBySender => {
                out.confirmed += 1;
                if d.sender_kind == SenderKind::Middlebox {
                    // The fingerprints said forged, the sender's own capture says otherwise.
                    d.sender_kind = SenderKind::Endpoint;
                    d.confidence = Confidence::Low;
                    d.confidence_reasons.push(format!(
                        "{other_name} shows the {sd} sending it, against its fingerprints"
                    ));
                } else {
                    d.confidence_reasons
                        .push(format!("{other_name} shows the {sd} sending it"));
                    d.alternatives
                        .retain(|alt| alt.sender_kind != SenderKind::Middlebox);
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
