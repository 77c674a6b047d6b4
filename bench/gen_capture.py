#!/usr/bin/env python3
"""Generate a large, realistic, deterministic classic-pcap TCP capture for benchmarking.

Output: classic pcap (magic a1b2c3d4, microsecond timestamps, LINKTYPE_ETHERNET),
many interleaved TCP connections over IPv4 (~80 %) and IPv6 (~20 %), in timestamp order.

Per-connection behaviour (the mix is chosen per connection from the seeded RNG):
  * three-way handshake with MSS / window-scale / SACK-permitted options
    (occasionally a retransmitted SYN),
  * request/response rounds, bulk transfers in cwnd-sized bursts with pure ACKs
    (every segment or every second segment), uploads, small interactive exchanges,
  * packet loss: original segment, duplicate ACKs, fast retransmission, full ACK,
  * TCP keep-alives (seq = snd_nxt - 1, answered by an ACK) during idle gaps,
  * endings: FIN teardown, client RST (abort, with in-flight server segments
    answered by further RSTs), server RST (before/during the response, or after
    an idle period), FIN answered by RST, refused (SYN -> RST/ACK), unanswered
    SYN (retransmitted SYN only), and connections still open at the end of the
    capture.

Checksums: IPv4 header checksums AND TCP checksums (over the pseudo header,
options and payload) are correct. The TCP checksum is cheap because payloads are
slices of one random pool whose 16-bit word prefix sums are precomputed.

Addresses are documentation ranges only (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32); MAC addresses are locally administered.
It only writes a file; nothing is sent.

A sidecar FILE.meta.json records the exact packet and connection counts (and a
breakdown by outcome), so benchmark throughput figures do not depend on any tool
counting packets. With --truth, FILE.truth.jsonl lists every connection's 4-tuple
and intended outcome (ground truth for analyzer tests).

Deterministic: the same arguments (size, connections, seed) give a byte-identical file.
Standard library only (Python >= 3.9).
"""

import argparse
import array
import heapq
import json
import math
import os
import random
import struct
import sys
import time

GENERATOR_VERSION = 1

# TCP flags
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

C2S, S2C = 0, 1

POOL_BITS = 21                      # 2 MiB payload pool
POOL_MASK = (1 << POOL_BITS) - 1
POOL_LEN = (1 << POOL_BITS) + 4096  # slack so any offset <= mask can take 1460+ bytes

PCAP_GLOBAL = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
PCAPREC = struct.Struct("<IIII")
IP4 = struct.Struct("!BBHHHBBH4s4s")
IP6 = struct.Struct("!IHBB16s16s")
TCPH = struct.Struct("!HHIIHHHH")

OUTCOMES = ("fin", "rst_client", "rst_server", "fin_rst", "refused", "syn_timeout", "open")
OUTCOME_WEIGHTS = (58, 8, 8, 5, 7, 2, 12)

# Estimated framing overhead (pcap record + Ethernet + IP + TCP) per segment, used
# only to turn --size-mb into a payload budget.
SIZE_CALIBRATION = 0.81


def words_sum(b):
    """One's-complement-style plain sum of big-endian 16-bit words (zero padded)."""
    if len(b) & 1:
        b = b + b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def fold(s):
    r = s % 0xFFFF
    if r == 0 and s:
        r = 0xFFFF
    return r


def syn_options(mss):
    # MSS, NOP, WS=7, NOP, NOP, SACK_PERM  -> 12 bytes (data offset 8)
    return struct.pack("!BBH", 2, 4, mss) + b"\x01\x03\x03\x07\x01\x01\x04\x02"


class Ctx:
    """Shared, immutable per-run data."""

    def __init__(self, rng):
        pool = rng.randbytes(POOL_LEN)
        self.pool = memoryview(pool)
        w = array.array("H", pool)
        if sys.byteorder == "little":
            w.byteswap()
        pre = [0] * (len(w) + 1)
        acc = 0
        for i, v in enumerate(w):
            acc += v
            pre[i + 1] = acc
        self.prefix = pre
        self.poolb = pool


