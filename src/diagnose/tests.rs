//! One group of tests per rule, each built from a short packet sequence and named for what it
//! proves. The sequences follow what Linux puts on the wire (see the module docs of `signals`).

use super::*;
use crate::decode::{TcpSegment, flags};
use crate::flow::{FlowConfig, FlowTracker};

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:80";
const SYN: u8 = flags::SYN;
const SA: u8 = flags::SYN | flags::ACK;
const A: u8 = flags::ACK;
const PA: u8 = flags::PSH | flags::ACK;
const FA: u8 = flags::FIN | flags::ACK;
const R: u8 = flags::RST;
const RA: u8 = flags::RST | flags::ACK;

/// A packet at `ms` milliseconds: the client's have TTL 64 and the server's TTL 63 (one hop)
/// unless `with` changes them; IP IDs count up per side.
#[derive(Clone)]
struct P {
    ms: i64,
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
    ttl: Option<u8>,
    ip_id: Option<u16>,
}

fn c(ms: i64, flags: u8, seq: u32, ack: u32, len: u32) -> P {
    P {
        ms,
        from_client: true,
        flags,
        seq,
        ack,
        len,
        ttl: None,
        ip_id: None,
    }
}
fn s(ms: i64, flags: u8, seq: u32, ack: u32, len: u32) -> P {
    P {
        ms,
        from_client: false,
        flags,
        seq,
        ack,
        len,
        ttl: None,
        ip_id: None,
    }
}
impl P {
    fn ttl(mut self, t: u8) -> Self {
        self.ttl = Some(t);
        self
    }
    fn id(mut self, i: u16) -> Self {
        self.ip_id = Some(i);
        self
    }
}

/// Runs packets through the real connection tracker, then the diagnosis.
fn run(
    ps: &[P],
) -> (
    Vec<crate::flow::Connection>,
    Vec<Vec<crate::flow::PacketRecord>>,
) {
    let mut t = FlowTracker::new(FlowConfig::default());
    let (mut cid, mut sid) = (1000u16, 5000u16);
    for (i, p) in ps.iter().enumerate() {
        let (from, to) = if p.from_client { (C, S) } else { (S, C) };
        let counter = if p.from_client { &mut cid } else { &mut sid };
        *counter += 1;
        let seg = TcpSegment {
            window: 500,
            ttl: p.ttl.unwrap_or(if p.from_client { 64 } else { 63 }),
            ip_id: Some(p.ip_id.unwrap_or(*counter)),
            ..TcpSegment::test(from, to, p.flags, p.seq, p.ack, p.len)
        };
        t.observe(i as u64 + 1, p.ms * 1_000_000, &seg);
    }
    t.finish()
}

fn diag(ps: &[P]) -> Option<Diagnosis> {
    let (conns, packets) = run(ps);
    diagnose(&conns[0], &packets[0])
}

/// Handshake: client ISN 100, server ISN 500.
fn hs() -> Vec<P> {
    vec![
        c(0, SYN, 100, 0, 0),
        s(1, SA, 500, 101, 0),
        c(2, A, 101, 501, 0),
    ]
}

/// Handshake and a request/response: client sends 100 bytes, server answers 300.
fn exchange() -> Vec<P> {
    let mut p = hs();
    p.extend([
        c(3, PA, 101, 501, 100),
        s(4, A, 501, 201, 0),
        s(5, PA, 501, 201, 300),
        c(6, A, 201, 801, 0),
    ]);
    p
}

// ---- Graceful endings get no diagnosis ----

#[test]
fn fin_both_ways_has_no_diagnosis() {
    let mut p = exchange();
    p.extend([
        c(7, FA, 201, 801, 0),
        s(8, FA, 801, 202, 0),
        c(9, A, 202, 802, 0),
    ]);
    assert_eq!(diag(&p), None);
}

#[test]
fn open_connection_has_no_diagnosis() {
    assert_eq!(diag(&exchange()), None);
}

// ---- refused ----

