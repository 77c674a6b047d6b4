//! The rules that pick a cause, in the order they are tried. Each states the wire signature it
//! looks for and what raises or lowers confidence; the words for each cause are in `causes.rs`.

use super::signals::{self, Signals};
use super::{
    Actor, Cause, Confidence, Diagnosis, Evidence, Incident, SenderKind, TimeoutKeeper,
    known_timeout,
};
use crate::decode::flags;
use crate::flow::{Connection, Dir, PacketRecord, Reset, Termination, analysis};
use crate::report::secs;

/// A silence at least this long before a RST (or its trigger) counts as idleness.
const IDLE_NS: i64 = 1_000_000_000;
/// A RST within this long after the handshake, with no data, is a probe's.
const PROBE_NS: i64 = 2_000_000_000;

fn side(d: Dir) -> &'static str {
    match d {
        Dir::Client => "client",
        Dir::Server => "server",
    }
}

/// Everything a rule needs.
struct Ctx<'a> {
    conn: &'a Connection,
    packets: &'a [PacketRecord],
    rst: &'a Reset,
    s: Signals,
}

impl Ctx<'_> {
    fn sender(&self) -> Dir {
        self.rst.from
    }
    fn peer(&self) -> Dir {
        self.rst.from.reverse()
    }
}

/// A rule's finding, before the common parts are filled in.
struct Finding {
    cause: Cause,
    kind: SenderKind,
    actor: Actor,
    confidence: Confidence,
    reasons: Vec<String>,
    evidence: Vec<Evidence>,
    /// Completes "... sent the RST (frame N) because ".
    because: String,
    would_settle: Option<String>,
}

pub(super) fn decide(conn: &Connection, packets: &[PacketRecord]) -> Option<Diagnosis> {
    let Some(rst) = conn.resets.first() else {
        return unanswered(conn, packets);
    };
    let ctx = Ctx {
        conn,
        packets,
        rst,
        s: signals::compute(conn, packets, rst),
    };
    let finding = forged(&ctx)
        .or_else(|| refused(&ctx))
        .or_else(|| probe_abort(&ctx))
        .or_else(|| write_after_close(&ctx))
        .or_else(|| keepalive_timeout(&ctx))
        .or_else(|| no_socket(&ctx))
        .or_else(|| idle_timeout(&ctx))
        .or_else(|| closed_with_reset(&ctx))
        .unwrap_or_else(|| unknown(&ctx));
    Some(complete(&ctx, finding))
}

fn ev(frame: impl Into<u64>, note: impl Into<String>) -> Evidence {
    Evidence {
        frame: frame.into(),
        note: note.into(),
    }
}

/// Initial TTLs in use (Linux and most Unix 64, Windows 128, network gear 255; 32 is old).
fn hops(ttl: u8) -> u8 {
    let initial: u8 = match ttl {
        0..=32 => 32,
        33..=64 => 64,
        65..=128 => 128,
        _ => 255,
    };
    initial - ttl
}

