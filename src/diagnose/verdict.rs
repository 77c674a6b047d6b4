//! From the rules' hypotheses to a verdict: which RST ended the connection, who sent each RST,
//! the strongest cause and its confidence, and the alternatives a careful reader should keep in
//! mind.
//!
//! Confidence follows from the winning hypothesis's weight and its lead over the runner-up:
//! - high: weight at least 0.8 and a lead of at least 0.25 (one decisive sign, nothing close);
//! - medium: weight at least 0.5 and a lead of at least 0.1;
//! - low: anything else.
//!
//! A verdict whose sender the packets cannot settle (a refusal from beyond a router, with no
//! other packet of that host to compare) is at most medium. How often each level is right on
//! the lab's captures is printed by `tests/samples.rs`.

use super::rules::{self, BurstFacts, Ctx, HostFacts, Hypothesis, ev};
use super::words::{self, Story, plural, side};
use super::{
    Actor, Alternative, Cause, Confidence, Diagnosis, Evidence, RstEffect, RstVerdict, SenderKind,
};
use crate::flow::{Connection, Dir, PacketRecord, Reset, Termination, analysis};
use crate::time::{rfc3339, secs};

/// At most this many RSTs of one connection are judged one by one, around the deciding one (an
/// injector's spray can hold thousands, and each judgement reads the connection's packets); the
/// rest are counted.
const JUDGED_RSTS: usize = 16;

/// A hypothesis below this weight is not worth listing as an alternative.
const ALTERNATIVE_MIN: f32 = 0.2;

fn confidence(winner: f32, runner_up: f32) -> Confidence {
    if winner >= 0.8 && winner - runner_up >= 0.25 {
        Confidence::High
    } else if winner >= 0.5 && winner - runner_up >= 0.1 {
        Confidence::Medium
    } else {
        Confidence::Low
    }
}

/// Whether each RST's receiver ignored it: outside its window (RFC 5961 3.2), or in it but
/// not exactly at RCV.NXT (Linux answers those with a challenge ACK, RFC 5961 3.2 too), while
/// the connection went on: the receiver sent more than a round trip after it. (The window is
/// judged from what the receiver had acknowledged, which lags behind what it received: a RST
/// outside that window alone does not show it was ignored.) One pass over the packets and one
/// over the RSTs, however many there are.
fn ignored(conn: &Connection, packets: &[PacketRecord]) -> Vec<bool> {
    let mut last = [i64::MIN; 2];
    for p in packets
        .iter()
        .filter(|p| p.flags & crate::decode::flags::RST == 0)
    {
        let l = &mut last[p.dir.index()];
        *l = (*l).max(p.ts_ns);
    }
    let rtt = conn.handshake.rtt_ns.unwrap_or(0).max(0);
    conn.resets
        .iter()
        .map(|r| {
            let refused = r.in_window == Some(false) || r.exact == Some(false);
            refused && last[r.from.reverse().index()] > r.ts_ns.saturating_add(rtt)
        })
        .collect()
}

/// The RSTs judged one by one: up to [`JUDGED_RSTS`] around the deciding one.
fn judged_range(total: usize, lead: usize) -> std::ops::Range<usize> {
    let start = lead.saturating_sub(JUDGED_RSTS / 4);
    start..total.min(start + JUDGED_RSTS)
}

