//! Writes a capture of many short TCP connections, fast: a million connections (about seven
//! million packets) in a few seconds, where `bench/gen_capture.py` (realistic bulk transfers,
//! losses, keep-alives) needs about 22 minutes at that count. Used by `bench/run.sh` for the
//! many-connection and SYN-flood figures.
//!
//! ```text
//! cargo run --release --example gen_connections -- --connections 1000000 -o many.pcap
//! cargo run --release --example gen_connections -- --kind syn-flood --connections 1000000 -o flood.pcap
//! cargo run --release --example gen_connections -- --connections 300000 --mass-reset 200000 -o burst.pcap
//! ```
//!
//! `--kind mixed` (the default): a new connection every `--interval-us` (100 us), each lasting
//! 20 ms to 2 s, so a few thousand are open at any moment; per connection a handshake, a
//! request (client, 120 bytes), a response (server, 400 bytes) and one ending: FIN both ways
//! (60%), a server RST after the request (15%), a client RST after the response (10%),
//! refused (SYN answered by RST, 8%), still open at the end (7%). About 6.7 packets per
//! connection. `--mass-reset K` makes the last K connections idle keep-alive connections that
//! the server resets within one millisecond (a process crash).
//!
//! `--kind syn-flood`: one SYN per connection from distinct source addresses and ports, none
//! answered.
//!
//! Classic pcap, Ethernet, IPv4 with correct IP and TCP checksums, addresses from the
//! documentation ranges (198.51.100.0/24 and 203.0.113.0/24 clients, 192.0.2.10:80 the server).
//! Deterministic: the same arguments give the same bytes. It only writes a file.
// A generator: failing loudly on bad arguments and truncating counters are what it should do.
#![allow(
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::too_many_lines
)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

const REQ_LEN: usize = 120;
const RESP_LEN: usize = 400;
const SERVER: [u8; 4] = [192, 0, 2, 10];

/// splitmix64: a few lines, deterministic, good enough to pick outcomes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Fin,
    ServerRst,
    ClientRst,
    Refused,
    Open,
    /// Established, idle, then reset by the server in the burst.
    Burst,
}

struct Conn {
    client: [u8; 4],
    port: u16,
    isn_c: u32,
    isn_s: u32,
    ip_id_c: u16,
    ip_id_s: u16,
}

/// One packet of a connection's script: who sends it, flags, payload, delay after the previous.
#[derive(Clone, Copy)]
struct Step {
    from_client: bool,
    flags: u8,
    len: usize,
    delay_us: u64,
}

fn script(outcome: Outcome, rng: &mut Rng) -> Vec<Step> {
    let s = |from_client, flags, len, delay_us| Step {
        from_client,
        flags,
        len,
        delay_us,
    };
    let rtt = 200 + rng.below(2_000);
    let think = 10_000 + rng.below(1_000_000);
    let mut v = vec![s(true, SYN, 0, 0)];
    if outcome == Outcome::Refused {
        v.push(s(false, RST | ACK, 0, rtt));
        return v;
    }
    v.push(s(false, SYN | ACK, 0, rtt));
    v.push(s(true, ACK, 0, rtt / 10));
    v.push(s(true, PSH | ACK, REQ_LEN, 50));
    match outcome {
        Outcome::ServerRst => v.push(s(false, RST | ACK, 0, think)),
        Outcome::Burst => v.push(s(false, PSH | ACK, RESP_LEN, think)),
        _ => {
            v.push(s(false, PSH | ACK, RESP_LEN, think));
            match outcome {
                Outcome::Fin => {
                    let linger = 1_000 + rng.below(500_000);
                    v.push(s(true, FIN | ACK, 0, linger));
                    v.push(s(false, FIN | ACK, 0, rtt));
                    v.push(s(true, ACK, 0, rtt));
                }
                Outcome::ClientRst => v.push(s(true, RST | ACK, 0, 1_000 + rng.below(500_000))),
                _ => {}
            }
        }
    }
    v
}