// ---- middlebox-reset and firewall-state-expiry (REJECT) ----
// Signature: the RST's TTL differs from every other packet of the side it claims to come from,
// or that side keeps sending after it. Confidence rises when both hold, or when its IP ID is
// foreign too. A forged RST that answers the first packet after a silence is a stateful
// firewall that forgot the connection (netfilter's `REJECT --reject-with tcp-reset`).
/// The signs that a RST was forged, as (reasons, evidence); `None` when there are none.
fn forgery_signs(c: &Ctx) -> Option<(Vec<String>, Vec<Evidence>)> {
    let s = &c.s;
    let ttl_off = s.ttl_mismatch(c.rst);
    let talked_after = !s.sender_after_rst.is_empty();
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
        .filter(|r| r.from == c.rst.from && r.ts_ns - c.rst.ts_ns <= 1_000_000_000)
        .collect();
    let sprayed = !s.answers_trigger
        && spray
            .iter()
            .map(|r| r.seq)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            >= 3;
    if !ttl_off && !talked_after && !blind && !sprayed {
        return None;
    }
    let sd = side(c.sender());
    let mut evidence = vec![];
    let mut reasons = vec![];
    if blind {
        evidence.push(ev(
            c.rst.frame,
            "unsolicited, with a sequence number outside the receiver's window: a blind guess (RFC 5961 3.2 makes receivers ignore it)",
        ));
        reasons.push("out-of-window and unsolicited".to_owned());
    }
    if sprayed {
        evidence.push(ev(
            c.rst.frame,
            format!(
                "{} RSTs in the {sd}'s name within a second, with different sequence numbers",
                spray.len()
            ),
        ));
        reasons.push("several RSTs with different sequence numbers".to_owned());
    }
    if ttl_off {
        let usual = s.sender_ttl.unwrap_or(0);
        evidence.push(ev(
            c.rst.frame,
            format!(
                "its sender: {}; the {sd}: {}",
                super::hop_words(hops(c.rst.ttl)),
                super::hop_words(hops(usual))
            ),
        ));
        evidence.push(ev(
            c.rst.frame,
            format!(
                "TTL {} where the {sd}'s {} other packets all have TTL {usual}: it was sent from another distance",
                c.rst.ttl, s.sender_ttl_samples
            ),
        ));
        reasons.push(format!(
            "the RST's TTL ({}) differs from the {sd}'s ({usual})",
            c.rst.ttl
        ));
    }
    if talked_after {
        let first = s.sender_after_rst[0];
        evidence.push(ev(
            first.frame,
            format!(
                "the {sd} kept sending after the RST ({} packet(s)): it never reset the connection",
                s.sender_after_rst.len()
            ),
        ));
        reasons.push(format!("the {sd} kept sending after the RST"));
    }
    if let (Some(id), Some(prev)) = (c.rst.ip_id, s.sender_prev_ip_id)
        && id != 0
        && !s.ip_id_continues(c.rst)
    {
        evidence.push(ev(
            c.rst.frame,
            format!("IP ID {id} does not follow the {sd}'s sequence (last {prev})"),
        ));
        reasons.push("its IP ID is foreign".to_owned());
    }
    if c.rst.in_window == Some(false) && !blind {
        evidence.push(ev(
            c.rst.frame,
            "its sequence number is outside the receiver's window: the receiver ignores it (RFC 5961 3.2)",
        ));
    }
    Some((reasons, evidence))
}