/// The verdict on a connection with at least one RST.
pub(super) fn decide(
    conn: &Connection,
    packets: &[PacketRecord],
    host: impl Fn(Dir) -> HostFacts,
    burst: Option<BurstFacts>,
) -> Option<Diagnosis> {
    if conn.resets.is_empty() {
        return unanswered(conn, packets);
    }
    // The verdict is about the first RST that took effect; RSTs the receiver ignored before it
    // are attributed but do not decide.
    let ignored = ignored(conn, packets);
    let lead = ignored.iter().position(|i| !i).unwrap_or(0);
    let range = judged_range(conn.resets.len(), lead);
    let forgeries: Vec<Option<rules::ForgerySigns>> = range
        .clone()
        .map(|i| {
            let r = &conn.resets[i];
            rules::forgery_signs(&Ctx::new(conn, packets, r, host(r.from), None))
        })
        .collect();
    let rst = &conn.resets[lead];
    let ctx = Ctx::new(conn, packets, rst, host(rst.from), burst);
    let hyps = rules::hypotheses(&ctx);
    let winner = hyps.first().cloned()?;
    let runner_up = hyps
        .iter()
        .skip(1)
        .find(|h| h.cause != winner.cause || h.kind != winner.kind)
        .map_or(0.0, |h| h.weight);
    let mut level = confidence(winner.weight, runner_up);
    if winner.sender_doubt.is_some() {
        level = level.min(Confidence::Medium);
    }
    let alternatives = if level < Confidence::High {
        alternatives(&winner, &hyps)
    } else {
        vec![]
    };
    let resets = attribute(
        conn,
        &Judged {
            range: range.clone(),
            forgeries: &forgeries,
            ignored: &ignored,
        },
        lead,
        winner.kind == SenderKind::Middlebox,
    );
    let consequences = resets
        .iter()
        .filter(|r| r.effect != RstEffect::EndedConnection)
        .map(|r| ev(r.frame, r.note.clone()))
        .collect();
    let forged_far = forgeries[lead - range.start]
        .as_ref()
        .is_some_and(|f| f.distance_unknown)
        && winner.kind == SenderKind::Middlebox;
    let s = &ctx.s;
    let evidence = evidence(&winner, s, rst);
    let idle = (s.idle_before_ns > 0).then(|| secs(s.idle_before_ns));
    let mut d = Diagnosis {
        cause: winner.cause,
        sender: rst.from,
        sender_kind: winner.kind,
        actor: winner.actor,
        sender_doubt: winner.sender_doubt.clone(),
        confidence: level,
        confidence_reasons: winner.reasons.clone(),
        rst_frame: Some(rst.frame),
        rst_time: Some(rfc3339(rst.ts_ns)),
        rst_ts_ns: Some(rst.ts_ns),
        trigger_frame: s.trigger.map(|t| u64::from(t.frame)),
        trigger_delay_s: s.trigger.map(|t| secs(rst.ts_ns.saturating_sub(t.ts_ns))),
        idle_before_s: idle,
        known_timeout: winner.known_timeout.clone(),
        hops_from_capture: (!forged_far).then(|| rules::hops(rst.ttl)),
        evidence,
        consequences,
        resets,
        alternatives,
        incident: None,
        request_pending: rst.from == Dir::Server && s.unanswered_bytes > 0,
        summary: words::summary(rst.from, winner.actor, rst.frame, &winner.story),
        would_settle: if level < Confidence::High {
            winner.would_settle.clone()
        } else {
            None
        },
        kernel: None,
    };
    d.shrink_to_fit();
    Some(d)
}

/// The winner's evidence, with the packets off their side's TTL habit and the RST's text.
fn evidence(winner: &Hypothesis, s: &super::signals::Signals, rst: &Reset) -> Vec<Evidence> {
    let mut evidence = winner.evidence.clone();
    // Packets off their side's TTL habit: injected, or a route that changed. A few are shown;
    // a route change can put thousands there.
    let foreign: Vec<_> = s
        .foreign_ttl_packets
        .iter()
        .filter(|(frame, ..)| u64::from(*frame) != rst.frame)
        .collect();
    for (frame, d, ttl, usual) in foreign.iter().take(3) {
        evidence.push(ev(
            *frame,
            format!(
                "a packet in the {}'s name with TTL {ttl} where most of its others have {usual}: injected on the path, or its route changed",
                side(*d)
            ),
        ));
    }
    let more = foreign.len().saturating_sub(3) + s.foreign_ttl_more;
    if more > 0 {
        let (frame, d, ..) = s
            .foreign_ttl_last
            .or_else(|| foreign.last().map(|x| **x))
            .unwrap_or((0, rst.from, 0, 0));
        evidence.push(ev(
            frame,
            format!(
                "and {} more off the {}'s TTL habit, the last here",
                plural(more as u64, "packet"),
                side(d)
            ),
        ));
    }
    if let Some(text) = &rst.text {
        evidence.push(ev(rst.frame, format!("the RST carries text: {text:?}")));
    }
    evidence.sort_by_key(|e| e.frame);
    evidence.dedup();
    evidence
}

/// The runners-up worth a reader's attention, strongest first.
fn alternatives(winner: &Hypothesis, hyps: &[Hypothesis]) -> Vec<Alternative> {
    let others = hyps
        .iter()
        .skip(1)
        .filter(|h| h.cause != winner.cause || h.kind != winner.kind);
    let mut out: Vec<Alternative> = others
        .clone()
        .filter(|h| h.weight >= ALTERNATIVE_MIN)
        .take(3)
        .map(alternative)
        .collect();
    if let Some(why) = &winner.doubt_reason {
        out.insert(
            0,
            Alternative {
                cause: winner.cause,
                sender_kind: SenderKind::Middlebox,
                why: format!("a REJECT rule on a firewall in front of the server: {why}"),
                tell_apart: winner.tell_apart.clone(),
            },
        );
    }
    if out.is_empty()
        && let Some(h) = others.clone().next()
    {
        out.push(alternative(h));
    }
    out
}