#[test]
fn refused_syn_answered_by_rst_ack_is_the_server_kernel() {
    let d = diag(&[c(0, SYN, 100, 0, 0), s(1, RA, 0, 101, 0).id(0)]).unwrap();
    assert_eq!(d.cause, Cause::Refused);
    assert_eq!(
        (d.sender, d.sender_kind, d.actor),
        (Dir::Server, SenderKind::Endpoint, Actor::Kernel)
    );
    // One router between (TTL 63) and nothing else from the server: a firewall in front of
    // it would look the same.
    assert_eq!(d.confidence, Confidence::Medium);
    assert!(
        d.summary
            .starts_with("The server, or a firewall in front of it, refused the connection"),
        "{}",
        d.summary
    );
    assert!(d.summary.contains("frame 2"), "{}", d.summary);
}

// ---- probe-abort ----

#[test]
fn probe_abort_is_handshake_then_client_rst_without_data() {
    let mut p = hs();
    p.push(c(3, RA, 101, 501, 0));
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.sender), (Cause::ProbeAbort, Dir::Client));
}

#[test]
fn probe_abort_not_when_data_was_exchanged() {
    let mut p = exchange();
    p.push(c(7, RA, 201, 801, 0));
    assert_ne!(diag(&p).unwrap().cause, Cause::ProbeAbort);
}

// ---- middlebox-reset ----

#[test]
fn rst_with_foreign_ttl_while_server_keeps_sending_is_forged_with_high_confidence() {
    let mut p = exchange();
    p.push(s(7, PA, 801, 201, 1000));
    p.push(s(8, RA, 1801, 201, 0).ttl(64).id(777));
    p.push(s(9, PA, 1801, 201, 1000));
    p.push(c(10, R, 201, 0, 0).id(0));
    let d = diag(&p).unwrap();
    assert_eq!(d.cause, Cause::MiddleboxReset);
    assert_eq!(
        (d.sender, d.sender_kind, d.actor),
        (Dir::Server, SenderKind::Middlebox, Actor::PathDevice)
    );
    assert_eq!(d.confidence, Confidence::High);
    assert_eq!(d.hops_from_capture, Some(0));
    assert_eq!(
        d.consequences.len(),
        1,
        "the client's own RST is a consequence"
    );
    assert!(d.consequences[0].note.contains("client"));
}

#[test]
fn rst_matching_the_senders_ttl_is_not_forged() {
    let mut p = exchange();
    p.push(s(7, RA, 801, 201, 0));
    assert_ne!(diag(&p).unwrap().sender_kind, SenderKind::Middlebox);
}

#[test]
fn unsolicited_out_of_window_rst_is_a_blind_injection() {
    let mut p = exchange();
    p.push(s(100, R, 123_456, 0, 0));
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender_kind),
        (Cause::MiddleboxReset, SenderKind::Middlebox)
    );
    assert!(d.evidence.iter().any(|e| e.note.contains("blind guess")));
}

#[test]
fn rst_spray_with_different_sequence_numbers_is_forged() {
    let mut p = exchange();
    p.extend([c(50, PA, 201, 801, 10), s(51, A, 801, 211, 0)]);
    for (i, seq) in [801u32, 1301, 1801].into_iter().enumerate() {
        p.push(s(80 + i64::try_from(i).unwrap(), RA, seq, 211, 0));
    }
    let d = diag(&p).unwrap();
    assert_eq!(d.sender_kind, SenderKind::Middlebox);
    assert!(
        d.confidence_reasons
            .iter()
            .any(|r| r.contains("different sequence numbers"))
    );
}

// ---- firewall-state-expiry ----

#[test]
fn forged_rst_answering_the_first_packet_after_idle_is_firewall_state_expiry() {
    let mut p = exchange();
    p.push(c(5_006, PA, 201, 801, 100));
    p.push(s(5_007, R, 801, 0, 0).ttl(64).id(0));
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender_kind),
        (Cause::FirewallStateExpiry, SenderKind::Middlebox)
    );
    assert_eq!(d.trigger_frame, Some(8));
    assert!(d.idle_before_s.unwrap() > 4.9);
}

