//! Diagnosis: for every connection that ends in a RST (or dies unanswered), who really sent it,
//! why (a [`Cause`]), the frames that prove it, how sure that is, and the fix.
//!
//! Read first: RFC 9293 3.10.7 (how TCP answers segments, when it sends RSTs), RFC 5961 3 (which
//! RSTs a receiver accepts), RFC 1122 4.2.2.13 (closing with unread data resets) and 4.2.3.6
//! (keep-alives), RFC 2525 2.17. The first RST of a connection decides the cause; later ones
//! are shown as its consequences. The rules are tried in the order of [`rules::decide`]; each
//! one states the wire signature it looks for.

pub mod causes;
pub mod kernel;
mod rules;
mod signals;
pub mod twopoint;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

pub use causes::Cause;

use crate::flow::{Connection, Dir, PacketRecord};

/// What kind of thing sent the RST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// The verdict on one connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    pub cause: Cause,
    /// The side whose address the RST carries (or, with no RST, the side that went silent).
    pub sender: Dir,
    pub sender_kind: SenderKind,
    pub actor: Actor,
    pub confidence: Confidence,
    /// Why that confidence: what agrees, what is missing.
    pub confidence_reasons: Vec<String>,
    /// The RST that decided (the connection's first), if there is one.
    pub rst_frame: Option<u64>,
    /// The packet the RST answers, if it answers one.
    pub trigger_frame: Option<u64>,
    /// Seconds from the trigger to the RST.
    pub trigger_delay_s: Option<f64>,
    /// The silence before the RST (or before what triggered it), in seconds.
    pub idle_before_s: Option<f64>,
    /// A well-known idle timeout that silence matches.
    pub known_timeout: Option<String>,
    /// Estimated hops between the capture point and the device that sent the RST.
    pub hops_from_capture: Option<u8>,
    pub evidence: Vec<Evidence>,
    /// Later RSTs and what they are.
    pub consequences: Vec<Evidence>,
    /// One sentence: who sent it and why.
    pub summary: String,
    pub explanation: String,
    pub fixes: Vec<String>,
    /// What evidence would settle it, when the verdict is not certain.
    pub would_settle: Option<String>,
    /// The kernel's own record of sending this RST (live capture with kernel reasons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<kernel::KernelWord>,
}

/// Something that involves several connections.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// `mass-reset`.
    pub kind: &'static str,
    /// The host whose address the RSTs carry.
    pub host: IpAddr,
    /// Connection ids.
    pub connections: Vec<u32>,
    /// From the first RST to the last.
    pub window_ms: f64,
    pub first_frame: u64,
    pub last_frame: u64,
}

/// Words for a hop distance estimated from a TTL: "no router between it and the capture point",
/// "2 routers from the capture point".
pub fn hop_words(hops: u8) -> String {
    match hops {
        0 => "no router between it and the capture point".to_owned(),
        1 => "1 router from the capture point".to_owned(),
        n => format!("{n} routers from the capture point"),
    }
}

/// At least this many connections reset by one host ...
pub const MASS_RESET_MIN_CONNECTIONS: usize = 3;
/// ... within this window make a `mass-reset` incident.
pub const MASS_RESET_WINDOW_NS: i64 = 1_000_000_000;

/// Diagnoses one connection; `None` for connections that ended gracefully or are still open.
pub fn diagnose(conn: &Connection, packets: &[PacketRecord]) -> Option<Diagnosis> {
    rules::decide(conn, packets)
}

/// Finds `mass-reset` incidents: one host's address on the first RST of at least
/// [`MASS_RESET_MIN_CONNECTIONS`] connections within [`MASS_RESET_WINDOW_NS`]. Refused
/// connections and probes do not count: they are not connections that were in use.
pub fn incidents(conns: &[Connection], diagnoses: &[Option<Diagnosis>]) -> Vec<Incident> {
    let mut by_host: BTreeMap<IpAddr, Vec<(i64, u64, u32)>> = BTreeMap::new();
    for (c, d) in conns.iter().zip(diagnoses) {
        let (Some(r), Some(d)) = (c.resets.first(), d) else {
            continue;
        };
        if matches!(d.cause, Cause::Refused | Cause::ProbeAbort)
            || d.sender_kind == SenderKind::Middlebox
        {
            continue;
        }
        let host = match r.from {
            Dir::Client => c.client.ip(),
            Dir::Server => c.server.ip(),
        };
        by_host
            .entry(host)
            .or_default()
            .push((r.ts_ns, r.frame, c.id));
    }
    let mut out = Vec::new();
    for (host, mut resets) in by_host {
        resets.sort_unstable();
        let mut i = 0;
        while i < resets.len() {
            let mut j = i;
            while j + 1 < resets.len() && resets[j + 1].0 - resets[i].0 <= MASS_RESET_WINDOW_NS {
                j += 1;
            }
            if j + 1 - i >= MASS_RESET_MIN_CONNECTIONS {
                let group = &resets[i..=j];
                #[allow(clippy::cast_precision_loss)]
                let window_ms = (group[group.len() - 1].0 - group[0].0) as f64 / 1e6;
                out.push(Incident {
                    kind: "mass-reset",
                    host,
                    connections: group.iter().map(|g| g.2).collect(),
                    window_ms,
                    first_frame: group[0].1,
                    last_frame: group[group.len() - 1].1,
                });
                i = j + 1;
            } else {
                i += 1;
            }
        }
    }
    out
}

