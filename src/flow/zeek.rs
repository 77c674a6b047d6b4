//! Zeek-compatible `conn_state` and `history` for one TCP connection.
//!
//! This is a from-scratch re-implementation of the rules Zeek's TCP analyzer
//! uses, written after reading the Zeek sources (zeek/zeek @ a13de64f):
//!
//! * `src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc` — per-packet
//!   processing (`Process`), sequence bookkeeping (`init_endpoint`,
//!   `init_peer`, `update_last_seq`, `update_ack_seq`, `get_relative_seq`),
//!   the history letters (`update_history`, `update_window`), the endpoint
//!   state machine (`UpdateInactiveState`, `UpdateSYN_SentState`,
//!   `UpdateEstablishedState`, `UpdateClosedState`), role flipping and
//!   connection reuse (`FlipRoles`, `IsReuse`).
//! * `src/packet_analysis/protocol/tcp/TCP.cc` — `WantConnection`, the
//!   port-based role flip when a connection does not start with a SYN.
//! * `src/analyzer/protocol/tcp/TCP_Endpoint.{h,cc}` — endpoint states,
//!   `CheckHistory` (including the "history is exactly `H`" flip),
//!   `AddHistory`, `Size`, `NoDataAcked`, and the logarithmically scaled
//!   letters `T`/`W`/`G` (`DidRxmit`, `ZeroWindow`, `Gap`).
//! * `src/session/Session.{h,cc}` — `CheckHistory` (first occurrence per
//!   direction), `ScaledHistoryEntry` (thresholds 1, 10, 100, ...).
//! * `src/Conn.cc` — `Connection::FlipRoles` appends `^`.
//! * `src/analyzer/protocol/tcp/TCP_Reassembler.cc`, `src/Reassem.cc` —
//!   where content gaps (`G`/`g`) come from.
//! * `scripts/base/protocols/conn/main.zeek` — `conn_state()`.
//!
//! Scope and approximations (see also the README-style notes on
//! [`ZeekTracker`]):
//!
//! * Checksums are assumed valid (as with `zeek -C`): no `C`/`c` letters.
//! * Zeek's timers are not modelled (no timestamps are given): Zeek drops a
//!   connection some seconds after it closed or after an unanswered SYN
//!   (`tcp_close_delay`, `tcp_attempt_delay`, inactivity timeouts) and starts
//!   a new one for later packets.  Splitting on time is the caller's job.
//!   Splitting on a reused 4-tuple is supported through
//!   [`ZeekTracker::is_reuse`].
//! * Content gaps (`G`/`g`) are approximated: Zeek runs a full reassembler;
//!   here each direction keeps its in-order delivery point plus one merged
//!   span of data seen above a hole.  With a single hole (the common case)
//!   this reproduces Zeek; with several disjoint holes in flight a gap can be
//!   under-counted.  The 10 MB `excessive_data_without_further_acks` cut-off
//!   and delivery deferral of closes while data is pending are not modelled.
//! * The `X` letter (analyzer limit) and application-analyzer driven
//!   `Skipping()` are out of scope.
//! * The history string is capped at [`HISTORY_CAP`] bytes to bound memory
//!   (Zeek has no cap; real histories are far shorter).

use std::fmt;

/// One TCP segment as Zeek's TCP analyzer sees it.
#[derive(Clone, Copy, Debug)]
pub struct ZeekSegment {
    /// true when sent by the endpoint that sent the first packet of this connection that we saw
    pub from_first_sender: bool,
    /// TCP flags byte: FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    /// payload length on the wire (from the IP length), even if the capture cut it
    pub payload_len: u32,
    pub window: u16,
}

/// Longest history string kept (Zeek itself has no limit).
pub const HISTORY_CAP: usize = 256;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// Zeek ignores SYN/RST sequence numbers that jump further than this
/// (`TOO_LARGE_SEQ_DELTA` in TCPSessionAdapter.cc).
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;
/// `tcp_max_initial_window` default (init-bare.zeek).
const MAX_INITIAL_WINDOW: u64 = 16_384;
/// `tcp_max_above_hole_without_any_acks` default (init-bare.zeek).
const MAX_ABOVE_HOLE_WITHOUT_ACKS: u64 = 16_384;

// History masks (TCP_Endpoint.h `HistoryMasks`); responder bits are these
// shifted left by 16 in the connection-wide "seen" word.
const HIST_SYN: u32 = 0x1;
const HIST_FIN: u32 = 0x2;
const HIST_RST: u32 = 0x4;
const HIST_FIN_RST: u32 = 0x8;
const HIST_DATA: u32 = 0x10;
const HIST_ACK: u32 = 0x20;
const HIST_MULTI_FLAG: u32 = 0x40;

// `first_packet_seen` role bits (TCPSessionAdapter.cc ORIG / RESP).
const SEEN_ORIG: u8 = 1;
const SEEN_RESP: u8 = 2;

/// Signed difference of two 32-bit sequence numbers (Zeek's `seq_delta`).
fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b).cast_signed()
}

/// A sign-extended 32-bit delta stored in Zeek's unsigned 64-bit relative
/// sequence type (C++ `int32_t` -> `uint64_t` conversion).
fn sign_extend(delta: i32) -> u64 {
    0u64.wrapping_add_signed(i64::from(delta))
}

/// Endpoint states (TCP_Endpoint.h `EndpointState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum EpState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// A logarithmically scaled history counter (Session::ScaledHistoryEntry):
/// the letter is recorded on the 1st, 10th, 100th, ... occurrence.
#[derive(Clone, Copy, Debug)]
struct Scaled {
    count: u32,
    thresh: u32,
}

impl Default for Scaled {
    fn default() -> Self {
        Self { count: 0, thresh: 1 }
    }
}

impl Scaled {
    /// Counts one occurrence; true when the letter should be appended.
    fn hit(&mut self) -> bool {
        self.count = self.count.wrapping_add(1);
        if self.count != self.thresh {
            return false;
        }
        match self.thresh.checked_mul(10) {
            Some(next) => self.thresh = next,
            // Zeek resets the counter when the next threshold wraps.
            None => self.count = 0,
        }
        true
    }
}

/// Minimal stand-in for one direction's TCP reassembler (relative
/// sequence numbers, starting at 1 like Zeek's `TCP_Reassembler`).
#[derive(Clone, Copy, Debug)]
struct Reasm {
    /// Everything below this has been delivered or declared missing.
    delivered: u64,
    /// Everything below this has been acknowledged and dropped.
    trimmed: u64,
    /// Union of data seen above the hole at `delivered` (`lo == hi`: none).
    above_lo: u64,
    above_hi: u64,
    /// Zeek gave up reassembling this direction.
    skip: bool,
}

