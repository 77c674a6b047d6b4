//! Connection-tracking tests built from short packet sequences, grouped by what they exercise.

use super::*;
use crate::decode::TcpSegment;

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:80";

/// A segment from `from` to `to` with the given flags, seq, ack and payload length.
fn seg(from: &str, to: &str, f: u8, seq: u32, ack: u32, len: u32) -> TcpSegment {
    TcpSegment::test(from, to, f, seq, ack, len)
}

const SYN: u8 = flags::SYN;
const SA: u8 = flags::SYN | flags::ACK;
const A: u8 = flags::ACK;
const PA: u8 = flags::PSH | flags::ACK;
const FA: u8 = flags::FIN | flags::ACK;
const R: u8 = flags::RST;
const RA: u8 = flags::RST | flags::ACK;

/// Feeds segments at one per millisecond (or at explicit times) and returns the tracker.
fn run(segs: &[(i64, TcpSegment)]) -> FlowTracker {
    let mut t = FlowTracker::new(FlowConfig::default());
    for (i, (ts, s)) in segs.iter().enumerate() {
        t.observe(i as u64 + 1, *ts, s);
    }
    t
}

fn ms(n: i64) -> i64 {
    n * 1_000_000
}

fn handshake() -> Vec<(i64, TcpSegment)> {
    vec![
        (ms(0), seg(C, S, SYN, 100, 0, 0)),
        (ms(1), seg(S, C, SA, 500, 101, 0)),
        (ms(2), seg(C, S, A, 101, 501, 0)),
    ]
}

/// The handshake, then a FIN each way and the last ACK (frames 4 to 6).
fn graceful() -> Vec<(i64, TcpSegment)> {
    let mut p = handshake();
    p.push((ms(3), seg(C, S, FA, 101, 501, 0)));
    p.push((ms(4), seg(S, C, FA, 501, 102, 0)));
    p.push((ms(5), seg(C, S, A, 102, 502, 0)));
    p
}

// ---- Handshake and roles ----

#[test]
fn syn_sender_is_client_and_handshake_frames_and_rtt_are_recorded() {
    let t = run(&handshake());
    let c = &t.connections()[0];
    assert_eq!(c.client, C.parse().unwrap());
    assert_eq!(c.role_basis, RoleBasis::Syn);
    assert_eq!(
        (
            c.handshake.syn_frame,
            c.handshake.synack_frame,
            c.handshake.ack_frame
        ),
        (Some(1), Some(2), Some(3))
    );
    assert_eq!(c.handshake.rtt_ns, Some(ms(2)));
    assert_eq!(c.termination(), Termination::Open);
}

#[test]
fn midstream_connection_guesses_the_low_port_as_server() {
    let t = run(&[(0, seg(S, C, PA, 7, 9, 10))]);
    let c = &t.connections()[0];
    assert_eq!(c.server, S.parse().unwrap());
    assert_eq!(c.role_basis, RoleBasis::PortGuess);
}

// ---- Endings ----

#[test]
fn fin_both_ways_is_a_fin_termination() {
    let t = run(&graceful());
    let c = &t.connections()[0];
    assert_eq!(c.termination(), Termination::Fin);
    assert_eq!(c.dir(Dir::Client).fin_frame, Some(4));
}

#[test]
fn zeeks_verdict_is_in_every_copy_handed_out_and_in_the_finished_table() {
    let mut t = run(&handshake());
    let zeek = |c: &Connection| {
        (
            c.zeek_current().conn_state,
            c.zeek_current().history.clone(),
        )
    };
    let during = t.snapshot(0).unwrap();
    assert_eq!(zeek(&during), ("S1", "ShA".to_owned()));
    assert!(t.snapshot(1).is_none());
    for (i, (ts, s)) in graceful().iter().enumerate().skip(3) {
        t.observe(i as u64 + 1, *ts, s);
    }
    let (conns, _) = t.finish();
    assert_eq!(zeek(&conns[0]), ("SF", "ShAFf".to_owned()));
    assert_eq!(conns[0].zeek_connections().len(), 1);
}

#[test]
fn a_syn_nobody_answers_costs_a_table_entry_and_its_packet() {
    // Zeek's machine (352 bytes) is built at a connection's second packet.
    let c = size_of::<Connection>();
    let slot = size_of::<ZeekSlot>();
    assert!(
        c <= 512 && slot <= 40,
        "connection {c} B, Zeek slot {slot} B"
    );
    let t = run(&[(0, seg(C, S, SYN, 100, 0, 0))]);
    assert!(matches!(t.zeek[0], ZeekSlot::First { .. }));
    let (conns, _) = t.finish();
    let z = conns[0].zeek_current();
    assert_eq!((z.conn_state, z.history.as_str()), ("S0", "S"));
}

