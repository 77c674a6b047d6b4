//! Connection tracking: TCP segments grouped into connections, with both directions' counters,
//! the handshake, idle gaps, FINs and every RST.
//!
//! Read RFC 9293 (TCP) sections 3.4 (sequence numbers) and 3.10.7.4 (when a RST is acceptable),
//! and RFC 5961 section 3 (RST acceptance: the sequence number must fall in the receive window)
//! first. Counters follow Wireshark's `tcp.analysis.*` definitions where a user will compare them
//! with Wireshark; `conn_state` and `history` follow Zeek's rules (see [`zeek`]).
//!
//! Memory: per connection a fixed-size [`Connection`] plus small vectors for idle gaps and
//! resets; per packet one [`PacketRecord`] of 32 bytes when packet retention is on (the desktop
//! app draws connections packet by packet from them). Never whole packets.

pub mod seq;
pub mod state;
pub mod zeek;

use std::net::SocketAddr;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use serde::Serialize;

use crate::decode::{TcpSegment, flags};
use seq::Seq;
use zeek::{ZeekSegment, ZeekTracker};

/// Which way a packet travelled, relative to the connection's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Client to server.
    Client,
    /// Server to client.
    Server,
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Self::Client => 0,
            Self::Server => 1,
        }
    }
    #[must_use]
    pub fn reverse(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// How the client and server roles of a connection were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleBasis {
    /// The client sent the first SYN seen.
    Syn,
    /// The first packet seen was a SYN-ACK: its sender is the server.
    SynAck,
    /// Seen mid-stream: the endpoint on a port below 1024, or on a non-ephemeral port facing an
    /// ephemeral one (32768 and up), is the server.
    PortGuess,
    /// Seen mid-stream with no port hint: the first packet's destination is the server.
    FirstPacket,
}

/// Bits of [`PacketRecord::analysis`].
pub mod analysis {
    /// Wireshark `tcp.analysis.retransmission`: data, SYN or FIN below the highest sequence
    /// number already seen in that direction.
    pub const RETRANSMISSION: u8 = 0x01;
    /// Wireshark `tcp.analysis.keep_alive`: at most one byte, `seq = next expected - 1`.
    pub const KEEPALIVE: u8 = 0x02;
    /// Wireshark `tcp.analysis.zero_window`: window 0 on a segment without SYN, FIN or RST.
    pub const ZERO_WINDOW: u8 = 0x04;
    /// The packet carries no IP ID (IPv6).
    pub const NO_IP_ID: u8 = 0x08;
}

/// What rstscope keeps of each packet: 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PacketRecord {
    pub ts_ns: i64,
    /// Frame number; saturates at `u32::MAX` (a capture of four billion packets).
    pub frame: u32,
    pub seq: u32,
    pub ack: u32,
    pub payload_len: u32,
    pub window: u16,
    pub ip_id: u16,
    pub flags: u8,
    pub ttl: u8,
    pub dir: Dir,
    pub analysis: u8,
}

/// Per-direction IP ID behaviour, the fingerprint of the sending stack (Linux uses a per-socket
/// counter and 0 with DF on some packets; a forging middlebox uses its own counter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IpIdStats {
    /// Packets with IP ID 0.
    pub zero: u32,
    /// Packets whose IP ID is the previous one plus 1..=16 (a sequential counter).
    pub sequential: u32,
    /// Packets whose IP ID jumped elsewhere.
    pub other: u32,
    #[serde(skip)]
    last: Option<u16>,
}

/// TTL (or hop limit) values seen in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TtlStats {
    pub min: u8,
    pub max: u8,
    /// The most recent value.
    pub last: u8,
    /// Number of packets whose value differed from the previous packet's.
    pub changes: u32,
}

impl TtlStats {
    /// Not every packet had the same value (the hosts' TTL habits then read the records).
    pub fn varied(&self) -> bool {
        self.min != self.max
    }
}

/// One direction of a connection.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Direction {
    pub packets: u64,
    pub payload_bytes: u64,
    pub retransmissions: u32,
    pub zero_windows: u32,
    pub keepalives: u32,
    pub fin_frame: Option<u64>,
    pub ttl: TtlStats,
    pub ip_id: IpIdStats,
    /// Initial sequence number: the SYN's, or the first seen for a connection seen mid-stream.
    pub isn: Option<u32>,
    pub syn_seen: bool,
    /// The ISN implied by the peer's SYN-ACK (its ACK minus one), when this side's SYN was not
    /// seen.
    #[serde(skip)]
    acked_isn: Option<u32>,
    pub window_scale: Option<u8>,
    pub mss: Option<u16>,
    pub timestamps: bool,
    /// Highest sequence number sent plus its length (SND.NXT as seen on the wire).
    #[serde(skip)]
    next_seq: Option<Seq>,
    /// Last acknowledgment number sent (the sender's RCV.NXT) and window advertised.
    #[serde(skip)]
    last_ack: Option<u32>,
    #[serde(skip)]
    last_window: u16,
}

/// The three packets of the handshake, as frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Handshake {
    pub syn_frame: Option<u64>,
    pub synack_frame: Option<u64>,
    pub ack_frame: Option<u64>,
    #[serde(skip)]
    syn_ts: i64,
    /// SYN to the client's ACK, as Wireshark's `tcp.analysis.initial_rtt`.
    pub rtt_ns: Option<i64>,
}