#[test]
fn data_black_holed_after_idle_is_firewall_state_expiry_without_rst() {
    let mut p = exchange();
    p.push(c(5_006, PA, 201, 801, 100));
    p.push(c(5_206, PA, 201, 801, 100));
    p.push(c(5_606, PA, 201, 801, 100));
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender, d.rst_frame),
        (Cause::FirewallStateExpiry, Dir::Server, None)
    );
    assert!(
        d.would_settle.is_some(),
        "a dead server looks the same: say what would settle it"
    );
}

// ---- no-socket ----

#[test]
fn reply_rst_with_ip_id_zero_after_idle_is_no_socket() {
    let mut p = exchange();
    p.push(c(4_006, PA, 201, 801, 100));
    p.push(s(4_007, R, 801, 0, 0).id(0));
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender, d.actor),
        (Cause::NoSocket, Dir::Server, Actor::Kernel)
    );
    assert_eq!(d.confidence, Confidence::High);
    assert_eq!(d.trigger_frame, Some(8));
}

// ---- write-after-close ----

#[test]
fn data_after_the_servers_fin_answered_by_rst_is_write_after_close() {
    let mut p = exchange();
    p.push(s(1_000, FA, 801, 201, 0));
    p.push(c(1_040, A, 201, 802, 0));
    p.push(c(2_500, PA, 201, 802, 100));
    p.push(s(2_501, R, 802, 0, 0).id(0));
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.sender), (Cause::WriteAfterClose, Dir::Server));
    assert!(
        d.evidence
            .iter()
            .any(|e| e.frame == 8 && e.note.contains("FIN"))
    );
}

// ---- keepalive-timeout ----

#[test]
fn unanswered_keepalive_probes_then_rst_is_keepalive_timeout() {
    let mut p = exchange();
    for i in 1..=3 {
        p.push(c(6 + i * 1000, A, 200, 801, 0));
    }
    p.push(c(4_006, RA, 201, 801, 0));
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.sender), (Cause::KeepaliveTimeout, Dir::Client));
    assert_eq!(
        d.evidence
            .iter()
            .filter(|e| e.note.starts_with("keep-alive probe"))
            .count(),
        3
    );
}

// ---- idle-timeout ----

#[test]
fn unsolicited_fin_and_rst_after_sixty_seconds_is_an_idle_timeout_named() {
    let mut p = exchange();
    p.push(s(60_006, FA, 801, 201, 0));
    p.push(s(60_006, RA, 802, 201, 0));
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.sender), (Cause::IdleTimeout, Dir::Server));
    assert!(
        d.known_timeout.as_deref().unwrap().contains("60 s"),
        "{:?}",
        d.known_timeout
    );
    assert_eq!(d.confidence, Confidence::High);
}

// ---- unread-data-close ----

#[test]
fn rst_acknowledging_data_that_was_still_arriving_is_unread_data_close() {
    let mut p = exchange();
    p.push(s(7, PA, 801, 201, 1000));
    p.push(s(8, PA, 1801, 201, 1000));
    p.push(c(9, RA, 201, 2801, 0));
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender, d.confidence),
        (Cause::UnreadDataClose, Dir::Client, Confidence::High)
    );
}

#[test]
fn short_answer_to_a_long_upload_then_rst_is_unread_data_close() {
    let mut p = hs();
    p.extend([
        c(3, A, 101, 501, 1448),
        c(3, A, 1549, 501, 1448),
        c(3, PA, 2997, 501, 1000),
        s(4, A, 501, 3997, 0),
        s(5, PA, 501, 3997, 120),
        c(6, A, 3997, 621, 0),
        s(7, RA, 621, 3997, 0),
    ]);
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender, d.confidence),
        (Cause::UnreadDataClose, Dir::Server, Confidence::Medium)
    );
}

// ---- abortive-close ----

