//! The rules. Each cause has one function here that judges its own hypothesis about the RST
//! that ended the connection: the wire signature it looks for, the evidence for it, and a weight
//! (0 to 1) for how strongly the packets support it. Every rule is asked; the verdict is the
//! strongest hypothesis, the others that remain plausible are its alternatives, and the
//! confidence follows from the winner's weight and its lead over the runner-up
//! ([`super::verdict`]). The words for each cause are in `causes.rs`, the sentences in
//! `words.rs`.
//!
//! Weights are not probabilities fitted to data; they encode which signs are decisive (a RST
//! that acknowledges data never acknowledged before can only be unread data) and which are
//! only suggestive (a silence before an unsolicited RST). Their calibration (how often each
//! confidence level is right) is measured on the lab captures by `tests/samples.rs`.
//!
//! Hypotheses about a genuine endpoint are scaled by how likely the RST is genuine at all
//! (1 minus the weight of the forgery hypothesis): a RST that is probably forged cannot be the
//! peer's application closing with unread data, however well the rest fits.

use super::signals::{self, Signals};
use super::timeouts::{self, Waits};
use super::words::{Story, UnreadSign, duration, plural, side};
use super::{Actor, Cause, Evidence, SenderKind};
use crate::decode::flags;
use crate::flow::{Connection, Dir, PacketRecord, Reset, Termination};
use crate::time::secs;

/// A silence at least this long before a RST (or its trigger) counts as idleness.
pub(super) const IDLE_NS: i64 = 1_000_000_000;
/// A RST within this long after the handshake, with no data, is a probe's.
const PROBE_NS: i64 = 2_000_000_000;

/// What the capture as a whole says about the RST's claimed sender.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostFacts {
    /// The most common TTL of that host's non-RST packets in every connection of the capture,
    /// and how many packets have it.
    pub ttl: Option<(u8, usize)>,
}

/// What an incident says about a connection: it was reset at the same moment as others by the
/// same host.
#[derive(Clone, Copy, Debug)]
pub struct BurstFacts {
    /// Connections in the burst.
    pub connections: usize,
    /// From the first RST of the burst to the last, in seconds.
    pub window_s: f64,
    /// The members' silences before their RSTs differ: they were not each their own timer.
    pub idle_ages_differ: bool,
}

/// Everything a rule needs.
pub(super) struct Ctx<'a> {
    pub conn: &'a Connection,
    pub packets: &'a [PacketRecord],
    pub rst: &'a Reset,
    pub s: Signals,
    pub host: HostFacts,
    pub burst: Option<BurstFacts>,
}

impl Ctx<'_> {
    pub fn new<'a>(
        conn: &'a Connection,
        packets: &'a [PacketRecord],
        rst: &'a Reset,
        host: HostFacts,
        burst: Option<BurstFacts>,
    ) -> Ctx<'a> {
        Ctx {
            conn,
            packets,
            rst,
            s: signals::compute(conn, packets, rst),
            host,
            burst,
        }
    }
    fn sender(&self) -> Dir {
        self.rst.from
    }
    fn peer(&self) -> Dir {
        self.rst.from.reverse()
    }
    fn sd(&self) -> &'static str {
        side(self.sender())
    }
    fn pd(&self) -> &'static str {
        side(self.peer())
    }
    /// The silence before the RST (or its trigger, or the sender's last burst), when it is
    /// long enough to count.
    fn idle_s(&self) -> Option<f64> {
        (self.s.idle_before_ns >= IDLE_NS).then(|| secs(self.s.idle_before_ns))
    }
}

/// One cause's case.
#[derive(Clone, Debug)]
pub(super) struct Hypothesis {
    pub cause: Cause,
    pub kind: SenderKind,
    pub actor: Actor,
    /// How strongly the packets support it, 0 to 1.
    pub weight: f32,
    /// What supports it, in a few words each.
    pub reasons: Vec<String>,
    pub evidence: Vec<Evidence>,
    pub story: Story,
    /// What would settle it when it wins without certainty.
    pub would_settle: Option<String>,
    /// What would tell it apart from the others, when it is listed as an alternative.
    pub tell_apart: String,
    /// A published default timeout the silence matches.
    pub known_timeout: Option<String>,
    /// Another sender that would look the same ("or a firewall in front of it"), and why.
    pub sender_doubt: Option<String>,
    pub doubt_reason: Option<String>,
}

impl Hypothesis {
    fn new(cause: Cause, kind: SenderKind, actor: Actor, weight: f32, story: Story) -> Self {
        Self {
            cause,
            kind,
            actor,
            weight,
            reasons: vec![],
            evidence: vec![],
            story,
            would_settle: None,
            tell_apart: String::new(),
            known_timeout: None,
            sender_doubt: None,
            doubt_reason: None,
        }
    }
    fn reason(mut self, r: impl Into<String>) -> Self {
        self.reasons.push(r.into());
        self
    }
    fn ev(mut self, frame: impl Into<u64>, note: impl Into<String>) -> Self {
        self.evidence.push(ev(frame, note));
        self
    }
    fn settle(mut self, s: impl Into<String>) -> Self {
        self.would_settle = Some(s.into());
        self
    }
    fn apart(mut self, s: impl Into<String>) -> Self {
        self.tell_apart = s.into();
        self
    }
}

pub(super) fn ev(frame: impl Into<u64>, note: impl Into<String>) -> Evidence {
    Evidence {
        frame: frame.into(),
        note: note.into(),
    }
}

/// Every rule's hypothesis about the RST in `c`, strongest first.
pub(super) fn hypotheses(c: &Ctx) -> Vec<Hypothesis> {
    let forged = forged(c);
    let genuine = 1.0 - forged.iter().map(|h| h.weight).fold(0.0, f32::max);
    let mut all: Vec<Hypothesis> = [
        refused(c),
        probe_abort(c),
        write_after_close(c),
        keepalive_timeout(c),
        no_socket(c),
        idle_timeout(c),
        unread_data_close(c),
        abortive_close(c),
    ]
    .into_iter()
    .flatten()
    .map(|mut h| {
        if h.kind == SenderKind::Endpoint {
            h.weight *= genuine;
        }
        h
    })
    .collect();
    all.extend(forged);
    all.push(unknown(c));
    all.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    all
}

/// Initial TTLs in use (Linux and most Unix 64, Windows 128, network gear 255; 32 is old).
pub(super) fn initial_ttl(ttl: u8) -> u8 {
    match ttl {
        0..=32 => 32,
        33..=64 => 64,
        65..=128 => 128,
        _ => 255,
    }
}

pub(super) fn hops(ttl: u8) -> u8 {
    initial_ttl(ttl) - ttl
}

/// Two IPv6 addresses in different /64 prefixes (never on one link under SLAAC, the norm).
fn other_ipv6_prefix(a: std::net::IpAddr, b: std::net::IpAddr) -> bool {
    match (a, b) {
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => {
            a.segments()[..4] != b.segments()[..4]
        }
        _ => false,
    }
}

/// The sender's advertised window fell to half its peak or less before the RST: its last
/// window and that packet's frame.
fn window_fell(s: &Signals) -> Option<(u64, u32)> {
    let (last, frame) = s.sender_window_last?;
    (s.peer_bytes > 0 && s.sender_window_peak > 0 && last * 2 <= s.sender_window_peak)
        .then_some((last, frame))
}

