//! Two-point captures: the same traffic captured at both ends (`rstscope analyze client.pcap
//! server.pcap`). Each connection of one capture is matched with the same connection in the
//! other, and every RST is checked against the other capture: a RST that one end received and
//! the other end never sent came from the path (a middlebox forged it); a RST that one end sent
//! and the other never received was dropped on the path.
//!
//! # Matching connections ([`pair`])
//!
//! - **Four-tuple**: both captures show the same two endpoints. Several connections may share a
//!   4-tuple (port reuse); a candidate whose initial sequence numbers (ISNs), taken from SYNs in
//!   both captures, differ in some direction and agree in none is another connection and is
//!   refused. One agreeing ISN is enough (a device that randomises sequence numbers changes only
//!   one direction's).
//! - **ISN** (NAT, where the addresses differ): connections whose ISNs, taken from SYNs, agree:
//!   both, or the only one seen (a SYN never answered, or answered by a RST). No ISN known from a
//!   SYN may disagree. With a single ISN (32 bits, which can collide among many connections) the
//!   two connections must also overlap in time, on clocks taken to be within
//!   [`MAX_CLOCK_SKEW_NS`] of each other, unless at least [`STRONG_PACKET_MATCHES`] packets
//!   match. Connections seen only mid-stream (no SYN) are matched by 4-tuple only.
//!
//! Each connection is paired at most once: the candidates with the most agreeing ISNs, then the
//! most matching packets, then four-tuple before ISN, then the closest start times win.
//!
//! Packets are matched across captures by direction, sequence number, acknowledgment number,
//! flags and payload length (NAT rewrites addresses and ports, not these). Only packets whose
//! key occurs once in each capture are used, so that retransmissions cannot pair the wrong
//! copies. The clock offset (b's clock minus a's) is the mean of the median time differences of
//! the two directions: one direction's difference is the offset plus the one-way delay, the
//! other's the offset minus it, so a symmetric path delay cancels (as in NTP). With packets
//! matched one way only, that direction's median is used (off by the one-way delay); with none,
//! the difference of the connections' first timestamps.
//!
//! # Which capture is at which end ([`placement`])
//!
//! Every router decrements the TTL (IPv6: hop limit), so the same packet shows a higher TTL the
//! closer it is captured to its sender, and packets captured on the sending host itself show the
//! sender's initial TTL (64 for Linux and macOS, 128 for Windows, 255 for some network gear).
//! Hence, per direction, the capture where that direction's packets (RSTs left out: a forged RST
//! carries the forger's TTL) have the higher usual TTL is the nearer to that direction's sender.
//! The client-to-server direction names the capture nearer the client, the server-to-client
//! direction the capture nearer the server; when both directions agree or only one differs,
//! that decides ([`PlacementBasis::Ttl`]). When the TTLs do not decide (same values: both
//! captures on one segment, or a path without routers), a capture whose client-to-server packets
//! show an initial TTL (64, 128, 255) while its server-to-client ones do not is at the client, and
//! vice versa ([`PlacementBasis::InitialTtl`]). Failing that, timing decides: a packet reaches
//! the capture nearer its receiver later, so the capture nearer the client sees client packets
//! before the other capture does and server packets after it ([`PlacementBasis::Timing`]).
//! Failing everything, capture a is taken to be at the client, as in `analyze client.pcap
//! server.pcap` ([`PlacementBasis::Assumed`]).
//!
//! # Witnessing RSTs ([`witness_resets`])
//!
//! A RST is matched across captures by its claimed direction, sequence number, acknowledgment
//! number and flags, one to one, nearest to the expected time within [`MATCH_WINDOW_NS`]: the
//! other capture's clock (with the clock offset applied), earlier by the one-way delay when the
//! other capture is at the sender's end, later when at the receiver's. When the other capture is
//! at the claimed sender's end, a match means the sender did send it, no match that the path
//! forged it; when it is at the receiver's end, a match means it arrived, no match that it was
//! lost on the path. "No match" is claimed only when the other capture was running at the
//! expected moment (between its first and last frame); otherwise the verdict is
//! [`Witness::NotCovered`]. RSTs of connections without a pair get no witness.

use std::net::SocketAddr;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::CaptureView;
use crate::decode::flags;
use crate::flow::{Connection, Dir, PacketRecord, Reset};

/// RSTs are matched within this distance of their expected time in the other capture.
pub const MATCH_WINDOW_NS: i64 = 2_000_000_000;
/// Connections matched by a single ISN must overlap in time, on clocks assumed at most this far
/// apart.
pub const MAX_CLOCK_SKEW_NS: i64 = 600_000_000_000;
/// Matching packets that make a single-ISN match certain without looking at the clocks.
pub const STRONG_PACKET_MATCHES: usize = 3;

/// How two connections were found to be the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchBasis {
    /// The same client and server addresses and ports.
    FourTuple,
    /// Addresses differ (NAT): matched by both ISNs (or the one ISN seen) and overlapping time.
    Isn,
}

/// The same connection in capture a and capture b.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Pair {
    /// Connection id in capture a.
    pub a: u32,
    /// Connection id in capture b.
    pub b: u32,
    pub basis: MatchBasis,
    /// b's clock minus a's, estimated from matched packets.
    pub clock_offset_ns: i64,
}

