//! Incidents: events that span connections. A `mass-reset` is one host resetting several
//! connections at the same moment: the process holding them crashed, was killed, or was
//! stopped without draining. It never replaces a connection's cause (each connection was still
//! reset by a mechanism: data left unread, an abort); it adds what the burst says.
//!
//! A burst is told from coincidence three ways:
//! - Simultaneity: the RSTs follow each other by at most [`GAP_NS`] (a kernel closing a dead
//!   process's sockets sends them microseconds apart), at least [`MIN_CONNECTIONS`] of them.
//! - Rarity: at the host's own reset rate over the rest of the capture, a window that short
//!   would hold fewer than [`CHANCE_MAX`] resets by chance. A host that resets connections all
//!   day long does not make an incident out of three that happen to fall together.
//! - The connections' states: connections idle for the same time that are reset together, with
//!   nothing left unanswered, are each their own idle timer (opened together, idle together),
//!   not one event; connections idle for different times, or holding requests they never
//!   answered, reset in the same millisecond, are.
//!
//! Only unsolicited RSTs of the hosts themselves count: a refusal, a probe, a forged RST, or a
//! RST answering the peer's packet (no socket, write after close) has its timing set by
//! whoever sent the packet it answers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::words::{self, plural};
use super::{Cause, Diagnosis, SenderKind};
use crate::flow::{Connection, Dir};
use crate::time::{rfc3339, secs};

/// At least this many connections ...
pub const MIN_CONNECTIONS: usize = 3;
/// ... whose RSTs follow each other by at most this long make a burst.
pub const GAP_NS: i64 = 10_000_000;
/// A burst is an incident when the host's own reset rate would put fewer resets than this in a
/// window as long by chance.
pub const CHANCE_MAX: f64 = 0.1;
/// A burst lasts at most this long (a dying process's sockets are reset within milliseconds):
/// otherwise a host resetting connections every few milliseconds all day would chain them all
/// into one burst, leaving no rate outside it to compare with.
pub const MAX_BURST_NS: i64 = 1_000_000_000;

/// What kind of incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    /// One host reset many connections at once.
    MassReset,
}

impl IncidentKind {
    pub fn id(self) -> &'static str {
        match self {
            Self::MassReset => "mass-reset",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::MassReset => "mass reset",
        }
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Self::MassReset => {
                "One host reset several connections in the same instant. Connections that were idle for different lengths of time do not time out together: the process holding them went down at once (a crash, a kill or OOM kill, a deploy or restart that did not drain), and its kernel reset every socket that still had data unread or was set to abort. Each connection's own cause says what its RST was; this says why they all came at once."
            }
        }
    }

    pub fn fixes(self) -> &'static [&'static str] {
        match self {
            Self::MassReset => &[
                "Look at the host's logs at that wall-clock time: a crash, an OOM kill (dmesg, journalctl -k), a deploy or a restart.",
                "Drain before stopping: stop accepting, finish in-flight requests, then exit (Kubernetes: a preStop hook and enough terminationGracePeriodSeconds; Go http.Server.Shutdown; Node server.close()).",
                "Make clients retry idempotent requests with exponential backoff and jitter; give the others idempotency keys.",
            ],
        }
    }
}

/// Something that involves several connections.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    pub kind: IncidentKind,
    /// The host whose address the RSTs carry.
    pub host: IpAddr,
    /// Connection ids.
    pub connections: Vec<u32>,
    /// From the first RST to the last.
    pub window_ms: f64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Wall-clock time of the first RST (UTC, RFC 3339).
    pub time: String,
    #[serde(skip)]
    pub first_ts_ns: i64,
    /// The shortest and longest silence before the members' RSTs, in seconds.
    pub idle_s: [f64; 2],
    /// The host's other unsolicited resets in the capture, and how many of them a window this
    /// long would hold by chance at that rate.
    pub host_other_resets: usize,
    pub expected_by_chance: f64,
    /// The members' own causes.
    pub causes: BTreeMap<Cause, usize>,
    pub summary: String,
    pub explanation: String,
    pub fixes: Vec<String>,
}

impl Incident {
    /// The line a member connection shows: "one of 5 connections that 10.0.0.2 reset within
    /// 0.1 ms: the process holding them died or was stopped".
    pub fn badge(&self) -> String {
        format!(
            "one of {} connections that {} reset within {}: the process holding them died or was stopped",
            self.connections.len(),
            self.host,
            words::duration(self.window_ms / 1e3)
        )
    }
}

/// A member of a burst, as incident detection sees it.
struct Candidate {
    ts_ns: i64,
    frame: u64,
    id: u32,
    idle_s: f64,
    cause: Cause,
    request_pending: bool,
}

/// The causes whose RST the host sent on its own (not answering a packet, not a probe).
fn unsolicited(d: &Diagnosis) -> bool {
    d.sender_kind == SenderKind::Endpoint
        && matches!(
            d.cause,
            Cause::UnreadDataClose | Cause::AbortiveClose | Cause::IdleTimeout | Cause::Unknown
        )
}

/// Silences of the same length (within 2 % and 50 ms): each connection its own timer.
fn same_age(idle: &[f64]) -> bool {
    let (lo, hi) = idle.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
        (lo.min(x), hi.max(x))
    });
    hi - lo <= hi * 0.02 + 0.05
}