/// The first matching default in words, and how many others fit ("... (or 2 other defaults,
/// listed with the timeout)").
fn timer_words(found: &[&timeouts::Timer]) -> Option<String> {
    let first = found.first()?;
    Some(match found.len() {
        1 => first.words(),
        n => format!(
            "{} (or {}, listed with the timeout)",
            first.words(),
            plural(n as u64 - 1, "other default")
        ),
    })
}

/// How long the other side's unanswered request had been arriving at `end`: from its first
/// byte after the sender's last payload before `end`.
fn request_age_s(packets: &[PacketRecord], end: usize, sender: Dir) -> Option<f64> {
    let end_ts = packets.get(end)?.ts_ns;
    let since = packets[..end]
        .iter()
        .rposition(|p| p.dir == sender && p.payload_len > 0)
        .map_or(0, |i| i + 1);
    let first = packets[since..end]
        .iter()
        .find(|p| p.dir != sender && p.payload_len > 0)?;
    Some(secs(end_ts.saturating_sub(first.ts_ns)))
}

/// The start of the sender's last burst before `end` (its packets, a last response and a
/// FIN, within 100 ms, with only pure ACKs from the other side among them).
fn burst_start(packets: &[PacketRecord], end: usize, sender: Dir) -> usize {
    let Some(end_ts) = packets.get(end).map(|p| p.ts_ns) else {
        return end;
    };
    let mut b = end;
    while b > 0 {
        let p = &packets[b - 1];
        let peer_spoke =
            p.dir != sender && (p.payload_len > 0 || p.flags & (flags::SYN | flags::FIN) != 0);
        if end_ts.saturating_sub(p.ts_ns) >= 100_000_000 || peer_spoke || p.flags & flags::RST != 0
        {
            break;
        }
        b -= 1;
    }
    while b < end && packets[b].dir != sender {
        b += 1;
    }
    b
}

/// A server that closed (FIN) a connection whose request it had been waiting for: its timer
/// fired. Returns the request's age and the silence when it closed, and the first packet of
/// its closing burst (a 408, or the FIN).
fn closed_on_request_timer(c: &Ctx) -> Option<(f64, f64, PacketRecord)> {
    let fin = c.s.sender_fin?;
    if c.sender() != Dir::Server {
        return None;
    }
    let fi = c.packets.iter().position(|p| p.frame == fin.frame)?;
    let b = burst_start(c.packets, fi, c.sender());
    let age = request_age_s(c.packets, b, c.sender())?;
    let first = c.packets.get(b)?;
    let silence = b
        .checked_sub(1)
        .and_then(|i| c.packets.get(i))
        .map_or(0.0, |p| secs(first.ts_ns.saturating_sub(p.ts_ns)));
    let idle = secs(IDLE_NS);
    // A request still trickling in (its pieces spread over a second or more) that the server
    // closed on; or a server that went silent and then closed without a word. A request that
    // arrived at once and got a response, however slow, was answered, not timed out.
    let trickled = request_spread_s(c.packets, b, c.sender()) >= idle;
    let closed_mute = first.payload_len == 0 && silence >= idle;
    (age >= idle && (trickled || closed_mute)).then_some((age, silence, *first))
}

/// From the first to the last piece of the other side's unanswered request before `end`.
fn request_spread_s(packets: &[PacketRecord], end: usize, sender: Dir) -> f64 {
    let since = packets[..end]
        .iter()
        .rposition(|p| p.dir == sender && p.payload_len > 0)
        .map_or(0, |i| i + 1);
    let mut pieces = packets[since..end]
        .iter()
        .filter(|p| p.dir != sender && p.payload_len > 0);
    let Some(first) = pieces.next() else {
        return 0.0;
    };
    let last = pieces.next_back().unwrap_or(first);
    secs(last.ts_ns.saturating_sub(first.ts_ns))
}
// ---- middlebox-reset and firewall-state-expiry (REJECT) ----
// Signature: the RST's TTL differs from every other packet of the side it claims to come from,
// or that side keeps sending after it, or it is a blind guess (unsolicited and out of window),
// or one of several RSTs sprayed with different sequence numbers. Each sign is evidence on its
// own; together they are proof (the weight is a noisy OR of the signs). A forged RST that
// answers the first packet after a silence is a stateful firewall that forgot the connection
// (netfilter's `REJECT --reject-with tcp-reset` on INVALID packets).

/// The signs that the RST was forged, their weight, and their evidence.
pub(super) struct ForgerySigns {
    pub weight: f32,
    pub reasons: Vec<String>,
    /// Short phrases for the summary sentence.
    pub phrases: Vec<String>,
    pub evidence: Vec<Evidence>,
    /// The forger's distance cannot be had from its TTL (it is farther than the endpoint it
    /// impersonates, so it started from another initial TTL).
    pub distance_unknown: bool,
}