/// One of the two captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

/// A RST seen in one capture of a pair, with what the other capture says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RstWitness {
    /// The capture the RST was seen in.
    pub capture: Side,
    /// Its connection id in that capture.
    pub conn: u32,
    /// Its frame in that capture.
    pub frame: u64,
    /// The direction it claims, in that capture's client/server roles.
    pub claimed_from: Dir,
    pub verdict: Witness,
    /// The same RST's frame in the other capture, when it is there.
    pub other_frame: Option<u64>,
}

/// What the other capture of a pair says about a RST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Witness {
    /// The other capture is at the claimed sender's end and shows it sending this RST.
    SentBySender,
    /// The other capture is at the claimed sender's end and shows no such RST: it came from the
    /// path.
    NeverSent,
    /// The other capture is at the receiver's end and shows it arriving.
    Arrived,
    /// The other capture is at the receiver's end and shows it never arrived (dropped on the
    /// path).
    NeverArrived,
    /// The other capture does not cover that moment (it started later or ended earlier).
    NotCovered,
}

/// Which end of a paired connection each capture is nearer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The end capture a is nearer to, in capture a's client/server roles; capture b is nearer
    /// the other end.
    pub a_end: Dir,
    pub basis: PlacementBasis,
}

/// What decided a [`Placement`]; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementBasis {
    /// The captures' TTLs (hop limits) differ.
    Ttl,
    /// One capture shows one side's initial TTL (it is on that host).
    InitialTtl,
    /// Which capture saw each direction's packets first.
    Timing,
    /// Nothing decided: capture a is taken to be at the client.
    Assumed,
}

/// Matches connections of capture `a` with connections of capture `b`.
///
/// Pairs come in order of `a`'s connection ids; each connection appears in at most one pair.
pub fn pair(a: CaptureView<'_>, b: CaptureView<'_>) -> Vec<Pair> {
    // b's connections by unordered endpoints, and by ISNs taken from SYNs.
    let mut by_tuple: FxHashMap<(SocketAddr, SocketAddr), Vec<u32>> = FxHashMap::default();
    let mut by_isn: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for cb in b.connections {
        by_tuple.entry(tuple_key(cb)).or_default().push(cb.id);
        for d in &cb.dirs {
            if let (true, Some(isn)) = (d.syn_seen, d.isn) {
                let ids = by_isn.entry(isn).or_default();
                if ids.last() != Some(&cb.id) {
                    ids.push(cb.id);
                }
            }
        }
    }

    let mut candidates: Vec<Candidate> = Vec::new();
    for ca in a.connections {
        let key = tuple_key(ca);
        for &id in by_tuple.get(&key).into_iter().flatten() {
            if let Some(c) = candidate(a, b, ca.id, id, MatchBasis::FourTuple) {
                candidates.push(c);
            }
        }
        let mut seen: Vec<u32> = Vec::new();
        for d in &ca.dirs {
            let (true, Some(isn)) = (d.syn_seen, d.isn) else {
                continue;
            };
            for &id in by_isn.get(&isn).into_iter().flatten() {
                let same_tuple = conn(b, id).is_some_and(|cb| tuple_key(cb) == key);
                if same_tuple || seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                if let Some(c) = candidate(a, b, ca.id, id, MatchBasis::Isn) {
                    candidates.push(c);
                }
            }
        }
    }

    candidates.sort_by(|x, y| {
        y.isn_agree
            .cmp(&x.isn_agree)
            .then(y.matched.cmp(&x.matched))
            .then((x.basis == MatchBasis::Isn).cmp(&(y.basis == MatchBasis::Isn)))
            .then(x.start_gap.cmp(&y.start_gap))
            .then(x.a.cmp(&y.a))
            .then(x.b.cmp(&y.b))
    });
    let mut a_used = vec![false; a.connections.len()];
    let mut b_used = vec![false; b.connections.len()];
    let mut pairs = Vec::new();
    for c in candidates {
        let (Some(ua), Some(ub)) = (a_used.get_mut(c.a as usize), b_used.get_mut(c.b as usize))
        else {
            continue;
        };
        if *ua || *ub {
            continue;
        }
        *ua = true;
        *ub = true;
        pairs.push(Pair {
            a: c.a,
            b: c.b,
            basis: c.basis,
            clock_offset_ns: c.clock_offset_ns,
        });
    }
    pairs.sort_by_key(|p| p.a);
    pairs
}

/// Which capture of `pair` is at which end of its connection; `None` when the pair's ids are not
/// connections of `a` and `b`.
pub fn placement(a: CaptureView<'_>, b: CaptureView<'_>, pair: &Pair) -> Option<Placement> {
    let view = PairView::new(a, b, pair)?;
    let p = view.placement();
    Some(Placement {
        a_end: view.in_a_roles(p.a_end),
        basis: p.basis,
    })
}

/// For every RST of every paired connection, in either capture, what the other capture says.
///
/// Witnesses come ordered by capture (a first), connection id and frame.
pub fn witness_resets(a: CaptureView<'_>, b: CaptureView<'_>, pairs: &[Pair]) -> Vec<RstWitness> {
    let mut out = Vec::new();
    for p in pairs {
        let Some(view) = PairView::new(a, b, p) else {
            continue;
        };
        view.witness(&mut out);
    }
    out.sort_by_key(|w| (w.capture == Side::B, w.conn, w.frame));
    out
}