/// A silence inside a connection longer than the idle-gap threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IdleGap {
    pub after_frame: u64,
    pub before_frame: u64,
    pub ns: i64,
}

/// Everything known about one RST segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reset {
    pub frame: u64,
    pub ts_ns: i64,
    pub from: Dir,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    /// Relative to the sender's ISN, and to the receiver's ISN for the ACK field.
    pub seq_rel: Option<u32>,
    pub ack_rel: Option<u32>,
    /// RFC 5961 3.2 / RFC 9293 3.10.7.4: would the receiver accept it? In SYN-SENT the ACK must
    /// acknowledge the SYN; otherwise the sequence number must fall in the receive window.
    /// `None` when the receiver's window is unknown.
    pub in_window: Option<bool>,
    /// The sequence number is exactly the one the receiver expects next.
    pub exact: Option<bool>,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub payload_len: u32,
    /// Diagnostic text carried by the RST (RFC 1122 4.2.2.12), lossily decoded.
    pub text: Option<String>,
}

/// How a connection ended, as far as the capture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Termination {
    /// FIN both ways, no RST.
    Fin,
    /// A FIN one way only; still half open when the capture ended.
    HalfClosed,
    /// Ended by a RST after (or without) a handshake.
    Reset,
    /// A SYN answered by a RST.
    Refused,
    /// SYNs that nobody answered, or data retransmitted at the end of the capture with no reply
    /// (a black hole: a dropping firewall, a dead peer).
    Unanswered,
    /// No FIN, no RST: open when the capture ended.
    Open,
}

impl Termination {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fin => "fin",
            Self::HalfClosed => "half-closed",
            Self::Reset => "reset",
            Self::Refused => "refused",
            Self::Unanswered => "unanswered",
            Self::Open => "open",
        }
    }
}

/// One TCP connection. `id` numbers connections from 0 in order of their first packet, as
/// Wireshark's `tcp.stream`.
#[derive(Clone, Debug, Serialize)]
pub struct Connection {
    pub id: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub role_basis: RoleBasis,
    pub first_frame: u64,
    pub last_frame: u64,
    /// The earliest and the latest packet time seen (not the first and last in file order).
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// The time of the last packet in file order, which idle gaps are measured from.
    #[serde(skip)]
    pub prev_ts_ns: i64,
    pub dirs: [Direction; 2],
    pub handshake: Handshake,
    pub idle_gaps: Vec<IdleGap>,
    pub resets: Vec<Reset>,
    /// Zeek's verdicts, one per connection Zeek would log for these packets, the current one
    /// last ([`Connection::zeek_connections`]). Complete when tracking ends
    /// ([`FlowTracker::finish`]) and in every copy the tracker hands out while it runs
    /// ([`FlowTracker::snapshot`]); in the tracker's own table until then, only those Zeek's
    /// timers or reuse rule already closed. Zeek's state machine for the current one lives
    /// beside the table and is freed at the end: 352 bytes a connection a report never reads.
    #[serde(skip)]
    pub zeek: Vec<ZeekVerdict>,
    /// Retransmissions at the end of the connection, all from one side, with nothing from the
    /// other side since the first of them.
    pub trailing_retransmissions: u32,
    #[serde(skip)]
    last_dir: Dir,
    /// The sender of the current Zeek connection's first packet.
    #[serde(skip)]
    zeek_first_dir: Dir,
}

/// Zeek's `conn_state` and `history` for one connection as Zeek would log it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZeekVerdict {
    pub conn_state: &'static str,
    pub history: String,
}

impl ZeekVerdict {
    fn of(t: &ZeekTracker) -> Self {
        Self {
            conn_state: t.conn_state(),
            history: t.history(),
        }
    }
}

/// Pushes onto one of a connection's short lists: the first element reserves room for one
/// (`Vec` would reserve four), then the list doubles. Nearly every connection has at most one
/// RST, idle gap and Zeek verdict; at a million connections the spare room was 0.2 GB
/// (heaptrack).
fn push_lean<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(1));
    }
    v.push(x);
}

/// A new Zeek tracker for a Zeek connection whose first packet is `seg`.
fn zeek_tracker_for(seg: &TcpSegment) -> ZeekTracker {
    ZeekSlot::machine(ZeekSlot::flipped_for(seg))
}

/// Zeek's state machines, in one table whose entries are reused once Zeek's timers close a
/// connection ([`FlowTracker::sweep_zeek`]): no allocation per connection, and at a million
/// short connections mostly those active lately hold one (an established connection keeps its
/// machine through Zeek's 5 minutes of inactivity).
#[derive(Default)]
struct Machines {
    all: Vec<ZeekTracker>,
    free: Vec<u32>,
}

impl Machines {
    fn add(&mut self, t: ZeekTracker) -> u32 {
        if let Some(i) = self.free.pop() {
            self.all[i as usize] = t;
            return i;
        }
        self.all.push(t);
        u32::try_from(self.all.len() - 1).unwrap_or(u32::MAX)
    }

    fn release(&mut self, i: u32) {
        self.free.push(i);
    }
}