// One cause, one place: its signature, its evidence and its words read top to bottom.
#[allow(clippy::too_many_lines)]
pub(super) fn forgery_signs(c: &Ctx) -> Option<ForgerySigns> {
    let s = &c.s;
    let sd = c.sd();
    let ttl_off = s.ttl_mismatch(c.rst);
    let talked_after = s.sender_after_rst > 0;
    // An unsolicited RST the receiver must ignore (RFC 5961 3.2) is a blind guess: live
    // sockets send their own SND.NXT and reply RSTs copy the trigger's ACK, both acceptable.
    let blind = c.rst.in_window == Some(false)
        && !s.answers_trigger
        && s.sender_fin.is_none()
        && c.conn.termination() != Termination::Refused;
    // Several RSTs in one side's name with different sequence numbers within a second, none
    // answering a packet: an injector spraying guesses.
    let spray: Vec<&Reset> = c
        .conn
        .resets
        .iter()
        .filter(|r| {
            r.from == c.rst.from
                && r.ts_ns >= c.rst.ts_ns
                && r.ts_ns.saturating_sub(c.rst.ts_ns) <= 1_000_000_000
        })
        .collect();
    let sprayed = !s.answers_trigger
        && spray
            .iter()
            .map(|r| r.seq)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            >= 3;
    // A RST that breaks its claimed sender's IP ID habit: foreign when its TTL is foreign too,
    // or when the sender's IDs counted up per packet (Linux's per-socket counter; a host with
    // one global counter shows gaps, and then a gap means nothing).
    let ip_id_breaks = matches!((c.rst.ip_id, s.sender_prev_ip_id), (Some(id), Some(_)) if id != 0)
        && !s.ip_id_continues(c.rst);
    let ip_id_foreign = ip_id_breaks && (ttl_off || s.sender_ip_id_sequential);
    // RSTs in both ends' names within a second with one and the same IP ID: one device made
    // both (an injector resetting both ends, as censors do).
    let mirrored = c.rst.ip_id.filter(|&id| id != 0).and_then(|id| {
        c.conn.resets.iter().find(|r| {
            r.from != c.rst.from
                && r.ip_id == Some(id)
                && r.ts_ns.abs_diff(c.rst.ts_ns) <= 1_000_000_000
        })
    });
    if !ttl_off && !talked_after && !blind && !sprayed && !ip_id_foreign && mirrored.is_none() {
        return None;
    }
    let mut out = ForgerySigns {
        weight: 0.0,
        reasons: vec![],
        phrases: vec![],
        evidence: vec![],
        distance_unknown: false,
    };
    let mut miss = 1.0f32;
    if blind {
        miss *= 0.5;
        out.evidence.push(ev(
            c.rst.frame,
            "unsolicited, with a sequence number outside the receiver's window: a blind guess (RFC 5961 3.2 makes receivers ignore it)",
        ));
        out.reasons.push("out-of-window and unsolicited".to_owned());
        out.phrases
            .push("it is a blind guess outside the receiver's window".to_owned());
    }
    if sprayed {
        miss *= 0.5;
        out.evidence.push(ev(
            c.rst.frame,
            format!(
                "{} RSTs in the {sd}'s name within a second, with different sequence numbers",
                spray.len()
            ),
        ));
        out.reasons
            .push("several RSTs with different sequence numbers".to_owned());
        out.phrases.push(format!(
            "{} RSTs were sprayed with different sequence numbers",
            spray.len()
        ));
    }
    if ttl_off {
        miss *= 0.4;
        let usual = s.sender_ttl.unwrap_or(0);
        let (rst_hops, usual_hops) = (hops(c.rst.ttl), hops(usual));
        if rst_hops > usual_hops {
            // A device on the path is at most as far as the end it impersonates: a lower TTL
            // than that end's means another initial TTL, not a longer path.
            out.distance_unknown = true;
            out.evidence.push(ev(
                c.rst.frame,
                format!(
                    "TTL {}, which none of the {sd}'s {} has (they have {usual}): read with its own initial TTL ({}) it would put its sender {} beyond the {sd}, which a device on the path cannot be; it started from another initial TTL than that, so its distance is unknown",
                    c.rst.ttl,
                    plural(s.sender_ttl_samples as u64, "other packet"),
                    initial_ttl(c.rst.ttl),
                    plural(rst_hops - usual_hops, "hop"),
                ),
            ));
        } else {
            out.evidence.push(ev(
                c.rst.frame,
                format!(
                    "TTL {}, which none of the {sd}'s {} has (they have {usual}): its sender is {}, the {sd} {}",
                    c.rst.ttl,
                    plural(s.sender_ttl_samples as u64, "other packet"),
                    super::words::distance(rst_hops),
                    super::words::distance(usual_hops),
                ),
            ));
        }
        out.reasons.push(format!(
            "the RST's TTL ({}) differs from the {sd}'s ({usual})",
            c.rst.ttl
        ));
        out.phrases
            .push(format!("its TTL {} is not the {sd}'s {usual}", c.rst.ttl));
    }
    if let Some(first) = s.sender_after_rst_first {
        miss *= 0.4;
        out.evidence.push(ev(
            first.frame,
            format!(
                "the {sd} kept sending after the RST ({}): it never reset the connection",
                plural(s.sender_after_rst as u64, "packet")
            ),
        ));
        out.reasons
            .push(format!("the {sd} kept sending after the RST"));
        out.phrases
            .push(format!("the {sd} itself kept sending after it"));
    }
    if let Some(other) = mirrored {
        miss *= 0.4;
        let od = side(other.from);
        out.evidence.push(ev(
            c.rst.frame,
            format!(
                "a RST in the {od}'s name (frame {}) carries the same IP ID ({}) within {}: one device sent both, resetting both ends",
                other.frame,
                other.ip_id.unwrap_or(0),
                duration(secs(crate::time::apart_ns(other.ts_ns, c.rst.ts_ns)))
            ),
        ));
        out.reasons
            .push("RSTs to both ends with one IP ID".to_owned());
        out.phrases.push(format!(
            "a RST in the {od}'s name carries the same IP ID, so one device reset both ends"
        ));
    }
    if ip_id_foreign && let (Some(id), Some(prev)) = (c.rst.ip_id, s.sender_prev_ip_id) {
        miss *= if ttl_off { 0.5 } else { 0.7 };
        out.evidence.push(ev(
            c.rst.frame,
            format!("IP ID {id} does not follow the {sd}'s sequence (last {prev})"),
        ));
        out.reasons.push("its IP ID is foreign".to_owned());
        out.phrases
            .push(format!("its IP ID does not follow the {sd}'s"));
    }
    if c.rst.in_window == Some(false) && !blind {
        out.evidence.push(ev(
            c.rst.frame,
            "its sequence number is outside the receiver's window: the receiver ignores it (RFC 5961 3.2)",
        ));
    }
    out.weight = 1.0 - miss;
    Some(out)
}

fn forged(c: &Ctx) -> Vec<Hypothesis> {
    let Some(signs) = forgery_signs(c) else {
        return vec![];
    };
    let s = &c.s;
    let (sd, pd) = (c.sd(), c.pd());
    // A device that forgets idle connections forgets them after a silence longer than any the
    // connection had already survived. A forged RST answering the next packet without such a
    // silence is a rule's (a policy changed, an IPS) as often as lost state's (a flush, a
    // failover): the wire cannot tell them apart, and each is the other's alternative.
    // A silence half again as long as any before is a hint; three times as long, and at least
    // 2 s, is the pattern of a timeout.
    let long_silence = s.idle_before_ns >= IDLE_NS
        && s.idle_before_ns.saturating_mul(2) > s.longest_earlier_silence_ns.saturating_mul(3);
    let much_longer = long_silence
        && s.idle_before_ns >= 2 * IDLE_NS
        && s.idle_before_ns > s.longest_earlier_silence_ns.saturating_mul(3);
    let (expiry_weight, policy_weight) = match (s.answers_trigger, long_silence, much_longer) {
        (true, _, true) => (signs.weight, signs.weight * 0.5),
        (true, true, false) => (signs.weight, signs.weight * 0.9),
        (true, false, _) => (signs.weight * 0.9, signs.weight),
        (false, ..) => (0.0, signs.weight),
    };
    let idle = secs(s.idle_before_ns);
    let t = s.trigger.map_or(0, |t| u64::from(t.frame));
    let mut out = Vec::new();
    if expiry_weight > 0.0 {
        let mut h = Hypothesis::new(
            Cause::FirewallStateExpiry,
            SenderKind::Middlebox,
            Actor::PathDevice,
            expiry_weight,
            Story::StateForgotten {
                idle_s: long_silence.then_some(idle),
                trigger: t,
            },
        )
        .ev(
            t,
            if long_silence {
                format!(
                    "the {pd} sent this after {} of silence; the RST answered it at once",
                    duration(idle)
                )
            } else {
                format!("the {pd}'s packet; the RST answered it at once")
            },
        )
        .settle("the firewall's connection-tracking timeout and logs, or a capture at the server showing the packet never reached it")
        .apart(if long_silence {
            "whether the device forgot idle connections (its timeout) or a rule rejects this traffic (a new connection the same way would be rejected too)".to_owned()
        } else {
            "the firewall's logs: lost state (a flush, a failover, a reboot) or a rule; a new connection the same way is accepted after lost state, rejected by a rule".to_owned()
        });
        if long_silence {
            h = h.reason(format!(
                "it answered the first packet after {} of silence, longer than any the connection had survived",
                duration(idle)
            ));
            h.known_timeout = timeouts::describe(
                idle,
                timeouts::Fit {
                    waits: Waits::StateForgotten,
                    by_server: false,
                    shown: timeouts::Closes::Rst,
                },
                "of silence",
            );
        } else {
            h = h.reason("it answered the connection's next packet: a device that lost its state rejects exactly that");
        }
        h.reasons.extend(signs.reasons.iter().cloned());
        h.evidence.extend(signs.evidence.iter().cloned());
        out.push(h);
    }
    let mut h = Hypothesis::new(
        Cause::MiddleboxReset,
        SenderKind::Middlebox,
        Actor::PathDevice,
        policy_weight,
        Story::Forged {
            signs: signs.phrases.clone(),
        },
    )
    .settle(format!(
        "a capture at the {sd} at the same time: a RST it never sent came from the path"
    ))
    .apart(if s.answers_trigger {
        "the firewall's rules and logs: a rule that rejects this traffic, rather than lost state".to_owned()
    } else {
        format!(
            "a capture at the {sd} at the same time: if the {sd} never sent this RST, a device on the path did"
        )
    });
    if s.answers_trigger {
        h = h.reason(format!(
            "a device on the path rejected the {pd}'s packet in the {sd}'s name: a rule (a policy, an IPS) does that"
        ));
    }
    h.reasons.extend(signs.reasons);
    h.evidence.extend(signs.evidence);
    out.push(h);
    out
}