/// Diagnoses every connection and finds incidents; members of a `mass-reset` incident take that
/// cause, keeping their own mechanism in the explanation.
pub fn diagnose_all(
    conns: &[Connection],
    packets: &[Vec<PacketRecord>],
) -> (Vec<Option<Diagnosis>>, Vec<Incident>) {
    let mut diagnoses: Vec<Option<Diagnosis>> = conns
        .iter()
        .map(|c| diagnose(c, packets.get(c.id as usize).map_or(&[], Vec::as_slice)))
        .collect();
    let found = incidents(conns, &diagnoses);
    for inc in &found {
        for &id in &inc.connections {
            if let Some(Some(d)) = diagnoses.get_mut(id as usize) {
                rules::join_mass_reset(d, inc);
            }
        }
    }
    (diagnoses, found)
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
pub fn cross_check(
    a: &mut crate::pipeline::Analysis,
    b: &mut crate::pipeline::Analysis,
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
            Side::A => (&mut *a, b_name),
            Side::B => (&mut *b, a_name),
        };
        let Some(Some(d)) = target.diagnoses.get_mut(w.conn as usize) else {
            continue;
        };
        let sd = match w.claimed_from {
            Dir::Client => "client",
            Dir::Server => "server",
        };
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
                    d.summary = format!(
                        "A device on the path, forging the {sd}'s address, sent the RST (frame {}) because the {sd} never sent it: {other_name} proves it.",
                        w.frame
                    );
                    Cause::MiddleboxReset
                        .explanation()
                        .clone_into(&mut d.explanation);
                    d.fixes = Cause::MiddleboxReset
                        .fixes()
                        .iter()
                        .map(|f| (*f).to_owned())
                        .collect();
                }
                d.confidence = Confidence::High;
                d.confidence_reasons
                    .push(format!("{other_name} at the {sd} shows it never sent it"));
                d.would_settle = None;
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
                }
            }
            _ => {}
        }
    }
    out
}

/// Who keeps an idle timeout: a proxy, load balancer or server (it resets or closes idle
/// connections), or a firewall or NAT (it forgets them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKeeper {
    Proxy,
    Firewall,
}

/// Well-known idle timeouts, in seconds, who keeps them, and who has them by default.
const KNOWN_TIMEOUTS: &[(f64, TimeoutKeeper, &str)] = &[
    (
        5.0,
        TimeoutKeeper::Proxy,
        "Node.js's default HTTP keepAliveTimeout is 5 s",
    ),
    (
        60.0,
        TimeoutKeeper::Proxy,
        "AWS Application Load Balancer's default idle timeout is 60 s (nginx's proxy_read_timeout too)",
    ),
    (
        75.0,
        TimeoutKeeper::Proxy,
        "nginx's default keepalive_timeout is 75 s",
    ),
    (
        120.0,
        TimeoutKeeper::Proxy,
        "a common 120 s proxy idle timeout",
    ),
    (
        240.0,
        TimeoutKeeper::Firewall,
        "Azure Load Balancer's and NAT's default idle timeout is 4 minutes",
    ),
    (
        300.0,
        TimeoutKeeper::Firewall,
        "a common 5-minute firewall idle timeout",
    ),
    (
        350.0,
        TimeoutKeeper::Proxy,
        "AWS NLB's idle timeout is 350 s",
    ),
    (
        350.0,
        TimeoutKeeper::Firewall,
        "AWS NAT gateway's idle timeout is 350 s",
    ),
    (
        600.0,
        TimeoutKeeper::Proxy,
        "Google Cloud load balancers keep idle connections 600 s",
    ),
    (
        900.0,
        TimeoutKeeper::Proxy,
        "a common 15-minute idle timeout",
    ),
    (
        3600.0,
        TimeoutKeeper::Firewall,
        "Cisco ASA's default TCP connection idle timeout is 1 hour",
    ),
    (
        7200.0,
        TimeoutKeeper::Proxy,
        "Linux's default tcp_keepalive_time is 2 hours",
    ),
];

/// Names a well-known timeout of that keeper within 2 % (at least 0.5 s) of `idle_s`.
pub fn known_timeout(idle_s: f64, keeper: TimeoutKeeper) -> Option<String> {
    KNOWN_TIMEOUTS
        .iter()
        .find(|(t, k, _)| *k == keeper && (idle_s - t).abs() <= (t * 0.02).max(0.5))
        .map(|(_, _, who)| format!("idle {idle_s:.1} s: {who}"))
}

#[cfg(test)]
mod tests;
