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
    assert_eq!(d.confidence, Confidence::High);
    assert!(
        d.summary
            .starts_with("The server's kernel sent the RST (frame 2)"),
        "{}",
        d.summary
    );
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

// ---- mass-reset ----

fn conn_with_rst(port: u16, at_ms: i64) -> Vec<P> {
    let _ = port;
    let mut p = exchange();
    p.push(s(at_ms, RA, 801, 201, 0));
    p
}

#[test]
fn three_connections_reset_by_one_host_within_a_second_are_a_mass_reset() {
    let mut conns = Vec::new();
    let mut packets = Vec::new();
    for (i, at) in [10, 40, 90].into_iter().enumerate() {
        let (mut c1, mut p1) = run(&conn_with_rst(0, at));
        c1[0].id = u32::try_from(i).unwrap();
        conns.push(c1.remove(0));
        packets.push(p1.remove(0));
    }
    let (diagnoses, incidents) = diagnose_all(&conns, &packets);
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].connections, vec![0, 1, 2]);
    assert!(
        diagnoses
            .iter()
            .all(|d| d.as_ref().unwrap().cause == Cause::MassReset)
    );
    // Two are not enough.
    let (_, none) = diagnose_all(&conns[..2], &packets[..2]);
    assert!(none.is_empty());
}

// ---- known timeouts ----

#[test]
fn known_idle_timeouts_are_named_within_two_percent() {
    assert!(
        known_timeout(350.4, TimeoutKeeper::Proxy)
            .unwrap()
            .contains("NLB")
    );
    assert!(
        known_timeout(350.4, TimeoutKeeper::Firewall)
            .unwrap()
            .contains("NAT gateway")
    );
    assert!(
        known_timeout(75.2, TimeoutKeeper::Proxy)
            .unwrap()
            .contains("nginx")
    );
    assert_eq!(known_timeout(75.2, TimeoutKeeper::Firewall), None);
    assert_eq!(known_timeout(42.0, TimeoutKeeper::Proxy), None);
}
