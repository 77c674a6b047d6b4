//! The facts about a connection's first RST that the cause rules read: who claims to send it,
//! whether its TTL and IP ID fit that side's other packets, which packet it answers, the silence
//! before it, what came after it.
//!
//! Fingerprints (see RFC 791 for TTL and IP ID, RFC 6864 for IP ID use):
//! - One host's packets reach a capture point with one TTL (its initial TTL, 64/128/255, minus
//!   the hops between). A RST with another TTL came from another distance: another device.
//! - Linux numbers IP IDs per socket. A RST sent by a live socket (an active reset on close or
//!   abort) continues that sequence; a RST the kernel sends in reply to a segment for which it
//!   has no usable socket goes out from a control socket with IP ID 0 (and DF).
//! - A reply RST takes its sequence number from the trigger's ACK and carries no ACK flag
//!   (RFC 9293 3.10.7.1); an active reset carries ACK and the socket's own SND.NXT.

use crate::decode::flags;
use crate::flow::{Connection, Dir, PacketRecord, Reset, analysis};

/// A RST is taken as the answer to a packet that arrived at most this long before it.
const ANSWER_WINDOW_NS: i64 = 1_000_000_000;

#[derive(Clone, Debug, Default)]
pub struct Signals {
    /// Index in the packet list of the first RST.
    pub rst_index: usize,
    /// Most common TTL of the claimed sender's other (non-RST) packets, and how many there are.
    pub sender_ttl: Option<u8>,
    pub sender_ttl_samples: usize,
    /// The claimed sender's other packets that have the RST's TTL.
    pub sender_ttl_matches: usize,
    /// The claimed sender's last IP ID before the RST (IPv4).
    pub sender_prev_ip_id: Option<u16>,
    /// The packet from the other side the RST answers, if it answers one.
    pub trigger: Option<PacketRecord>,
    /// How the RST's numbers tie to the trigger: seq = trigger's ACK (reply without ACK) or
    /// ack = trigger's end (reply to a segment without ACK).
    pub answers_trigger: bool,
    /// Silence before the RST, or before its trigger, or before the sender's FIN just before it.
    pub idle_before_ns: i64,
    /// The packet that ended that silence (the trigger, a FIN, or the RST itself).
    pub idle_ended_by: Option<u32>,
    /// The claimed sender's FIN before the RST.
    pub sender_fin: Option<PacketRecord>,
    /// Data the other side sent after the claimed sender's FIN.
    pub data_after_sender_fin: Option<PacketRecord>,
    /// Keep-alive probes from the claimed sender, unanswered, right before the RST.
    pub unanswered_keepalives: Vec<u32>,
    /// Non-RST packets from the claimed sender after the RST with its usual TTL: the real
    /// sender kept talking.
    pub sender_after_rst: Vec<PacketRecord>,
    /// The RST acknowledges data its sender had not acknowledged before: data arrived, unread,
    /// as it closed.
    pub acks_new_data: bool,
    /// Bytes in the other side's last message before the RST (data since the sender's previous
    /// data), the segments it took, and the bytes the sender answered it with.
    pub peer_message_bytes: u64,
    pub peer_message_segments: u32,
    pub answer_bytes: u64,
    /// Payload bytes in the whole connection, each way.
    pub payload_total: u64,
    /// Packets from either side that break their side's TTL (frame, side, ttl, usual ttl).
    pub foreign_ttl_packets: Vec<(u32, Dir, u8, u8)>,
}

/// Most common value and its count.
fn mode(values: impl Iterator<Item = u8>) -> Option<(u8, usize)> {
    let mut counts = [0usize; 256];
    let mut any = false;
    for v in values {
        counts[usize::from(v)] += 1;
        any = true;
    }
    if !any {
        return None;
    }
    let (v, n) = counts.iter().enumerate().max_by_key(|(_, n)| **n)?;
    Some((u8::try_from(v).unwrap_or(0), *n))
}

fn is_rst(p: &PacketRecord) -> bool {
    p.flags & flags::RST != 0
}