// ---- refused ----
// Signature: the SYN is answered by a RST (with an ACK of the SYN), no SYN-ACK (RFC 9293
// 3.10.7.1: a closed port answers every segment with a RST). A firewall's `REJECT
// --reject-with tcp-reset` looks the same, from its own distance: with a router between the
// capture point and the server, only the server's other packets (its TTL) tell them apart.
// One cause, one place: its signature, its evidence and its words read top to bottom.
#[allow(clippy::too_many_lines)]
fn refused(c: &Ctx) -> Option<Hypothesis> {
    if c.conn.termination() != Termination::Refused {
        return None;
    }
    let syn = c.conn.handshake.syn_frame.unwrap_or(c.rst.frame);
    let acceptable = c.rst.in_window == Some(true);
    let port = c.conn.server.port();
    let sd = c.sd();
    let rst_hops = hops(c.rst.ttl);
    let baseline = c.host.ttl.filter(|(_, n)| *n >= 2);
    let closer =
        baseline.is_some_and(|(t, _)| initial_ttl(t) == initial_ttl(c.rst.ttl) && c.rst.ttl > t);
    let weight = if acceptable { 0.95 } else { 0.7 };
    // A RST with its initial TTL untouched came from the capture point's own link. The SYN
    // with its own TTL untouched says the capture is on the client's link; an IPv6 server in
    // another /64 than the client (the prefix every IPv6 link uses) is behind a router, so a
    // RST from the link in its name came from that router or a device before it.
    let syn_ttl = c
        .packets
        .iter()
        .find(|p| p.dir == Dir::Client && p.flags & flags::SYN != 0)
        .map(|p| p.ttl);
    let on_link_forger = rst_hops == 0
        && syn_ttl.is_some_and(|t| hops(t) == 0)
        && other_ipv6_prefix(c.conn.client.ip(), c.conn.server.ip());
    let mut h = if on_link_forger {
        Hypothesis::new(
            Cause::Refused,
            SenderKind::Middlebox,
            Actor::PathDevice,
            weight * 0.9,
            Story::RefusedOnPath { port },
        )
        .reason(format!(
            "the RST's hop limit ({}) is untouched, so it came from the capture point's own link, but the {sd} is in another /64 and so behind a router",
            c.rst.ttl
        ))
        .ev(
            c.rst.frame,
            format!(
                "hop limit {}: sent on this link, where the {sd} (another /64) cannot be: the router or a firewall on the way rejected the SYN",
                c.rst.ttl
            ),
        )
    } else if closer {
        let (t, n) = baseline.unwrap_or_default();
        Hypothesis::new(
            Cause::Refused,
            SenderKind::Middlebox,
            Actor::PathDevice,
            weight,
            Story::RefusedOnPath { port },
        )
        .reason(format!(
            "the RST's TTL ({}) is higher than that of the {sd}'s {} elsewhere in the capture ({t}): it came from closer",
            c.rst.ttl,
            plural(n as u64, "packet")
        ))
        .ev(
            c.rst.frame,
            format!(
                "TTL {}: {} closer than the {sd}, whose other packets have TTL {t}: a firewall in front of it",
                c.rst.ttl,
                plural(c.rst.ttl - t, "hop")
            ),
        )
    } else {
        let mut h = Hypothesis::new(
            Cause::Refused,
            SenderKind::Endpoint,
            Actor::Kernel,
            weight,
            Story::Refused { port, doubt: false },
        );
        let syn_on_link = syn_ttl.is_some_and(|t| hops(t) == 0);
        let loopback = c.conn.server.ip().is_loopback() || c.conn.client.ip() == c.conn.server.ip();
        if baseline.is_none() && !loopback && (rst_hops > 0 || syn_on_link) {
            let why = if rst_hops > 0 {
                format!(
                    "with {} between the capture point and the RST's sender, a REJECT rule on any of them looks the same, and the capture has no other packet from the {sd} to compare its TTL with",
                    plural(rst_hops, "router")
                )
            } else {
                format!(
                    "the RST came from the capture point's own link, where the {sd} or the gateway in front of it may be, and the capture has no other packet from the {sd} to compare its TTL with"
                )
            };
            h.sender_doubt = Some(format!("or a firewall in front of it: {why}"));
            h.doubt_reason = Some(why);
            h.story = Story::Refused { port, doubt: true };
        } else if let Some((t, n)) = baseline.filter(|(t, _)| *t == c.rst.ttl) {
            h = h.reason(format!(
                "its TTL ({t}) is that of the {sd}'s {} elsewhere in the capture",
                plural(n as u64, "packet")
            ));
        } else if let Some((t, _)) = baseline {
            // Farther than the server, or from another initial TTL: not the server's habit.
            let why = format!(
                "its TTL ({}) is not that of the {sd}'s other packets ({t}), so another device may have sent it",
                c.rst.ttl
            );
            h.sender_doubt = Some(format!("or a firewall in front of it: {why}"));
            h.doubt_reason = Some(why);
            h.story = Story::Refused { port, doubt: true };
        } else {
            h = h.reason("no router between the capture point and the RST's sender");
        }
        h
    };
    h = h
        .reason(if acceptable {
            "the RST acknowledges the SYN"
        } else {
            "the RST does not acknowledge the SYN exactly"
        })
        .ev(syn, "the client's SYN")
        .ev(
            c.rst.frame,
            "answered by a RST instead of a SYN-ACK: no listener on that port, or a REJECT rule",
        )
        .settle(format!(
            "a capture at the {sd}: a RST it sent itself means a closed port, one it never saw means a firewall"
        ))
        .apart(format!(
            "a capture at the {sd} (did the SYN reach it?), or the TTL of the {sd}'s own packets"
        ));
    Some(h)
}