#[test]
fn active_rst_right_after_a_complete_exchange_is_abortive_close() {
    let mut p = exchange();
    p.push(s(7, RA, 801, 201, 0));
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender, d.actor),
        (Cause::AbortiveClose, Dir::Server, Actor::Application)
    );
    assert!(d.would_settle.is_some());
}

// ---- unknown ----

#[test]
fn rst_that_fits_no_signature_is_unknown_and_says_what_would_settle_it() {
    // In window, answering nothing, no silence before it, no ACK flag: no signature fits.
    let mut p = exchange();
    p.extend([
        c(50, PA, 201, 801, 10),
        s(51, A, 801, 211, 0),
        s(80, R, 801, 0, 0),
    ]);
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.confidence), (Cause::Unknown, Confidence::Low));
    assert!(d.would_settle.unwrap().contains("capture"));
}

// ---- Competing hypotheses: alternatives and confidence ----

#[test]
fn a_verdict_below_high_lists_its_runner_up_with_what_would_tell_them_apart() {
    // SO_LINGER(0) right after a complete exchange: an abort, but unread data looks the same.
    let mut p = exchange();
    p.push(s(7, RA, 801, 201, 0));
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::AbortiveClose, Confidence::Medium)
    );
    let alt = &d.alternatives[0];
    assert_eq!(alt.cause, Cause::UnreadDataClose);
    assert!(
        alt.tell_apart.contains("TCP_ABORT_ON_CLOSE"),
        "{}",
        alt.tell_apart
    );
}

#[test]
fn a_high_verdict_has_no_alternatives() {
    let mut p = exchange();
    p.push(s(7, PA, 801, 201, 1000));
    p.push(s(8, PA, 1801, 201, 1000));
    p.push(c(9, RA, 201, 2801, 0));
    let d = diag(&p).unwrap();
    assert_eq!(d.confidence, Confidence::High);
    assert!(d.alternatives.is_empty(), "{:?}", d.alternatives);
    assert!(d.would_settle.is_none());
}

#[test]
fn a_request_the_server_never_answered_then_its_rst_is_unread_data() {
    // 1500 bytes in, acknowledged, no answer, then the server's RST: it closed with them
    // unread (Linux: TCP_ABORT_ON_CLOSE), not an abort with nothing pending.
    let mut p = hs();
    p.extend([
        c(3, A, 101, 501, 1448),
        c(3, PA, 1549, 501, 52),
        s(4, A, 501, 1601, 0),
        s(300, RA, 501, 1601, 0),
    ]);
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.sender), (Cause::UnreadDataClose, Dir::Server));
    assert!(d.summary.contains("never answered"), "{}", d.summary);
    assert!(
        d.alternatives
            .iter()
            .any(|a| a.cause == Cause::AbortiveClose)
    );
}

#[test]
fn a_receive_window_that_fell_to_zero_before_the_rst_is_unread_data() {
    // The client uploads; the server acknowledges every segment but its window shrinks to
    // zero (its application reads nothing), then it resets.
    let mut p = hs();
    let mut seq = 101;
    for i in 0..5 {
        p.push(c(3 + i, A, seq, 501, 1000));
        seq += 1000;
        p.push(s(3 + i, A, 501, seq, 0));
    }
    p.push(s(20, RA, 501, seq, 0));
    let (conns, mut packets) = run(&p);
    let windows = [400u16, 300, 200, 100, 0];
    for (r, w) in packets[0]
        .iter_mut()
        .filter(|r| r.dir == Dir::Server && r.flags == A)
        .zip(windows)
    {
        r.window = w;
    }
    let d = diagnose(&conns[0], &packets[0]).unwrap();
    assert_eq!(d.cause, Cause::UnreadDataClose, "{}", d.summary);
    assert!(d.summary.contains("to zero"), "{}", d.summary);
}

// ---- Server timers ----