impl Default for Reasm {
    fn default() -> Self {
        Self { delivered: 1, trimmed: 1, above_lo: 0, above_hi: 0, skip: false }
    }
}

impl Reasm {
    fn has_above(&self) -> bool {
        self.above_hi > self.above_lo
    }

    fn clear_above(&mut self) {
        self.above_lo = 0;
        self.above_hi = 0;
    }

    /// Delivers the buffered span if it now starts at the delivery point.
    fn absorb_above(&mut self) {
        if self.has_above() && self.above_lo <= self.delivered {
            self.delivered = self.delivered.max(self.above_hi);
            self.clear_above();
        }
    }
}

/// One side of the connection (Zeek's `TCP_Endpoint`, reduced to what the
/// history and state need).
#[derive(Clone, Copy, Debug, Default)]
struct Endpoint {
    state: EpState,
    prev_state: EpState,
    did_close: bool,
    fin_seen: bool,
    start_seq: u32,
    last_seq: u32,
    ack_seq: u32,
    seq_wraps: u32,
    ack_wraps: u32,
    fin_seq: u64,
    hist_last_syn: u64,
    hist_last_fin: u64,
    hist_last_rst: u64,
    rxmit: Scaled,
    win0: Scaled,
    gap: Scaled,
    reasm: Reasm,
}

impl Endpoint {
    fn set_state(&mut self, new_state: EpState) {
        if new_state != self.state {
            self.prev_state = self.state;
            self.state = new_state;
        }
    }

    /// Re-bases all three sequence trackers (InitStartSeq/InitAckSeq/InitLastSeq).
    fn init_seqs(&mut self, start: u32, last: u32) {
        self.start_seq = start;
        self.ack_seq = start;
        self.last_seq = last;
    }

    fn update_last_seq(&mut self, seq: u32) {
        if seq < self.last_seq {
            self.seq_wraps = self.seq_wraps.wrapping_add(1);
        }
        self.last_seq = seq;
    }

    fn update_ack_seq(&mut self, seq: u32) {
        if seq < self.ack_seq {
            self.ack_wraps = self.ack_wraps.wrapping_add(1);
        }
        self.ack_seq = seq;
    }

    fn full(seq: u32, wraps: u32) -> u64 {
        (u64::from(wraps) << 32) + u64::from(seq)
    }

    fn to_relative(&self, seq: u32, wraps: u32) -> u64 {
        Self::full(seq, wraps).wrapping_sub(u64::from(self.start_seq))
    }

    /// True when none of this endpoint's data (beyond a SYN) was acked.
    fn no_data_acked(&self) -> bool {
        let ack = Self::full(self.ack_seq, self.ack_wraps);
        let start = u64::from(self.start_seq);
        ack == start || ack == start + 1
    }

    /// Zeek's `get_relative_seq`: returns the relative sequence number and
    /// whether it lies below the endpoint's initial sequence number.
    fn relative_seq(&self, cur: u32, last: u32, mut wraps: u32) -> (u64, bool) {
        let delta = seq_delta(cur, last);
        if delta < 0 {
            if wraps != 0 && cur > last {
                wraps -= 1;
            }
        } else if delta > 0 && cur < last {
            wraps = wraps.wrapping_add(1);
        }
        if wraps == 0 {
            let d = seq_delta(cur, self.start_seq);
            return (sign_extend(d), d < 0);
        }
        (self.to_relative(cur, wraps), false)
    }

    /// Zeek's `TCP_Endpoint::Size` (bytes of payload sequence space).
    fn size(&self, peer_state: EpState) -> u64 {
        if self.prev_state == EpState::SynSent
            && self.state == EpState::Reset
            && peer_state == EpState::Inactive
            && !self.no_data_acked()
        {
            return 0;
        }
        let last = Self::full(self.last_seq, self.seq_wraps);
        let ack = Self::full(self.ack_seq, self.ack_wraps);
        let mut size = last.max(ack).wrapping_sub(u64::from(self.start_seq));
        if size != 0 {
            size -= 1;
        }
        if self.fin_seen && size != 0 {
            size -= 1;
        }
        size
    }

    /// Zeek's `is_clean` (TCP_Reassembler.cc): gaps only count on cleanly
    /// established or cleanly closing endpoints.
    fn is_clean(&self) -> bool {
        self.state == EpState::Established
            || (self.state == EpState::Closed && self.prev_state == EpState::Established)
    }
}

/// Which scaled letter to count.
#[derive(Clone, Copy)]
enum ScaledKind {
    Rxmit,
    Win0,
    Gap,
}

/// Zeek's view of one TCP connection: endpoint state machines plus the
/// `history` string, without per-packet storage.
///
/// Feed every segment of the connection in capture order to
/// [`observe`](Self::observe).  Before feeding a SYN to an existing tracker,
/// [`is_reuse`](Self::is_reuse) tells whether Zeek would instead close this
/// connection and start a new one (then start a fresh tracker, whose first
/// sender is that SYN's sender).
#[derive(Clone, Debug, Default)]
pub struct ZeekTracker {
    /// Index 0: the first sender; index 1: its peer.
    ep: [Endpoint; 2],
    /// The first sender is currently the responder.
    flipped: bool,
    /// Role bits of `first_packet_seen` (swapped on a flip, like Zeek).
    first_packet_seen: u8,
    is_partial: bool,
    /// Connection-wide `hist_seen` word (orig bits low, resp bits << 16).
    hist_seen: u32,
    history: String,
}

impl fmt::Display for ZeekTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.conn_state(), self.history)
    }
}