// ---- probe-abort ----
// Signature: a complete (or answered) handshake, no data either way, and the client's RST
// within a couple of seconds: health checks and scanners. A SYN scan (nmap -sS) never
// completes the handshake: the scanner's kernel, which never opened the connection, resets the
// SYN-ACK.
fn probe_abort(c: &Ctx) -> Option<Hypothesis> {
    let h = &c.conn.handshake;
    let synack = h.synack_frame?;
    if c.sender() != Dir::Client
        || c.s.payload_total > 0
        || c.conn.dir(Dir::Client).fin_frame.is_some()
    {
        return None;
    }
    let synack_ts = c
        .packets
        .iter()
        .find(|p| u64::from(p.frame) == synack)
        .map(|p| p.ts_ns)?;
    if c.rst.ts_ns.saturating_sub(synack_ts) > PROBE_NS {
        return None;
    }
    let after = secs(c.rst.ts_ns.saturating_sub(synack_ts));
    let half_open = h.ack_frame.is_none();
    let mut out = Hypothesis::new(
        Cause::ProbeAbort,
        SenderKind::Endpoint,
        if half_open {
            Actor::Kernel
        } else {
            Actor::Application
        },
        if half_open { 0.85 } else { 0.9 },
        Story::Probe {
            after_s: after,
            half_open,
        },
    )
    .ev(synack, "the server accepted the connection");
    if let Some(a) = h.ack_frame {
        out = out.ev(a, "the client completed the handshake");
    }
    out = out
        .ev(
            c.rst.frame,
            format!(
                "and reset it {} later without sending a byte",
                duration(after)
            ),
        )
        .reason(if half_open {
            "the SYN-ACK was answered by a RST, not an ACK: the client never opened the connection"
        } else {
            "no data either way, RST right after the handshake"
        })
        .apart("whether the client ever sends a request on such connections (a probe never does)");
    Some(out)
}

// ---- write-after-close ----
// Signature: the RST's sender had sent its FIN; the other side then sent data; the RST answers
// it (Linux answers from the TIME-WAIT or closed socket: RFC 9293 3.10.7.4 for data after
// close).
fn write_after_close(c: &Ctx) -> Option<Hypothesis> {
    let fin = c.s.sender_fin?;
    let data = c.s.data_after_sender_fin?;
    let (sd, pd) = (c.sd(), c.pd());
    let gap = secs(data.ts_ns.saturating_sub(fin.ts_ns));
    // A server that closed on a request it was still waiting for gave up on a timer: the late
    // write is how the RST came, the timer is why (judged by `idle_timeout`).
    let on_timer = closed_on_request_timer(c).is_some();
    // A RST that does not answer the late data is the sender's own close (with that data
    // unread, judged by `unread_data_close`), not its kernel's answer to the write.
    let weight = match (c.s.answers_trigger, on_timer) {
        (true, false) => 0.9,
        (_, true) => 0.5,
        (false, false) => 0.4,
    };
    // The silence before the sender's FIN: a keep-alive timer that closed the idle connection
    // just before the peer reused it (the keep-alive race).
    let fin_idle = c
        .packets
        .iter()
        .position(|p| p.frame == fin.frame)
        .and_then(|i| i.checked_sub(1))
        .map(|i| secs(fin.ts_ns.saturating_sub(c.packets[i].ts_ns)))
        .filter(|&i| i >= secs(IDLE_NS));
    let closed_idle = fin_idle.and_then(|i| {
        timeouts::describe(
            i,
            timeouts::Fit {
                waits: Waits::NextRequest,
                by_server: c.sender() == Dir::Server,
                shown: timeouts::Closes::Fin,
            },
            "idle before the FIN",
        )
    });
    let mut h = Hypothesis::new(
        Cause::WriteAfterClose,
        SenderKind::Endpoint,
        Actor::Kernel,
        weight,
        Story::WriteAfterClose {
            fin: u64::from(fin.frame),
            data: u64::from(data.frame),
            bytes: data.payload_len,
            gap_s: gap,
        },
    )
    .reason(format!("the {sd} had closed (FIN) before the {pd} wrote"))
    .ev(fin.frame, format!("the {sd} closed its side (FIN)"))
    .ev(
        data.frame,
        format!(
            "{} later the {pd} still sent {} on the connection",
            duration(gap),
            plural(data.payload_len, "byte")
        ),
    )
    .ev(
        c.rst.frame,
        format!("the {sd}'s kernel answered the data with a RST"),
    )
    .apart(format!(
        "whether the RST answers the {pd}'s data after the {sd}'s FIN (it does here)"
    ));
    if let Some(i) = fin_idle {
        h = h.reason(format!(
            "the {sd} closed the connection after {} idle, and the {pd} reused it {} later",
            duration(i),
            duration(gap)
        ));
    }
    h.known_timeout = closed_idle;
    Some(h)
}

// ---- keepalive-timeout ----
// Signature: keep-alive probes (seq = SND.NXT - 1, at most one byte) from the RST's sender,
// unanswered, then its RST (RFC 1122 4.2.3.6; Linux gives up after TCP_KEEPCNT probes).
fn keepalive_timeout(c: &Ctx) -> Option<Hypothesis> {
    let probes = &c.s.unanswered_keepalives;
    if probes.is_empty() {
        return None;
    }
    let (sd, pd) = (c.sd(), c.pd());
    let mut h = Hypothesis::new(
        Cause::KeepaliveTimeout,
        SenderKind::Endpoint,
        Actor::Kernel,
        if probes.len() >= 2 { 0.9 } else { 0.6 },
        Story::Keepalive {
            probes: probes.len(),
        },
    )
    .reason(format!(
        "{} got no answer",
        plural(probes.len() as u64, "keep-alive probe")
    ))
    .settle(format!(
        "a capture at the {pd} would show whether the probes arrived"
    ))
    .apart(format!(
        "the {sd}'s keep-alive settings (TCP_KEEPCNT probes before it gives up)"
    ));
    for &f in probes {
        h = h.ev(f, format!("keep-alive probe from the {sd}, unanswered"));
    }
    h = h.ev(
        c.rst.frame,
        format!(
            "after {} the {sd}'s kernel gave up",
            plural(probes.len() as u64, "unanswered probe")
        ),
    );
    Some(h)
}