/// A candidate pair with what supports it.
struct Candidate {
    a: u32,
    b: u32,
    basis: MatchBasis,
    clock_offset_ns: i64,
    isn_agree: u8,
    matched: usize,
    start_gap: u64,
}

/// Evaluates connection `ia` of `a` against connection `ib` of `b`; `None` when they cannot be
/// the same connection.
fn candidate(
    a: CaptureView<'_>,
    b: CaptureView<'_>,
    ia: u32,
    ib: u32,
    basis: MatchBasis,
) -> Option<Candidate> {
    let view = PairView::new(
        a,
        b,
        &Pair {
            a: ia,
            b: ib,
            basis,
            clock_offset_ns: 0,
        },
    )?;
    let (agree, disagree) = view.isn_agreement();
    let ok = match basis {
        // A new connection on the same 4-tuple has new ISNs both ways; a sequence-number
        // randomiser changes one.
        MatchBasis::FourTuple => disagree == 0 || agree > 0,
        MatchBasis::Isn => agree > 0 && disagree == 0,
    };
    if !ok {
        return None;
    }
    let timing = view.timing();
    if basis == MatchBasis::Isn && agree < 2 && timing.matched < STRONG_PACKET_MATCHES {
        let overlap = view.ca.first_ts_ns.saturating_sub(MAX_CLOCK_SKEW_NS) <= view.cb.last_ts_ns
            && view.cb.first_ts_ns.saturating_sub(MAX_CLOCK_SKEW_NS) <= view.ca.last_ts_ns;
        if !overlap {
            return None;
        }
    }
    let clock_offset_ns = timing
        .offset_ns()
        .unwrap_or_else(|| view.cb.first_ts_ns.saturating_sub(view.ca.first_ts_ns));
    let start_gap = view
        .cb
        .first_ts_ns
        .saturating_sub(view.ca.first_ts_ns)
        .saturating_sub(clock_offset_ns)
        .unsigned_abs();
    Some(Candidate {
        a: ia,
        b: ib,
        basis,
        clock_offset_ns,
        isn_agree: agree,
        matched: timing.matched,
        start_gap,
    })
}

fn conn(x: CaptureView<'_>, id: u32) -> Option<&Connection> {
    x.connections.get(id as usize).filter(|c| c.id == id)
}

/// The endpoints of a connection, in a fixed order whatever the roles.
fn tuple_key(c: &Connection) -> (SocketAddr, SocketAddr) {
    if c.client <= c.server {
        (c.client, c.server)
    } else {
        (c.server, c.client)
    }
}

/// Whether b's roles are the reverse of a's (b's client is a's server): decided by a shared
/// endpoint address, else by an ISN taken from a SYN in both, else not.
fn flipped(ca: &Connection, cb: &Connection) -> bool {
    if ca.client == cb.client || ca.server == cb.server {
        return false;
    }
    if ca.client == cb.server || ca.server == cb.client {
        return true;
    }
    for da in [Dir::Client, Dir::Server] {
        for db in [Dir::Client, Dir::Server] {
            let (x, y) = (ca.dir(da), cb.dir(db));
            if x.syn_seen && y.syn_seen && x.isn.is_some() && x.isn == y.isn {
                return da != db;
            }
        }
    }
    false
}

/// Time differences of matched packets, per direction in b's roles.
#[derive(Debug, Default)]
struct Timing {
    matched: usize,
    /// Median of (b's timestamp - a's timestamp), indexed by b's `Dir::index`.
    median: [Option<i64>; 2],
}

impl Timing {
    fn offset_ns(&self) -> Option<i64> {
        match self.median {
            [Some(x), Some(y)] => Some(x.midpoint(y)),
            [Some(x), None] | [None, Some(x)] => Some(x),
            [None, None] => None,
        }
    }

    /// Half the difference between the two directions' medians: the one-way delay between the
    /// captures, when the path is symmetric.
    fn one_way_ns(&self) -> i64 {
        match self.median {
            [Some(x), Some(y)] => (x.saturating_sub(y) / 2).saturating_abs(),
            _ => 0,
        }
    }
}

/// A candidate or actual pair with its connections, packets and role mapping. The "canonical"
/// roles are b's.
struct PairView<'a> {
    a: CaptureView<'a>,
    b: CaptureView<'a>,
    ca: &'a Connection,
    cb: &'a Connection,
    pa: &'a [PacketRecord],
    pb: &'a [PacketRecord],
    flip: bool,
    offset: i64,
}

/// Placement in b's roles.
struct CanonPlacement {
    a_end: Dir,
    basis: PlacementBasis,
}

impl<'a> PairView<'a> {
    fn new(a: CaptureView<'a>, b: CaptureView<'a>, p: &Pair) -> Option<Self> {
        let ca = conn(a, p.a)?;
        let cb = conn(b, p.b)?;
        let pa = a.packets.get(p.a as usize).map_or(&[][..], Vec::as_slice);
        let pb = b.packets.get(p.b as usize).map_or(&[][..], Vec::as_slice);
        Some(Self {
            a,
            b,
            ca,
            cb,
            pa,
            pb,
            flip: flipped(ca, cb),
            offset: p.clock_offset_ns,
        })
    }