/// Zeek's state machine for a connection's current Zeek connection, built when a second packet
/// comes. A connection of one packet (a SYN nobody answers: a scan, a flood) keeps that packet
/// instead, 32 bytes where the machine takes 352, and replays it into a machine when another
/// packet comes or its verdict is asked for: a million-SYN flood took 996 MiB, now 729 MiB.
#[derive(Clone, Debug)]
enum ZeekSlot {
    /// No packet yet; whether the machine starts with Zeek's port flip.
    Fresh { flipped: bool },
    /// One packet, not fed to a machine yet.
    First {
        flipped: bool,
        seg: ZeekSegment,
        payload_captured: bool,
        now_us: u64,
    },
    /// Fed every packet: its machine in [`Machines`].
    Live(u32),
    /// Zeek's timers closed it (see [`FlowTracker::sweep_zeek`]): its verdict is in the
    /// connection's list, and a packet that comes now starts a new Zeek connection.
    Closed,
}

impl ZeekSlot {
    /// For a connection whose first packet is `seg`; Zeek's `likely_server_ports` is
    /// approximated by the ports below 1024.
    fn for_first(seg: &TcpSegment) -> Self {
        Self::Fresh {
            flipped: Self::flipped_for(seg),
        }
    }

    /// Whether Zeek flips the roles of a connection whose first packet is `seg`.
    fn flipped_for(seg: &TcpSegment) -> bool {
        zeek::zeek_port_flip(seg.flags, seg.src_port, seg.dst_port, |p| p < 1024)
    }

    fn machine(flipped: bool) -> ZeekTracker {
        if flipped {
            ZeekTracker::new_port_flipped()
        } else {
            ZeekTracker::new()
        }
    }

    /// The machine with everything seen so far fed to it.
    fn built(&self, machines: &Machines) -> ZeekTracker {
        match self {
            Self::Fresh { flipped } => Self::machine(*flipped),
            Self::First {
                flipped,
                seg,
                payload_captured,
                now_us,
            } => {
                let mut t = Self::machine(*flipped);
                t.observe_at(seg, *payload_captured, *now_us);
                t
            }
            Self::Live(i) => machines.all[*i as usize].clone(),
            // Never asked for: a closed slot has no verdict, and a packet reopens it as Fresh.
            Self::Closed => ZeekTracker::new(),
        }
    }

    /// The current Zeek connection's verdict; `None` when Zeek closed it (its verdict is
    /// already in the connection's list).
    fn verdict(&self, machines: &Machines) -> Option<ZeekVerdict> {
        match self {
            Self::Live(i) => Some(ZeekVerdict::of(&machines.all[*i as usize])),
            Self::Closed => None,
            other => Some(ZeekVerdict::of(&other.built(machines))),
        }
    }

    /// Feeds one packet (of the connection `conn`, from `dir`), closing the current Zeek
    /// connection first when Zeek's timers or reuse rule would.
    fn observe(
        &mut self,
        machines: &mut Machines,
        conn: &mut Connection,
        dir: Dir,
        seg: &TcpSegment,
        now_us: u64,
    ) {
        let mut zseg = ZeekSegment {
            from_first_sender: dir == conn.zeek_first_dir,
            flags: seg.flags,
            seq: seg.seq,
            ack: seg.ack,
            payload_len: seg.payload_len,
            window: seg.window,
        };
        if matches!(self, Self::Closed) {
            *self = Self::for_first(seg);
            conn.zeek_first_dir = dir;
            zseg.from_first_sender = true;
        }
        if let Self::Fresh { flipped } = *self {
            // A machine that has seen nothing neither expires nor sees its 4-tuple reused.
            *self = Self::First {
                flipped,
                seg: zseg,
                payload_captured: seg.payload_captured,
                now_us,
            };
            return;
        }
        if !matches!(self, Self::Live(_)) {
            *self = Self::Live(machines.add(self.built(machines)));
        }
        let Self::Live(i) = *self else { return };
        let t = &mut machines.all[i as usize];
        if t.expired_at(now_us) || t.is_reuse(&zseg) {
            let done = std::mem::replace(t, zeek_tracker_for(seg));
            push_lean(&mut conn.zeek, ZeekVerdict::of(&done));
            conn.zeek_first_dir = dir;
            zseg.from_first_sender = true;
        }
        t.observe_at(&zseg, seg.payload_captured, now_us);
    }
}

impl Connection {
    pub fn dir(&self, d: Dir) -> &Direction {
        &self.dirs[d.index()]
    }

    /// From the earliest packet to the latest (never negative: times that step back do not
    /// shorten it).
    pub fn duration_ns(&self) -> i64 {
        self.last_ts_ns.saturating_sub(self.first_ts_ns).max(0)
    }

    pub fn termination(&self) -> Termination {
        let client = self.dir(Dir::Client);
        let server = self.dir(Dir::Server);
        if let Some(first) = self.resets.first() {
            let answered_syn = first.from == Dir::Server
                && client.syn_seen
                && self.handshake.synack_frame.is_none()
                && server.payload_bytes == 0;
            return if answered_syn {
                Termination::Refused
            } else {
                Termination::Reset
            };
        }
        if (client.syn_seen && server.packets == 0) || self.trailing_retransmissions >= 2 {
            return Termination::Unanswered;
        }
        match (client.fin_frame.is_some(), server.fin_frame.is_some()) {
            (true, true) => Termination::Fin,
            (true, false) | (false, true) => Termination::HalfClosed,
            (false, false) => Termination::Open,
        }
    }