// ---- no-socket ----
// Signature: a reply RST: it answers the other side's packet at once, takes its sequence
// number from that packet's ACK with no ACK flag of its own (RFC 9293 3.10.7.1), and on Linux
// leaves from a control socket with IP ID 0. The sender never closed (no FIN): it lost the
// state. A reply to a SYN-ACK from a host that never finished the handshake is a SYN scan's,
// judged by `probe_abort`.
fn no_socket(c: &Ctx) -> Option<Hypothesis> {
    if c.conn.termination() == Termination::Refused {
        return None;
    }
    let trigger = c.s.trigger?;
    let reply_style = c.rst.flags & flags::ACK == 0;
    let id_zero = c.rst.ip_id == Some(0);
    if !(c.s.answers_trigger && (reply_style || id_zero)) || c.s.sender_fin.is_some() {
        return None;
    }
    let (sd, pd) = (c.sd(), c.pd());
    let half_open = c.sender() == Dir::Client && c.conn.handshake.ack_frame.is_none();
    let idle = c.idle_s();
    let mut how = vec![];
    let mut reasons = vec!["the RST answers the packet just before it".to_owned()];
    if reply_style {
        how.push("no ACK flag and its sequence number taken from that packet's ACK".to_owned());
        reasons.push("reply-style RST (no ACK flag)".to_owned());
    }
    if id_zero {
        how.push("IP ID 0 (Linux's control socket, not a connection's socket)".to_owned());
        reasons.push("IP ID 0".to_owned());
    }
    let strong = reply_style && (id_zero || c.rst.ip_id.is_none());
    let mut h = Hypothesis::new(
        Cause::NoSocket,
        SenderKind::Endpoint,
        Actor::Kernel,
        if half_open {
            0.3
        } else if strong {
            0.9
        } else {
            0.65
        },
        Story::NoSocket {
            trigger: u64::from(trigger.frame),
            idle_s: idle,
        },
    );
    h.reasons = reasons;
    h = h
        .ev(
            trigger.frame,
            match idle {
                Some(i) => format!(
                    "the {pd} sent this after {} of silence, during which the {sd} lost the connection (or a NAT on the path forgot it)",
                    duration(i)
                ),
                None => format!("the {pd}'s packet"),
            },
        )
        .ev(
            c.rst.frame,
            format!(
                "answered {} later by a kernel reply RST: {}",
                duration(secs(c.rst.ts_ns.saturating_sub(trigger.ts_ns))),
                super::words::list(&how, "and")
            ),
        )
        .apart(format!(
            "the {sd}'s logs: a restart or crash before the {pd}'s packet arrived"
        ));
    if idle.is_some() {
        // A NAT that forgot the connection during the silence sends the next packet from a new
        // port, which the server's kernel does not know: from the client's side it looks the
        // same as a restart.
        h = h.settle(format!(
            "a capture at the {sd}: a restart shows the packet arriving from the {pd}'s own port, a NAT that forgot the connection shows it arriving from a new one"
        ));
    }
    Some(h)
}

// ---- idle-timeout ----
// Signature: an unsolicited RST (it answers nothing) after a silence, from the side that was
// waiting: on an idle keep-alive connection (the last exchange complete), on a request that
// never finished arriving (the peer began one, or connected and sent nothing), or on a peer
// that stopped reading (its window stayed at zero while the sender probed). Servers often end
// such connections with a last response (HTTP 408) and a FIN just before the RST (HAProxy's
// `option nolinger`, nginx's `reset_timedout_connection`), or with the RST alone. A silence
// that matches a published default of what the connection was waiting for names the timer
// (`timeouts.rs`) and makes the case.
// One cause, one place: its signature, its evidence and its words read top to bottom.
#[allow(clippy::too_many_lines)]
fn idle_timeout(c: &Ctx) -> Option<Hypothesis> {
    let s = &c.s;
    if let (Some((age, silence, first)), Some(data), Some(fin)) = (
        closed_on_request_timer(c),
        s.data_after_sender_fin,
        s.sender_fin,
    ) {
        return Some(request_timer_then_late_write(
            c, age, silence, first, fin, data,
        ));
    }
    if s.answers_trigger || !s.unanswered_keepalives.is_empty() {
        return None;
    }
    let (sd, pd) = (c.sd(), c.pd());
    // A zero window that lasted until the RST: the silence is the stall, probes or not.
    let (waits, idle_ns, since) = if let Some(z) = s.peer_zero_window_since {
        (
            Waits::PeerReading,
            c.rst.ts_ns.saturating_sub(z.ts_ns),
            Some(z.frame),
        )
    } else {
        // What it was waiting for is what was outstanding before its last burst: a last
        // response of its own (a 408) does not answer the request it gave up on.
        let end = burst_start(c.packets, s.rst_index, c.sender());
        let nothing_sent = c.packets[..end].iter().all(|p| p.payload_len == 0);
        let waiting_for_request = c.sender() == Dir::Server
            && (request_age_s(c.packets, end, c.sender()).is_some() || nothing_sent);
        let waits = if waiting_for_request {
            Waits::Request
        } else {
            Waits::NextRequest
        };
        (waits, s.idle_before_ns, s.idle_ended_by)
    };
    if idle_ns < IDLE_NS {
        return None;
    }
    let idle = secs(idle_ns);
    // Header timers count from the start of the request, body timers from its last bytes:
    // either length can name the timer.
    let age = (waits == Waits::Request)
        .then(|| {
            let end = burst_start(c.packets, s.rst_index, c.sender());
            request_age_s(c.packets, end, c.sender())
        })
        .flatten();
    // The RST ended it (after a FIN or not): only timers that can end with a RST fit.
    let fit = timeouts::Fit {
        waits,
        by_server: c.sender() == Dir::Server,
        shown: timeouts::Closes::Rst,
    };
    let measured = match waits {
        Waits::PeerReading => "at a zero window",
        Waits::Request => "of silence",
        _ => "idle",
    };
    let (found, named) = {
        let by_idle = timeouts::matching(idle, fit);
        match age {
            Some(a) if by_idle.is_empty() && !timeouts::matching(a, fit).is_empty() => (
                timeouts::matching(a, fit),
                timeouts::describe(a, fit, "from the start of the request"),
            ),
            _ => (by_idle, timeouts::describe(idle, fit, measured)),
        }
    };
    let timer = timer_words(&found);
    let mut weight: f32 = match (named.is_some(), c.sender()) {
        (true, _) => 0.9,
        (false, Dir::Server) => 0.55,
        // Proxies, load balancers and servers time connections out; a client's RST after a
        // silence is more often an abort (see `abortive_close`).
        (false, Dir::Client) => 0.35,
    };
    let mut h = Hypothesis::new(
        Cause::IdleTimeout,
        SenderKind::Endpoint,
        Actor::Application,
        0.0,
        Story::Idle {
            waits,
            idle_s: idle,
            timer,
            closed_then_reset: None,
        },
    );
    match waits {
        Waits::PeerReading => {
            h = h.reason(format!(
                "the {pd}'s window stayed at zero for {} before the RST",
                duration(idle)
            ));
            if let Some(f) = since {
                h = h.ev(
                    f,
                    format!(
                        "the {pd} advertises a zero window: it has stopped reading ({} from the {sd} since, probing)",
                        plural(s.sender_packets_in_zero_window, "packet")
                    ),
                );
            }
            weight = weight.max(0.7);
        }
        Waits::Request => {
            h = h.reason(if age.is_some() {
                format!(
                    "{} of silence after the {pd} began a request the {sd} never answered",
                    duration(idle)
                )
            } else {
                format!(
                    "{} of silence after the {pd} connected without sending anything",
                    duration(idle)
                )
            });
            if let Some(f) = since.filter(|&f| u64::from(f) != c.rst.frame) {
                h = h.ev(
                    f,
                    format!("the first packet after {} of silence", duration(idle)),
                );
            }
        }
        _ => {
            h = h.reason(format!(
                "{} of silence on a connection with nothing outstanding, then an unsolicited RST",
                duration(idle)
            ));
            if let Some(f) = since.filter(|&f| u64::from(f) != c.rst.frame) {
                h = h.ev(
                    f,
                    format!(
                        "the first packet after {} of silence, from the {sd}",
                        duration(idle)
                    ),
                );
            }
        }
    }
    if let Some(b) = s.sender_final_burst {
        if b.payload_len > 0 {
            weight += 0.1;
            h = h.ev(
                b.frame,
                format!(
                    "the {sd} sends a last {} (an error response such as HTTP 408) ...",
                    plural(b.payload_len, "byte")
                ),
            );
        }
        if let Some(fin) = s.sender_fin.filter(|f| f.ts_ns >= b.ts_ns) {
            weight += 0.1;
            h = h.ev(fin.frame, format!("the {sd} closed (FIN) ..."));
        }
    }
    h = h.ev(
        c.rst.frame,
        format!(
            "... and reset the connection without being asked, after {} of silence",
            duration(idle)
        ),
    );
    if named.is_some() {
        h = h.reason("a published default timer of that length fits (see the timeout)");
    } else {
        h = h.settle(format!(
            "the timeouts configured on the {sd} (or on a proxy or load balancer in front of it)"
        ));
    }
    if let Some(b) = c.burst.filter(|b| b.idle_ages_differ) {
        // Connections that were idle for different lengths of time, reset together, were not
        // each stopped by its own timer.
        weight = 0.1;
        h = h.reason(format!(
            "against it: {} connections with different silences were reset within {}",
            b.connections,
            duration(b.window_s)
        ));
    }
    h.known_timeout = named;
    h.weight = weight.min(0.95);
    h = h.apart(format!(
        "the {sd}'s timeouts: a timer of {} (or one on a proxy in front of it) means a timeout",
        duration(idle)
    ));
    Some(h)
}