    /// A direction in a's roles, in b's.
    fn in_b_roles(&self, d: Dir) -> Dir {
        if self.flip { d.reverse() } else { d }
    }

    /// A direction in b's roles, in a's (the mapping is its own inverse).
    fn in_a_roles(&self, d: Dir) -> Dir {
        self.in_b_roles(d)
    }

    /// Directions whose ISNs, both taken from SYNs, agree, and directions where they differ
    /// (the first sequence number of a connection seen mid-stream is no ISN).
    fn isn_agreement(&self) -> (u8, u8) {
        let (mut agree, mut disagree) = (0, 0);
        for d in [Dir::Client, Dir::Server] {
            let x = self.ca.dir(d);
            let y = self.cb.dir(self.in_b_roles(d));
            if let (true, true, Some(i), Some(j)) = (x.syn_seen, y.syn_seen, x.isn, y.isn) {
                if i == j {
                    agree += 1;
                } else {
                    disagree += 1;
                }
            }
        }
        (agree, disagree)
    }

    /// Matches packets whose key is unique in both captures.
    fn timing(&self) -> Timing {
        type Key = (usize, u32, u32, u8, u32);
        let key = |r: &PacketRecord, d: Dir| (d.index(), r.seq, r.ack, r.flags, r.payload_len);
        let mut seen: FxHashMap<Key, (u32, i64)> = FxHashMap::default();
        for r in self.pa {
            let e = seen
                .entry(key(r, self.in_b_roles(r.dir)))
                .or_insert((0, r.ts_ns));
            e.0 += 1;
        }
        let mut in_b: FxHashMap<Key, (u32, i64)> = FxHashMap::default();
        for r in self.pb {
            let e = in_b.entry(key(r, r.dir)).or_insert((0, r.ts_ns));
            e.0 += 1;
        }
        let mut diffs: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
        for (k, (n, ts_b)) in &in_b {
            if let (1, Some(&(1, ts_a))) = (*n, seen.get(k)) {
                diffs[k.0].push(ts_b.saturating_sub(ts_a));
            }
        }
        let matched = diffs[0].len() + diffs[1].len();
        let median = diffs.map(|mut v| {
            v.sort_unstable();
            v.get(v.len() / 2).copied()
        });
        Timing { matched, median }
    }

    /// Which end capture a is nearer to, in b's roles; see the module documentation.
    fn placement(&self) -> CanonPlacement {
        let ttl_a =
            [Dir::Client, Dir::Server].map(|d| usual_ttl(self.ca, self.pa, self.in_a_roles(d)));
        let ttl_b = [Dir::Client, Dir::Server].map(|d| usual_ttl(self.cb, self.pb, d));
        // Per direction: is capture a nearer that direction's sender?
        let nearer_sender: [Option<bool>; 2] = [0, 1].map(|i| match (ttl_a[i], ttl_b[i]) {
            (Some(x), Some(y)) if x != y => Some(x > y),
            _ => None,
        });
        // Capture a is at the client if it is nearer the client's packets, or farther from the
        // server's.
        let votes = [nearer_sender[0], nearer_sender[1].map(|near| !near)];
        let decided = match votes {
            [Some(x), Some(y)] if x == y => Some(x),
            [Some(x), None] | [None, Some(x)] => Some(x),
            _ => None,
        };
        if let Some(at_client) = decided {
            return CanonPlacement {
                a_end: end(at_client),
                basis: PlacementBasis::Ttl,
            };
        }
        // A capture on an end host shows that host's initial TTL on its own packets.
        let on_host = |t: [Option<u8>; 2]| match (t[0].map(initial_ttl), t[1].map(initial_ttl)) {
            (Some(true), Some(false)) => Some(Dir::Client),
            (Some(false), Some(true)) => Some(Dir::Server),
            _ => None,
        };
        let by_initial = match (on_host(ttl_a), on_host(ttl_b)) {
            (Some(x), Some(y)) if x != y => Some(x),
            (Some(x), None) => Some(x),
            (None, Some(y)) => Some(y.reverse()),
            _ => None,
        };
        if let Some(a_end) = by_initial {
            return CanonPlacement {
                a_end,
                basis: PlacementBasis::InitialTtl,
            };
        }
        // Client packets reach the capture nearer the server later (b - a is larger for them if
        // a is at the client).
        if let [Some(cs), Some(sc)] = self.timing().median
            && cs != sc
        {
            return CanonPlacement {
                a_end: end(cs > sc),
                basis: PlacementBasis::Timing,
            };
        }
        CanonPlacement {
            a_end: self.in_b_roles(Dir::Client),
            basis: PlacementBasis::Assumed,
        }
    }