#[test]
fn zeeks_timers_close_a_finished_connection_and_free_its_machine() {
    let mut t = run(&graceful());
    assert!(matches!(t.zeek[0], ZeekSlot::Live(_)));
    // Ten seconds later another connection talks: Zeek's close delay (5 s) has passed.
    let other = "10.0.0.3:40001";
    t.observe(7, ms(10_000), &seg(other, S, SYN, 7, 0, 0));
    for i in 0..(2 * SWEEP_EVERY) {
        t.observe(
            8 + i,
            ms(10_001) + i64::try_from(i).unwrap_or(0),
            &seg(other, S, A, 8, 0, 0),
        );
    }
    assert!(matches!(t.zeek[0], ZeekSlot::Closed));
    assert_eq!(t.machines.free.len(), 1, "its machine is free for another");
    // A late packet of the old connection now starts a new Zeek connection, as in Zeek.
    t.observe(900, ms(10_500), &seg(C, S, A, 102, 502, 0));
    let (conns, _) = t.finish();
    let zeek = conns[0].zeek_connections();
    assert_eq!(zeek.len(), 2, "{zeek:?}");
    assert_eq!(
        (zeek[0].conn_state, zeek[0].history.as_str()),
        ("SF", "ShAFf")
    );
}

#[test]
fn rst_answering_a_syn_is_refused_and_acceptable() {
    let t = run(&[
        (0, seg(C, S, SYN, 100, 0, 0)),
        (ms(1), seg(S, C, RA, 0, 101, 0)),
    ]);
    let c = &t.connections()[0];
    assert_eq!(c.termination(), Termination::Refused);
    assert_eq!(c.resets[0].in_window, Some(true));
    assert_eq!(c.resets[0].from, Dir::Server);
}

#[test]
fn unanswered_syns_are_unanswered() {
    let t = run(&[
        (0, seg(C, S, SYN, 100, 0, 0)),
        (ms(1000), seg(C, S, SYN, 100, 0, 0)),
    ]);
    let c = &t.connections()[0];
    assert_eq!(c.termination(), Termination::Unanswered);
    assert_eq!(
        c.dir(Dir::Client).retransmissions,
        1,
        "the second SYN is a retransmission"
    );
}

#[test]
fn data_retransmitted_into_a_black_hole_is_unanswered() {
    let mut p = handshake();
    for i in 0..4 {
        p.push((ms(3 + 200 * i), seg(C, S, PA, 101, 501, 10)));
    }
    let t = run(&p);
    assert_eq!(t.connections()[0].termination(), Termination::Unanswered);
    // An answer after the retransmissions re-opens the story.
    p.push((ms(900), seg(S, C, A, 501, 111, 0)));
    assert_eq!(run(&p).connections()[0].termination(), Termination::Open);
}

// ---- RST acceptance (RFC 5961 3.2) ----

#[test]
fn rst_at_rcv_nxt_is_exact_and_far_rst_is_out_of_window() {
    let mut p = handshake();
    p.push((ms(3), seg(C, S, PA, 101, 501, 50)));
    p.push((ms(4), seg(S, C, A, 501, 151, 0)));
    p.push((ms(5), seg(C, S, R, 151, 0, 0)));
    p.push((ms(6), seg(C, S, R, 151 + 5_000_000, 0, 0)));
    let t = run(&p);
    let c = &t.connections()[0];
    assert_eq!(c.resets.len(), 2);
    assert_eq!(
        (c.resets[0].in_window, c.resets[0].exact),
        (Some(true), Some(true))
    );
    assert_eq!(c.resets[0].seq_rel, Some(51));
    assert_eq!(c.resets[1].in_window, Some(false));
    assert_eq!(c.termination(), Termination::Reset);
}

// ---- Sequence analysis (Wireshark tcp.analysis) ----

#[test]
fn keepalive_is_seq_minus_one_and_not_a_retransmission() {
    let mut p = handshake();
    p.push((ms(3), seg(C, S, PA, 101, 501, 10)));
    p.push((ms(4), seg(C, S, A, 110, 501, 0)));
    p.push((ms(5), seg(C, S, PA, 101, 501, 10)));
    let t = run(&p);
    let d = t.connections()[0].dir(Dir::Client);
    assert_eq!(d.keepalives, 1);
    assert_eq!(d.retransmissions, 1);
    let recs = t.packets(0);
    assert_eq!(recs[4].analysis & analysis::KEEPALIVE, analysis::KEEPALIVE);
    assert_eq!(
        recs[5].analysis & analysis::RETRANSMISSION,
        analysis::RETRANSMISSION
    );
}