    /// Zeek's verdicts: one per connection Zeek would log for these packets. Zeek's timers and
    /// reuse rule can cut what Wireshark calls one conversation into several (for example RSTs
    /// minutes apart); the last entry is the current one.
    pub fn zeek_connections(&self) -> &[ZeekVerdict] {
        &self.zeek
    }

    /// Zeek's verdict on the current (last) Zeek connection.
    pub fn zeek_current(&self) -> &ZeekVerdict {
        static NONE: ZeekVerdict = ZeekVerdict {
            conn_state: "",
            history: String::new(),
        };
        self.zeek.last().unwrap_or(&NONE)
    }

    /// The Zeek connections before the current one (Zeek's timers split what Wireshark calls
    /// one conversation); usually none.
    pub fn zeek_earlier(&self) -> &[ZeekVerdict] {
        &self.zeek[..self.zeek.len().saturating_sub(1)]
    }

    fn dir_of(&self, src: SocketAddr) -> Dir {
        if src == self.client {
            Dir::Client
        } else {
            Dir::Server
        }
    }
}

/// The hash of a segment's unordered 4-tuple, the same both ways. It is computed where the
/// segment is decoded ([`FlowKey::of`]), so that the connection-tracking thread, the pipeline's
/// busiest, neither hashes nor carries whole addresses through its batches; equal hashes are
/// confirmed against the connection's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey(u64);

impl FlowKey {
    pub fn of(seg: &TcpSegment) -> Self {
        use std::hash::{Hash, Hasher};
        let a = (seg.src, seg.src_port);
        let b = (seg.dst, seg.dst_port);
        let mut h = rustc_hash::FxHasher::default();
        if a <= b {
            (a, b).hash(&mut h);
        } else {
            (b, a).hash(&mut h);
        }
        Self(h.finish())
    }
}

/// The connections whose 4-tuples share a hash: almost always one.
#[derive(Clone, Debug)]
enum Slot {
    One(u32),
    Many(Vec<u32>),
}

/// Passes a [`FlowKey`]'s precomputed hash through.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by FlowKey; fold anything else in for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Connection-tracking settings.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// Silences at least this long inside a connection are reported as idle gaps.
    pub idle_gap_ns: i64,
    /// Keep a [`PacketRecord`] per packet (the desktop app needs them; a summary does not).
    pub keep_packets: bool,
    /// Bounds the records kept per connection: the first `head` and at least the last
    /// `tail`, the middle dropped in steps of `tail` (see [`RecordLimit`]). `None` keeps all.
    pub record_limit: Option<RecordLimit>,
    /// A connection closed by FINs both ways with no RST keeps only its first
    /// [`CLOSED_HEAD`] and last [`CLOSED_TAIL`] records: nothing is diagnosed from the rest,
    /// and a capture of long graceful transfers then costs memory by connections, not by
    /// packets. Directions whose TTL changed keep everything (the hosts' TTL habits read them).
    pub release_closed: bool,
}

/// Records a gracefully closed connection keeps (see [`FlowConfig::release_closed`]): the
/// handshake, and what a late RST would be judged against (the FINs and what followed).
pub const CLOSED_HEAD: usize = 4;
pub const CLOSED_TAIL: usize = 16;

/// What a report needs: records bounded per connection ([`RecordLimit::REPORT`]) and released
/// when a connection closes gracefully. The desktop app, which draws every packet of a
/// connection, asks for [`FlowConfig::every_record`].
impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            idle_gap_ns: 1_000_000_000,
            keep_packets: true,
            record_limit: Some(RecordLimit::REPORT),
            release_closed: true,
        }
    }
}

impl FlowConfig {
    /// Every packet's record, for drawing a connection packet by packet (a live capture is
    /// still bounded by [`RecordLimit::LIVE`]).
    pub fn every_record() -> Self {
        Self {
            record_limit: None,
            release_closed: false,
            ..Self::default()
        }
    }
}

/// How many packet records a connection keeps when they are bounded (a live capture, which
/// may run for hours): its start (the handshake and first exchanges) and its most recent
/// packets (what a RST's diagnosis reads). Memory then grows with connections, not with time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLimit {
    pub head: usize,
    pub tail: usize,
}

impl RecordLimit {
    /// A report's bound: the first 64 records and the latest 512 to 1,024 (at most 35 KB a
    /// connection). The rules read the handshake and what led up to the RST; the tests on the
    /// sample and corpus captures run with this bound.
    pub const REPORT: Self = Self {
        head: 64,
        tail: 512,
    };

    /// A live capture's bound: 2,048 + up to 2 × 65,536 records, at most 4.3 MB a connection.
    pub const LIVE: Self = Self {
        head: 2048,
        tail: 65_536,
    };

    /// Drops the oldest `tail` records after the head once there are `head + 2 × tail`:
    /// amortised, each record is moved at most once. Returns how many were dropped.
    pub fn compact(self, records: &mut Vec<PacketRecord>) -> usize {
        if records.len() < self.head + 2 * self.tail.max(1) {
            return 0;
        }
        let n = self.tail.max(1);
        records.drain(self.head..self.head + n);
        n
    }
}