    /// Appends the witnesses of both captures' RSTs of this pair.
    fn witness(&self, out: &mut Vec<RstWitness>) {
        let place = self.placement();
        let one_way = self.timing().one_way_ns();
        let b_end = place.a_end.reverse();
        // The time a RST of a seen at `ts` from canonical `d` is expected at b, by b's clock.
        let expected_in_b = |ts: i64, d: Dir| {
            let shifted = ts.saturating_add(self.offset);
            if b_end == d {
                shifted.saturating_sub(one_way)
            } else {
                shifted.saturating_add(one_way)
            }
        };
        // The time a RST of b seen at `ts` from canonical `d` is expected at a, by a's clock.
        let expected_in_a = |ts: i64, d: Dir| {
            let shifted = ts.saturating_sub(self.offset);
            if place.a_end == d {
                shifted.saturating_sub(one_way)
            } else {
                shifted.saturating_add(one_way)
            }
        };

        // One-to-one matching, a's RSTs in time order taking the nearest free RST of b.
        let mut b_of_a: Vec<Option<usize>> = vec![None; self.ca.resets.len()];
        let mut a_of_b: Vec<Option<usize>> = vec![None; self.cb.resets.len()];
        let mut order: Vec<usize> = (0..self.ca.resets.len()).collect();
        order.sort_by_key(|&i| self.ca.resets.get(i).map(|r| r.ts_ns));
        for i in order {
            let Some(ra) = self.ca.resets.get(i) else {
                continue;
            };
            let d = self.in_b_roles(ra.from);
            let want = expected_in_b(ra.ts_ns, d);
            let best = self
                .cb
                .resets
                .iter()
                .enumerate()
                .filter(|(j, rb)| {
                    a_of_b.get(*j).is_some_and(Option::is_none) && rb.from == d && same_rst(ra, rb)
                })
                .map(|(j, rb)| (rb.ts_ns.saturating_sub(want).unsigned_abs(), j))
                .filter(|&(gap, _)| gap <= MATCH_WINDOW_NS.unsigned_abs())
                .min();
            if let Some((_, j)) = best
                && let (Some(x), Some(y)) = (b_of_a.get_mut(i), a_of_b.get_mut(j))
            {
                *x = Some(j);
                *y = Some(i);
            }
        }

        let span_a = span(self.a, self.ca);
        let span_b = span(self.b, self.cb);
        for (i, r) in self.ca.resets.iter().enumerate() {
            let d = self.in_b_roles(r.from);
            let other = b_of_a
                .get(i)
                .copied()
                .flatten()
                .and_then(|j| self.cb.resets.get(j))
                .map(|x| x.frame);
            out.push(RstWitness {
                capture: Side::A,
                conn: self.ca.id,
                frame: r.frame,
                claimed_from: r.from,
                verdict: verdict(
                    b_end == d,
                    other.is_some(),
                    expected_in_b(r.ts_ns, d),
                    span_b,
                ),
                other_frame: other,
            });
        }
        for (j, r) in self.cb.resets.iter().enumerate() {
            let d = r.from;
            let other = a_of_b
                .get(j)
                .copied()
                .flatten()
                .and_then(|i| self.ca.resets.get(i))
                .map(|x| x.frame);
            out.push(RstWitness {
                capture: Side::B,
                conn: self.cb.id,
                frame: r.frame,
                claimed_from: r.from,
                verdict: verdict(
                    place.a_end == d,
                    other.is_some(),
                    expected_in_a(r.ts_ns, d),
                    span_a,
                ),
                other_frame: other,
            });
        }
    }
}

/// Capture a's end from "a is at the client".
fn end(at_client: bool) -> Dir {
    if at_client { Dir::Client } else { Dir::Server }
}

/// The same RST on the wire: sequence and acknowledgment numbers and flags (the direction is
/// compared by the caller, in common roles).
fn same_rst(x: &Reset, y: &Reset) -> bool {
    x.seq == y.seq && x.ack == y.ack && x.flags == y.flags
}

/// The verdict on a RST, given whether the other capture is at its claimed sender's end,
/// whether it shows the RST, when it would show it, and the other capture's time span.
fn verdict(other_at_sender: bool, found: bool, expected: i64, other_span: (i64, i64)) -> Witness {
    let covered = other_span.0 <= expected && expected <= other_span.1;
    match (other_at_sender, found) {
        (true, true) => Witness::SentBySender,
        (false, true) => Witness::Arrived,
        _ if !covered => Witness::NotCovered,
        (true, false) => Witness::NeverSent,
        (false, false) => Witness::NeverArrived,
    }
}

/// The time span of a capture (its first and last frames), or of the connection when the
/// capture's is unknown.
fn span(x: CaptureView<'_>, c: &Connection) -> (i64, i64) {
    (
        x.first_ts_ns.unwrap_or(c.first_ts_ns).min(c.first_ts_ns),
        x.last_ts_ns.unwrap_or(c.last_ts_ns).max(c.last_ts_ns),
    )
}

/// The most common TTL of a direction's packets other than RSTs (forged RSTs carry the
/// forger's); without packet records, the direction's lowest TTL; `None` when it sent nothing.
fn usual_ttl(c: &Connection, packets: &[PacketRecord], d: Dir) -> Option<u8> {
    let mut counts = [0u32; 256];
    let mut any = false;
    for r in packets {
        if r.dir == d
            && r.flags & flags::RST == 0
            && let Some(n) = counts.get_mut(usize::from(r.ttl))
        {
            *n += 1;
            any = true;
        }
    }
    if any {
        // Highest count; among equals, the highest TTL.
        return (0..=u8::MAX).max_by_key(|&t| (counts.get(usize::from(t)).copied(), t));
    }
    let dir = c.dir(d);
    (dir.packets > 0).then_some(dir.ttl.min)
}