fn seg_len(p: &PacketRecord) -> u32 {
    p.payload_len + u32::from(p.flags & flags::SYN != 0) + u32::from(p.flags & flags::FIN != 0)
}

pub fn compute(conn: &Connection, packets: &[PacketRecord], rst: &Reset) -> Signals {
    let mut s = Signals::default();
    let from = rst.from;
    let rst_frame = u32::try_from(rst.frame).unwrap_or(u32::MAX);
    let Some(ri) = packets.iter().position(|p| p.frame == rst_frame) else {
        return s;
    };
    s.rst_index = ri;
    fingerprints(&mut s, packets, ri, from);
    trigger(&mut s, packets, ri, from);
    closing(&mut s, packets, ri, from);
    message(&mut s, packets, ri, from);
    s.payload_total = conn.dir(Dir::Client).payload_bytes + conn.dir(Dir::Server).payload_bytes;
    s
}

/// TTL habits of both sides, and the sender's last IP ID.
fn fingerprints(s: &mut Signals, packets: &[PacketRecord], ri: usize, from: Dir) {
    let r = packets[ri];
    // TTL baseline of each side over its non-RST packets.
    let baseline = |d: Dir| {
        mode(
            packets
                .iter()
                .filter(|p| p.dir == d && !is_rst(p))
                .map(|p| p.ttl),
        )
    };
    if let Some((ttl, _)) = baseline(from) {
        s.sender_ttl = Some(ttl);
        s.sender_ttl_samples = packets
            .iter()
            .filter(|p| p.dir == from && !is_rst(p))
            .count();
        s.sender_ttl_matches = packets
            .iter()
            .filter(|p| p.dir == from && !is_rst(p) && p.ttl == r.ttl)
            .count();
    }
    for d in [Dir::Client, Dir::Server] {
        if let Some((usual, n)) = baseline(d) {
            let total = packets.iter().filter(|p| p.dir == d && !is_rst(p)).count();
            // A side needs a clear habit before a departure from it means anything.
            if n >= 3 && n * 2 > total {
                for p in packets
                    .iter()
                    .filter(|p| p.dir == d && !is_rst(p) && p.ttl.abs_diff(usual) >= 2)
                {
                    s.foreign_ttl_packets.push((p.frame, d, p.ttl, usual));
                }
            }
        }
    }
    s.sender_prev_ip_id = packets[..ri]
        .iter()
        .rev()
        .find(|p| p.dir == from && !is_rst(p) && p.analysis & analysis::NO_IP_ID == 0)
        .map(|p| p.ip_id);
}

/// The packet the RST answers, if any.
fn trigger(s: &mut Signals, packets: &[PacketRecord], ri: usize, from: Dir) {
    let r = packets[ri];
    // The other side's packets since the sender last spoke (RSTs aside), newest first: a
    // kernel answers each arriving segment in turn, so a burst of RSTs answers a burst of
    // packets, the earliest first.
    let since = packets[..ri]
        .iter()
        .rposition(|p| p.dir == from && !is_rst(p))
        .map_or(0, |i| i + 1);
    let answered = packets[since..ri]
        .iter()
        .filter(|t| t.dir != from && r.ts_ns - t.ts_ns <= ANSWER_WINDOW_NS)
        .find(|t| {
            let by_seq = r.flags & flags::ACK == 0 && t.flags & flags::ACK != 0 && r.seq == t.ack;
            let by_ack = r.flags & flags::ACK != 0
                && seg_len(t) > 0
                && r.ack == t.seq.wrapping_add(seg_len(t));
            by_seq || by_ack
        });
    if let Some(t) = answered {
        s.trigger = Some(*t);
        s.answers_trigger = true;
    }
}