#[test]
fn idle_gaps_at_or_above_the_threshold_are_recorded() {
    let mut p = handshake();
    p.push((ms(2) + 1_500_000_000, seg(C, S, PA, 101, 501, 10)));
    p.push((ms(2) + 1_600_000_000, seg(S, C, A, 501, 111, 0)));
    let t = run(&p);
    let gaps = &t.connections()[0].idle_gaps;
    assert_eq!(gaps.len(), 1);
    assert_eq!(
        (gaps[0].after_frame, gaps[0].before_frame, gaps[0].ns),
        (3, 4, 1_500_000_000)
    );
}

// ---- Port reuse ----

#[test]
fn syn_from_a_side_that_never_sent_one_stays_in_the_connection() {
    // Seen mid-stream, then the client's SYN: Wireshark keeps one conversation.
    let t = run(&[
        (0, seg(S, C, PA, 7, 9, 10)),
        (ms(1), seg(C, S, SYN, 100, 0, 0)),
    ]);
    assert_eq!(t.connections().len(), 1);
}

#[test]
fn syn_with_a_new_isn_after_a_reset_starts_a_new_connection() {
    let mut p = handshake();
    p.push((ms(3), seg(S, C, R, 501, 0, 0)));
    p.push((ms(4), seg(C, S, SYN, 9000, 0, 0)));
    p.push((ms(5), seg(C, S, SYN, 9000, 0, 0)));
    let t = run(&p);
    assert_eq!(t.connections().len(), 2);
    assert_eq!(t.connections()[1].first_frame, 5);
    assert_eq!(
        t.connections()[1].dir(Dir::Client).packets,
        2,
        "a retransmitted SYN stays"
    );
}

#[test]
fn packet_record_is_at_most_64_bytes() {
    assert!(
        size_of::<PacketRecord>() <= 64,
        "{}",
        size_of::<PacketRecord>()
    );
}

// ---- The 4-tuple index ----

#[test]
fn four_tuples_sharing_a_hash_stay_separate_connections() {
    let mut t = FlowTracker::new(FlowConfig::default());
    let other = "10.0.0.3:40000";
    let key = FlowKey(42); // the same hash for both 4-tuples, as a collision would give
    t.observe_keyed(1, 0, &seg(C, S, SYN, 100, 0, 0), key);
    t.observe_keyed(2, 1, &seg(other, S, SYN, 700, 0, 0), key);
    t.observe_keyed(3, 2, &seg(S, C, SA, 500, 101, 0), key);
    t.observe_keyed(4, 3, &seg(S, other, SA, 900, 701, 0), key);
    // Port reuse on the first 4-tuple, still behind the same hash.
    t.observe_keyed(5, 4, &seg(C, S, R, 101, 0, 0), key);
    t.observe_keyed(6, 5, &seg(C, S, SYN, 5000, 0, 0), key);
    t.observe_keyed(7, 6, &seg(other, S, A, 701, 901, 0), key);
    let conns = t.connections();
    assert_eq!(conns.len(), 3);
    assert_eq!(
        t.packets(0).iter().map(|p| p.frame).collect::<Vec<_>>(),
        vec![1, 3, 5]
    );
    assert_eq!(
        t.packets(1).iter().map(|p| p.frame).collect::<Vec<_>>(),
        vec![2, 4, 7]
    );
    assert_eq!(
        t.packets(2).iter().map(|p| p.frame).collect::<Vec<_>>(),
        vec![6]
    );
}

#[test]
fn a_record_limit_keeps_the_start_and_the_latest_packets() {
    let limit = RecordLimit { head: 3, tail: 5 };
    let mut tracker = FlowTracker::new(FlowConfig {
        record_limit: Some(limit),
        ..FlowConfig::default()
    });
    let (c, s) = ("10.0.0.1:1000", "10.0.0.2:80");
    let mut id = 0;
    for n in 1..=100u32 {
        let seg = if n % 2 == 1 {
            TcpSegment::test(c, s, flags::ACK, 1000 + n, 1, 10)
        } else {
            TcpSegment::test(s, c, flags::ACK, 1, 1000 + n, 0)
        };
        id = tracker.observe(u64::from(n), i64::from(n) * 1000, &seg);
    }
    let records = tracker.packets(id);
    assert_eq!(tracker.appended(id), 100);
    assert!(records.len() <= 3 + 2 * 5, "{} records held", records.len());
    let frames: Vec<u32> = records.iter().map(|r| r.frame).collect();
    assert_eq!(&frames[..3], &[1, 2, 3], "the start is kept");
    assert_eq!(*frames.last().unwrap(), 100, "the latest packet is kept");
    assert!(
        frames.windows(2).all(|w| w[0] < w[1]),
        "in order: {frames:?}"
    );
    // The latest `tail` packets are always all there.
    assert_eq!(&frames[frames.len() - 5..], &[96, 97, 98, 99, 100]);
    // Counters are the connection's, not the records'.
    assert_eq!(
        tracker.connections()[id as usize].dir(Dir::Client).packets,
        50
    );
}