#[test]
fn a_server_that_resets_a_request_left_unfinished_for_sixty_seconds_names_the_request_timers() {
    // The client sends half a header and goes quiet; 60 s later the server resets (nginx with
    // reset_timedout_connection on).
    let mut p = hs();
    p.extend([c(3, PA, 101, 501, 40), s(4, A, 501, 141, 0)]);
    p.push(s(60_004, RA, 501, 141, 0));
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.sender), (Cause::IdleTimeout, Dir::Server));
    let t = d.known_timeout.as_deref().unwrap();
    assert!(t.contains("client_header_timeout"), "{t}");
    assert!(!t.contains("keepalive_timeout"), "{t}");
    assert!(d.summary.contains("request"), "{}", d.summary);
    assert_eq!(d.confidence, Confidence::High);
}

#[test]
fn a_408_and_fin_then_a_reset_of_the_late_write_is_the_servers_request_timer() {
    // A slow request: the server answers 408 and closes 10 s after it began; the client goes on
    // writing and the server's kernel resets it. The timer is the cause, the write only how.
    let mut p = hs();
    p.extend([
        c(3, PA, 101, 501, 45),
        s(4, A, 501, 146, 0),
        c(5_003, PA, 146, 501, 13),
        s(5_004, A, 501, 159, 0),
        s(10_003, PA, 501, 159, 233),
        c(10_004, A, 159, 734, 0),
        s(10_005, FA, 734, 159, 0),
        c(10_006, A, 159, 735, 0),
        c(12_003, PA, 159, 735, 13),
        s(12_004, R, 735, 0, 0).id(0),
    ]);
    let d = diag(&p).unwrap();
    assert_eq!(
        (d.cause, d.sender),
        (Cause::IdleTimeout, Dir::Server),
        "{}",
        d.summary
    );
    assert!(d.summary.contains("kept sending"), "{}", d.summary);
    assert!(
        d.alternatives
            .iter()
            .any(|a| a.cause == Cause::WriteAfterClose),
        "{:?}",
        d.alternatives
    );
}

#[test]
fn a_client_with_a_zero_window_reset_by_the_server_is_a_send_timeout() {
    // The client stops reading: its window is zero while the server probes; 60 s later the
    // server gives up.
    let mut p = exchange();
    p.push(c(10, A, 201, 801, 0));
    let (conns, mut packets) = run(&[
        p.clone(),
        vec![
            s(5_010, A, 800, 201, 1),
            c(5_011, A, 201, 801, 0),
            s(30_010, A, 800, 201, 1),
            c(30_011, A, 201, 801, 0),
            s(60_010, RA, 801, 201, 0),
        ],
    ]
    .concat());
    for r in packets[0]
        .iter_mut()
        .filter(|r| r.dir == Dir::Client && r.frame >= 8)
    {
        r.window = 0;
        r.analysis |= crate::flow::analysis::ZERO_WINDOW;
    }
    let d = diagnose(&conns[0], &packets[0]).unwrap();
    assert_eq!(d.cause, Cause::IdleTimeout, "{}", d.summary);
    assert!(d.summary.contains("read"), "{}", d.summary);
    assert!(
        d.known_timeout
            .as_deref()
            .unwrap_or("")
            .contains("send_timeout"),
        "{:?}",
        d.known_timeout
    );
}

#[test]
fn a_client_resetting_an_idle_connection_is_more_likely_an_abort_than_a_timer() {
    let mut p = exchange();
    p.push(c(1_406, RA, 201, 801, 0));
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.sender), (Cause::AbortiveClose, Dir::Client));
    assert!(d.alternatives.iter().any(|a| a.cause == Cause::IdleTimeout));
}

// ---- Every RST attributed ----