/// The connection table.
pub struct FlowTracker {
    config: FlowConfig,
    /// Keyed by precomputed `FxHash` hashes: the lookup is on the per-packet path, and
    /// `SipHash`'s flooding resistance buys nothing for a file the user chose to open.
    index: HashMap<FlowKey, Slot, BuildHasherDefault<KeyHasher>>,
    conns: Vec<Connection>,
    /// Per connection id: Zeek's state machine for its current Zeek connection.
    zeek: Vec<ZeekSlot>,
    machines: Machines,
    packets: Vec<Vec<PacketRecord>>,
    changed: Vec<u32>,
    changed_flag: Vec<bool>,
    /// Per connection: records ever appended (more than are held when bounded).
    appended: Vec<u64>,
    tcp_packets: u64,
    /// Where [`Self::sweep_zeek`] goes on.
    sweep_at: usize,
}

/// [`FlowTracker::sweep_zeek`] looks at this many connections every this many packets, so
/// each again after eight times as many packets as there are connections. Measured at a
/// million short connections (6.7 M packets): machines held at the end 1.34 GB of peak RSS to
/// 1.26 GB for 4% more time; sixteen times as often freed no more and cost 17%.
const SWEEP_SLOTS: usize = 16;
const SWEEP_EVERY: u64 = 128;

/// Zeek's shortest connection timer (`tcp_attempt_delay`, `tcp_close_delay`, 5 s).
const ZEEK_SHORTEST_TIMER_US: u64 = 5_000_000;

impl FlowTracker {
    pub fn new(config: FlowConfig) -> Self {
        Self {
            config,
            index: HashMap::default(),
            conns: Vec::new(),
            zeek: Vec::new(),
            machines: Machines::default(),
            packets: Vec::new(),
            changed: Vec::new(),
            changed_flag: Vec::new(),
            appended: Vec::new(),
            tcp_packets: 0,
            sweep_at: 0,
        }
    }

    /// Records ever appended to a connection: with a [`RecordLimit`], more than it holds.
    pub fn appended(&self, id: u32) -> u64 {
        self.appended.get(id as usize).copied().unwrap_or(0)
    }

    pub fn connections(&self) -> &[Connection] {
        &self.conns
    }

    /// Packet records of a connection (empty when retention is off).
    pub fn packets(&self, id: u32) -> &[PacketRecord] {
        self.packets.get(id as usize).map_or(&[], Vec::as_slice)
    }

    pub fn tcp_packets(&self) -> u64 {
        self.tcp_packets
    }

    /// Bytes held in packet records, counting allocated capacity.
    pub fn retained_packet_bytes(&self) -> usize {
        self.packets
            .iter()
            .map(|p| p.capacity() * size_of::<PacketRecord>())
            .sum()
    }

    /// Ids of connections created or changed since the last call, in id order.
    pub fn take_changed(&mut self) -> Vec<u32> {
        let mut ids = std::mem::take(&mut self.changed);
        for &id in &ids {
            self.changed_flag[id as usize] = false;
        }
        ids.sort_unstable();
        ids
    }

    /// Closes the Zeek connections whose timers have expired by `now_us` (a few at a time, in
    /// turn), as Zeek would: the verdict goes into the connection's list and the machine (352
    /// bytes) is freed. While capture time runs forward, the next packet of the connection, if
    /// any, would have found it expired and started a new Zeek connection: it still does. When
    /// the capture's clock steps back (files merged out of order), a later packet stamped
    /// before `now_us` finds its Zeek connection closed, where the check at each packet alone
    /// would have carried it on; Zeek, whose timers run on the latest time it has seen, closes
    /// it too. At a million short connections the machines' table then holds those of
    /// connections active lately (see [`SWEEP_SLOTS`]).
    fn sweep_zeek(&mut self, now_us: u64) {
        let n = self.zeek.len();
        for _ in 0..SWEEP_SLOTS.min(n) {
            if self.sweep_at >= n {
                self.sweep_at = 0;
            }
            let i = self.sweep_at;
            self.sweep_at += 1;
            // A connection with a packet in the last 5 s (Zeek's shortest timer) keeps its
            // machine without a look at it (a fetch from anywhere in memory): a timer that is
            // due even so is found at its next packet, or at a later round.
            let idle_us =
                now_us.saturating_sub(u64::try_from(self.conns[i].prev_ts_ns / 1000).unwrap_or(0));
            if idle_us < ZEEK_SHORTEST_TIMER_US {
                continue;
            }
            if let ZeekSlot::Live(m) = self.zeek[i]
                && self.machines.all[m as usize].expired_at(now_us)
            {
                let verdict = ZeekVerdict::of(&self.machines.all[m as usize]);
                push_lean(&mut self.conns[i].zeek, verdict);
                self.machines.release(m);
                self.zeek[i] = ZeekSlot::Closed;
            }
        }
    }

    /// A copy of a connection as it stands, with Zeek's verdict so far.
    pub fn snapshot(&self, id: u32) -> Option<Connection> {
        let mut c = self.conns.get(id as usize)?.clone();
        if let Some(v) = self
            .zeek
            .get(id as usize)
            .and_then(|z| z.verdict(&self.machines))
        {
            push_lean(&mut c.zeek, v);
        }
        Some(c)
    }

    /// Consumes the tracker, returning connections (with Zeek's verdicts) and their packet
    /// records; Zeek's state machines are freed.
    pub fn finish(mut self) -> (Vec<Connection>, Vec<Vec<PacketRecord>>) {
        for (c, z) in self.conns.iter_mut().zip(&self.zeek) {
            if let Some(v) = z.verdict(&self.machines) {
                push_lean(&mut c.zeek, v);
            }
        }
        (self.conns, self.packets)
    }