fn forged(c: &Ctx) -> Option<Finding> {
    let (reasons, mut evidence) = forgery_signs(c)?;
    let s = &c.s;
    let sd = side(c.sender());
    let confidence = if reasons.len() >= 2 {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let expiry = s.answers_trigger && s.idle_before_ns >= IDLE_NS;
    if expiry {
        let t = s.trigger.map_or(0, |t| u64::from(t.frame));
        evidence.push(ev(
            t,
            format!(
                "the {} sent this after {:.1} s of silence; the RST answered it at once",
                side(c.peer()),
                secs(s.idle_before_ns)
            ),
        ));
        return Some(Finding {
            cause: Cause::FirewallStateExpiry,
            kind: SenderKind::Middlebox,
            actor: Actor::PathDevice,
            confidence,
            reasons,
            evidence,
            because: format!(
                "it no longer knew the connection after {:.1} s of silence and rejected the {}'s next packet",
                secs(s.idle_before_ns),
                side(c.peer())
            ),
            would_settle: Some("the firewall's connection-tracking timeout, or a capture at the server showing the packet never reached it".to_owned()),
        });
    }
    Some(Finding {
        cause: Cause::MiddleboxReset,
        kind: SenderKind::Middlebox,
        actor: Actor::PathDevice,
        confidence,
        reasons,
        evidence,
        because: format!("the {sd} never sent it: it was forged on the path"),
        would_settle: (confidence < Confidence::High).then(|| {
            "a capture at the server at the same time: a RST it never sent came from the path"
                .to_owned()
        }),
    })
}

// ---- refused ----
// Signature: the SYN is answered by a RST (with an ACK of the SYN), no SYN-ACK (RFC 9293
// 3.10.7.1: a closed port answers every segment with a RST).
fn refused(c: &Ctx) -> Option<Finding> {
    if c.conn.termination() != Termination::Refused {
        return None;
    }
    let syn = c.conn.handshake.syn_frame.unwrap_or(c.rst.frame);
    let acceptable = c.rst.in_window == Some(true);
    Some(Finding {
        cause: Cause::Refused,
        kind: SenderKind::Endpoint,
        actor: Actor::Kernel,
        confidence: if acceptable {
            Confidence::High
        } else {
            Confidence::Medium
        },
        reasons: vec![if acceptable {
            "the RST acknowledges the SYN".to_owned()
        } else {
            "the RST does not acknowledge the SYN exactly".to_owned()
        }],
        evidence: vec![
            ev(syn, "the client's SYN"),
            ev(
                c.rst.frame,
                "answered by a RST instead of a SYN-ACK: no listener on that port",
            ),
        ],
        because: "nothing listened on that port".to_owned(),
        would_settle: None,
    })
}

// ---- probe-abort ----
// Signature: a complete (or answered) handshake, no data either way, and the client's RST
// within a couple of seconds: health checks and scanners.
fn probe_abort(c: &Ctx) -> Option<Finding> {
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
    if c.rst.ts_ns - synack_ts > PROBE_NS {
        return None;
    }
    let mut evidence = vec![ev(synack, "the server accepted the connection")];
    if let Some(a) = h.ack_frame {
        evidence.push(ev(a, "the client completed the handshake"));
    }
    evidence.push(ev(
        c.rst.frame,
        format!(
            "and reset it {:.3} s later without sending a byte",
            secs(c.rst.ts_ns - synack_ts)
        ),
    ));
    Some(Finding {
        cause: Cause::ProbeAbort,
        kind: SenderKind::Endpoint,
        actor: Actor::Application,
        confidence: Confidence::High,
        reasons: vec!["no data either way, RST right after the handshake".to_owned()],
        evidence,
        because: "it only checked that the port answers (a health check or scan)".to_owned(),
        would_settle: None,
    })
}

// ---- write-after-close ----
// Signature: the RST's sender had sent its FIN; the other side then sent data; the RST answers
// it (Linux answers from the TIME-WAIT or closed socket: RFC 9293 3.10.7.4 for data after
// close).
fn write_after_close(c: &Ctx) -> Option<Finding> {
    let fin = c.s.sender_fin?;
    let data = c.s.data_after_sender_fin?;
    let (sd, pd) = (side(c.sender()), side(c.peer()));
    Some(Finding {
        cause: Cause::WriteAfterClose,
        kind: SenderKind::Endpoint,
        actor: Actor::Kernel,
        confidence: if c.s.answers_trigger {
            Confidence::High
        } else {
            Confidence::Medium
        },
        reasons: vec![format!("the {sd} had closed (FIN) before the {pd} wrote")],
        evidence: vec![
            ev(fin.frame, format!("the {sd} closed its side (FIN)")),
            ev(
                data.frame,
                format!(
                    "{:.3} s later the {pd} still sent {} bytes on the connection",
                    secs(data.ts_ns - fin.ts_ns),
                    data.payload_len
                ),
            ),
            ev(
                c.rst.frame,
                format!("the {sd}'s kernel answered the data with a RST"),
            ),
        ],
        because: format!("the {pd} sent data after the {sd} had already closed the connection"),
        would_settle: None,
    })
}

// ---- keepalive-timeout ----
// Signature: keep-alive probes (seq = SND.NXT - 1, at most one byte) from the RST's sender,
// unanswered, then its RST (RFC 1122 4.2.3.6; Linux gives up after TCP_KEEPCNT probes).
fn keepalive_timeout(c: &Ctx) -> Option<Finding> {
    let probes = &c.s.unanswered_keepalives;
    if probes.is_empty() {
        return None;
    }
    let (sd, pd) = (side(c.sender()), side(c.peer()));
    let mut evidence: Vec<Evidence> = probes
        .iter()
        .map(|&f| ev(f, format!("keep-alive probe from the {sd}, unanswered")))
        .collect();
    evidence.push(ev(
        c.rst.frame,
        format!(
            "after {} unanswered probe(s) the {sd}'s kernel gave up",
            probes.len()
        ),
    ));
    Some(Finding {
        cause: Cause::KeepaliveTimeout,
        kind: SenderKind::Endpoint,
        actor: Actor::Kernel,
        confidence: if probes.len() >= 2 {
            Confidence::High
        } else {
            Confidence::Medium
        },
        reasons: vec![format!(
            "{} keep-alive probe(s) got no answer",
            probes.len()
        )],
        evidence,
        because: format!("its keep-alive probes got no answer: the {pd} or the path went silent"),
        would_settle: Some(format!(
            "a capture at the {pd} would show whether the probes arrived"
        )),
    })
}

// ---- no-socket ----
// Signature: a reply RST: it answers the other side's packet at once, takes its sequence
// number from that packet's ACK with no ACK flag of its own (RFC 9293 3.10.7.1), and on Linux
// leaves from a control socket with IP ID 0. The sender never closed: it lost the state.
fn no_socket(c: &Ctx) -> Option<Finding> {
    let trigger = c.s.trigger?;
    let reply_style = c.rst.flags & flags::ACK == 0;
    let id_zero = c.rst.ip_id == Some(0);
    if !(c.s.answers_trigger && (reply_style || id_zero)) {
        return None;
    }
    let (sd, pd) = (side(c.sender()), side(c.peer()));
    let mut reasons = vec!["the RST answers the packet just before it".to_owned()];
    let mut evidence = vec![];
    if c.s.idle_before_ns >= IDLE_NS {
        evidence.push(ev(
            trigger.frame,
            format!(
                "the {pd} sent this after {:.1} s of silence, during which the {sd} lost the connection",
                secs(c.s.idle_before_ns)
            ),
        ));
    } else {
        evidence.push(ev(trigger.frame, format!("the {pd}'s packet")));
    }
    let mut how = vec![];
    if reply_style {
        how.push("no ACK flag and its sequence number taken from that packet's ACK".to_owned());
        reasons.push("reply-style RST (no ACK flag)".to_owned());
    }
    if id_zero {
        how.push("IP ID 0 (Linux's control socket, not a connection's socket)".to_owned());
        reasons.push("IP ID 0".to_owned());
    }
    evidence.push(ev(
        c.rst.frame,
        format!(
            "answered {:.3} ms later by a kernel reply RST: {}",
            secs(c.rst.ts_ns - trigger.ts_ns) * 1e3,
            how.join(", ")
        ),
    ));
    Some(Finding {
        cause: Cause::NoSocket,
        kind: SenderKind::Endpoint,
        actor: Actor::Kernel,
        confidence: if reply_style && (id_zero || c.rst.ip_id.is_none()) {
            Confidence::High
        } else {
            Confidence::Medium
        },
        reasons,
        evidence,
        because: format!(
            "it had no socket for this connection any more (restart, crash or lost state) when the {pd}'s packet arrived"
        ),
        would_settle: None,
    })
}

// ---- idle-timeout ----
// Signature: an unsolicited RST (it answers nothing) from a socket that was idle for a while,
// often right after its own FIN (HAProxy's `option nolinger`, nginx's
// `reset_timedout_connection`). A well-known timeout length raises confidence.
fn idle_timeout(c: &Ctx) -> Option<Finding> {
    if c.s.answers_trigger || c.s.idle_before_ns < IDLE_NS {
        return None;
    }
    let sd = side(c.sender());
    let idle = secs(c.s.idle_before_ns);
    let named = known_timeout(idle, TimeoutKeeper::Proxy);
    let mut evidence = vec![];
    if let Some(f) = c.s.idle_ended_by {
        evidence.push(ev(
            f,
            format!("the first packet after {idle:.1} s of silence, from the {sd}"),
        ));
    }
    if let Some(fin) = c.s.sender_fin {
        evidence.push(ev(fin.frame, format!("the {sd} closed (FIN) ...")));
    }
    evidence.push(ev(
        c.rst.frame,
        "... and reset the connection without being asked: its idle timer ran out",
    ));
    let mut reasons = vec![format!("{idle:.1} s of silence, then an unsolicited RST")];
    if let Some(n) = &named {
        reasons.push(n.clone());
    }
    Some(Finding {
        cause: Cause::IdleTimeout,
        kind: SenderKind::Endpoint,
        actor: Actor::Application,
        confidence: if named.is_some() { Confidence::High } else { Confidence::Medium },
        reasons,
        evidence,
        because: format!("the connection had been idle for {idle:.1} s and its idle timeout expired"),
        would_settle: named.is_none().then(|| format!("the idle timeout configured on the {sd} (or the proxy or load balancer in front of it)")),
    })
}

// ---- unread-data-close and abortive-close ----
// Signature: an active reset (ACK set, the socket's own sequence number) that answers nothing
// and follows no silence: the application closed or aborted. It closed with unread data when
// the RST acknowledges data the sender had not acknowledged before (it arrived as it closed),
// or when it answered a multi-segment message with less data than it received (an early
// answer without reading it all). Otherwise nothing was pending: a deliberate abort
// (SO_LINGER 0).
fn closed_with_reset(c: &Ctx) -> Option<Finding> {
    if c.rst.flags & flags::ACK == 0 {
        return None;
    }
    let s = &c.s;
    let (sd, pd) = (side(c.sender()), side(c.peer()));
    if s.acks_new_data {
        let last_data = c.packets[..s.rst_index]
            .iter()
            .rev()
            .find(|p| p.dir == c.peer() && p.payload_len > 0)
            .map_or(c.rst.frame, |p| u64::from(p.frame));
        return Some(Finding {
            cause: Cause::UnreadDataClose,
            kind: SenderKind::Endpoint,
            actor: Actor::Application,
            confidence: Confidence::High,
            reasons: vec![format!(
                "the RST acknowledges data the {sd} had not acknowledged before"
            )],
            evidence: vec![
                ev(last_data, format!("data from the {pd} still arriving")),
                ev(
                    c.rst.frame,
                    format!("the {sd} reset instead of closing: the data was never read"),
                ),
            ],
            because: format!(
                "its application closed while data from the {pd} was still arriving, unread"
            ),
            would_settle: None,
        });
    }
    if s.peer_message_segments >= 2 && s.answer_bytes > 0 && s.peer_message_bytes > s.answer_bytes {
        return Some(Finding {
            cause: Cause::UnreadDataClose,
            kind: SenderKind::Endpoint,
            actor: Actor::Application,
            confidence: Confidence::Medium,
            reasons: vec![
                format!(
                    "a {}-byte message in {} segments was answered with {} bytes, then reset",
                    s.peer_message_bytes, s.peer_message_segments, s.answer_bytes
                ),
                "SO_LINGER(0) would look the same on the wire".to_owned(),
            ],
            evidence: vec![ev(
                c.rst.frame,
                format!(
                    "the {sd} answered the {pd}'s {}-byte message with {} bytes and reset instead of closing",
                    s.peer_message_bytes, s.answer_bytes
                ),
            )],
            because: format!(
                "its application answered early and closed without reading all of the {pd}'s {}-byte message",
                s.peer_message_bytes
            ),
            would_settle: Some(format!(
                "the {sd}'s kernel reason (tracepoint tcp:tcp_send_reset shows TCP_ABORT_ON_CLOSE for unread data) or its application's code"
            )),
        });
    }
    let mut evidence = vec![];
    if s.answer_bytes > 0 || s.peer_message_bytes > 0 {
        evidence.push(ev(
            c.rst.frame,
            format!("the {sd} reset right after the exchange, with nothing left unread"),
        ));
    } else {
        evidence.push(ev(
            c.rst.frame,
            format!("the {sd} reset the connection on its own"),
        ));
    }
    let continues = s.ip_id_continues(c.rst);
    if continues {
        evidence.push(ev(c.rst.frame, format!("its IP ID continues the {sd}'s socket's sequence: the connection's own socket sent it")));
    }
    Some(Finding {
        cause: Cause::AbortiveClose,
        kind: SenderKind::Endpoint,
        actor: Actor::Application,
        confidence: Confidence::Medium,
        reasons: vec![
            "an active reset (ACK set, its own sequence number) with no silence before it and no data pending".to_owned(),
            "closing with unread data would look the same if the application had not read what it acknowledged".to_owned(),
        ],
        evidence,
        because: "its application aborted the connection instead of closing it (SO_LINGER 0 or an explicit abort)".to_owned(),
        would_settle: Some(format!("the {sd}'s kernel reason (tracepoint tcp:tcp_send_reset) or a look at its socket options")),
    })
}

fn unknown(c: &Ctx) -> Finding {
    let sd = side(c.sender());
    Finding {
        cause: Cause::Unknown,
        kind: SenderKind::Endpoint,
        actor: Actor::Kernel,
        confidence: Confidence::Low,
        reasons: vec!["no rule's signature matched".to_owned()],
        evidence: vec![ev(
            c.rst.frame,
            format!("a RST carrying the {sd}'s address"),
        )],
        because: "of something this capture does not show".to_owned(),
        would_settle: Some(format!(
            "a capture at the {sd} at the same time (was it sent there?), and the {sd}'s kernel reason (tracepoint tcp:tcp_send_reset)"
        )),
    }
}

// ---- firewall-state-expiry (DROP) ----
// Signature: no RST at all; after a silence, one side's data is retransmitted until the end of
// the capture with no answer: a middlebox forgot the connection and black-holes it (or the
// peer died; only a capture at the peer tells these apart).
fn unanswered(conn: &Connection, packets: &[PacketRecord]) -> Option<Diagnosis> {
    if conn.termination() != Termination::Unanswered || conn.handshake.ack_frame.is_none() {
        return None;
    }
    let last = packets.last()?;
    let talker = last.dir;
    // The trailing run of the talker's packets; the unanswered data starts at its first
    // payload (a pure ACK may precede it).
    let run = packets
        .iter()
        .rposition(|p| p.dir != talker)
        .map_or(0, |i| i + 1);
    let first_retx = (run..packets.len()).find(|&i| packets[i].payload_len > 0)?;
    let first = packets.get(first_retx)?;
    let before = first_retx.checked_sub(1).and_then(|i| packets.get(i))?;
    let idle = first.ts_ns - before.ts_ns;
    let (td, sd) = (side(talker), side(talker.reverse()));
    let retx = packets[first_retx..]
        .iter()
        .filter(|p| p.analysis & analysis::RETRANSMISSION != 0)
        .count();
    let (cause, because, confidence) = if idle >= IDLE_NS {
        (
            Cause::FirewallStateExpiry,
            format!(
                "after {:.1} s of silence, the {td}'s data was black-holed: a firewall or NAT on the path had forgotten the connection",
                secs(idle)
            ),
            Confidence::Medium,
        )
    } else {
        (
            Cause::Unknown,
            format!("the {sd} stopped answering the {td}"),
            Confidence::Low,
        )
    };
    let finding = Finding {
        cause,
        kind: SenderKind::Middlebox,
        actor: Actor::PathDevice,
        confidence,
        reasons: vec![
            format!("{retx} retransmission(s) of the {td}'s data got no answer"),
            format!("a dead {sd} would look the same from here"),
        ],
        evidence: vec![
            ev(before.frame, "the last packet before the silence"),
            ev(
                first.frame,
                format!(
                    "the {td} sent again after {:.1} s of silence ...",
                    secs(idle)
                ),
            ),
            ev(
                last.frame,
                format!(
                    "... and retransmitted until the capture ended ({retx} retransmissions), never answered"
                ),
            ),
        ],
        because,
        would_settle: Some(format!(
            "a capture at the {sd} at the same time: if the data never arrived there, the path dropped it"
        )),
    };
    Some(Diagnosis {
        cause: finding.cause,
        sender: talker.reverse(),
        sender_kind: finding.kind,
        actor: finding.actor,
        confidence: finding.confidence,
        confidence_reasons: finding.reasons,
        rst_frame: None,
        trigger_frame: None,
        trigger_delay_s: None,
        idle_before_s: Some(secs(idle)),
        known_timeout: known_timeout(secs(idle), TimeoutKeeper::Firewall),
        hops_from_capture: None,
        evidence: finding.evidence,
        consequences: vec![],
        summary: format!("No RST: {}.", finding.because),
        explanation: finding.cause.explanation().to_owned(),
        fixes: finding
            .cause
            .fixes()
            .iter()
            .map(|f| (*f).to_owned())
            .collect(),
        would_settle: finding.would_settle,
        kernel: None,
    })
}

/// Later RSTs, described as what they are relative to the first.
fn consequences(c: &Ctx) -> Vec<Evidence> {
    let first = c.rst;
    c.conn
        .resets
        .iter()
        .skip(1)
        .map(|r| {
            let note = if r.from == first.from {
                if r.seq == first.seq {
                    format!("the {} repeats its RST", side(r.from))
                } else {
                    format!(
                        "another RST in the {}'s name with another sequence number",
                        side(r.from)
                    )
                }
            } else {
                format!(
                    "the {}'s kernel resets what still arrives after the first RST: a consequence",
                    side(r.from)
                )
            };
            ev(r.frame, note)
        })
        .collect()
}

/// Who sent it, in words: "The server's kernel", "A device on the path, in the server's name,".
fn who(sender: Dir, actor: Actor) -> String {
    let sd = side(sender);
    match actor {
        Actor::Application => format!("The {sd}'s application"),
        Actor::Kernel => format!("The {sd}'s kernel"),
        Actor::PathDevice => format!("A device on the path, forging the {sd}'s address,"),
    }
}

fn complete(c: &Ctx, f: Finding) -> Diagnosis {
    let s = &c.s;
    let mut evidence = f.evidence;
    for (frame, d, ttl, usual) in &s.foreign_ttl_packets {
        if u64::from(*frame) != c.rst.frame {
            evidence.push(ev(
                *frame,
                format!(
                    "a packet in the {}'s name with TTL {ttl} where its others have {usual}: injected on the path",
                    side(*d)
                ),
            ));
        }
    }
    if let Some(text) = &c.rst.text {
        evidence.push(ev(c.rst.frame, format!("the RST carries text: {text:?}")));
    }
    evidence.sort_by_key(|e| e.frame);
    evidence.dedup();
    let idle = (s.idle_before_ns > 0).then(|| secs(s.idle_before_ns));
    Diagnosis {
        cause: f.cause,
        sender: c.sender(),
        sender_kind: f.kind,
        actor: f.actor,
        confidence: f.confidence,
        confidence_reasons: f.reasons,
        rst_frame: Some(c.rst.frame),
        trigger_frame: s.trigger.map(|t| u64::from(t.frame)),
        trigger_delay_s: s.trigger.map(|t| secs(c.rst.ts_ns - t.ts_ns)),
        idle_before_s: idle,
        known_timeout: idle.filter(|i| *i >= 1.0).and_then(|i| match f.cause {
            Cause::IdleTimeout => known_timeout(i, TimeoutKeeper::Proxy),
            Cause::FirewallStateExpiry => known_timeout(i, TimeoutKeeper::Firewall),
            _ => None,
        }),
        hops_from_capture: Some(hops(c.rst.ttl)),
        evidence,
        consequences: consequences(c),
        summary: format!(
            "{} sent the RST (frame {}) because {}.",
            who(c.sender(), f.actor),
            c.rst.frame,
            f.because
        ),
        explanation: f.cause.explanation().to_owned(),
        fixes: f.cause.fixes().iter().map(|x| (*x).to_owned()).collect(),
        would_settle: f.would_settle,
        kernel: None,
    }
}

/// Turns a member of a `mass-reset` incident into that cause, keeping its own story.
pub(super) fn join_mass_reset(d: &mut Diagnosis, inc: &Incident) {
    if d.cause == Cause::MassReset {
        return;
    }
    let own = d.cause;
    d.cause = Cause::MassReset;
    d.confidence_reasons.push(format!(
        "{} connections reset by {} within {:.1} ms",
        inc.connections.len(),
        inc.host,
        inc.window_ms
    ));
    d.summary = format!(
        "{} was one of {} connections {} reset within {:.1} ms (frames {} to {}): the process holding them died or was stopped. On its own it looks like {}.",
        d.summary.trim_end_matches('.'),
        inc.connections.len(),
        inc.host,
        inc.window_ms,
        inc.first_frame,
        inc.last_frame,
        own.id()
    );
    d.explanation = format!("{} {}", Cause::MassReset.explanation(), own.explanation());
    d.fixes = Cause::MassReset
        .fixes()
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    d.confidence = d.confidence.max(Confidence::Medium);
}