/// A server gave up waiting for a request (a 408, a FIN), and the client's late write was
/// reset: the timer is the cause, the write its occasion.
fn request_timer_then_late_write(
    c: &Ctx,
    age: f64,
    silence: f64,
    first: PacketRecord,
    fin: PacketRecord,
    data: PacketRecord,
) -> Hypothesis {
    let (sd, pd) = (c.sd(), c.pd());
    let fit = timeouts::Fit {
        waits: Waits::Request,
        by_server: true,
        shown: timeouts::Closes::Fin,
    };
    let by_age = timeouts::matching(age, fit);
    let by_silence = timeouts::matching(silence, fit);
    let (found, length) = if by_age.is_empty() && !by_silence.is_empty() {
        (by_silence, silence)
    } else {
        (by_age, age)
    };
    let timer = timer_words(&found);
    let mut h = Hypothesis::new(
        Cause::IdleTimeout,
        SenderKind::Endpoint,
        Actor::Application,
        if timer.is_some() { 0.9 } else { 0.75 },
        Story::Idle {
            waits: Waits::Request,
            idle_s: length,
            timer: timer.clone(),
            closed_then_reset: Some((u64::from(fin.frame), u64::from(data.frame))),
        },
    )
    .reason(format!(
        "the {sd} closed {} after the {pd} began a request it never answered",
        duration(age)
    ))
    .reason(format!(
        "the {pd} wrote after that close, and the {sd}'s kernel reset the write"
    ));
    if first.payload_len > 0 {
        h = h.ev(
            first.frame,
            format!(
                "the {sd} gives up: a last {} (an error response such as HTTP 408) ...",
                plural(first.payload_len, "byte")
            ),
        );
    }
    h = h
        .ev(fin.frame, "... and closes (FIN)")
        .ev(data.frame, format!("the {pd} goes on sending its request"))
        .ev(
            c.rst.frame,
            format!("the {sd}'s kernel resets the write to the closed connection"),
        )
        .apart(format!(
            "the {sd}'s request timeouts: one of {} means it gave up on a slow request",
            duration(age)
        ));
    if let Some(t) = timer {
        let measured = if (length - age).abs() < f64::EPSILON {
            "from the start of the request"
        } else {
            "of silence"
        };
        h.known_timeout = Some(format!("{length:.1} s {measured}: {t}"));
    } else {
        h = h.settle(format!(
            "the request timeouts configured on the {sd} (HAProxy `timeout http-request`, nginx client_header_timeout, Node headersTimeout)"
        ));
    }
    h
}