    /// Adds one segment; returns the id of its connection.
    pub fn observe(&mut self, frame: u64, ts_ns: i64, seg: &TcpSegment) -> u32 {
        self.observe_keyed(frame, ts_ns, seg, FlowKey::of(seg))
    }

    /// [`Self::observe`] with the segment's key computed beforehand (on another thread).
    pub fn observe_keyed(&mut self, frame: u64, ts_ns: i64, seg: &TcpSegment, key: FlowKey) -> u32 {
        self.tcp_packets += 1;
        let now_us = u64::try_from(ts_ns / 1000).unwrap_or(0);
        if self.tcp_packets.is_multiple_of(SWEEP_EVERY) {
            self.sweep_zeek(now_us);
        }
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let current = self.index.get(&key).and_then(|slot| {
            let same = |id: &u32| {
                let c = &self.conns[*id as usize];
                (c.client == src && c.server == dst) || (c.client == dst && c.server == src)
            };
            match slot {
                Slot::One(id) => Some(*id).filter(same),
                // The newest connection of this 4-tuple among those sharing the hash.
                Slot::Many(ids) => ids.iter().rev().copied().find(same),
            }
        });
        let id = match current {
            Some(id) if !self.starts_new_connection(id, src, seg) => id,
            _ => {
                let id = self.new_connection(frame, ts_ns, src, dst, seg);
                self.remember(key, current, id);
                id
            }
        };
        if !self.changed_flag[id as usize] {
            self.changed_flag[id as usize] = true;
            self.changed.push(id);
        }
        let idle_gap_ns = self.config.idle_gap_ns;
        let conn = &mut self.conns[id as usize];
        let dir = conn.dir_of(src);
        self.zeek[id as usize].observe(&mut self.machines, conn, dir, seg, now_us);
        let record = update(conn, frame, ts_ns, seg, src, idle_gap_ns);
        if self.config.keep_packets {
            let records = &mut self.packets[id as usize];
            records.push(record);
            self.appended[id as usize] += 1;
            if let Some(limit) = self.config.record_limit {
                limit.compact(records);
            }
            if self.config.release_closed && records.len() > CLOSED_HEAD + CLOSED_TAIL {
                let c = &self.conns[id as usize];
                let closed = c.resets.is_empty()
                    && c.dirs
                        .iter()
                        .all(|d| d.fin_frame.is_some() && d.ttl.min == d.ttl.max);
                if closed {
                    records.drain(CLOSED_HEAD..records.len() - CLOSED_TAIL);
                    if records.capacity() > 4 * (CLOSED_HEAD + CLOSED_TAIL) {
                        records.shrink_to(2 * (CLOSED_HEAD + CLOSED_TAIL));
                    }
                }
            }
        }
        id
    }

    /// Makes `id` the connection its 4-tuple finds, replacing `previous` (an earlier connection
    /// of the same 4-tuple) and keeping other 4-tuples that share the hash.
    fn remember(&mut self, key: FlowKey, previous: Option<u32>, id: u32) {
        match self.index.get_mut(&key) {
            None => {
                self.index.insert(key, Slot::One(id));
            }
            Some(slot @ Slot::One(_)) => {
                let Slot::One(old) = *slot else { return };
                *slot = if previous == Some(old) {
                    Slot::One(id)
                } else {
                    Slot::Many(vec![old, id])
                };
            }
            Some(Slot::Many(ids)) => {
                ids.retain(|x| Some(*x) != previous);
                ids.push(id);
            }
        }
    }

    /// A SYN without ACK whose sequence number is not the ISN its sender already uses begins a
    /// new connection (Wireshark's port-reuse rule, `tcp.analysis.reused_ports`). A
    /// retransmitted SYN (same ISN) does not.
    fn starts_new_connection(&self, id: u32, src: SocketAddr, seg: &TcpSegment) -> bool {
        if seg.flags & (flags::SYN | flags::ACK | flags::RST) != flags::SYN {
            return false;
        }
        let conn = &self.conns[id as usize];
        let sender = conn.dir(conn.dir_of(src));
        // The ISN this endpoint is known or believed to use: its own SYN's; else the one the
        // peer's SYN-ACK acknowledged; else the first sequence number it sent.
        let expected = if sender.syn_seen {
            sender.isn
        } else {
            sender.acked_isn.or(sender.isn)
        };
        expected.is_some_and(|isn| isn != seg.seq)
    }

    fn new_connection(
        &mut self,
        frame: u64,
        ts_ns: i64,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment,
    ) -> u32 {
        let syn = seg.flags & flags::SYN != 0;
        let ack = seg.flags & flags::ACK != 0;
        let (client, server, role_basis) = if syn && !ack {
            (src, dst, RoleBasis::Syn)
        } else if syn && ack {
            (dst, src, RoleBasis::SynAck)
        } else {
            guess_roles(src, dst)
        };
        let id = u32::try_from(self.conns.len()).unwrap_or(u32::MAX);
        self.conns.push(Connection {
            id,
            client,
            server,
            role_basis,
            first_frame: frame,
            last_frame: frame,
            first_ts_ns: ts_ns,
            last_ts_ns: ts_ns,
            prev_ts_ns: ts_ns,
            dirs: [Direction::default(), Direction::default()],
            handshake: Handshake::default(),
            idle_gaps: Vec::new(),
            resets: Vec::new(),
            trailing_retransmissions: 0,
            last_dir: if src == client {
                Dir::Client
            } else {
                Dir::Server
            },
            zeek: Vec::new(),
            zeek_first_dir: if src == client {
                Dir::Client
            } else {
                Dir::Server
            },
        });
        // Room for one record: a SYN nobody answers (a scan, a flood) stays at one, where
        // `Vec`'s first growth would reserve four (96 bytes more a connection).
        self.packets.push(if self.config.keep_packets {
            Vec::with_capacity(1)
        } else {
            Vec::new()
        });
        self.zeek.push(ZeekSlot::for_first(seg));
        self.appended.push(0);
        self.changed_flag.push(false);
        id
    }
}

