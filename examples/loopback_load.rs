//! Load for measuring live capture: small TCP segments on the loopback interface at a set
//! rate, between a sink and a sender in this process. Used by `bench/live.sh`.
//!
//! `cargo run --release --example loopback_load -- PORT WRITES_PER_SEC SECONDS [CONNECTIONS]`
//! Each write is 64 bytes with Nagle off, so one write is one segment; the receiver's ACKs
//! add packets of their own (the capture counts both).
// A measuring tool: failing loudly and rounding rates are what it should do.
#![allow(
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let port = u16::try_from(arg(1, 45_000)).unwrap_or(45_000);
    let rate = arg(2, 50_000);
    let seconds = arg(3, 10);
    let conns = usize::try_from(arg(4, 4)).unwrap_or(4).max(1);
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the sink");
    let sink = std::thread::Builder::new().name("sink".into());
    let _sink = sink.spawn(move || {
        for stream in listener.incoming().flatten() {
            let reader = std::thread::Builder::new().name("sink-conn".into());
            let _ = reader.spawn(move || {
                let mut s = stream;
                let mut buf = vec![0u8; 65536];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let mut streams: Vec<TcpStream> = (0..conns)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s
        })
        .collect();
    let payload = [0x55u8; 64];
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut sent: u64 = 0;
    let mut i = 0;
    while Instant::now() < end {
        // Pace: writes due by now at the asked rate.
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            streams[i % conns].write_all(&payload).expect("write");
            i += 1;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "writes={sent} seconds={took:.3} writes_per_sec={:.0}",
        sent as f64 / took
    );
}