#[test]
fn an_ignored_forged_rst_before_the_servers_own_is_attributed_and_does_not_decide() {
    // A blind RST "from the server" (TTL 40, outside the window) while the client is in
    // SYN-SENT; the handshake goes on; later the server's own RST ends the connection.
    let p = vec![
        c(0, SYN, 100, 0, 0),
        s(1, RA, 0, 100, 0).ttl(40).id(777),
        s(2, SA, 500, 101, 0),
        c(3, A, 101, 501, 0),
        c(4, PA, 101, 501, 25),
        s(5, A, 501, 126, 0),
        s(6, RA, 501, 126, 0),
    ];
    let d = diag(&p).unwrap();
    assert_eq!(d.rst_frame, Some(7), "{:#?}", d.resets);
    assert_eq!(d.sender_kind, SenderKind::Endpoint);
    assert_eq!(d.resets.len(), 2);
    assert_eq!(
        (d.resets[0].genuine, d.resets[0].effect),
        (Some(false), RstEffect::Ignored)
    );
    assert_eq!(
        (d.resets[1].genuine, d.resets[1].effect),
        (Some(true), RstEffect::EndedConnection)
    );
    assert!(
        d.consequences[0].note.contains("ignored"),
        "{:?}",
        d.consequences
    );
}

#[test]
fn a_forger_farther_than_the_server_it_impersonates_has_no_distance() {
    // The server's packets have TTL 63, the RST 60: had both started at 64, the forger would
    // be beyond the server, so its initial TTL differs and its distance is unknown.
    let mut p = exchange();
    p.push(s(7, PA, 801, 201, 100));
    p.push(s(8, RA, 901, 201, 0).ttl(60).id(4242));
    p.push(s(9, PA, 901, 201, 100));
    let d = diag(&p).unwrap();
    assert_eq!(d.cause, Cause::MiddleboxReset);
    assert_eq!(d.hops_from_capture, None);
    assert!(
        d.evidence
            .iter()
            .any(|e| e.note.contains("another initial TTL")),
        "{:#?}",
        d.evidence
    );
}

#[test]
fn a_refusal_from_beyond_a_router_says_a_firewall_would_look_the_same() {
    // TTL 57: 7 routers away, and no other packet from the server to compare with.
    let p = vec![c(0, SYN, 100, 0, 0), s(1, RA, 0, 101, 0).ttl(57).id(0)];
    let d = diag(&p).unwrap();
    assert_eq!(d.cause, Cause::Refused);
    assert_eq!(d.confidence, Confidence::Medium);
    assert!(d.sender_doubt.as_deref().unwrap().contains("firewall"));
    assert!(
        d.summary.contains("or a firewall in front of it"),
        "{}",
        d.summary
    );
    // Captured at the server (the client's SYN arrives one router down, the RST leaves with
    // its initial TTL): the server's kernel, for certain.
    let p = vec![
        c(0, SYN, 100, 0, 0).ttl(63),
        s(1, RA, 0, 101, 0).ttl(64).id(0),
    ];
    let d = diag(&p).unwrap();
    assert_eq!((d.cause, d.confidence), (Cause::Refused, Confidence::High));
    assert!(d.sender_doubt.is_none());
    // Captured at the client with the RST from its own link: the server on that link, or the
    // gateway's firewall in front of it.
    let p = vec![c(0, SYN, 100, 0, 0), s(1, RA, 0, 101, 0).ttl(64).id(0)];
    let d = diag(&p).unwrap();
    assert_eq!(d.confidence, Confidence::Medium);
    assert!(d.sender_doubt.as_deref().unwrap().contains("own link"));
}

// ---- mass-reset incidents ----

/// A connection opened at `start_ms` with a 1500-byte request the server never answers, reset
/// by the server at `at_ms`.
fn killed_conn(start_ms: i64, at_ms: i64) -> Vec<P> {
    let mut p: Vec<P> = hs()
        .into_iter()
        .map(|mut x| {
            x.ms += start_ms;
            x
        })
        .collect();
    p.extend([
        c(start_ms + 3, PA, 101, 501, 1500),
        s(start_ms + 4, A, 501, 1601, 0),
        s(at_ms, RA, 501, 1601, 0),
    ]);
    p
}