/// Mid-stream role guess; see [`RoleBasis::PortGuess`] and [`RoleBasis::FirstPacket`].
fn guess_roles(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr, RoleBasis) {
    let (sp, dp) = (src.port(), dst.port());
    let looks_server =
        |p: u16, other: u16| (p < 1024 && other >= 1024) || (p < 32768 && other >= 32768);
    if looks_server(sp, dp) {
        (dst, src, RoleBasis::PortGuess)
    } else if looks_server(dp, sp) {
        (src, dst, RoleBasis::PortGuess)
    } else {
        (src, dst, RoleBasis::FirstPacket)
    }
}

/// Applies one segment to its connection and returns its compact record.
fn update(
    conn: &mut Connection,
    frame: u64,
    ts_ns: i64,
    seg: &TcpSegment,
    src: SocketAddr,
    idle_gap_ns: i64,
) -> PacketRecord {
    let dir = conn.dir_of(src);
    let f = seg.flags;
    let (rst, ack) = (f & flags::RST != 0, f & flags::ACK != 0);

    if conn.dirs.iter().any(|d| d.packets > 0) {
        // Silence since the packet before this one in the capture, as the gap's frames say.
        let gap = ts_ns.saturating_sub(conn.prev_ts_ns);
        if gap >= idle_gap_ns {
            push_lean(
                &mut conn.idle_gaps,
                IdleGap {
                    after_frame: conn.last_frame,
                    before_frame: frame,
                    ns: gap,
                },
            );
        }
    }
    conn.last_frame = frame;
    conn.prev_ts_ns = ts_ns;
    // The span runs from the earliest time seen to the latest, whatever the order: a packet
    // stamped earlier than the one before it (a clock stepped back) makes no negative span.
    conn.last_ts_ns = conn.last_ts_ns.max(ts_ns);
    conn.first_ts_ns = conn.first_ts_ns.min(ts_ns);

    // The receiver's view, needed to judge a RST before this segment changes anything.
    let rst_view = rst.then(|| judge_rst(conn, dir, seg));

    note_handshake(conn, dir, frame, ts_ns, seg);

    let flags_out = count(&mut conn.dirs[dir.index()], frame, seg);
    if flags_out & analysis::RETRANSMISSION != 0 {
        let same_side = conn.last_dir == dir && conn.trailing_retransmissions > 0;
        conn.trailing_retransmissions = if same_side {
            conn.trailing_retransmissions + 1
        } else {
            1
        };
    } else if conn.last_dir != dir || seg.payload_len > 0 {
        conn.trailing_retransmissions = 0;
    }
    conn.last_dir = dir;

    if let Some((in_window, exact)) = rst_view {
        let isn = conn.dir(dir).isn;
        let peer_isn = conn.dir(dir.reverse()).isn;
        push_lean(
            &mut conn.resets,
            Reset {
                frame,
                ts_ns,
                from: dir,
                flags: f,
                seq: seg.seq,
                ack: seg.ack,
                seq_rel: isn.map(|i| seg.seq.wrapping_sub(i)),
                ack_rel: if ack {
                    peer_isn.map(|i| seg.ack.wrapping_sub(i))
                } else {
                    None
                },
                in_window,
                exact,
                ttl: seg.ttl,
                ip_id: seg.ip_id,
                payload_len: seg.payload_len,
                text: seg
                    .rst_payload
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
            },
        );
    }

    PacketRecord {
        ts_ns,
        frame: u32::try_from(frame).unwrap_or(u32::MAX),
        seq: seg.seq,
        ack: seg.ack,
        payload_len: seg.payload_len,
        window: seg.window,
        ip_id: seg.ip_id.unwrap_or(0),
        flags: f,
        ttl: seg.ttl,
        dir,
        analysis: flags_out,
    }
}

/// Records the handshake's frames and the initial RTT.
fn note_handshake(conn: &mut Connection, dir: Dir, frame: u64, ts_ns: i64, seg: &TcpSegment) {
    let f = seg.flags;
    let (syn, rst, ack) = (
        f & flags::SYN != 0,
        f & flags::RST != 0,
        f & flags::ACK != 0,
    );
    if syn && !ack && dir == Dir::Client && conn.handshake.syn_frame.is_none() {
        conn.handshake.syn_frame = Some(frame);
        conn.handshake.syn_ts = ts_ns;
    }
    if syn && ack && dir == Dir::Server && conn.handshake.synack_frame.is_none() {
        conn.handshake.synack_frame = Some(frame);
    }
    if syn && ack {
        let peer = &mut conn.dirs[dir.reverse().index()];
        if !peer.syn_seen {
            peer.acked_isn = Some(seg.ack.wrapping_sub(1));
        }
    }
    if !syn && !rst && ack && dir == Dir::Client && conn.handshake.ack_frame.is_none() {
        let server_isn = conn.dir(Dir::Server).isn;
        if conn.handshake.synack_frame.is_some()
            && server_isn.map(|i| i.wrapping_add(1)) == Some(seg.ack)
        {
            conn.handshake.ack_frame = Some(frame);
            if conn.handshake.syn_frame.is_some() {
                conn.handshake.rtt_ns = Some(ts_ns.saturating_sub(conn.handshake.syn_ts).max(0));
            }
        }
    }
}