/// The sender's FIN, data after it, the silence before the RST, keep-alive probes, and what the
/// sender said after the RST.
fn closing(s: &mut Signals, packets: &[PacketRecord], ri: usize, from: Dir) {
    let r = packets[ri];
    s.sender_fin = packets[..ri]
        .iter()
        .find(|p| p.dir == from && p.flags & flags::FIN != 0)
        .copied();
    if let Some(fin) = s.sender_fin {
        s.data_after_sender_fin = packets[..ri]
            .iter()
            .find(|p| p.dir != from && p.ts_ns >= fin.ts_ns && p.payload_len > 0)
            .copied();
    }

    // The silence that ended with the trigger, with the sender's FIN right before the RST, or
    // with the RST itself.
    let end_index = match (s.trigger, s.sender_fin) {
        (Some(t), _) => packets
            .iter()
            .position(|p| p.frame == t.frame)
            .unwrap_or(ri),
        (None, Some(fin)) if r.ts_ns - fin.ts_ns < ANSWER_WINDOW_NS / 10 => packets
            .iter()
            .position(|p| p.frame == fin.frame)
            .unwrap_or(ri),
        _ => ri,
    };
    // Retransmissions of the trigger belong to the same silence-breaking attempt.
    let mut start = end_index;
    while start > 0
        && packets[start].analysis & analysis::RETRANSMISSION != 0
        && packets[start - 1].dir == packets[start].dir
    {
        start -= 1;
    }
    if start > 0 {
        s.idle_before_ns = packets[start].ts_ns - packets[start - 1].ts_ns;
        s.idle_ended_by = Some(packets[start].frame);
    }

    // Keep-alive probes from the sender with no answer since the first of them.
    let mut probes = Vec::new();
    for p in packets[..ri].iter().rev() {
        if p.dir != from {
            break;
        }
        if p.analysis & analysis::KEEPALIVE != 0 {
            probes.push(p.frame);
        }
    }
    probes.reverse();
    s.unanswered_keepalives = probes;

    s.sender_after_rst = packets[ri + 1..]
        .iter()
        .filter(|p| p.dir == from && !is_rst(p) && s.sender_ttl.is_none_or(|t| p.ttl == t))
        .copied()
        .collect();
}

/// Data acknowledged by the RST, the other side's last message and the sender's answer.
fn message(s: &mut Signals, packets: &[PacketRecord], ri: usize, from: Dir) {
    let r = packets[ri];
    // Did the RST acknowledge data its sender had never acknowledged?
    if r.flags & flags::ACK != 0 {
        let last_ack = packets[..ri]
            .iter()
            .rev()
            .find(|p| p.dir == from && p.flags & flags::ACK != 0);
        s.acks_new_data = last_ack.is_some_and(|p| {
            crate::flow::seq::Seq(r.ack) > crate::flow::seq::Seq(p.ack)
                && packets[..ri]
                    .iter()
                    .any(|q| q.dir != from && q.payload_len > 0 && q.ts_ns > p.ts_ns)
        });
    }

    // The other side's last message, and the sender's answer to it.
    let mut i = ri;
    while i > 0 && !(packets[i - 1].dir != from && packets[i - 1].payload_len > 0) {
        i -= 1;
    }
    let answer_end = ri;
    let message_end = i;
    while i > 0 && !(packets[i - 1].dir == from && packets[i - 1].payload_len > 0) {
        i -= 1;
    }
    for p in &packets[i..message_end] {
        if p.dir != from && p.payload_len > 0 && p.analysis & analysis::RETRANSMISSION == 0 {
            s.peer_message_bytes += u64::from(p.payload_len);
            s.peer_message_segments += 1;
        }
    }
    s.answer_bytes = packets[message_end..answer_end]
        .iter()
        .filter(|p| p.dir == from)
        .map(|p| u64::from(p.payload_len))
        .sum();
}

impl Signals {
    /// The RST's TTL differs from its claimed sender's habit, with enough packets to know it.
    pub fn ttl_mismatch(&self, rst: &Reset) -> bool {
        self.sender_ttl_samples >= 2
            && self.sender_ttl_matches == 0
            && self.sender_ttl.is_some_and(|t| t != rst.ttl)
    }

    /// The RST's IP ID continues its sender's per-socket sequence (a live socket sent it).
    pub fn ip_id_continues(&self, rst: &Reset) -> bool {
        match (self.sender_prev_ip_id, rst.ip_id) {
            (Some(prev), Some(id)) => id.wrapping_sub(prev).wrapping_sub(1) < 16,
            _ => false,
        }
    }
}