fn alternative(h: &Hypothesis) -> Alternative {
    Alternative {
        cause: h.cause,
        sender_kind: h.kind,
        why: if h.cause == Cause::Unknown {
            "the verdict rests on one weak sign: something this capture does not show may be the cause".to_owned()
        } else if h.reasons.is_empty() {
            "nothing in the capture rules it out".to_owned()
        } else {
            h.reasons.join("; ")
        },
        tell_apart: h.tell_apart.clone(),
    }
}

/// The judged RSTs and what is known of every one.
struct Judged<'a> {
    range: std::ops::Range<usize>,
    forgeries: &'a [Option<rules::ForgerySigns>],
    ignored: &'a [bool],
}

/// Every RST of the connection: who sent it, and what it did. The deciding RST is attributed
/// as the verdict says (`lead_forged`); the others by their own forgery signs.
// One arm per kind of RST, each with its words: clearer side by side than split apart.
#[allow(clippy::too_many_lines)]
fn attribute(conn: &Connection, j: &Judged, lead: usize, lead_forged: bool) -> Vec<RstVerdict> {
    let first = &conn.resets[lead];
    let mut out: Vec<RstVerdict> = Vec::new();
    let unjudged = |out: &mut Vec<RstVerdict>, from: usize, to: usize| {
        if to <= from {
            return;
        }
        let r = &conn.resets[from];
        let ignored = j.ignored[from..to].iter().filter(|i| **i).count();
        out.push(RstVerdict {
            frame: r.frame,
            time: rfc3339(r.ts_ns),
            from: r.from,
            sender_kind: None,
            genuine: None,
            effect: if from < lead {
                RstEffect::Ignored
            } else {
                RstEffect::AfterReset
            },
            note: format!(
                "{} from here to frame {}, not judged one by one ({} ignored by their receiver)",
                plural((to - from) as u64, "RST"),
                conn.resets[to - 1].frame,
                ignored
            ),
        });
    };
    unjudged(&mut out, 0, j.range.start);
    for i in j.range.clone() {
        let r = &conn.resets[i];
        let forgery = j.forgeries[i - j.range.start].as_ref();
        let forged = if i == lead {
            lead_forged
        } else {
            forgery.is_some_and(|f| f.weight >= 0.5)
        };
        let sd = side(r.from);
        let rd = side(r.from.reverse());
        let signs = forgery
            .map(|f| words::list(&f.phrases, "and"))
            .filter(|p| !p.is_empty())
            .map_or(String::new(), |p| format!(" ({p})"));
        let (effect, note) = if i == lead {
            (
                RstEffect::EndedConnection,
                if forged {
                    format!("forged in the {sd}'s name{signs}: it ended the connection")
                } else {
                    format!("the {sd}'s own RST: it ended the connection")
                },
            )
        } else if j.ignored[i] {
            (
                RstEffect::Ignored,
                if forged {
                    format!(
                        "forged in the {sd}'s name{signs}, which the {rd} could not accept (not the sequence number it expected): it ignored it and the connection went on"
                    )
                } else {
                    format!(
                        "in the {sd}'s name, which the {rd} could not accept (not the sequence number it expected): it ignored it and the connection went on"
                    )
                },
            )
        } else if forged {
            (
                RstEffect::AfterReset,
                format!("another RST forged in the {sd}'s name{signs}"),
            )
        } else if r.from == first.from {
            (
                RstEffect::AfterReset,
                if r.seq == first.seq {
                    format!("the {sd} repeats its RST")
                } else {
                    format!("another RST in the {sd}'s name, with another sequence number")
                },
            )
        } else {
            (
                RstEffect::AfterReset,
                format!(
                    "the {sd}'s kernel resets what still arrives after the connection was reset: a consequence, genuine"
                ),
            )
        };
        out.push(RstVerdict {
            frame: r.frame,
            time: rfc3339(r.ts_ns),
            from: r.from,
            sender_kind: Some(if forged {
                SenderKind::Middlebox
            } else {
                SenderKind::Endpoint
            }),
            genuine: Some(!forged),
            effect,
            note,
        });
    }
    unjudged(&mut out, j.range.end, conn.resets.len());
    out
}