/// Updates one direction's counters and fingerprints, and returns the packet's analysis bits.
fn count(d: &mut Direction, frame: u64, seg: &TcpSegment) -> u8 {
    let f = seg.flags;
    let (syn, fin, rst, ack) = (
        f & flags::SYN != 0,
        f & flags::FIN != 0,
        f & flags::RST != 0,
        f & flags::ACK != 0,
    );
    d.packets += 1;
    d.payload_bytes += u64::from(seg.payload_len);
    if d.packets == 1 {
        d.ttl = TtlStats {
            min: seg.ttl,
            max: seg.ttl,
            last: seg.ttl,
            changes: 0,
        };
    } else {
        d.ttl.min = d.ttl.min.min(seg.ttl);
        d.ttl.max = d.ttl.max.max(seg.ttl);
        if d.ttl.last != seg.ttl {
            d.ttl.changes += 1;
        }
        d.ttl.last = seg.ttl;
    }
    if let Some(id) = seg.ip_id {
        match (id, d.ip_id.last) {
            (0, _) => d.ip_id.zero += 1,
            (id, Some(prev)) if id.wrapping_sub(prev).wrapping_sub(1) < 16 => {
                d.ip_id.sequential += 1;
            }
            _ => d.ip_id.other += 1,
        }
        d.ip_id.last = Some(id);
    }
    if syn {
        d.syn_seen = true;
        d.window_scale = seg.options.window_scale;
        d.mss = seg.options.mss;
        if d.isn.is_none() || !ack {
            d.isn = Some(seg.seq);
        }
    }
    if seg.options.timestamp.is_some() {
        d.timestamps = true;
    }
    if d.isn.is_none() {
        d.isn = Some(seg.seq);
    }

    // Wireshark's sequence analysis: keep-alive, retransmission, zero window.
    let mut flags_out = if seg.ip_id.is_none() {
        analysis::NO_IP_ID
    } else {
        0
    };
    let seglen = seg.payload_len + u32::from(syn) + u32::from(fin);
    let seq = Seq(seg.seq);
    let keepalive = !syn
        && !fin
        && !rst
        && seg.payload_len <= 1
        && d.next_seq.is_some_and(|n| seq == n.plus(u32::MAX));
    if keepalive {
        d.keepalives += 1;
        flags_out |= analysis::KEEPALIVE;
    } else if seglen > 0 && d.next_seq.is_some_and(|n| seq < n) {
        d.retransmissions += 1;
        flags_out |= analysis::RETRANSMISSION;
    }
    if seg.window == 0 && !syn && !fin && !rst {
        d.zero_windows += 1;
        flags_out |= analysis::ZERO_WINDOW;
    }
    if !rst {
        let end = seq.plus(seglen);
        if d.next_seq.is_none_or(|n| end > n) {
            d.next_seq = Some(end);
        }
        if ack {
            d.last_ack = Some(seg.ack);
            d.last_window = seg.window;
        }
    }
    if fin && d.fin_frame.is_none() {
        d.fin_frame = Some(frame);
    }

    flags_out
}

/// Would the receiver accept this RST? Returns (`in_window`, `exact`).
fn judge_rst(conn: &Connection, from: Dir, seg: &TcpSegment) -> (Option<bool>, Option<bool>) {
    let sender = conn.dir(from);
    let receiver = conn.dir(from.reverse());
    // Receiver in SYN-SENT (it sent a SYN, the RST's sender never answered with a SYN):
    // RFC 9293 3.10.7.3 accepts the RST iff its ACK acknowledges the SYN.
    if receiver.syn_seen && !sender.syn_seen {
        let ok =
            seg.flags & flags::ACK != 0 && receiver.isn.map(|i| i.wrapping_add(1)) == Some(seg.ack);
        return (Some(ok), Some(ok));
    }
    // A receiver that has sent nothing has shown no window to judge by.
    if receiver.packets == 0 {
        return (None, None);
    }
    // Otherwise RCV.NXT is what the receiver last acknowledged; failing that, what the
    // sender has sent so far.
    let rcv_nxt = receiver.last_ack.map(Seq).or(sender.next_seq);
    let Some(rcv_nxt) = rcv_nxt else {
        return (None, None);
    };
    let scale = match (receiver.window_scale, sender.window_scale) {
        (Some(r), Some(_)) => u32::from(r.min(14)),
        _ => 0,
    };
    let window = if receiver.last_ack.is_some() {
        (u32::from(receiver.last_window) << scale).max(1)
    } else {
        1
    };
    let seq = Seq(seg.seq);
    (Some(seq.in_range(rcv_nxt, window)), Some(seq == rcv_nxt))
}

#[cfg(test)]
mod tests;