impl ZeekTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker for a connection that Zeek flips as soon as it is created
    /// (see [`zeek_port_flip`]); the history then starts with `^`.
    pub fn new_port_flipped() -> Self {
        let mut t = Self::default();
        t.flip_roles();
        t
    }

    /// Zeek's conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH
    pub fn conn_state(&self) -> &'static str {
        use EpState::{Closed, Established, Inactive, Partial, Reset, SynAckSent, SynSent};
        let (o, r) = (self.orig(), self.resp());
        let (os, rs) = (self.ep[o].state, self.ep[r].state);
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);

        if rs == Reset {
            if matches!(os, SynSent | SynAckSent)
                || (os == Reset && self.orig_size() == 0 && self.resp_size() == 0)
            {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive {
                if history_is_rstos0(&self.history) {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if r_inactive {
                "SH"
            } else {
                "S2"
            }
        } else if rs == Closed {
            if o_inactive {
                "SHR"
            } else {
                "S3"
            }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }

    /// Zeek's history string (uppercase = originator, lowercase = responder, '^' when roles flipped)
    pub fn history(&self) -> String {
        self.history.clone()
    }

    /// true when Zeek would treat the first sender as the responder (roles flipped)
    pub fn roles_flipped(&self) -> bool {
        self.flipped
    }

    /// Payload bytes Zeek reports for the originator (`orig_bytes`, from
    /// sequence numbers).
    pub fn orig_size(&self) -> u64 {
        let (o, r) = (self.orig(), self.resp());
        self.ep[o].size(self.ep[r].state)
    }

    /// Payload bytes Zeek reports for the responder (`resp_bytes`).
    pub fn resp_size(&self) -> u64 {
        let (o, r) = (self.orig(), self.resp());
        self.ep[r].size(self.ep[o].state)
    }

    /// Zeek's `IsReuse`: would this segment (sent by `seg.from_first_sender`
    /// relative to *this* tracker) make Zeek retire this connection and open
    /// a new one?  Only SYNs can; an untouched tracker never reuses.
    pub fn is_reuse(&self, seg: &ZeekSegment) -> bool {
        if self.history.is_empty() && self.ep[0].state == EpState::Inactive {
            return false;
        }
        if seg.flags & SYN == 0 {
            return false;
        }
        let (o, r) = (self.orig(), self.resp());
        let mut conn_orig = o;
        if seg.flags & ACK != 0 {
            if self.ep[o].state != EpState::Inactive {
                return false;
            }
            conn_orig = r;
        }
        let closed = self.ep[0].did_close || self.ep[1].did_close;
        if !closed {
            if seg.seq == self.ep[conn_orig].start_seq {
                return false;
            }
            if seg.flags & ACK == 0
                && self.ep[conn_orig].state == EpState::SynAckSent
                && self.ep[r].state == EpState::Inactive
                && seg.seq == self.ep[r].start_seq
            {
                // SYN and SYN-ACK seen in swapped order: not a reuse.
                return false;
            }
        }
        true
    }

    /// Processes one segment (Zeek's `TCPSessionAdapter::Process`), assuming
    /// the whole payload was captured.
    pub fn observe(&mut self, seg: &ZeekSegment) {
        self.observe_with_capture(seg, true);
    }

    /// Like [`observe`](Self::observe); `payload_captured == false` means
    /// the capture cut the payload short, so Zeek cannot reassemble it and a
    /// later acknowledgement of it shows up as a content gap (`G`/`g`).
    pub fn observe_with_capture(&mut self, seg: &ZeekSegment, payload_captured: bool) {
        let s = usize::from(!seg.from_first_sender);
        let p = 1 - s;
        // Role at arrival; Zeek keeps using this (possibly stale) value for
        // the state machine even if the history check flips the roles.
        let is_orig = self.is_orig_side(s);
        let flags = seg.flags;
        let (f_syn, f_fin, f_rst, f_ack) =
            (flags & SYN != 0, flags & FIN != 0, flags & RST != 0, flags & ACK != 0);
        let len = seg.payload_len;
        let base_seq = seg.seq;
        let ack_seq = seg.ack;

        self.set_partial_status(f_syn, f_ack, is_orig);

        // Sequence space used by this segment (get_segment_len).
        let mut seg_len = len.wrapping_add(u32::from(f_syn)).wrapping_add(u32::from(f_fin));
        if f_rst {
            seg_len = seg_len.wrapping_sub(len);
        }
        let seq_end = base_seq.wrapping_add(seg_len);

        self.init_endpoint(s, f_syn, base_seq, seq_end);

        let ep = &self.ep[s];
        let (rel_seq, seq_underflow) = ep.relative_seq(base_seq, ep.last_seq, ep.seq_wraps);

        self.update_history(s, flags, rel_seq, len);

        // Zero-window letter (update_window); the window value only matters
        // for being zero, which scaling cannot change.
        if seg.window == 0
            && !f_rst
            && self.ep[p].state != EpState::Closed
            && self.ep[s].state != EpState::Reset
        {
            self.scaled(s, ScaledKind::Win0);
        }

        if f_fin {
            let ep = &mut self.ep[s];
            ep.fin_seen = true;
            ep.fin_seq = rel_seq.wrapping_add(u64::from(seg_len));
        }

        let mut rel_ack = 0u64;
        if f_ack {
            if self.ep[p].state == EpState::Inactive {
                // init_peer: pretend the peer's SYN was one before the ack.
                rel_ack = 1;
                let start = ack_seq.wrapping_sub(1);
                self.ep[p].init_seqs(start, start);
            } else {
                let peer = &self.ep[p];
                let (ra, underflow) = peer.relative_seq(ack_seq, peer.ack_seq, peer.ack_wraps);
                if underflow {
                    rel_ack = 0;
                } else {
                    rel_ack = ra;
                    // Acks in RSTs are not trusted (update_ack_seq).
                    if !f_rst {
                        let delta = seq_delta(ack_seq, self.ep[p].ack_seq);
                        if !(ack_seq == 0 && delta > TOO_LARGE_SEQ_DELTA) && delta > 0 {
                            self.ep[p].update_ack_seq(ack_seq);
                        }
                    }
                }
            }
        }

        let delta_last = self.update_last_seq(s, seq_end, f_syn, f_fin, f_rst, len);

        let (do_close, _gen_event) =
            self.update_state_machine(s, is_orig, flags, base_seq, ack_seq, len, delta_last);

        if f_ack {
            self.ack_received(p, rel_ack);
        }

        // CheckPIA_FirstPacket, with the arrival-time role.
        self.first_packet_seen |= if is_orig { SEEN_ORIG } else { SEEN_RESP };

        if len > 0 && payload_captured && !f_rst && !seq_underflow {
            let rel_data_seq = if f_syn { rel_seq.wrapping_add(1) } else { rel_seq };
            self.data_sent(s, rel_data_seq, u64::from(len));
        }

        if do_close {
            // ConnectionClosed (delivery deferral while data is pending is
            // not modelled).
            self.ep[s].did_close = true;
        }
    }

    // ---- roles ---------------------------------------------------------

    fn is_orig_side(&self, side: usize) -> bool {
        (side == 0) != self.flipped
    }

    fn orig(&self) -> usize {
        usize::from(self.flipped)
    }

    fn resp(&self) -> usize {
        1 - self.orig()
    }

    /// Connection::FlipRoles + TCPSessionAdapter::FlipRoles.
    fn flip_roles(&mut self) {
        self.flipped = !self.flipped;
        let fps = self.first_packet_seen;
        self.first_packet_seen = (if fps & SEEN_ORIG != 0 { SEEN_RESP } else { 0 })
            | (if fps & SEEN_RESP != 0 { SEEN_ORIG } else { 0 });
        self.is_partial = false;
        self.push_history('^');
    }

    fn set_first_packet_seen(&mut self, orig: bool) {
        self.first_packet_seen |= if orig { SEEN_ORIG } else { SEEN_RESP };
    }

    fn set_partial_status(&mut self, f_syn: bool, f_ack: bool, is_orig: bool) {
        if is_orig {
            if self.first_packet_seen & SEEN_ORIG == 0 {
                self.is_partial = !f_syn || f_ack;
            }
        } else if self.first_packet_seen & SEEN_RESP == 0 && !self.is_partial {
            self.is_partial = !f_syn;
        }
    }

    // ---- history -------------------------------------------------------

    fn push_history(&mut self, c: char) {
        if self.history.len() < HISTORY_CAP {
            self.history.push(c);
        }
    }

    fn role_letter(&self, side: usize, code: char) -> char {
        if self.is_orig_side(side) {
            code
        } else {
            code.to_ascii_lowercase()
        }
    }

    /// TCP_Endpoint::CheckHistory + Session::CheckHistory: records `code`
    /// the first time this kind of packet is seen in this direction; returns
    /// true when it had already been seen.
    fn check_history(&mut self, side: usize, mask: u32, code: char) -> bool {
        if (code == 'A' || code == 'D') && self.history == "H" {
            // The connection began with a SYN-ACK and now carries real
            // traffic: the SYN-ACK sender was the responder after all.
            self.flip_roles();
            self.history.clear();
            self.history.push_str("^h");
            self.set_first_packet_seen(true);
        }
        let mask = if self.is_orig_side(side) { mask } else { mask << 16 };
        let code = self.role_letter(side, code);
        if self.hist_seen & mask == 0 {
            self.hist_seen |= mask;
            self.push_history(code);
            false
        } else {
            true
        }
    }

    fn add_history(&mut self, side: usize, code: char) {
        let c = self.role_letter(side, code);
        self.push_history(c);
    }

    fn scaled(&mut self, side: usize, kind: ScaledKind) {
        let ep = &mut self.ep[side];
        let (counter, code) = match kind {
            ScaledKind::Rxmit => (&mut ep.rxmit, 'T'),
            ScaledKind::Win0 => (&mut ep.win0, 'W'),
            ScaledKind::Gap => (&mut ep.gap, 'G'),
        };
        if counter.hit() {
            self.add_history(side, code);
        }
    }

    /// update_history in TCPSessionAdapter.cc.
    fn update_history(&mut self, s: usize, flags: u8, rel_seq: u64, len: u32) {
        let (f_syn, f_fin, f_rst) = (flags & SYN != 0, flags & FIN != 0, flags & RST != 0);
        let bits = u8::from(f_syn) + u8::from(f_fin) + u8::from(f_rst);
        if bits > 1 {
            if f_fin && f_rst {
                self.check_history(s, HIST_FIN_RST, 'I');
            } else {
                self.check_history(s, HIST_MULTI_FLAG, 'Q');
            }
        } else if bits == 1 {
            if f_syn {
                let code = if flags & ACK != 0 { 'H' } else { 'S' };
                if self.check_history(s, HIST_SYN, code) && rel_seq != self.ep[s].hist_last_syn {
                    self.add_history(s, code);
                }
                self.ep[s].hist_last_syn = rel_seq;
            }
            if f_fin {
                // A FIN's sequence number is the one after its data.
                let fin_at = rel_seq.wrapping_add(u64::from(len));
                if self.check_history(s, HIST_FIN, 'F') && fin_at != self.ep[s].hist_last_fin {
                    self.add_history(s, 'F');
                }
                self.ep[s].hist_last_fin = fin_at;
            }
            if f_rst {
                if self.check_history(s, HIST_RST, 'R') && rel_seq != self.ep[s].hist_last_rst {
                    self.add_history(s, 'R');
                }
                self.ep[s].hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            self.check_history(s, HIST_DATA, 'D');
        } else if flags & ACK != 0 {
            self.check_history(s, HIST_ACK, 'A');
        }
    }

    // ---- sequence bookkeeping -----------------------------------------

    /// init_endpoint in TCPSessionAdapter.cc.
    fn init_endpoint(&mut self, s: usize, f_syn: bool, first_seq: u32, seq_end: u32) {
        let ep = &mut self.ep[s];
        match ep.state {
            EpState::Inactive => {
                if f_syn {
                    ep.init_seqs(first_seq, seq_end);
                } else {
                    // Partial connection: number as if a SYN preceded it.
                    ep.init_seqs(first_seq.wrapping_sub(1), first_seq);
                }
            }
            EpState::SynSent | EpState::SynAckSent => {
                if f_syn && first_seq != ep.start_seq {
                    ep.init_seqs(first_seq, seq_end);
                }
            }
            EpState::Established | EpState::Partial => {
                if f_syn {
                    ep.init_seqs(first_seq, seq_end);
                }
            }
            EpState::Reset => {
                // A SYN after a RST that initialised this side: the RST may
                // have been injected, so trust the SYN instead.
                if f_syn && ep.prev_state == EpState::Inactive {
                    ep.init_seqs(first_seq, seq_end);
                }
            }
            EpState::Closed => {}
        }
    }

    /// update_last_seq in TCPSessionAdapter.cc; returns the signed advance.
    fn update_last_seq(
        &mut self,
        s: usize,
        seq_end: u32,
        f_syn: bool,
        f_fin: bool,
        f_rst: bool,
        len: u32,
    ) -> i32 {
        let ep = &mut self.ep[s];
        let delta = seq_delta(seq_end, ep.last_seq);
        let mut rxmit = false;
        if (f_syn || f_rst) && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta) {
            // Implausible jump on a SYN/RST: ignore.
        } else if f_fin && ep.last_seq == ep.start_seq.wrapping_add(1) {
            // Only the SYN seen so far: trust the FIN even when it looks
            // backwards (> 2 GB transfers).
            ep.update_last_seq(seq_end);
        } else if ep.state == EpState::Reset {
            // No sequence numbers are trusted after a RST.
        } else if delta > 0 {
            ep.update_last_seq(seq_end);
        } else if len > 0 {
            rxmit = true;
        }
        if rxmit {
            self.scaled(s, ScaledKind::Rxmit);
        }
        delta
    }

    // ---- state machine -------------------------------------------------

    /// UpdateStateMachine in TCPSessionAdapter.cc; returns (do_close, gen_event).
    #[allow(clippy::too_many_arguments)]
    fn update_state_machine(
        &mut self,
        s: usize,
        is_orig: bool,
        flags: u8,
        base_seq: u32,
        ack_seq: u32,
        len: u32,
        delta_last: i32,
    ) -> (bool, bool) {
        let p = 1 - s;
        let (f_syn, f_fin, f_rst, f_ack) =
            (flags & SYN != 0, flags & FIN != 0, flags & RST != 0, flags & ACK != 0);
        let mut do_close = false;
        let mut gen_event = false;
        let _ = (ack_seq, delta_last); // only used for weirds in Zeek

        match self.ep[s].state {
            EpState::Inactive => {
                if f_syn {
                    if is_orig {
                        self.ep[s].set_state(if f_ack { EpState::SynAckSent } else { EpState::SynSent });
                    } else {
                        if !f_ack
                            && self.ep[p].state == EpState::SynAckSent
                            && base_seq == self.ep[s].start_seq
                        {
                            // SYN-ACK arrived before its SYN: swap roles
                            // and consider the connection established.
                            self.flip_roles();
                            self.ep[p].set_state(EpState::Established);
                            self.set_first_packet_seen(true);
                        }
                        if self.ep[p].state == EpState::SynSent {
                            self.ep[p].set_state(EpState::Established);
                        }
                        self.ep[s].set_state(EpState::Established);
                    }
                }
                if f_fin {
                    self.ep[s].set_state(EpState::Closed);
                    do_close = true;
                    gen_event = true;
                }
                if f_rst {
                    self.ep[s].set_state(EpState::Reset);
                    let is_reject = if is_orig {
                        self.ep[p].state == EpState::Established
                    } else {
                        matches!(self.ep[p].state, EpState::SynSent | EpState::SynAckSent)
                    };
                    do_close = true;
                    gen_event = !is_reject;
                }
                if self.ep[s].state == EpState::Inactive {
                    let orig_state = self.ep[self.orig()].state;
                    if !is_orig && len == 0 && orig_state == EpState::SynSent {
                        // A bare ack of the initial SYN before the SYN-ACK:
                        // not a partial connection.
                    } else if f_ack && self.ep[p].state == EpState::Established {
                        // Missed the SYN but saw the SYN-ACK: established.
                        self.ep[s].set_state(EpState::Established);
                        self.is_partial = false;
                        self.set_first_packet_seen(is_orig);
                    } else {
                        self.ep[s].set_state(EpState::Partial);
                    }
                }
            }
            EpState::SynSent | EpState::SynAckSent => {
                if f_fin {
                    self.ep[s].set_state(EpState::Closed);
                    do_close = true;
                    gen_event = true;
                }
                if f_rst {
                    self.ep[s].set_state(EpState::Reset);
                    do_close = true;
                }
            }
            EpState::Established | EpState::Partial => {
                if f_syn
                    && self.ep[s].state == EpState::Partial
                    && self.ep[p].state == EpState::Inactive
                    && !f_ack
                {
                    self.ep[s].set_state(EpState::SynSent);
                }
                if f_fin && !f_rst {
                    self.ep[s].set_state(EpState::Closed);
                    if self.ep[p].state == EpState::Reset && self.ep[p].prev_state == EpState::Closed {
                        // FIN then RST from the peer was a normal close.
                        self.ep[p].set_state(EpState::Closed);
                    }
                    do_close = true;
                    gen_event = true;
                }
                if f_rst {
                    self.ep[s].set_state(EpState::Reset);
                    do_close = true;
                }
            }
            EpState::Closed => {
                // After both FINs a RST does not change the state.
                if f_rst && self.ep[p].state != EpState::Closed {
                    self.ep[s].set_state(EpState::Reset);
                    if !self.ep[s].did_close {
                        do_close = true;
                    }
                }
            }
            EpState::Reset => {}
        }
        (do_close, gen_event)
    }

    // ---- content gaps (approximate reassembler) -----------------------

    /// Called with the relative ack the peer sent for side `s`'s data
    /// (TCP_Endpoint::AckReceived -> TCP_Reassembler::AckReceived).
    fn ack_received(&mut self, s: usize, seq: u64) {
        let ep = &self.ep[s];
        let mut seq = seq;
        if ep.fin_seen && seq >= ep.fin_seq {
            // Don't count the FIN's own octet as missing data.
            seq = ep.fin_seq.wrapping_sub(1);
        }
        if seq <= ep.reasm.trimmed {
            return;
        }
        if seq > ep.reasm.delivered {
            self.undelivered(s, seq);
        }
        let r = &mut self.ep[s].reasm;
        if r.has_above() && r.above_hi <= seq {
            r.clear_above();
        }
        r.absorb_above();
        r.trimmed = r.trimmed.max(seq);
    }

    /// TCP_Reassembler::Undelivered: data up to `up_to` was acked but never
    /// seen; each hole found is a content gap.
    fn undelivered(&mut self, s: usize, up_to: u64) {
        if up_to <= 2 && self.is_partial {
            // Faked initial sequence numbers of a partial connection.
            return;
        }
        if !self.ep[s].reasm.skip {
            let r = self.ep[s].reasm;
            if r.has_above() && r.above_lo >= r.delivered && r.above_lo < up_to {
                self.content_gap(s);
                let r = &mut self.ep[s].reasm;
                r.delivered = r.above_lo;
                r.absorb_above();
            }
            if up_to > self.ep[s].reasm.delivered {
                self.content_gap(s);
            }
        }
        let r = &mut self.ep[s].reasm;
        r.delivered = r.delivered.max(up_to);
    }

    fn content_gap(&mut self, s: usize) {
        if self.ep[s].is_clean() && self.ep[1 - s].is_clean() {
            self.scaled(s, ScaledKind::Gap);
        }
    }

    /// Payload handed to side `s`'s reassembler (TCP_Reassembler::DataSent,
    /// Reassembler::NewBlock / BlockInserted).
    fn data_sent(&mut self, s: usize, rel_seq: u64, len: u64) {
        let peer_state = self.ep[1 - s].state;
        let ep = &mut self.ep[s];
        if ep.reasm.skip || len == 0 {
            return;
        }
        let acked = ep.to_relative(ep.ack_seq, ep.ack_wraps);
        let mut seq = rel_seq;
        let upper = rel_seq.saturating_add(len);
        if seq < acked {
            if upper <= acked {
                return; // already delivered and acknowledged
            }
            seq = acked;
        }
        let r = &mut ep.reasm;
        if upper <= r.trimmed {
            return;
        }
        seq = seq.max(r.trimmed);
        if seq > r.delivered {
            // Above a hole: buffer (merged into one span).
            if r.has_above() {
                r.above_lo = r.above_lo.min(seq);
                r.above_hi = r.above_hi.max(upper);
            } else {
                r.above_lo = seq;
                r.above_hi = upper;
            }
        } else if upper > r.delivered {
            r.delivered = upper;
            r.absorb_above();
            // Nothing acked yet and lots sent: the peer's acks are probably
            // not visible; Zeek stops holding delivered data.
            let delivered = r.delivered;
            if ep.no_data_acked() && ep.size(peer_state) > MAX_INITIAL_WINDOW {
                ep.reasm.trimmed = ep.reasm.trimmed.max(delivered);
            }
        }
        let r = ep.reasm;
        if ep.no_data_acked() && r.has_above() && r.above_hi - r.delivered > MAX_ABOVE_HOLE_WITHOUT_ACKS {
            ep.reasm.clear_above();
            ep.reasm.skip = true;
        }
    }
}

/// Zeek's RSTOS0 pattern `/\^?S[^HAFGIQ]*R.*/`, matched against the whole
/// history: an originator SYN followed by an originator RST with no
/// handshake/ack/data/FIN/gap/multi-flag letter in between.
fn history_is_rstos0(h: &str) -> bool {
    let rest = h.strip_prefix('^').unwrap_or(h);
    let Some(after_syn) = rest.strip_prefix('S') else {
        return false;
    };
    after_syn
        .chars()
        .find(|c| matches!(c, 'H' | 'A' | 'F' | 'G' | 'I' | 'Q' | 'R'))
        == Some('R')
}

/// Zeek's `WantConnection` role guess for a connection whose first packet
/// is not a plain SYN: returns true when Zeek flips the roles at creation
/// (then use [`ZeekTracker::new_port_flipped`]).  `src_port`/`dst_port` are
/// the first packet's; `is_likely_server_port` stands for membership in
/// Zeek's `likely_server_ports` (which depends on the loaded scripts).
pub fn zeek_port_flip(
    first_flags: u8,
    src_port: u16,
    dst_port: u16,
    is_likely_server_port: impl Fn(u16) -> bool,
) -> bool {
    let syn = first_flags & SYN != 0;
    let ack = first_flags & ACK != 0;
    if syn && !ack {
        return false; // a plain SYN names its sender the originator
    }
    if !is_likely_server_port(src_port) {
        return false;
    }
    if is_likely_server_port(dst_port) {
        // Both plausible: flip only non-SYN-ACKs towards the higher port.
        !syn && src_port < dst_port
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u8 = FIN;
    const S: u8 = SYN;
    const R: u8 = RST;
    const P: u8 = 0x08;
    const A: u8 = ACK;

    /// A segment from the first sender ("client" side of the trace).
    fn c(flags: u8, seq: u32, ack: u32, len: u32) -> ZeekSegment {
        ZeekSegment { from_first_sender: true, flags, seq, ack, payload_len: len, window: 8192 }
    }

    /// A segment from the other side.
    fn s(flags: u8, seq: u32, ack: u32, len: u32) -> ZeekSegment {
        ZeekSegment { from_first_sender: false, flags, seq, ack, payload_len: len, window: 8192 }
    }

    fn run(segs: &[ZeekSegment]) -> ZeekTracker {
        let mut t = ZeekTracker::new();
        for seg in segs {
            t.observe(seg);
        }
        t
    }

    fn check(segs: &[ZeekSegment], history: &str, state: &str) -> ZeekTracker {
        let t = run(segs);
        assert_eq!((t.history().as_str(), t.conn_state()), (history, state), "segments: {segs:?}");
        t
    }

    /// Client ISN / server ISN used by the hand-built handshakes.
    const CI: u32 = 1000;
    const SI: u32 = 5000;

    fn handshake() -> Vec<ZeekSegment> {
        vec![c(S, CI, 0, 0), s(S | A, SI, CI + 1, 0), c(A, CI + 1, SI + 1, 0)]
    }

    // ==================================================================
    // Zeek baselines: scripts.base.protocols.conn.conn_state-RST-behavior
    // (zeek/Traces/tcp/*.pcap, listed in corpus/zeek/pairs_extra.tsv)
    // ==================================================================

    #[test]
    fn baseline_single_rst_is_oth_r() {
        // single-rst.pcap: one RST-ACK, nothing else.
        check(&[c(R | A, 0x1234_5678, 0x9abc_def0, 0)], "R", "OTH");
    }

    #[test]
    fn baseline_syn_then_rst_is_rstos0() {
        check(&[c(S, CI, 0, 0), c(R, CI + 1, 0, 0)], "SR", "RSTOS0");
    }

    #[test]
    fn baseline_syn_ack_rst_is_rstos0_sar() {
        // The responder's bare ack of the SYN does not make it partial.
        check(&[c(S, CI, 0, 0), s(A, SI, CI + 1, 0), c(R, CI + 1, 0, 0)], "SaR", "RSTOS0");
    }

    #[test]
    fn baseline_syn_stuff_fin_rst_is_oth_safr() {
        check(
            &[c(S, CI, 0, 0), s(A, SI, CI + 1, 0), c(F | A, CI + 1, SI, 0), c(R, CI + 2, 0, 0)],
            "SaFR",
            "OTH",
        );
    }

    // ==================================================================
    // Ordinary connections
    // ==================================================================

    #[test]
    fn full_close_both_ways_is_sf() {
        let mut v = handshake();
        v.extend([
            c(P | A, CI + 1, SI + 1, 100),
            s(A, SI + 1, CI + 101, 0),
            s(P | A, SI + 1, CI + 101, 200),
            c(A, CI + 101, SI + 201, 0),
            c(F | A, CI + 101, SI + 201, 0),
            s(F | A, SI + 201, CI + 102, 0),
            c(A, CI + 102, SI + 202, 0),
        ]);
        let t = check(&v, "ShADadFf", "SF");
        assert_eq!((t.orig_size(), t.resp_size()), (100, 200));
        assert!(!t.roles_flipped());
    }

    #[test]
    fn unanswered_syn_is_s0() {
        check(&[c(S, CI, 0, 0)], "S", "S0");
    }

    #[test]
    fn syn_retransmitted_same_seq_adds_no_letter() {
        check(&[c(S, CI, 0, 0), c(S, CI, 0, 0), c(S, CI, 0, 0)], "S", "S0");
    }

    #[test]
    fn syn_answered_by_rst_is_rej() {
        check(&[c(S, CI, 0, 0), s(R | A, 0, CI + 1, 0)], "Sr", "REJ");
    }

    #[test]
    fn handshake_only_is_s1() {
        check(&handshake(), "ShA", "S1");
    }

    #[test]
    fn originator_fin_only_is_s2_and_responder_fin_only_is_s3() {
        let mut v = handshake();
        v.push(c(F | A, CI + 1, SI + 1, 0));
        check(&v, "ShAF", "S2");
        let mut v = handshake();
        v.push(s(F | A, SI + 1, CI + 1, 0));
        check(&v, "ShAf", "S3");
    }

    #[test]
    fn established_then_originator_rst_is_rsto() {
        let mut v = handshake();
        v.extend([c(P | A, CI + 1, SI + 1, 10), s(A, SI + 1, CI + 11, 0), c(R | A, CI + 11, SI + 1, 0)]);
        check(&v, "ShADaR", "RSTO");
    }

    #[test]
    fn established_then_responder_rst_is_rstr() {
        let mut v = handshake();
        v.extend([c(P | A, CI + 1, SI + 1, 10), s(R | A, SI + 1, CI + 11, 0)]);
        check(&v, "ShADr", "RSTR");
    }

    #[test]
    fn fin_from_originator_then_rst_from_responder_is_rstr() {
        // https-to-http.pcap style ending (mirrored): F then r.
        let mut v = handshake();
        v.extend([
            c(P | A, CI + 1, SI + 1, 10),
            s(P | A, SI + 1, CI + 11, 20),
            c(F | A, CI + 11, SI + 21, 0),
            s(R | A, SI + 21, CI + 12, 0),
        ]);
        check(&v, "ShADdFr", "RSTR");
    }

    #[test]
    fn rst_after_both_fins_keeps_sf() {
        let mut v = handshake();
        v.extend([
            c(F | A, CI + 1, SI + 1, 0),
            s(F | A, SI + 1, CI + 2, 0),
            c(R, CI + 2, 0, 0),
        ]);
        // The RST is still lettered but does not leave the CLOSED state.
        check(&v, "ShAFfR", "SF");
    }

    #[test]
    fn both_sides_rst_without_data_is_rej() {
        // Both reset, both sizes zero.
        let mut v = handshake();
        v.extend([c(R | A, CI + 1, SI + 1, 0), s(R | A, SI + 1, CI + 1, 0)]);
        check(&v, "ShARr", "REJ");
    }

    // ==================================================================
    // Partial connections and role flipping
    // ==================================================================

    #[test]
    fn midstream_data_one_way_is_oth_d() {
        check(&[c(P | A, 77, 99, 50), c(P | A, 127, 99, 50)], "D", "OTH");
    }

    #[test]
    fn midstream_fin_from_first_sender_is_sh() {
        // SH: originator closed, responder never seen (a lone FIN).
        check(&[c(F | A, 77, 99, 0)], "F", "SH");
    }

    #[test]
    fn midstream_fin_from_second_sender_is_shr() {
        check(&[c(P | A, 77, 99, 10), s(F | A, 99, 87, 0)], "Df", "SHR");
    }

    #[test]
    fn midstream_rst_from_responder_after_data_is_rstrh() {
        check(&[c(P | A, 77, 99, 10), s(R | A, 99, 87, 0)], "Dr", "RSTRH");
    }

    #[test]
    fn syn_ack_first_then_ack_flips_roles() {
        // Missed SYN: the SYN-ACK sender becomes the responder once traffic
        // follows ("H" rewritten to "^h").
        // The SYN-ACK sender stays SYN_ACK_SENT and the new originator is
        // PARTIAL, hence OTH until FINs arrive.
        let t = check(&[c(S | A, SI, CI + 1, 0), s(A, CI + 1, SI + 1, 0)], "^hA", "OTH");
        assert!(t.roles_flipped());
    }

    #[test]
    fn syn_ack_alone_is_oth_h() {
        let t = check(&[c(S | A, SI, CI + 1, 0)], "H", "OTH");
        assert!(!t.roles_flipped());
    }

    #[test]
    fn syn_ack_answered_by_rst_is_stealth_scan_not_flipped() {
        // A RST is not "productive traffic": no flip, responder reset
        // while originator only sent a SYN-ACK -> REJ.
        let t = check(&[c(S | A, SI, CI + 1, 0), s(R, CI + 1, 0, 0)], "Hr", "REJ");
        assert!(!t.roles_flipped());
    }

    #[test]
    fn syn_ack_before_syn_is_reordered_handshake() {
        // SYN-ACK captured before its SYN (IsReuse / UpdateInactiveState).
        let first = ZeekSegment { from_first_sender: true, flags: S | A, seq: SI, ack: CI + 1, payload_len: 0, window: 1 };
        let syn = ZeekSegment { from_first_sender: false, flags: S, seq: CI, ack: 0, payload_len: 0, window: 1 };
        let ack = ZeekSegment { from_first_sender: false, flags: A, seq: CI + 1, ack: SI + 1, payload_len: 0, window: 1 };
        let mut t = ZeekTracker::new();
        t.observe(&first);
        assert!(!t.is_reuse(&syn));
        t.observe(&syn);
        t.observe(&ack);
        assert!(t.roles_flipped());
        // History letters precede the state machine, so the SYN is lettered
        // as the responder's before the flip.
        assert_eq!((t.history().as_str(), t.conn_state()), ("Hs^A", "S1"));
    }

    #[test]
    fn port_flipped_lone_rst_is_caret_r_rstrh() {
        // Teredo.pcap: a lone RST from a likely server port -> "^r", RSTRH
        // (responder reset, originator never seen).
        assert!(zeek_port_flip(R | A, 80, 51000, |p| p == 80));
        let mut t = ZeekTracker::new_port_flipped();
        t.observe(&c(R | A, 1, 2, 0));
        assert_eq!((t.history().as_str(), t.conn_state()), ("^r", "RSTRH"));
        assert!(t.roles_flipped());
    }

    #[test]
    fn port_flip_heuristic_follows_zeek() {
        let likely = |p: u16| p == 80 || p == 443;
        assert!(!zeek_port_flip(S, 80, 5000, likely), "plain SYN never flips");
        assert!(zeek_port_flip(S | A, 80, 5000, likely), "SYN-ACK from server port");
        assert!(!zeek_port_flip(S | A, 80, 443, likely), "both likely, SYN-ACK: no");
        assert!(zeek_port_flip(A, 80, 443, likely), "both likely, lower src port");
        assert!(!zeek_port_flip(A, 443, 80, likely));
        assert!(!zeek_port_flip(A, 5000, 80, likely));
    }

    // ==================================================================
    // Repeated letters and scaling (T, W, G and repeated S/F/R)
    // ==================================================================

    #[test]
    fn retransmissions_scale_logarithmically() {
        let mut v = handshake();
        v.push(c(P | A, CI + 1, SI + 1, 10));
        for _ in 0..10 {
            v.push(c(P | A, CI + 1, SI + 1, 10));
        }
        // 1st retransmission -> T, 10th -> second T.
        check(&v, "ShADTT", "S1");
        let mut v = handshake();
        v.push(c(P | A, CI + 1, SI + 1, 10));
        for _ in 0..9 {
            v.push(c(P | A, CI + 1, SI + 1, 10));
        }
        check(&v, "ShADT", "S1");
    }

    #[test]
    fn zero_window_letters() {
        let mut v = handshake();
        let mut z = s(A, SI + 1, CI + 1, 0);
        z.window = 0;
        v.push(z);
        v.push(z);
        check(&v, "ShAaw", "S1");
    }

    #[test]
    fn zero_window_in_rst_is_ignored() {
        let mut v = handshake();
        let mut z = s(R | A, SI + 1, CI + 1, 0);
        z.window = 0;
        v.push(z);
        check(&v, "ShAr", "RSTR");
    }

    #[test]
    fn rst_repeated_with_new_seq_adds_letter() {
        let mut v = handshake();
        v.extend([c(R, CI + 1, 0, 0), c(R, CI + 1, 0, 0), c(R, CI + 3, 0, 0)]);
        check(&v, "ShARR", "RSTO");
    }

    #[test]
    fn fin_retransmitted_same_seq_is_one_f() {
        let mut v = handshake();
        v.extend([c(F | A, CI + 1, SI + 1, 0), c(F | A, CI + 1, SI + 1, 0)]);
        check(&v, "ShAF", "S2");
    }

    #[test]
    fn multi_flag_letters_i_and_q() {
        check(&[c(S, CI, 0, 0), c(F | R, CI + 1, 0, 0)], "SI", "OTH");
        check(&[c(S | F, CI, 0, 0)], "Q", "SH");
    }

    #[test]
    fn content_gap_is_reported_once_acked() {
        // 100 bytes never captured, then the server acks past them.
        let mut v = handshake();
        v.extend([
            c(P | A, CI + 1, SI + 1, 100),
            // [CI+101, CI+201) missing
            c(P | A, CI + 201, SI + 1, 100),
            s(A, SI + 1, CI + 301, 0),
        ]);
        check(&v, "ShADaG", "S1");
    }

    #[test]
    fn in_order_data_has_no_gap() {
        let mut v = handshake();
        v.extend([
            c(P | A, CI + 1, SI + 1, 100),
            c(P | A, CI + 101, SI + 1, 100),
            s(A, SI + 1, CI + 201, 0),
        ]);
        check(&v, "ShADa", "S1");
    }

    #[test]
    fn truncated_payload_becomes_gap_when_acked() {
        let mut v = handshake();
        let mut t = ZeekTracker::new();
        v.push(c(P | A, CI + 1, SI + 1, 100));
        for seg in &v {
            t.observe(seg);
        }
        t.observe_with_capture(&c(P | A, CI + 101, SI + 1, 100), false);
        t.observe(&s(A, SI + 1, CI + 201, 0));
        assert_eq!(t.history(), "ShADaG");
    }

    #[test]
    fn gap_not_lettered_when_ack_is_in_rst() {
        let mut v = handshake();
        v.extend([c(P | A, CI + 1, SI + 1, 10), s(R | A, SI + 1, CI + 500, 0)]);
        check(&v, "ShADr", "RSTR");
    }

    // ==================================================================
    // Reuse and sequence-number corner cases
    // ==================================================================

    #[test]
    fn new_syn_after_close_is_reuse() {
        let mut v = handshake();
        v.extend([c(F | A, CI + 1, SI + 1, 0), s(F | A, SI + 1, CI + 2, 0)]);
        let t = run(&v);
        assert!(t.is_reuse(&c(S, 9999, 0, 0)));
        assert!(!t.is_reuse(&c(A, CI + 2, SI + 2, 0)));
    }

    #[test]
    fn syn_with_other_seq_while_open_is_reuse_but_retransmit_is_not() {
        let t = run(&[c(S, CI, 0, 0)]);
        assert!(!t.is_reuse(&c(S, CI, 0, 0)));
        assert!(t.is_reuse(&c(S, CI + 77, 0, 0)));
        assert!(!ZeekTracker::new().is_reuse(&c(S, 1, 0, 0)));
    }

    #[test]
    fn sequence_wraparound_is_not_retransmission() {
        let ci = u32::MAX - 50;
        let v = [
            c(S, ci, 0, 0),
            s(S | A, SI, ci.wrapping_add(1), 0),
            c(A, ci.wrapping_add(1), SI + 1, 0),
            c(P | A, ci.wrapping_add(1), SI + 1, 100),
            c(P | A, ci.wrapping_add(101), SI + 1, 100),
            s(A, SI + 1, ci.wrapping_add(201), 0),
            c(F | A, ci.wrapping_add(201), SI + 1, 0),
            s(F | A, SI + 1, ci.wrapping_add(202), 0),
        ];
        let t = check(&v, "ShADaFf", "SF");
        assert_eq!(t.orig_size(), 200);
    }

    #[test]
    fn rstos0_pattern_matches_zeek_regex() {
        assert!(history_is_rstos0("SR"));
        assert!(history_is_rstos0("^SR"));
        assert!(history_is_rstos0("SaR"));
        assert!(history_is_rstos0("STR"));
        assert!(!history_is_rstos0("SaFR"));
        assert!(!history_is_rstos0("SAR"));
        assert!(!history_is_rstos0("R"));
        assert!(!history_is_rstos0("S"));
    }

    #[test]
    fn tracker_state_is_small() {
        assert!(std::mem::size_of::<Endpoint>() <= 160, "{}", std::mem::size_of::<Endpoint>());
    }
}