// ---- firewall-state-expiry (DROP) ----
// One rule, one place (see `rules.rs`).
// Signature: no RST at all; after a silence, one side's data is retransmitted until the end of
// the capture with no answer: a middlebox forgot the connection and black-holes it (or the
// peer died; only a capture at the peer tells these apart).
#[allow(clippy::too_many_lines)]
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
    let idle_ns = first.ts_ns.saturating_sub(before.ts_ns);
    let idle = secs(idle_ns);
    let (td, sd) = (side(talker), side(talker.reverse()));
    let retx = packets[first_retx..]
        .iter()
        .filter(|p| p.analysis & analysis::RETRANSMISSION != 0)
        .count();
    let silent = talker.reverse();
    // As for a forged RST after a silence (`rules::forged`): a device that forgets idle
    // connections forgets them after a silence longer than any the connection survived.
    let longest_before = packets[..first_retx]
        .windows(2)
        .map(|w| w[1].ts_ns.saturating_sub(w[0].ts_ns))
        .max()
        .unwrap_or(0);
    let black_hole =
        idle_ns >= rules::IDLE_NS && idle_ns.saturating_mul(2) > longest_before.saturating_mul(3);
    let (cause, story, confidence) = if black_hole {
        (
            Cause::FirewallStateExpiry,
            Story::BlackHole {
                idle_s: idle,
                retransmissions: retx,
            },
            Confidence::Medium,
        )
    } else {
        (
            Cause::Unknown,
            Story::Unanswered {
                retransmissions: retx,
            },
            Confidence::Low,
        )
    };
    let evidence: Vec<Evidence> = vec![
        ev(before.frame, "the last packet before the silence"),
        ev(
            first.frame,
            format!(
                "the {td} sent again after {} of silence ...",
                words::duration(idle)
            ),
        ),
        ev(
            last.frame,
            format!(
                "... and retransmitted until the capture ended ({}), never answered",
                plural(retx as u64, "retransmission")
            ),
        ),
    ];
    let dead_peer = Alternative {
        cause: Cause::Unknown,
        sender_kind: SenderKind::Endpoint,
        why: format!(
            "the {sd} itself may have died, lost power or been cut off: a silent {sd} looks the same from here"
        ),
        tell_apart: format!(
            "a capture at the {sd} at the same time: if the data never arrived there, the path dropped it"
        ),
    };
    let alternatives = if black_hole {
        vec![dead_peer]
    } else {
        vec![Alternative {
            cause: Cause::FirewallStateExpiry,
            sender_kind: SenderKind::Middlebox,
            why: "a firewall or NAT that forgot the connection drops its packets the same way"
                .to_owned(),
            tell_apart: format!(
                "a capture at the {sd}: data that never arrived there was dropped on the path"
            ),
        }]
    };
    let (sender_kind, actor) = if black_hole {
        (SenderKind::Middlebox, Actor::PathDevice)
    } else {
        (SenderKind::Endpoint, Actor::Kernel)
    };
    Some(Diagnosis {
        cause,
        sender: silent,
        sender_kind,
        actor,
        sender_doubt: None,
        confidence,
        confidence_reasons: vec![
            format!(
                "{} of the {td}'s data got no answer",
                plural(retx as u64, "retransmission")
            ),
            format!("a dead {sd} would look the same from here"),
        ],
        rst_frame: None,
        rst_time: None,
        rst_ts_ns: None,
        trigger_frame: None,
        trigger_delay_s: None,
        idle_before_s: Some(idle),
        known_timeout: black_hole
            .then(|| {
                super::timeouts::describe(
                    idle,
                    super::timeouts::Fit {
                        waits: super::timeouts::Waits::StateForgotten,
                        by_server: false,
                        shown: super::timeouts::Closes::Rst,
                    },
                    "of silence",
                )
            })
            .flatten(),
        hops_from_capture: None,
        evidence,
        consequences: vec![],
        resets: vec![],
        alternatives,
        incident: None,
        request_pending: false,
        summary: words::summary(silent, Actor::PathDevice, 0, &story),
        would_settle: Some(format!(
            "a capture at the {sd} at the same time: if the data never arrived there, the path dropped it"
        )),
        kernel: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_needs_weight_and_a_lead() {
        assert_eq!(confidence(0.9, 0.3), Confidence::High);
        assert_eq!(confidence(0.9, 0.7), Confidence::Medium);
        assert_eq!(confidence(0.6, 0.55), Confidence::Low);
        assert_eq!(confidence(0.55, 0.35), Confidence::Medium);
        assert_eq!(confidence(0.4, 0.0), Confidence::Low);
    }
}