fn sum16(bytes: &[u8]) -> u32 {
    let mut sum = 0u32;
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        sum += hi | pair.get(1).map_or(0, |&b| u32::from(b));
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

struct Writer {
    out: BufWriter<File>,
    frame: Vec<u8>,
    payload: Vec<u8>,
    payload_sums: [u32; 2],
    packets: u64,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    fn packet(
        &mut self,
        ts_us: u64,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        ip_id: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        len: usize,
    ) -> std::io::Result<()> {
        let f = &mut self.frame;
        f.clear();
        // Ethernet: locally administered MACs.
        let (smac, dmac) = if src.0 == SERVER {
            ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        } else {
            ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        };
        f.extend_from_slice(&dmac);
        f.extend_from_slice(&smac);
        f.extend_from_slice(&[0x08, 0x00]);
        let total = 20 + 20 + len;
        let ttl = if src.0 == SERVER { 64 } else { 63 };
        let ip_start = f.len();
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&(total as u16).to_be_bytes());
        f.extend_from_slice(&ip_id.to_be_bytes());
        f.extend_from_slice(&[0x40, 0, ttl, 6, 0, 0]);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&dst.0);
        let ip_sum = fold(sum16(&f[ip_start..ip_start + 20]));
        f[ip_start + 10..ip_start + 12].copy_from_slice(&ip_sum.to_be_bytes());
        let tcp_start = f.len();
        f.extend_from_slice(&src.1.to_be_bytes());
        f.extend_from_slice(&dst.1.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&(if flags & ACK != 0 { ack } else { 0 }).to_be_bytes());
        let window: u16 = if flags & RST != 0 && flags & ACK == 0 {
            0
        } else {
            64_240
        };
        f.extend_from_slice(&[0x50, flags]);
        f.extend_from_slice(&window.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        let body = match len {
            0 => 0,
            REQ_LEN => self.payload_sums[0],
            _ => self.payload_sums[1],
        };
        f.extend_from_slice(&self.payload[..len]);
        let tcp_len = (20 + len) as u32;
        let pseudo = sum16(&src.0) + sum16(&dst.0) + 6 + tcp_len;
        let tcp_sum = fold(pseudo + sum16(&f[tcp_start..tcp_start + 20]) + body);
        f[tcp_start + 16..tcp_start + 18].copy_from_slice(&tcp_sum.to_be_bytes());
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(f.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(f.len() as u32).to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(f)?;
        self.packets += 1;
        Ok(())
    }
}

struct Args {
    connections: u64,
    syn_flood: bool,
    mass_reset: u64,
    interval_us: u64,
    seed: u64,
    out: String,
}

fn parse() -> Args {
    let mut a = Args {
        connections: 1_000_000,
        syn_flood: false,
        mass_reset: 0,
        interval_us: 100,
        seed: 1,
        out: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("a value after the option");
        match arg.as_str() {
            "--connections" => a.connections = val().parse().expect("--connections N"),
            "--kind" => a.syn_flood = val() == "syn-flood",
            "--mass-reset" => a.mass_reset = val().parse().expect("--mass-reset K"),
            "--interval-us" => a.interval_us = val().parse().expect("--interval-us N"),
            "--seed" => a.seed = val().parse().expect("--seed N"),
            "-o" => a.out = val(),
            other => panic!("unknown argument {other}; see the comment at the top of the file"),
        }
    }
    assert!(!a.out.is_empty(), "-o FILE is required");
    assert!(
        a.mass_reset <= a.connections,
        "--mass-reset at most --connections"
    );
    a
}

fn client_of(i: u64) -> ([u8; 4], u16) {
    // 512 client addresses, 60,000 ports each: 30 M distinct 4-tuples.
    let host = i % 512;
    let net = if host < 256 {
        [198, 51, 100]
    } else {
        [203, 0, 113]
    };
    let port = 1024 + ((i / 512) % 60_000) as u16;
    ([net[0], net[1], net[2], (host % 256) as u8], port)
}

fn main() -> std::io::Result<()> {
    let args = parse();
    let mut rng = Rng(args.seed);
    let mut payload = vec![0u8; RESP_LEN];
    let req = b"GET /v1/items HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: gen_connections\r\n";
    payload[..req.len()].copy_from_slice(req);
    for (i, b) in payload.iter_mut().enumerate().skip(req.len()) {
        *b = b'a' + (i % 26) as u8;
    }
    let payload_sums = [sum16(&payload[..REQ_LEN]), sum16(&payload[..RESP_LEN])];
    let mut w = Writer {
        out: BufWriter::with_capacity(1 << 20, File::create(&args.out)?),
        frame: Vec::with_capacity(1600),
        payload,
        payload_sums,
        packets: 0,
    };
    // Classic pcap header: microseconds, snaplen 65535, Ethernet.
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65_535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    w.out.write_all(&hdr)?;
    let epoch_us: u64 = 1_790_000_000_000_000;
    if args.syn_flood {
        for i in 0..args.connections {
            let (ip, port) = client_of(i);
            let isn = rng.next() as u32;
            w.packet(
                epoch_us + i * 2,
                (ip, port),
                (SERVER, 80),
                0,
                isn,
                0,
                SYN,
                0,
            )?;
        }
        w.out.flush()?;
        eprintln!("{}: {} packets", args.out, w.packets);
        return Ok(());
    }
    let mut conns: Vec<Conn> = Vec::with_capacity(args.connections as usize);
    let mut scripts: Vec<Vec<Step>> = Vec::with_capacity(args.connections as usize);
    let burst_from = args.connections - args.mass_reset;
    for i in 0..args.connections {
        let (client, port) = client_of(i);
        let outcome = if i >= burst_from {
            Outcome::Burst
        } else {
            match rng.below(100) {
                0..60 => Outcome::Fin,
                60..75 => Outcome::ServerRst,
                75..85 => Outcome::ClientRst,
                85..93 => Outcome::Refused,
                _ => Outcome::Open,
            }
        };
        conns.push(Conn {
            client,
            port,
            isn_c: rng.next() as u32,
            isn_s: rng.next() as u32,
            ip_id_c: rng.next() as u16,
            ip_id_s: rng.next() as u16,
        });
        scripts.push(script(outcome, &mut rng));
    }
    // Events: (time, connection, step). Only connections under way are in the heap.
    let mut heap: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut next_start = 0u64;
    let mut last_ts = epoch_us;
    // [client next seq, server next seq] per connection.
    let mut next: Vec<[u32; 2]> = conns.iter().map(|c| [c.isn_c, c.isn_s]).collect();
    loop {
        let start_ts =
            (next_start < args.connections).then(|| epoch_us + next_start * args.interval_us);
        let take_start = match (heap.peek(), start_ts) {
            (Some(Reverse((t, ..))), Some(s)) => s <= *t,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => break,
        };
        let (ts, ci, si) = if take_start {
            let s = start_ts.unwrap_or(0);
            next_start += 1;
            (s, next_start - 1, 0)
        } else {
            let Some(Reverse(e)) = heap.pop() else { break };
            e
        };
        last_ts = last_ts.max(ts);
        let c = &mut conns[ci as usize];
        let step = scripts[ci as usize][si];
        let n = &mut next[ci as usize];
        let (me, peer) = if step.from_client { (0, 1) } else { (1, 0) };
        let seq = n[me];
        let ack = n[peer];
        let ip_id = if step.from_client {
            c.ip_id_c = c.ip_id_c.wrapping_add(1);
            c.ip_id_c
        } else {
            c.ip_id_s = c.ip_id_s.wrapping_add(1);
            c.ip_id_s
        };
        let (src, dst) = if step.from_client {
            ((c.client, c.port), (SERVER, 80))
        } else {
            ((SERVER, 80), (c.client, c.port))
        };
        w.packet(ts, src, dst, ip_id, seq, ack, step.flags, step.len)?;
        let used = step.len as u32 + u32::from(step.flags & (SYN | FIN) != 0);
        n[me] = n[me].wrapping_add(used);
        if let Some(following) = scripts[ci as usize].get(si + 1) {
            heap.push(Reverse((ts + following.delay_us, ci, si + 1)));
        }
    }
    // The burst: the server resets every idle keep-alive connection within one millisecond.
    if args.mass_reset > 0 {
        let at = last_ts + 5_000_000;
        for (k, ci) in (burst_from..args.connections).enumerate() {
            let c = &mut conns[ci as usize];
            let n = next[ci as usize];
            c.ip_id_s = c.ip_id_s.wrapping_add(1);
            let ts = at + (k as u64 * 1_000) / args.mass_reset.max(1);
            w.packet(
                ts,
                (SERVER, 80),
                (c.client, c.port),
                c.ip_id_s,
                n[1],
                n[0],
                RST | ACK,
                0,
            )?;
        }
    }
    w.out.flush()?;
    eprintln!(
        "{}: {} packets, {} connections",
        args.out, w.packets, args.connections
    );
    Ok(())
}
