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
/// Packets off their side's TTL habit kept one by one.
const FOREIGN_KEPT: usize = 4;
/// The sender's packets this close before its RST are one act with it (a 408, a FIN, the RST).
const BURST_NS: i64 = 100_000_000;

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
    /// The claimed sender's IP IDs before the RST count up per packet (Linux numbers them
    /// per socket): its habit is clear enough for a RST that breaks it to mean something.
    pub sender_ip_id_sequential: bool,
    /// The longest silence in the connection before the one that ended at the RST's trigger.
    pub longest_earlier_silence_ns: i64,
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
    /// Non-RST packets from the claimed sender after the RST with its usual TTL (the real
    /// sender kept talking): how many, and the first.
    pub sender_after_rst: usize,
    pub sender_after_rst_first: Option<PacketRecord>,
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
    /// Packets from either side that break their side's TTL (frame, side, ttl, usual ttl):
    /// the first few, how many more, and the last of those.
    pub foreign_ttl_packets: Vec<(u32, Dir, u8, u8)>,
    pub foreign_ttl_more: usize,
    pub foreign_ttl_last: Option<(u32, Dir, u8, u8)>,
    /// Payload bytes each way before the RST.
    pub sender_bytes: u64,
    pub peer_bytes: u64,
    /// Who sent the last payload before the RST.
    pub last_payload_from: Option<Dir>,
    /// The other side's payload since the sender last sent any (a request never answered), its
    /// segments, and the frame of its first and last segments.
    pub unanswered_bytes: u64,
    pub unanswered_segments: u32,
    pub unanswered_frames: Option<(u32, u32)>,
    /// The other side's payload captured after the RST, from sequence numbers the RST did not
    /// acknowledge, that it sent before the RST could have reached it: data in flight toward
    /// the sender as it reset (its first frame and the bytes).
    pub in_flight_after: Option<(u32, u64)>,
    /// The other side advertised a zero window in its last packet before the RST (it stopped
    /// reading), since the given frame, with the sender's packets since then.
    pub peer_zero_window_since: Option<PacketRecord>,
    pub sender_packets_in_zero_window: u32,
    /// The window the sender advertised: its largest (scaled, after the handshake) and its
    /// last before the RST, with that packet's frame. A window that falls while data arrives
    /// is data piling up unread in its receive buffer (Linux never moves the window's right
    /// edge back, so only unread data makes it fall).
    pub sender_window_peak: u64,
    pub sender_window_last: Option<(u64, u32)>,
    /// The sender's own packets (data, FIN) just before the RST, after the silence that
    /// preceded them: the frame that ended the silence when it was the sender's (a 408
    /// response, a FIN).
    pub sender_final_burst: Option<PacketRecord>,
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
    // By frame, time and sequence number: frame numbers saturate at u32::MAX in the records.
    let Some(ri) = packets.iter().position(|p| {
        p.frame == rst_frame && p.ts_ns == rst.ts_ns && p.seq == rst.seq && is_rst(p)
    }) else {
        return s;
    };
    s.rst_index = ri;
    fingerprints(&mut s, packets, ri, from);
    trigger(&mut s, packets, ri, from);
    closing(&mut s, packets, ri, from);
    message(&mut s, packets, ri, from);
    exchange(&mut s, conn, packets, ri, from);
    s.payload_total = conn.dir(Dir::Client).payload_bytes + conn.dir(Dir::Server).payload_bytes;
    s
}