// ---- unread-data-close ----
// Signature: an active reset (ACK set, the socket's own sequence number) that answers nothing:
// the application closed with data it had received still unread, so the kernel must reset
// (RFC 1122 4.2.2.13, RFC 2525 2.17; Linux's reason TCP_ABORT_ON_CLOSE). It is the common case
// of an application's RST; the signs, strongest first: the RST acknowledges data the sender
// never acknowledged before (it arrived as it closed); data from the peer was still arriving
// when it reset; a multi-segment message answered with less than it received; a request the
// sender never answered. Unread data takes precedence over SO_LINGER(0) in the kernel: a
// socket with both resets for the unread data.
// One cause, one place: its signature, its evidence and its words read top to bottom.
#[allow(clippy::too_many_lines)]
fn unread_data_close(c: &Ctx) -> Option<Hypothesis> {
    if c.rst.flags & flags::ACK == 0 || c.conn.termination() == Termination::Refused {
        return None;
    }
    let s = &c.s;
    let (sd, pd) = (c.sd(), c.pd());
    let settle = format!(
        "the {sd}'s kernel reason (tracepoint tcp:tcp_send_reset says TCP_ABORT_ON_CLOSE for unread data, TCP_STATE for an abort) or its application's code"
    );
    let apart = format!(
        "the {sd}'s kernel reason: TCP_ABORT_ON_CLOSE for unread data (tracepoint tcp:tcp_send_reset)"
    );
    let new = |weight, sign| {
        Hypothesis::new(
            Cause::UnreadDataClose,
            SenderKind::Endpoint,
            Actor::Application,
            weight,
            Story::Unread(sign),
        )
    };
    let mut h = if s.acks_new_data {
        let last_data = c.packets[..s.rst_index]
            .iter()
            .rev()
            .find(|p| p.dir == c.peer() && p.payload_len > 0)
            .map_or(c.rst.frame, |p| u64::from(p.frame));
        // Decisive when data was still streaming in or piling up unread; alone it also fits an
        // application that read the data and aborted before its delayed ACK went out.
        let backed = s.in_flight_after.is_some() || window_fell(s).is_some() || {
            c.packets[..s.rst_index]
                .iter()
                .rev()
                .take_while(|p| c.rst.ts_ns.saturating_sub(p.ts_ns) < 100_000_000)
                .any(|p| p.dir == c.peer() && p.payload_len > 0)
        };
        new(if backed { 0.9 } else { 0.75 }, UnreadSign::AckedAtClose)
            .reason(format!(
                "the RST acknowledges data the {sd} had not acknowledged before"
            ))
            .ev(last_data, format!("data from the {pd} still arriving"))
            .ev(
                c.rst.frame,
                format!("the {sd} reset instead of closing, as that data arrived"),
            )
            .settle(settle.clone())
    } else if let Some((frame, bytes)) = s.in_flight_after {
        new(
            0.8,
            UnreadSign::InFlight {
                frame: u64::from(frame),
                bytes,
            },
        )
        .reason(format!(
            "the {pd} was still sending when the {sd} reset ({} in flight)",
            plural(bytes, "byte")
        ))
        .ev(
            frame,
            format!(
                "data from the {pd} sent before the RST reached it: it was arriving while the {sd} closed"
            ),
        )
        .settle(settle.clone())
    } else if let Some((last, frame)) = window_fell(s) {
        let weight = if last == 0 { 0.85 } else { 0.7 };
        new(
            weight,
            UnreadSign::WindowFell {
                peak: s.sender_window_peak,
                last,
                frame: u64::from(frame),
            },
        )
        .reason(if last == 0 {
            format!("the {sd}'s receive window fell to zero: its buffer was full of unread data")
        } else {
            format!(
                "the {sd}'s receive window fell from {} to {} bytes as data arrived",
                s.sender_window_peak, last
            )
        })
        .ev(
            frame,
            format!(
                "the {sd} advertises a window of {}, down from {}: what the {pd} sent is piling up unread",
                plural(last, "byte"),
                plural(s.sender_window_peak, "byte")
            ),
        )
        .ev(c.rst.frame, format!("the {sd} resets instead of closing"))
        .settle(settle.clone())
    } else if s.peer_message_segments >= 2
        && s.answer_bytes > 0
        && s.peer_message_bytes > s.answer_bytes
    {
        new(
            0.5,
            UnreadSign::ShortAnswer {
                message: s.peer_message_bytes,
                answer: s.answer_bytes,
            },
        )
        .reason(format!(
            "a {}-byte message in {} segments was answered with {}, then reset",
            s.peer_message_bytes,
            s.peer_message_segments,
            plural(s.answer_bytes, "byte")
        ))
        .ev(
            c.rst.frame,
            format!(
                "the {sd} answered the {pd}'s {}-byte message with {} and reset instead of closing",
                s.peer_message_bytes,
                plural(s.answer_bytes, "byte")
            ),
        )
        .settle(settle.clone())
    } else if let Some((first, last)) = s.unanswered_frames.filter(|_| c.sender() == Dir::Server) {
        let frames: Vec<u64> = [first, last].into_iter().map(u64::from).collect();
        // After a long silence a server's timer explains an unanswered request as well.
        new(
            if c.idle_s().is_some() { 0.5 } else { 0.6 },
            UnreadSign::NeverAnswered {
                bytes: s.unanswered_bytes,
                frames: frames.clone(),
            },
        )
        .reason(format!(
            "the {sd} never answered the {pd}'s last {}",
            plural(s.unanswered_bytes, "byte")
        ))
        .ev(
            first,
            format!(
                "the {pd} sends {} ({}) that the {sd} never answers",
                plural(s.unanswered_bytes, "byte"),
                plural(s.unanswered_segments, "segment")
            ),
        )
        .ev(c.rst.frame, format!("the {sd} resets instead of answering"))
        .settle(settle.clone())
    } else if s.peer_bytes > 0 {
        // Everything visible was answered; the application may still not have read all it
        // acknowledged (a request with a body it ignored).
        new(0.35, UnreadSign::NotVisible)
            .reason(format!(
                "the {sd} may not have read all it acknowledged before answering"
            ))
            .settle(settle.clone())
    } else {
        return None;
    };
    if let Some(b) = c.burst {
        h.weight = (h.weight + 0.15).min(0.95);
        h = h.reason(format!(
            "{} connections of the {sd} were reset within {}: the process holding them went down, and a dying process resets only the sockets with data unread (or set to abort)",
            b.connections,
            duration(b.window_s)
        ));
        if matches!(h.story, Story::Unread(UnreadSign::NotVisible)) {
            h.story = Story::Unread(UnreadSign::ProcessDied);
        }
    }
    h = h.apart(apart);
    Some(h)
}

// ---- abortive-close ----
// Signature: an active reset (ACK set, the socket's own sequence number) that answers nothing
// and leaves nothing unread on the wire: SO_LINGER with a zero timeout, or another deliberate
// abort (Linux's reason TCP_STATE). Closing with unread data looks the same when the
// application had not read what it acknowledged, and that is the more common case, so this
// rule never claims certainty.
fn abortive_close(c: &Ctx) -> Option<Hypothesis> {
    if c.rst.flags & flags::ACK == 0 || c.conn.termination() == Termination::Refused {
        return None;
    }
    let s = &c.s;
    let sd = c.sd();
    let pending = s.acks_new_data
        || s.in_flight_after.is_some()
        || window_fell(s).is_some()
        || (s.unanswered_bytes > 0 && c.sender() == Dir::Server)
        || (s.peer_message_segments >= 2
            && s.answer_bytes > 0
            && s.peer_message_bytes > s.answer_bytes);
    let idle = c.idle_s();
    // A client that resets an idle connection aborts it more often than it times it out
    // (client pools close idle connections with a FIN); a server's silence then RST is its
    // timer more often than not.
    let exchanged = s.sender_bytes + s.peer_bytes > 0 || c.conn.handshake.synack_frame.is_some();
    let weight = match (pending, idle, c.sender()) {
        // Nothing seen before it (the capture began there, or holds no records): no case.
        (false, None, _) if !exchanged => 0.3,
        (false, None, _) => 0.55,
        (false, Some(_), Dir::Client) => 0.45,
        (true, _, _) | (false, Some(_), Dir::Server) => 0.3,
    };
    let mut h = Hypothesis::new(
        Cause::AbortiveClose,
        SenderKind::Endpoint,
        Actor::Application,
        weight,
        Story::Abort { after_idle_s: idle },
    )
    .reason("an active reset (ACK set, its own sequence number) that answers nothing")
    .settle(format!(
        "the {sd}'s kernel reason (tracepoint tcp:tcp_send_reset says TCP_STATE for an abort, TCP_ABORT_ON_CLOSE for unread data) or a look at its socket options"
    ))
    .apart(format!(
        "the {sd}'s kernel reason (TCP_STATE for an abort, tracepoint tcp:tcp_send_reset) or SO_LINGER in its code"
    ));
    if !pending {
        h = h.reason("nothing unread shows on the wire").ev(
            c.rst.frame,
            if s.answer_bytes > 0 || s.peer_message_bytes > 0 {
                format!("the {sd} reset right after the exchange, with nothing unread showing on the wire")
            } else {
                format!("the {sd} reset the connection on its own")
            },
        );
    }
    if s.ip_id_continues(c.rst) {
        h = h.ev(
            c.rst.frame,
            format!(
                "its IP ID continues the {sd}'s socket's sequence: the connection's own socket sent it"
            ),
        );
    }
    Some(h)
}

fn unknown(c: &Ctx) -> Hypothesis {
    let sd = c.sd();
    Hypothesis::new(
        Cause::Unknown,
        SenderKind::Endpoint,
        Actor::Kernel,
        0.15,
        Story::Unknown,
    )
    .reason("no rule's signature matched")
    .ev(c.rst.frame, format!("a RST carrying the {sd}'s address"))
    .settle(format!(
        "a capture at the {sd} at the same time (was it sent there?), and the {sd}'s kernel reason (tracepoint tcp:tcp_send_reset)"
    ))
    .apart(format!(
        "a capture at the {sd}, and its kernel reason (tracepoint tcp:tcp_send_reset)"
    ))
}