fn several(
    runs: &[Vec<P>],
) -> (
    Vec<crate::flow::Connection>,
    Vec<Vec<crate::flow::PacketRecord>>,
) {
    let mut conns = Vec::new();
    let mut packets = Vec::new();
    for (i, ps) in runs.iter().enumerate() {
        let (mut c1, mut p1) = run(ps);
        c1[0].id = u32::try_from(i).unwrap();
        conns.push(c1.remove(0));
        packets.push(p1.remove(0));
    }
    (conns, packets)
}

#[test]
fn connections_idle_for_different_times_reset_in_the_same_millisecond_are_one_incident() {
    // A process killed while holding five connections opened 100 ms apart: five RSTs within
    // 0.2 ms after silences of 1.1 to 1.5 s.
    let runs: Vec<Vec<P>> = (0..5).map(|i| killed_conn(i * 100, 1_600)).collect();
    let (conns, packets) = several(&runs);
    let (diagnoses, incidents) = diagnose_all(&conns, &packets);
    assert_eq!(incidents.len(), 1);
    let inc = &incidents[0];
    assert_eq!(inc.kind, IncidentKind::MassReset);
    assert_eq!(inc.connections, vec![0, 1, 2, 3, 4]);
    assert!(
        inc.summary.contains("one event, not 5 timers"),
        "{}",
        inc.summary
    );
    for d in diagnoses.iter().flatten() {
        // Each keeps its own mechanism, and says it went down with the others.
        assert_eq!(d.cause, Cause::UnreadDataClose, "{}", d.summary);
        assert_eq!(d.incident, Some(0));
        assert!(
            d.alternatives.iter().all(|a| a.cause != Cause::IdleTimeout),
            "{:?}",
            d.alternatives
        );
        assert!(
            !d.summary.contains("one of"),
            "the summary is the connection's own: {}",
            d.summary
        );
    }
    // Two are not enough.
    let (_, none) = diagnose_all(&conns[..2], &packets[..2]);
    assert!(none.is_empty());
}

#[test]
fn independent_resets_a_few_hundred_milliseconds_apart_are_no_incident() {
    let runs: Vec<Vec<P>> = [(0, 500), (100, 900), (200, 1_300)]
        .into_iter()
        .map(|(start, at)| killed_conn(start, at))
        .collect();
    let (conns, packets) = several(&runs);
    let (diagnoses, incidents) = diagnose_all(&conns, &packets);
    assert!(incidents.is_empty(), "{incidents:?}");
    assert!(diagnoses.iter().flatten().all(|d| d.incident.is_none()));
}

#[test]
fn connections_idle_for_the_same_time_and_reset_together_are_each_their_own_timer() {
    // Three keep-alive connections opened together, idle together for 45 s (no published
    // default), and reset together by the server: three idle timeouts, not a crash.
    let runs: Vec<Vec<P>> = (0..3)
        .map(|i| {
            let mut p = exchange();
            for x in &mut p {
                x.ms += i;
            }
            p.push(s(45_006 + i, RA, 801, 201, 0));
            p
        })
        .collect();
    let (conns, packets) = several(&runs);
    let (diagnoses, incidents) = diagnose_all(&conns, &packets);
    assert!(incidents.is_empty(), "{incidents:?}");
    assert!(
        diagnoses
            .iter()
            .flatten()
            .all(|d| d.cause == Cause::IdleTimeout)
    );
}

#[test]
fn a_host_that_resets_all_the_time_does_not_make_an_incident_of_a_coincidence() {
    // 200 resets over 10 s from one server (20 per second), three of which fall within 10 ms.
    let mut runs: Vec<Vec<P>> = (0..200).map(|i| killed_conn(i * 50, i * 50 + 20)).collect();
    runs.extend((0..3).map(|i| killed_conn(5_000 + i, 5_030 + i)));
    let (conns, packets) = several(&runs);
    let (_, incidents) = diagnose_all(&conns, &packets);
    assert!(incidents.is_empty(), "{incidents:?}");
}

