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
use crate::flow::{Connection, Dir, PacketRecord, Termination, analysis};
use crate::time::{rfc3339, secs};

/// At most this many RSTs of one connection are judged one by one (an injector's spray can
/// hold thousands); the rest are counted.
const JUDGED_RSTS: usize = 64;

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

/// What one RST is: forged or genuine, and whether its receiver ignored it.
struct Judged {
    forgery: Option<rules::ForgerySigns>,
    ignored: bool,
}

impl Judged {
    fn forged(&self) -> bool {
        self.forgery.as_ref().is_some_and(|f| f.weight >= 0.5)
    }
}

fn judge(conn: &Connection, packets: &[PacketRecord], host: HostFacts, i: usize) -> Judged {
    let r = &conn.resets[i];
    let ctx = Ctx::new(conn, packets, r, host, None);
    // An out-of-window RST is ignored by its receiver (RFC 5961 3.2) when the connection went
    // on after it: the receiver kept talking. (The window is judged from what the receiver had
    // acknowledged, which lags behind what it received: an out-of-window verdict alone does
    // not show the RST was ignored.)
    let receiver_went_on = packets.iter().any(|p| {
        p.dir != r.from && u64::from(p.frame) > r.frame && p.flags & crate::decode::flags::RST == 0
    });
    let ignored = r.in_window == Some(false) && receiver_went_on;
    Judged {
        forgery: rules::forgery_signs(&ctx),
        ignored,
    }
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
    let judged: Vec<Judged> = (0..conn.resets.len().min(JUDGED_RSTS))
        .map(|i| judge(conn, packets, host(conn.resets[i].from), i))
        .collect();
    // The verdict is about the first RST that took effect; RSTs the receiver ignored before it
    // are attributed but do not decide.
    let lead = judged.iter().position(|j| !j.ignored).unwrap_or(0);
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
    let resets = attribute(conn, &judged, lead);
    let consequences = resets
        .iter()
        .filter(|r| r.effect != RstEffect::EndedConnection)
        .map(|r| ev(r.frame, r.note.clone()))
        .collect();
    let forged_far = judged[lead.min(judged.len() - 1)]
        .forgery
        .as_ref()
        .is_some_and(|f| f.distance_unknown)
        && winner.kind == SenderKind::Middlebox;
    let s = &ctx.s;
    let mut evidence = winner.evidence.clone();
    for (frame, d, ttl, usual) in &s.foreign_ttl_packets {
        if u64::from(*frame) != rst.frame {
            evidence.push(ev(
                *frame,
                format!(
                    "a packet in the {}'s name with TTL {ttl} where its others have {usual}: injected on the path",
                    side(*d)
                ),
            ));
        }
    }
    if let Some(text) = &rst.text {
        evidence.push(ev(rst.frame, format!("the RST carries text: {text:?}")));
    }
    evidence.sort_by_key(|e| e.frame);
    evidence.dedup();
    let idle = (s.idle_before_ns > 0).then(|| secs(s.idle_before_ns));
    Some(Diagnosis {
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
        trigger_delay_s: s.trigger.map(|t| secs(rst.ts_ns - t.ts_ns)),
        idle_before_s: idle,
        known_timeout: winner.known_timeout.clone(),
        hops_from_capture: (!forged_far).then(|| rules::hops(rst.ttl)),
        evidence,
        consequences,
        resets,
        alternatives,
        incident: None,
        summary: words::summary(rst.from, winner.actor, rst.frame, &winner.story),
        explanation: winner.cause.explanation().to_owned(),
        fixes: winner
            .cause
            .fixes()
            .iter()
            .map(|f| (*f).to_owned())
            .collect(),
        would_settle: if level < Confidence::High {
            winner.would_settle.clone()
        } else {
            None
        },
        kernel: None,
    })
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
        why: if h.reasons.is_empty() {
            "nothing in the capture rules it out".to_owned()
        } else {
            h.reasons.join("; ")
        },
        tell_apart: h.tell_apart.clone(),
    }
}

/// Every RST of the connection: who sent it, and what it did.
fn attribute(conn: &Connection, judged: &[Judged], lead: usize) -> Vec<RstVerdict> {
    let first = &conn.resets[lead];
    let mut out: Vec<RstVerdict> = conn
        .resets
        .iter()
        .zip(judged)
        .enumerate()
        .map(|(i, (r, j))| {
            let sd = side(r.from);
            let rd = side(r.from.reverse());
            let forged = j.forged();
            let signs = j
                .forgery
                .as_ref()
                .map(|f| words::list(&f.phrases, "and"))
                .unwrap_or_default();
            let (effect, note) = if i == lead {
                (
                    RstEffect::EndedConnection,
                    if forged {
                        format!("forged in the {sd}'s name ({signs}): it ended the connection")
                    } else {
                        format!("the {sd}'s own RST: it ended the connection")
                    },
                )
            } else if i < lead {
                (
                    RstEffect::Ignored,
                    if forged {
                        format!(
                            "forged in the {sd}'s name ({signs}), outside the {rd}'s window: the {rd} ignored it and the connection went on"
                        )
                    } else {
                        format!(
                            "in the {sd}'s name, outside the {rd}'s window: the {rd} ignored it and the connection went on"
                        )
                    },
                )
            } else if forged {
                (
                    RstEffect::AfterReset,
                    format!("another RST forged in the {sd}'s name ({signs})"),
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
            RstVerdict {
                frame: r.frame,
                time: rfc3339(r.ts_ns),
                from: r.from,
                sender_kind: if forged {
                    SenderKind::Middlebox
                } else {
                    SenderKind::Endpoint
                },
                genuine: !forged,
                effect,
                note,
            }
        })
        .collect();
    let unjudged = conn.resets.len().saturating_sub(judged.len());
    if unjudged > 0
        && let Some(last) = conn.resets.last()
    {
        out.push(RstVerdict {
            frame: last.frame,
            time: rfc3339(last.ts_ns),
            from: last.from,
            sender_kind: SenderKind::Endpoint,
            genuine: true,
            effect: RstEffect::AfterReset,
            note: format!(
                "and {} more, not judged one by one",
                plural(unjudged as u64, "RST")
            ),
        });
    }
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
    let idle_ns = first.ts_ns - before.ts_ns;
    let idle = secs(idle_ns);
    let (td, sd) = (side(talker), side(talker.reverse()));
    let retx = packets[first_retx..]
        .iter()
        .filter(|p| p.analysis & analysis::RETRANSMISSION != 0)
        .count();
    let silent = talker.reverse();
    let black_hole = idle_ns >= rules::IDLE_NS;
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
    Some(Diagnosis {
        cause,
        sender: silent,
        sender_kind: SenderKind::Middlebox,
        actor: Actor::PathDevice,
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
            .then(|| super::timeouts::describe(idle, super::timeouts::Waits::StateForgotten))
            .flatten(),
        hops_from_capture: None,
        evidence,
        consequences: vec![],
        resets: vec![],
        alternatives,
        incident: None,
        summary: words::summary(silent, Actor::PathDevice, 0, &story),
        explanation: cause.explanation().to_owned(),
        fixes: cause.fixes().iter().map(|f| (*f).to_owned()).collect(),
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