/// Who said what before the RST: bytes each way, the request the sender never answered, data
/// still in flight toward it, and a peer that stopped reading.
fn exchange(s: &mut Signals, conn: &Connection, packets: &[PacketRecord], ri: usize, from: Dir) {
    let r = packets[ri];
    let before = &packets[..ri];
    let scale = match (
        conn.dir(from).window_scale,
        conn.dir(from.reverse()).window_scale,
    ) {
        (Some(w), Some(_)) => u32::from(w.min(14)),
        _ => 0,
    };
    for p in before
        .iter()
        .filter(|p| p.dir == from && p.flags & (flags::SYN | flags::RST) == 0)
    {
        let w = u64::from(p.window) << scale;
        s.sender_window_peak = s.sender_window_peak.max(w);
        s.sender_window_last = Some((w, p.frame));
    }
    for p in before
        .iter()
        .filter(|p| p.analysis & analysis::RETRANSMISSION == 0)
    {
        if p.dir == from {
            s.sender_bytes += u64::from(p.payload_len);
        } else {
            s.peer_bytes += u64::from(p.payload_len);
        }
    }
    s.last_payload_from = before
        .iter()
        .rev()
        .find(|p| p.payload_len > 0)
        .map(|p| p.dir);
    let since_sender_spoke = before
        .iter()
        .rposition(|p| p.dir == from && p.payload_len > 0)
        .map_or(0, |i| i + 1);
    for p in &before[since_sender_spoke..] {
        if p.dir != from && p.payload_len > 0 && p.analysis & analysis::RETRANSMISSION == 0 {
            s.unanswered_bytes += u64::from(p.payload_len);
            s.unanswered_segments += 1;
            let first = s.unanswered_frames.map_or(p.frame, |f| f.0);
            s.unanswered_frames = Some((first, p.frame));
        }
    }
    // Data from the other side after the RST, beyond what the RST acknowledged, sent before
    // the RST could have arrived (within a round trip of it: 1 s bounds any RTT seen here),
    // while it was already streaming just before the RST: a transfer the RST cut through. A
    // new request that merely crossed the RST says nothing about what was unread.
    let streaming = before
        .iter()
        .rev()
        .take_while(|p| r.ts_ns.saturating_sub(p.ts_ns) < BURST_NS)
        .any(|p| p.dir != from && p.payload_len > 0);
    if r.flags & flags::ACK != 0 && streaming {
        let late: Vec<&PacketRecord> = packets[ri + 1..]
            .iter()
            .take_while(|p| p.ts_ns.saturating_sub(r.ts_ns) <= ANSWER_WINDOW_NS)
            .filter(|p| {
                p.dir != from
                    && p.payload_len > 0
                    && crate::flow::seq::Seq(p.seq) >= crate::flow::seq::Seq(r.ack)
            })
            .collect();
        if let Some(first) = late.first() {
            s.in_flight_after = Some((
                first.frame,
                late.iter().map(|p| u64::from(p.payload_len)).sum(),
            ));
        }
    }
    // A zero window from the other side that lasted until the RST.
    if let Some(last_peer) = before.iter().rposition(|p| p.dir != from && !is_rst(p))
        && before[last_peer].window == 0
        && before[last_peer].flags & (flags::SYN | flags::FIN) == 0
    {
        let mut start = last_peer;
        for (i, p) in before[..last_peer].iter().enumerate().rev() {
            if p.dir == from || is_rst(p) {
                continue;
            }
            if p.window != 0 {
                break;
            }
            start = i;
        }
        s.peer_zero_window_since = Some(before[start]);
        s.sender_packets_in_zero_window =
            u32::try_from(before[start..].iter().filter(|p| p.dir == from).count())
                .unwrap_or(u32::MAX);
    }
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
                    // The first few and the last say what there is to say.
                    if s.foreign_ttl_packets.len() < FOREIGN_KEPT {
                        s.foreign_ttl_packets.push((p.frame, d, p.ttl, usual));
                    } else {
                        s.foreign_ttl_more += 1;
                        s.foreign_ttl_last = Some((p.frame, d, p.ttl, usual));
                    }
                }
            }
        }
    }
    // The last non-zero one: Linux sends some packets (its control socket's) with IP ID 0,
    // outside the socket's sequence.
    s.sender_prev_ip_id = packets[..ri]
        .iter()
        .rev()
        .find(|p| {
            p.dir == from && !is_rst(p) && p.analysis & analysis::NO_IP_ID == 0 && p.ip_id != 0
        })
        .map(|p| p.ip_id);
    let ids: Vec<u16> = packets[..ri]
        .iter()
        .filter(|p| p.dir == from && !is_rst(p) && p.analysis & analysis::NO_IP_ID == 0)
        .map(|p| p.ip_id)
        .filter(|&id| id != 0)
        .collect();
    s.sender_ip_id_sequential = ids.len() >= 3
        && ids
            .windows(2)
            .all(|w| w[1].wrapping_sub(w[0]).wrapping_sub(1) < 16);
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
        .filter(|t| t.dir != from && r.ts_ns.saturating_sub(t.ts_ns) <= ANSWER_WINDOW_NS)
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

    // The sender's final burst: its own packets (a last response such as a 408, a FIN) in the
    // moment before the RST, with nothing from the other side among them but pure ACKs.
    let mut b = ri;
    while b > 0 {
        let p = packets[b - 1];
        let peer_spoke =
            p.dir != from && (p.payload_len > 0 || p.flags & (flags::SYN | flags::FIN) != 0);
        if r.ts_ns.saturating_sub(p.ts_ns) >= BURST_NS || peer_spoke || is_rst(&p) {
            break;
        }
        b -= 1;
    }
    while b < ri && packets[b].dir != from {
        b += 1;
    }
    if b < ri {
        s.sender_final_burst = Some(packets[b]);
    }
    // The silence that ended with the trigger, with the sender's final burst, or with the RST
    // itself.
    let end_index = match s.trigger {
        Some(t) => packets
            .iter()
            .position(|p| p.frame == t.frame)
            .unwrap_or(ri),
        None => b,
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
        s.idle_before_ns = packets[start]
            .ts_ns
            .saturating_sub(packets[start - 1].ts_ns);
        s.idle_ended_by = Some(packets[start].frame);
        s.longest_earlier_silence_ns = packets[..start]
            .windows(2)
            .map(|w| w[1].ts_ns.saturating_sub(w[0].ts_ns))
            .max()
            .unwrap_or(0);
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

    let mut after = packets[ri + 1..]
        .iter()
        .filter(|p| p.dir == from && !is_rst(p) && s.sender_ttl.is_none_or(|t| p.ttl == t));
    s.sender_after_rst_first = after.next().copied();
    s.sender_after_rst = usize::from(s.sender_after_rst_first.is_some()) + after.count();
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