#[test]
fn evenly_spaced_resets_all_day_are_no_burst() {
    // A server resetting a connection every 9 ms for 5 s: each RST within 10 ms of the last, but
    // at its own steady rate; no incident, however long the chain.
    let runs: Vec<Vec<P>> = (0..560).map(|i| killed_conn(i * 9, i * 9 + 5)).collect();
    let (conns, packets) = several(&runs);
    let (_, incidents) = diagnose_all(&conns, &packets);
    assert!(incidents.is_empty(), "{} incidents", incidents.len());
}

#[test]
fn a_408_fin_and_rst_after_a_slow_request_is_a_request_timeout_not_an_idle_connection() {
    // HAProxy with `option nolinger`: half a request, 10 s of silence, then its 408, FIN and RST
    // together. What it waited for is the request, although its own 408 came last.
    let mut p = hs();
    p.extend([
        c(3, PA, 101, 501, 45),
        s(4, A, 501, 146, 0),
        s(10_003, PA, 501, 146, 233),
        s(10_003, FA, 734, 146, 0),
        s(10_003, RA, 735, 146, 0),
    ]);
    let d = diag(&p).unwrap();
    assert_eq!(d.cause, Cause::IdleTimeout, "{}", d.summary);
    assert!(d.summary.contains("request"), "{}", d.summary);
    assert!(!d.summary.contains("idle connection"), "{}", d.summary);
}

#[test]
fn an_in_window_rst_off_the_expected_sequence_number_is_ignored_when_the_connection_goes_on() {
    // A guess inside the client's window but not at RCV.NXT: Linux answers with a challenge
    // ACK and carries on; the server's own RST later ends the connection.
    let mut p = exchange();
    p.extend([
        s(100, RA, 850, 201, 0).ttl(50).id(999),
        c(101, A, 201, 801, 0),
        c(300, PA, 201, 801, 10),
        s(301, A, 801, 211, 0),
        s(302, RA, 801, 211, 0),
    ]);
    let d = diag(&p).unwrap();
    assert_eq!(d.rst_frame, Some(12), "{:#?}", d.resets);
    assert_eq!(d.resets[0].effect, RstEffect::Ignored);
    assert_eq!(d.resets[0].genuine, Some(false));
    assert_eq!(d.sender_kind, SenderKind::Endpoint);
}

#[test]
fn a_long_spray_of_ignored_guesses_does_not_hide_the_rst_that_ended_the_connection() {
    // 70 blind guesses the client ignores (outside its window) while the transfer goes on, then
    // the server's own RST.
    let mut p = exchange();
    let mut t = 10;
    for i in 0..70u32 {
        p.push(s(t, R, 900_000 + i * 7_919, 0, 0).ttl(40).id(100));
        p.push(c(t + 5, A, 201, 801, 0));
        t += 10;
    }
    p.push(s(t + 100, RA, 801, 201, 0));
    let d = diag(&p).unwrap();
    let last = d
        .resets
        .iter()
        .find(|r| r.effect == RstEffect::EndedConnection)
        .unwrap();
    assert_eq!(Some(last.frame), d.rst_frame);
    assert_eq!(d.rst_frame, Some(u64::try_from(p.len()).unwrap()));
    // The guesses not judged one by one are counted in a row that claims nothing.
    assert!(
        d.resets
            .iter()
            .any(|r| r.genuine.is_none() && r.note.contains("not judged"))
    );
    assert!(d.resets.len() < 70);
}

#[test]
fn timestamps_at_the_ends_of_time_do_not_overflow() {
    // A hostile capture can hold any timestamp: a connection from near the earliest to near the
    // latest representable time is diagnosed without a panic.
    let far = i64::MAX / 1_000_000 - 10;
    let mut p = hs();
    p[0].ms = -far;
    p.push(c(0, PA, 101, 501, 100));
    p.push(s(far, RA, 501, 201, 0));
    let d = diag(&p).unwrap();
    assert!(d.rst_frame.is_some());
    let idle = d.idle_before_s.unwrap_or(0.0);
    assert!(idle >= 0.0, "{idle}");
}