class Conn:
    __slots__ = (
        "ctx", "idx", "t", "v6", "eth", "ip_const", "ph_sum", "sport", "dport",
        "ipid", "flow", "win", "win_sum", "isn", "nxt", "rcv", "pbase", "mss",
        "rtt", "seg_gap", "ack_every", "cwnd", "loss", "out_parts", "npk",
        "nrst", "src", "dst",
    )

    def pkt(self, d, flags, seq, ack, plen=0, rel=0, opts=b"", optsum=0):
        """Build one captured frame (pcap record header + headers, payload view)."""
        seq &= 0xFFFFFFFF
        ack &= 0xFFFFFFFF
        hl = 20 + len(opts)
        tcplen = hl + plen
        hw = ((hl >> 2) << 12) | flags
        s = (self.ph_sum[d] + tcplen + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16)
             + (ack & 0xFFFF) + hw + self.win[d] + optsum)
        if plen:
            o = (self.pbase[d] + rel) & POOL_MASK & ~1
            pre = self.ctx.prefix
            h = o >> 1
            if plen & 1:
                s += pre[h + (plen >> 1)] - pre[h] + (self.ctx.poolb[o + plen - 1] << 8)
            else:
                s += pre[h + (plen >> 1)] - pre[h]
            payload = self.ctx.pool[o:o + plen]
        else:
            payload = None
        tcp = TCPH.pack(self.sport[d], self.sport[1 - d], seq, ack, hw, self.win[d],
                        0xFFFF ^ fold(s), 0)
        if self.v6:
            ip = IP6.pack(0x60000000 | self.flow[d], tcplen, 6, 64, self.src[d], self.src[1 - d])
            caplen = 14 + 40 + tcplen
        else:
            tot = 20 + tcplen
            ipid = self.ipid[d]
            self.ipid[d] = (ipid + 1) & 0xFFFF
            ck = 0xFFFF ^ fold(self.ip_const[d] + tot + ipid)
            ip = IP4.pack(0x45, 0, tot, ipid, 0x4000, 64, 6, ck, self.src[d], self.src[1 - d])
            caplen = 14 + tot
        t = self.t
        self.npk += 1
        if flags & RST:
            self.nrst += 1
        hdr = b"".join((PCAPREC.pack(t // 1000000, t % 1000000, caplen, caplen),
                        self.eth[d], ip, tcp, opts))
        return (t, hdr, payload)


def make_conn(ctx, rng, idx, start, v6, cli_addr, srv_addr, sport, dport, mac_c, mac_s):
    c = Conn()
    c.ctx = ctx
    c.idx = idx
    c.t = start
    c.v6 = v6
    c.src = (cli_addr, srv_addr)
    c.sport = (sport, dport)
    c.eth = (mac_s + mac_c + (b"\x86\xdd" if v6 else b"\x08\x00"),
             mac_c + mac_s + (b"\x86\xdd" if v6 else b"\x08\x00"))
    pair = words_sum(cli_addr) + words_sum(srv_addr)
    c.ph_sum = (pair + 6 + sport + dport, pair + 6 + sport + dport)
    c.ip_const = (0x4500 + 0x4000 + (64 << 8 | 6) + pair,) * 2
    c.ipid = [rng.getrandbits(16), rng.getrandbits(16)]
    c.flow = (rng.getrandbits(20), rng.getrandbits(20))
    c.win = (rng.choice((502, 501, 509, 1024, 2052)), rng.choice((501, 502, 507, 8192, 1026)))
    c.isn = (rng.getrandbits(32), rng.getrandbits(32))
    c.nxt = [0, 0]      # relative next sequence number per direction (SYN counts as 1)
    c.pbase = (rng.getrandbits(POOL_BITS), rng.getrandbits(POOL_BITS))
    c.mss = 1440 if v6 else 1460
    c.rtt = int(rng.choice((rng.uniform(300, 3000), rng.uniform(5000, 40000),
                            rng.uniform(40000, 180000))))
    bw = rng.choice((10e6, 50e6, 100e6, 500e6, 1e9))
    c.seg_gap = max(1, int((c.mss + 58) * 8 / bw * 1e6))
    c.ack_every = 1 if rng.random() < 0.45 else 2
    c.cwnd = rng.choice((10, 16, 24, 32, 44))
    c.loss = rng.choice((0.0, 0.0, 0.001, 0.005, 0.01, 0.03))
    c.npk = 0
    c.nrst = 0
    return c


def seq_of(c, d, rel):
    return c.isn[d] + rel


def handshake(c, rng, syn_retx):
    mss_opt = syn_options(c.mss)
    osum = words_sum(mss_opt)
    yield c.pkt(C2S, SYN, c.isn[C2S], 0, opts=mss_opt, optsum=osum)
    if syn_retx:
        c.t += 1000000
        yield c.pkt(C2S, SYN, c.isn[C2S], 0, opts=mss_opt, optsum=osum)
    c.nxt[C2S] = 1
    c.t += c.rtt
    yield c.pkt(S2C, SYN | ACK, c.isn[S2C], c.isn[C2S] + 1, opts=mss_opt, optsum=osum)
    c.nxt[S2C] = 1
    c.t += 30 + rng.randrange(200)
    yield c.pkt(C2S, ACK, c.isn[C2S] + 1, c.isn[S2C] + 1)


def send_data(c, rng, d, nbytes, seg_max, abort=None):
    """Send nbytes from direction d in cwnd bursts; the peer ACKs.

    abort: None, or (after_bytes, who) -- stop the transfer once after_bytes have
    been sent; who = 'rcv' (receiver resets) or 'snd' (sender resets).
    Returns True if aborted.
    """
    r = 1 - d
    sent = 0
    loss = c.loss
    while sent < nbytes:
        burst = []
        nseg = c.cwnd
        while nseg and sent < nbytes:
            ln = min(seg_max, nbytes - sent)
            burst.append((c.nxt[d], ln))
            c.nxt[d] += ln
            sent += ln
            nseg -= 1
        last = len(burst) - 1
        lost_at = -1
        if loss and rng.random() < loss * len(burst):
            lost_at = rng.randrange(len(burst))
        ack_val = seq_of(c, r, c.nxt[r])
        for i, (rel, ln) in enumerate(burst):
            fl = ACK | PSH if i == last else ACK
            yield c.pkt(d, fl, seq_of(c, d, rel), ack_val, ln, rel)
            c.t += c.seg_gap
        if abort is not None and sent >= abort[0]:
            c.t += c.rtt // 2
            if abort[1] == "rcv":
                got = burst[-1][0] + burst[-1][1]
                yield c.pkt(r, RST | ACK, seq_of(c, r, c.nxt[r]), seq_of(c, d, got))
                # segments already in flight from the sender, each answered by a RST
                for _ in range(rng.choice((0, 0, 1, 2, 3))):
                    c.t += c.seg_gap
                    yield c.pkt(d, ACK, seq_of(c, d, c.nxt[d]), ack_val, seg_max, c.nxt[d])
                    c.nxt[d] += seg_max
                    c.t += 40 + rng.randrange(100)
                    yield c.pkt(r, RST, seq_of(c, r, c.nxt[r]), 0)
            else:
                yield c.pkt(d, RST | ACK, seq_of(c, d, c.nxt[d]), ack_val)
            return True
        # the receiver's ACKs arrive after ~rtt/2 (capture point in the middle)
        c.t += c.rtt // 2
        ack_seq = seq_of(c, r, c.nxt[r])
        cum = burst[0][0]
        for i, (rel, ln) in enumerate(burst):
            if lost_at < 0 or i < lost_at:
                cum = rel + ln
            if (i + 1) % c.ack_every == 0 or i == last or (lost_at >= 0 and i >= lost_at):
                yield c.pkt(r, ACK, ack_seq, seq_of(c, d, cum))
                c.t += c.seg_gap
        if lost_at >= 0:
            # fast retransmission of the lost segment, then a cumulative ACK
            c.t += c.rtt // 2
            rel, ln = burst[lost_at]
            yield c.pkt(d, ACK, seq_of(c, d, rel), ack_val, ln, rel)
            c.t += c.rtt // 2
            end = burst[-1][0] + burst[-1][1]
            yield c.pkt(r, ACK, ack_seq, seq_of(c, d, end))
        c.t += c.rtt // 2
    return False


def keepalives(c, rng, gap):
    """Idle gap of `gap` microseconds, with client keep-alives every ka_int."""
    ka_int = 15000000
    t_end = c.t + gap
    while c.t + ka_int < t_end:
        c.t += ka_int
        yield c.pkt(C2S, ACK, seq_of(c, C2S, c.nxt[C2S] - 1), seq_of(c, S2C, c.nxt[S2C]))
        c.t += c.rtt
        yield c.pkt(S2C, ACK, seq_of(c, S2C, c.nxt[S2C]), seq_of(c, C2S, c.nxt[C2S]))
    c.t = max(c.t, t_end)


def teardown_fin(c, rng):
    a = C2S if rng.random() < 0.7 else S2C
    b = 1 - a
    yield c.pkt(a, FIN | ACK, seq_of(c, a, c.nxt[a]), seq_of(c, b, c.nxt[b]))
    c.nxt[a] += 1
    c.t += c.rtt // 2 + 50
    if rng.random() < 0.5:
        yield c.pkt(b, ACK, seq_of(c, b, c.nxt[b]), seq_of(c, a, c.nxt[a]))
        c.t += 100 + rng.randrange(5000)
    yield c.pkt(b, FIN | ACK, seq_of(c, b, c.nxt[b]), seq_of(c, a, c.nxt[a]))
    c.nxt[b] += 1
    c.t += c.rtt // 2 + 50
    yield c.pkt(a, ACK, seq_of(c, a, c.nxt[a]), seq_of(c, b, c.nxt[b]))


def teardown_fin_rst(c, rng):
    a = C2S if rng.random() < 0.6 else S2C
    b = 1 - a
    yield c.pkt(a, FIN | ACK, seq_of(c, a, c.nxt[a]), seq_of(c, b, c.nxt[b]))
    c.nxt[a] += 1
    c.t += c.rtt // 2 + 50
    if rng.random() < 0.5:
        yield c.pkt(b, ACK, seq_of(c, b, c.nxt[b]), seq_of(c, a, c.nxt[a]))
        c.t += 100 + rng.randrange(2000)
    # peer closes with unread data -> RST instead of FIN
    yield c.pkt(b, RST | ACK, seq_of(c, b, c.nxt[b]), seq_of(c, a, c.nxt[a]))


def conn_gen(c, rng, outcome, volume, kind, rounds, idle_ka):
    if outcome == "refused":
        yield c.pkt(C2S, SYN, c.isn[C2S], 0, opts=syn_options(c.mss),
                    optsum=words_sum(syn_options(c.mss)))
        c.t += c.rtt
        yield c.pkt(S2C, RST | ACK, 0, c.isn[C2S] + 1)
        return
    if outcome == "syn_timeout":
        o = syn_options(c.mss)
        for back in (1000000, 2000000, 4000000):
            yield c.pkt(C2S, SYN, c.isn[C2S], 0, opts=o, optsum=words_sum(o))
            c.t += back
        yield c.pkt(C2S, SYN, c.isn[C2S], 0, opts=o, optsum=words_sum(o))
        return
    yield from handshake(c, rng, rng.random() < 0.01)

    # where does an abort happen?
    abort_round = -1
    abort = None
    if outcome in ("rst_client", "rst_server"):
        abort_round = rng.randrange(rounds)
        mode = rng.random()
    per_round = max(1, volume // rounds)
    for rd in range(rounds):
        if kind == "interactive":
            req = rng.randrange(1, 200)
            resp = rng.randrange(0, 600)
            if rd == abort_round and resp == 0:
                resp = 1
        elif kind == "upload":
            req = max(1, int(per_round * rng.uniform(0.5, 1.5)))
            resp = rng.randrange(60, 400)
        else:
            req = rng.randrange(60, 1400)
            resp = max(1, int(per_round * rng.uniform(0.5, 1.5)))
        if rd == abort_round and outcome == "rst_server" and mode < 0.3:
            # server resets right after the request (e.g. rejected by policy)
            yield from send_data(c, rng, C2S, req, c.mss)
            c.t += 200 + rng.randrange(20000)
            yield c.pkt(S2C, RST | ACK, seq_of(c, S2C, c.nxt[S2C]), seq_of(c, C2S, c.nxt[C2S]))
            return
        if rd == abort_round and outcome == "rst_server" and mode < 0.45:
            # server resets an idle connection
            yield from send_data(c, rng, C2S, req, c.mss)
            yield from send_data(c, rng, S2C, resp, c.mss)
            c.t += rng.randrange(5000000, 60000000)
            yield c.pkt(S2C, RST | ACK, seq_of(c, S2C, c.nxt[S2C]), seq_of(c, C2S, c.nxt[C2S]))
            return
        if kind == "upload":
            ab = None
            if rd == abort_round:
                ab = (int(req * rng.random()), "snd" if outcome == "rst_client" else "rcv")
            if (yield from send_data(c, rng, C2S, req, c.mss, ab)):
                return
            yield from send_data(c, rng, S2C, resp, c.mss)
        else:
            yield from send_data(c, rng, C2S, req, c.mss)
            c.t += 50 + rng.randrange(3000)
            ab = None
            if rd == abort_round:
                ab = (int(resp * rng.random()), "rcv" if outcome == "rst_client" else "snd")
            if (yield from send_data(c, rng, S2C, resp, c.mss, ab)):
                return
        if rd != rounds - 1:
            if idle_ka:
                yield from keepalives(c, rng, rng.randrange(20000000, 70000000))
            elif kind == "interactive":
                c.t += rng.randrange(50000, 3000000)
            else:
                c.t += rng.randrange(1000, 500000)
    if outcome == "fin":
        c.t += 100 + rng.randrange(100000)
        yield from teardown_fin(c, rng)
    elif outcome == "fin_rst":
        c.t += 100 + rng.randrange(100000)
        yield from teardown_fin_rst(c, rng)
    # "open": nothing more, the capture ends with the connection established


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=float, default=1000.0,
                    help="approximate output size in MB (10^6 bytes), default 1000")
    ap.add_argument("--connections", type=int, default=None,
                    help="number of TCP connections (default: 20 per MB, at least 50)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ipv6-share", type=float, default=0.2)
    ap.add_argument("--truth", action="store_true",
                    help="also write FILE.truth.jsonl (one line per connection)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()

    t0 = time.time()
    n = a.connections if a.connections is not None else max(50, int(a.size_mb * 20))
    target = a.size_mb * 1e6
    rng = random.Random(a.seed)
    ctx = Ctx(rng)
    duration = max(60.0, a.size_mb * 0.6) * 1e6  # capture span in microseconds
    t_base = 1700000000 * 1000000

    # --- plan all connections up front (cheap: a few numbers each) -------------
    plan = []
    n_cli4 = 400
    for i in range(n):
        outcome = rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
        v6 = rng.random() < a.ipv6_share
        k = rng.random()
        kind = "interactive" if k < 0.10 else ("upload" if k < 0.25 else "download")
        if kind == "interactive":
            rounds = rng.randrange(5, 60)
        else:
            rounds = rng.choice((1, 1, 1, 2, 3, 5, 10))
        idle_ka = rounds > 1 and kind != "interactive" and rng.random() < 0.15
        weight = 0.0
        if outcome not in ("refused", "syn_timeout") and kind != "interactive":
            weight = rng.lognormvariate(0.0, 1.6)
        start = t_base + int(rng.random() * duration)
        plan.append([start, i, outcome, v6, kind, rounds, idle_ka, weight])
    wsum = sum(p[7] for p in plan) or 1.0
    cap = 0.03 * wsum
    for p in plan:
        p[7] = min(p[7], cap)
    wsum = sum(p[7] for p in plan) or 1.0
    budget = target * SIZE_CALIBRATION
    # aborted transfers send on average about half of their volume
    n_abort_w = sum(p[7] for p in plan if p[2] in ("rst_client", "rst_server"))
    budget_scale = budget / (wsum - 0.5 * n_abort_w) if wsum > n_abort_w * 0.5 else 0.0

    # unique 4-tuples: client address x client port
    ports = list(range(32768, 61000))
    order = list(range(n))
    rng.shuffle(order)
    mac_srv = b"\x02\x00\x5e\x00\x00\x01"

    plan.sort()
    out = open(a.output, "wb", buffering=0)
    out.write(PCAP_GLOBAL)
    truth = open(a.output + ".truth.jsonl", "w") if a.truth else None

    counts = {o: 0 for o in OUTCOMES}
    v6count = 0
    heap = []
    ni = 0
    parts = []
    pending = 0
    written = len(PCAP_GLOBAL)
    npk = 0
    nrst = 0
    conns = []
    FLUSH = 8 << 20
    last_ts = 0

    def new_conn(p):
        start, i, outcome, v6, kind, rounds, idle_ka, weight = p
        slot = order[i]
        ci = slot % n_cli4
        port = ports[(slot // n_cli4) % len(ports)]
        if v6:
            cli = bytes.fromhex("20010db8000100000000000000%06x" % (0x100 + ci))
            srv = bytes.fromhex("20010db8000200000000000000%06x" % (0x10 + slot % 32))
        else:
            cli = bytes((192, 0, 2, 1 + ci)) if ci < 200 else bytes((198, 51, 100, 1 + ci - 200))
            srv = bytes((203, 0, 113, 10 + slot % 32))
        dport = (443, 443, 443, 80, 22, 8080, 25, 993)[slot % 8]
        if kind == "interactive" and dport != 22:
            dport = 22
        mac_c = bytes((0x02, 0x00, 0x5e, 0x10, ci >> 8, ci & 0xFF))
        crng = random.Random((a.seed << 32) ^ (i * 0x9E3779B1))
        c = make_conn(ctx, crng, i, start, v6, cli, srv, port, dport, mac_c, mac_srv)
        volume = max(1, int(weight * budget_scale)) if weight else 1
        counts[outcome] += 1
        if truth is not None:
            truth.write(json.dumps({
                "id": i, "ip": 6 if v6 else 4,
                "client": "%s:%d" % (fmt_addr(cli), port),
                "server": "%s:%d" % (fmt_addr(srv), dport),
                "outcome": outcome, "kind": kind, "rounds": rounds,
                "keepalive": idle_ka, "start_us": start}) + "\n")
        return c, conn_gen(c, crng, outcome, volume, kind, rounds, idle_ka)

    while heap or ni < n:
        while ni < n and (not heap or plan[ni][0] <= heap[0][0]):
            c, g = new_conn(plan[ni])
            if plan[ni][3]:
                v6count += 1
            conns.append(c)
            first = next(g, None)
            if first is not None:
                heapq.heappush(heap, (first[0], c.idx, first[1], first[2], g))
            ni += 1
        ts, idx, hdr, payload, g = heap[0]
        if ts < last_ts:
            raise SystemExit("internal error: timestamps out of order %d < %d conn %d" % (ts, last_ts, idx))
        last_ts = ts
        parts.append(hdr)
        pending += len(hdr)
        if payload is not None:
            parts.append(payload)
            pending += len(payload)
        npk += 1
        nx = next(g, None)
        if nx is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (nx[0], idx, nx[1], nx[2], g))
        if pending >= FLUSH:
            out.write(b"".join(parts))
            written += pending
            parts = []
            pending = 0
    out.write(b"".join(parts))
    written += pending
    out.close()
    if truth is not None:
        truth.close()
    nrst = sum(c.nrst for c in conns)
    assert npk == sum(c.npk for c in conns)

    meta = {
        "format": "pcap (classic, microsecond, LINKTYPE_ETHERNET)",
        "generator": "bench/gen_capture.py",
        "generator_version": GENERATOR_VERSION,
        "size_mb_arg": a.size_mb,
        "seed": a.seed,
        "bytes": written,
        "packets": npk,
        "connections": n,
        "ipv4_connections": n - v6count,
        "ipv6_connections": v6count,
        "outcomes": counts,
        "rst_packets": nrst,
        "duration_s": round((last_ts - t_base) / 1e6, 3),
        "checksums": "ipv4 and tcp checksums correct",
        "generation_seconds": round(time.time() - t0, 2),
    }
    with open(a.output + ".meta.json", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print("wrote %s: %d bytes, %d packets, %d connections in %.1f s"
          % (a.output, written, npk, n, time.time() - t0), file=sys.stderr)


def fmt_addr(b):
    if len(b) == 4:
        return ".".join(str(x) for x in b)
    import ipaddress
    return str(ipaddress.IPv6Address(b))


if __name__ == "__main__":
    main()