/// An initial TTL of common stacks: 64 (Linux, macOS, BSD), 128 (Windows), 255 (network
/// devices, Solaris), 32 (old Windows).
fn initial_ttl(ttl: u8) -> bool {
    matches!(ttl, 32 | 64 | 128 | 255)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicU32, Ordering};

    use crate::analysis::Analysis;
    use crate::pipeline::{self, Options};
    use crate::source::SourceSpec;

    const SYN: u8 = flags::SYN;
    const SA: u8 = flags::SYN | flags::ACK;
    const A: u8 = flags::ACK;
    const PA: u8 = flags::PSH | flags::ACK;
    const R: u8 = flags::RST;
    const RA: u8 = flags::RST | flags::ACK;

    /// One packet as a capture saw it: time, from, to, flags, seq, ack, payload length, TTL.
    type P = (i64, &'static str, &'static str, u8, u32, u32, u32, u8);

    fn ms(n: i64) -> i64 {
        n * 1_000_000
    }

    /// Writes the packets as a nanosecond pcap of raw IPv4 (times from a fixed epoch) and
    /// analyses it with the real pipeline.
    fn analysis(packets: &[P]) -> Analysis {
        static FILES: AtomicU32 = AtomicU32::new(0);
        const EPOCH_NS: i64 = 1_700_000_000_000_000_000;
        let mut buf: Vec<u8> = Vec::new();
        buf.extend(0xa1b2_3c4d_u32.to_le_bytes());
        buf.extend(2u16.to_le_bytes());
        buf.extend(4u16.to_le_bytes());
        buf.extend([0u8; 8]);
        buf.extend(65_535u32.to_le_bytes());
        buf.extend(101u32.to_le_bytes()); // LINKTYPE_RAW
        for &(ts, from, to, f, seq, ack, len, ttl) in packets {
            let s: SocketAddr = from.parse().unwrap();
            let d: SocketAddr = to.parse().unwrap();
            let (IpAddr::V4(src), IpAddr::V4(dst)) = (s.ip(), d.ip()) else {
                panic!("IPv4 only");
            };
            let total = 40 + len as usize;
            let mut pkt = Vec::with_capacity(total);
            pkt.extend([0x45, 0]);
            pkt.extend(u16::try_from(total).unwrap().to_be_bytes());
            pkt.extend([0, 0, 0x40, 0, ttl, 6, 0, 0]);
            pkt.extend(src.octets());
            pkt.extend(dst.octets());
            pkt.extend(s.port().to_be_bytes());
            pkt.extend(d.port().to_be_bytes());
            pkt.extend(seq.to_be_bytes());
            pkt.extend(ack.to_be_bytes());
            pkt.extend([0x50, f]);
            pkt.extend(1000u16.to_be_bytes());
            pkt.extend([0, 0, 0, 0]);
            pkt.resize(total, 0);
            let t = EPOCH_NS + ts;
            buf.extend(u32::try_from(t / 1_000_000_000).unwrap().to_le_bytes());
            buf.extend(u32::try_from(t % 1_000_000_000).unwrap().to_le_bytes());
            buf.extend(u32::try_from(total).unwrap().to_le_bytes());
            buf.extend(u32::try_from(total).unwrap().to_le_bytes());
            buf.extend(pkt);
        }
        let path = std::env::temp_dir().join(format!(
            "rstscope-twopoint-{}-{}.pcap",
            std::process::id(),
            FILES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, &buf).unwrap();
        let outcome = pipeline::analyze(SourceSpec::File(path.clone()), Options::default());
        let _ = std::fs::remove_file(&path);
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        outcome.analysis.unwrap()
    }

    const C: &str = "10.0.0.1:40000";
    const S: &str = "10.0.1.2:80";
    /// The client as the server sees it behind a NAT.
    const N: &str = "192.0.2.7:61000";

    /// A connection seen at the client (`at_client`) or at the server, one router between
    /// them, b's clock `skew` ahead, 1 ms one way. `peer` is the client's address at the
    /// server. A forged RST "from the server" reaches the client at 50 ms; the client's kernel
    /// then resets the next data segment.
    fn forged_run(at_client: bool, peer: &'static str, skew: i64) -> Analysis {
        analysis(&forged_packets(at_client, peer, skew))
    }

    fn forged_packets(at_client: bool, peer: &'static str, skew: i64) -> Vec<P> {
        // (time at the client, sender is client, flags, seq, ack, len)
        let wire: [(i64, bool, u8, u32, u32, u32); 8] = [
            (0, true, SYN, 1000, 0, 0),
            (2, false, SA, 9000, 1001, 0),
            (2, true, A, 1001, 9001, 0),
            (3, true, PA, 1001, 9001, 100),
            (5, false, PA, 9001, 1101, 1000),
            (5, true, A, 1101, 10001, 0),
            (20, false, PA, 10001, 1101, 1000),
            (20, true, A, 1101, 11001, 0),
        ];
        let mut out: Vec<P> = Vec::new();
        for &(t, from_client, f, seq, ack, len) in &wire {
            let (from, to) = if from_client { (C, S) } else { (S, C) };
            let (from, to) = if at_client {
                (from, to)
            } else if from_client {
                (peer, S)
            } else {
                (S, peer)
            };
            // Leaves the sender at t - 1 (server) or arrives at the server at t + 1 (client).
            let ts = match (at_client, from_client) {
                (true, _) => ms(t),
                (false, true) => ms(t + 1) + skew,
                (false, false) => ms(t - 1) + skew,
            };
            let ttl = if at_client == from_client { 64 } else { 63 };
            out.push((ts, from, to, f, seq, ack, len, ttl));
        }
        if at_client {
            // The forged RST (TTL 64: forged by the router) and the client's own RST.
            out.push((ms(50), S, C, RA, 11001, 1101, 0, 64));
            out.push((ms(60), S, C, PA, 11001, 1101, 1000, 63));
            out.push((ms(60), C, S, R, 1101, 0, 0, 64));
        } else {
            out.push((ms(59) + skew, S, peer, PA, 11001, 1101, 1000, 64));
            out.push((ms(61) + skew, peer, S, R, 1101, 0, 0, 63));
            out.push((ms(70) + skew, S, peer, PA, 12001, 1101, 1000, 64));
        }
        out.sort_by_key(|p| p.0);
        out
    }

    fn verdicts(w: &[RstWitness]) -> Vec<(Side, u64, Dir, Witness, Option<u64>)> {
        w.iter()
            .map(|x| (x.capture, x.frame, x.claimed_from, x.verdict, x.other_frame))
            .collect()
    }

    #[test]
    fn four_tuple_pair_proves_a_forged_rst_and_an_arrived_one() {
        let skew = ms(3_000);
        let a = forged_run(true, C, 0);
        let b = forged_run(false, C, skew);
        let pairs = pair(a.view(), b.view());
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].basis, MatchBasis::FourTuple);
        assert!(
            (pairs[0].clock_offset_ns - skew).abs() < ms(1) / 10,
            "{}",
            pairs[0].clock_offset_ns
        );
        let p = placement(a.view(), b.view(), &pairs[0]).unwrap();
        assert_eq!((p.a_end, p.basis), (Dir::Client, PlacementBasis::Ttl));
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert_eq!(
            verdicts(&w),
            vec![
                (Side::A, 9, Dir::Server, Witness::NeverSent, None),
                (Side::A, 11, Dir::Client, Witness::Arrived, Some(10)),
                (Side::B, 10, Dir::Client, Witness::SentBySender, Some(11)),
            ]
        );
    }

    #[test]
    fn swapped_captures_give_the_mirror_verdicts() {
        let a = forged_run(false, C, 0);
        let b = forged_run(true, C, ms(-7));
        let pairs = pair(a.view(), b.view());
        assert_eq!(pairs.len(), 1);
        let p = placement(a.view(), b.view(), &pairs[0]).unwrap();
        assert_eq!(p.a_end, Dir::Server);
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert_eq!(
            verdicts(&w),
            vec![
                (Side::A, 10, Dir::Client, Witness::SentBySender, Some(11)),
                (Side::B, 9, Dir::Server, Witness::NeverSent, None),
                (Side::B, 11, Dir::Client, Witness::Arrived, Some(10)),
            ]
        );
    }

    #[test]
    fn nat_is_matched_by_isn() {
        let a = forged_run(true, C, 0);
        let b = forged_run(false, N, ms(250));
        let pairs = pair(a.view(), b.view());
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].basis, MatchBasis::Isn);
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert_eq!(w[0].verdict, Witness::NeverSent);
        assert_eq!(w[1].verdict, Witness::Arrived);
    }

    #[test]
    fn unrelated_connections_do_not_pair() {
        let a = forged_run(true, C, 0);
        // Same addresses, other ISNs: a later connection on the same 4-tuple.
        let other: Vec<P> = vec![
            (ms(0), C, S, SYN, 77, 0, 0, 63),
            (ms(1), S, C, SA, 88, 78, 0, 64),
        ];
        assert!(pair(a.view(), analysis(&other).view()).is_empty());
        // Other addresses, other ISNs.
        let other: Vec<P> = vec![
            (ms(0), N, S, SYN, 77, 0, 0, 63),
            (ms(1), S, N, SA, 88, 78, 0, 64),
        ];
        assert!(pair(a.view(), analysis(&other).view()).is_empty());
    }

    #[test]
    fn port_reuse_pairs_each_connection_with_its_own() {
        let both = |at_client: bool| {
            let ttl_c = if at_client { 64 } else { 63 };
            let ttl_s = if at_client { 63 } else { 64 };
            let t0 = if at_client { 0 } else { ms(1) };
            let v: Vec<P> = vec![
                (t0, C, S, SYN, 100, 0, 0, ttl_c),
                (t0 + ms(2), S, C, SA, 500, 101, 0, ttl_s),
                (t0 + ms(4), C, S, R, 101, 0, 0, ttl_c),
                (t0 + ms(10), C, S, SYN, 7000, 0, 0, ttl_c),
                (t0 + ms(12), S, C, SA, 8000, 7001, 0, ttl_s),
                (t0 + ms(14), C, S, R, 7001, 0, 0, ttl_c),
            ];
            analysis(&v)
        };
        let (a, b) = (both(true), both(false));
        assert_eq!(a.connections.len(), 2);
        let pairs = pair(a.view(), b.view());
        let ids: Vec<(u32, u32)> = pairs.iter().map(|p| (p.a, p.b)).collect();
        assert_eq!(ids, vec![(0, 0), (1, 1)]);
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert!(
            w.iter()
                .all(|x| matches!(x.verdict, Witness::Arrived | Witness::SentBySender)),
            "{w:?}"
        );
    }

    #[test]
    fn a_rst_outside_the_other_capture_is_not_covered() {
        let a = forged_run(true, C, 0);
        // The server capture stops at 10 ms (client clock), before the forged RST.
        let mut packets = forged_packets(false, C, 0);
        packets.retain(|p| p.0 <= ms(10));
        let b = analysis(&packets);
        let pairs = pair(a.view(), b.view());
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert_eq!(w[0].verdict, Witness::NotCovered);
        // Its own RST never reached the server capture, which was no longer running.
        assert_eq!(w[1].verdict, Witness::NotCovered);
    }

    #[test]
    fn a_dropped_rst_never_arrived() {
        let a = forged_run(true, C, 0);
        let mut packets = forged_packets(false, C, 0);
        packets.retain(|p| p.3 != R);
        let b = analysis(&packets);
        let pairs = pair(a.view(), b.view());
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert_eq!(w[1].claimed_from, Dir::Client);
        assert_eq!(w[1].verdict, Witness::NeverArrived);
    }

    #[test]
    fn sequence_numbers_wrap() {
        // The client's ISN just below 2^32: its RST's sequence number has wrapped.
        let v = |at_client: bool| {
            let (tc, ts) = if at_client { (64, 63) } else { (63, 64) };
            let d = if at_client { 0 } else { ms(1) };
            let p: Vec<P> = vec![
                (d, C, S, SYN, u32::MAX - 1, 0, 0, tc),
                (d + ms(2), S, C, SA, 5, u32::MAX, 0, ts),
                (d + ms(2), C, S, A, u32::MAX, 6, 0, tc),
                (d + ms(3), C, S, PA, u32::MAX, 6, 10, tc),
                (d + ms(9), C, S, R, 9, 0, 0, tc),
            ];
            analysis(&p)
        };
        let (a, b) = (v(true), v(false));
        let pairs = pair(a.view(), b.view());
        assert_eq!(pairs.len(), 1);
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert_eq!(
            verdicts(&w),
            vec![
                (Side::A, 5, Dir::Client, Witness::Arrived, Some(5)),
                (Side::B, 5, Dir::Client, Witness::SentBySender, Some(5)),
            ]
        );
    }

    #[test]
    fn timing_places_captures_when_ttls_are_equal() {
        // Both captures see TTL 60 both ways (neither is on an end host); a sees client
        // packets first and server packets last.
        let v = |first: bool| {
            let d = |client: bool| if client == first { 0 } else { ms(1) };
            let p: Vec<P> = vec![
                (d(true), C, S, SYN, 10, 0, 0, 60),
                (ms(3) + d(false), S, C, SA, 20, 11, 0, 60),
                (ms(6) + d(true), C, S, A, 11, 21, 0, 60),
            ];
            analysis(&p)
        };
        let (a, b) = (v(true), v(false));
        let pairs = pair(a.view(), b.view());
        let p = placement(a.view(), b.view(), &pairs[0]).unwrap();
        assert_eq!((p.a_end, p.basis), (Dir::Client, PlacementBasis::Timing));
        let p = placement(b.view(), a.view(), &pair(b.view(), a.view())[0]).unwrap();
        assert_eq!((p.a_end, p.basis), (Dir::Server, PlacementBasis::Timing));
    }

    #[test]
    fn refused_connection_pairs_on_the_one_isn() {
        // Behind a NAT: the SYN is answered by a RST; only the client's ISN exists.
        let a = analysis(&[
            (ms(0), C, S, SYN, 4242, 0, 0, 64),
            (ms(2), S, C, RA, 0, 4243, 0, 63),
        ]);
        let b = analysis(&[
            (ms(1), N, S, SYN, 4242, 0, 0, 63),
            (ms(1), S, N, RA, 0, 4243, 0, 64),
        ]);
        let pairs = pair(a.view(), b.view());
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].basis, MatchBasis::Isn);
        let w = witness_resets(a.view(), b.view(), &pairs);
        assert_eq!(w[0].verdict, Witness::SentBySender);
        assert_eq!(w[1].verdict, Witness::Arrived);
        // Far apart in time, one ISN is not enough.
        let mut late = b;
        for r in late.packets.iter_mut().flatten() {
            r.ts_ns += ms(3_600_000);
        }
        for c in &mut late.connections {
            c.first_ts_ns += ms(3_600_000);
            c.last_ts_ns += ms(3_600_000);
        }
        assert!(pair(a.view(), late.view()).is_empty());
    }
}