/// Finds `mass-reset` incidents among diagnosed connections; `span_ns` is the capture's
/// length, for the host's reset rate.
// One pass over each host's resets, with its tests in order: splitting it would pass the
// group's figures between functions.
#[allow(clippy::too_many_lines)]
pub fn find(
    conns: &[Connection],
    diagnoses: &[Option<Box<Diagnosis>>],
    span_ns: i64,
) -> Vec<Incident> {
    let mut by_host: BTreeMap<IpAddr, Vec<Candidate>> = BTreeMap::new();
    for (c, d) in conns.iter().zip(diagnoses) {
        let Some(d) = d else { continue };
        if !unsolicited(d) {
            continue;
        }
        let Some(r) = c.resets.iter().find(|r| Some(r.frame) == d.rst_frame) else {
            continue;
        };
        let host = match r.from {
            Dir::Client => c.client.ip(),
            Dir::Server => c.server.ip(),
        };
        by_host.entry(host).or_default().push(Candidate {
            ts_ns: r.ts_ns,
            frame: r.frame,
            id: c.id,
            idle_s: d.idle_before_s.unwrap_or(0.0),
            cause: d.cause,
            request_pending: d.request_pending,
        });
    }
    let mut out = Vec::new();
    for (host, mut resets) in by_host {
        resets.sort_by_key(|r| (r.ts_ns, r.frame));
        let total = resets.len();
        let mut i = 0;
        while i < resets.len() {
            let mut j = i;
            while j + 1 < resets.len()
                && resets[j + 1].ts_ns.saturating_sub(resets[j].ts_ns) <= GAP_NS
                && resets[j + 1].ts_ns.saturating_sub(resets[i].ts_ns) <= MAX_BURST_NS
            {
                j += 1;
            }
            let group = &resets[i..=j];
            i = j + 1;
            if group.len() < MIN_CONNECTIONS {
                continue;
            }
            let idle: Vec<f64> = group.iter().map(|g| g.idle_s).collect();
            // Opened together, idle together, answered: each its own timer. (Requests that
            // arrived together and were never answered are not what a timer waits on: that is
            // a process that stopped answering, then went down.)
            let timers = group
                .iter()
                .all(|g| g.cause == Cause::IdleTimeout && !g.request_pending);
            if timers && same_age(&idle) {
                continue;
            }
            let window_ns = group[group.len() - 1].ts_ns.saturating_sub(group[0].ts_ns);
            let others = total - group.len();
            #[allow(clippy::cast_precision_loss)]
            let rate = if span_ns > window_ns {
                others as f64 / (span_ns.saturating_sub(window_ns) as f64 / 1e9)
            } else {
                0.0
            };
            let expected = rate * secs(window_ns + GAP_NS);
            if expected >= CHANCE_MAX {
                continue;
            }
            let mut causes: BTreeMap<Cause, usize> = BTreeMap::new();
            for g in group {
                *causes.entry(g.cause).or_default() += 1;
            }
            let (lo, hi) = idle.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
            let kind = IncidentKind::MassReset;
            let burst_ms = crate::time::millis(window_ns);
            let first = &group[0];
            let last = &group[group.len() - 1];
            let silences = if hi - lo > 0.05 {
                format!(
                    ", after silences of {} to {}: one event, not {} timers",
                    words::duration(lo),
                    words::duration(hi),
                    group.len()
                )
            } else {
                String::new()
            };
            let summary = format!(
                "{host} reset {} within {} at {} ({}){silences}: the process holding them died or was stopped.",
                plural(group.len() as u64, "connection"),
                words::duration(burst_ms / 1e3),
                rfc3339(first.ts_ns),
                words::frames(&[first.frame, last.frame]).replace(" and ", " to "),
            );
            out.push(Incident {
                kind,
                host,
                connections: group.iter().map(|g| g.id).collect(),
                window_ms: burst_ms,
                first_frame: first.frame,
                last_frame: last.frame,
                time: rfc3339(first.ts_ns),
                first_ts_ns: first.ts_ns,
                idle_s: [lo, hi],
                host_other_resets: others,
                expected_by_chance: expected,
                causes,
                summary,
                explanation: kind.explanation().to_owned(),
                fixes: kind.fixes().iter().map(|f| (*f).to_owned()).collect(),
            });
        }
    }
    out.sort_by_key(|i| i.first_ts_ns);
    out
}

/// Counts the members' causes again, after they were judged knowing they went down together
/// (or the kernel's record overruled one).
pub fn recount(
    incidents: &mut [Incident],
    conns: &[Connection],
    diagnoses: &[Option<Box<Diagnosis>>],
) {
    let index: std::collections::HashMap<u32, usize> =
        conns.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    for inc in incidents {
        inc.causes.clear();
        for id in &inc.connections {
            if let Some(Some(d)) = index.get(id).and_then(|&i| diagnoses.get(i)) {
                *inc.causes.entry(d.cause).or_default() += 1;
            }
        }
    }
}

/// The members' silences differ: they were not each their own timer.
pub(super) fn idle_ages_differ(inc: &Incident) -> bool {
    inc.idle_s[1] - inc.idle_s[0] > inc.idle_s[1] * 0.02 + 0.05
}
