//! Two-point captures: the same traffic captured at the client and at the server
//! (sample-captures/manifest.json entries with `related`), matched connection by connection, and
//! every RST witnessed by the other capture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use rstscope::analysis::Analysis;
use rstscope::diagnose::twopoint::{
    self, MatchBasis, PlacementBasis, RstWitness, Side, Witness, pair, witness_resets,
};
use rstscope::flow::Dir;

fn load(name: &str) -> Analysis {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-captures")
        .join(name);
    let outcome = common::analyze(&path);
    assert!(outcome.error.is_none(), "{name}: {:?}", outcome.error);
    outcome.analysis.unwrap()
}

fn verdicts(w: &[RstWitness]) -> Vec<(Side, u64, Dir, Witness, Option<u64>)> {
    w.iter()
        .map(|x| (x.capture, x.frame, x.claimed_from, x.verdict, x.other_frame))
        .collect()
}

/// The router forged a RST "from the server" (client-side frame 46): the server capture proves
/// the server never sent it. The client's own RST (client-side frame 48) arrives at the server
/// (server-side frame 47).
#[test]
fn middlebox_reset_is_proved_forged_by_the_server_capture() {
    let client = load("middlebox-reset-injected.pcap");
    let server = load("middlebox-reset-injected-server.pcap");
    let pairs = pair(client.view(), server.view());
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    let p = pairs[0];
    assert_eq!((p.a, p.b, p.basis), (0, 0, MatchBasis::FourTuple));
    // Both captures were taken on one machine: the clocks agree to well under a millisecond.
    assert!(p.clock_offset_ns.abs() < 1_000_000, "{}", p.clock_offset_ns);

    let place = twopoint::placement(client.view(), server.view(), &p).unwrap();
    assert_eq!(
        (place.a_end, place.basis),
        (Dir::Client, PlacementBasis::Ttl)
    );

    let w = witness_resets(client.view(), server.view(), &pairs);
    assert_eq!(
        verdicts(&w),
        vec![
            (Side::A, 46, Dir::Server, Witness::NeverSent, None),
            (Side::A, 48, Dir::Client, Witness::Arrived, Some(47)),
            (Side::B, 47, Dir::Client, Witness::SentBySender, Some(48)),
        ]
    );
}

/// The same files in the other order give the mirror image.
#[test]
fn order_of_the_files_does_not_matter() {
    let client = load("middlebox-reset-injected.pcap");
    let server = load("middlebox-reset-injected-server.pcap");
    let pairs = pair(server.view(), client.view());
    assert_eq!(pairs.len(), 1);
    let place = twopoint::placement(server.view(), client.view(), &pairs[0]).unwrap();
    assert_eq!(place.a_end, Dir::Server);
    let w = witness_resets(server.view(), client.view(), &pairs);
    assert_eq!(
        verdicts(&w),
        vec![
            (Side::A, 47, Dir::Client, Witness::SentBySender, Some(48)),
            (Side::B, 46, Dir::Server, Witness::NeverSent, None),
            (Side::B, 48, Dir::Client, Witness::Arrived, Some(47)),
        ]
    );
}

/// A capture paired with itself: every RST is its own witness, nothing is forged.
#[test]
fn a_capture_against_itself_finds_nothing_forged() {
    let a = load("middlebox-reset-injected.pcap");
    let b = load("middlebox-reset-injected.pcap");
    let pairs = pair(a.view(), b.view());
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].clock_offset_ns, 0);
    for w in witness_resets(a.view(), b.view(), &pairs) {
        assert!(
            matches!(w.verdict, Witness::SentBySender | Witness::Arrived),
            "{w:?}"
        );
        assert_eq!(w.other_frame, Some(w.frame));
    }
}

/// Captures of different scenarios share no connection.
#[test]
fn unrelated_captures_do_not_pair() {
    let a = load("middlebox-reset-injected.pcap");
    let b = load("refused.pcap");
    assert!(pair(a.view(), b.view()).is_empty());
}

/// Through a NAT (the router rewrites the client's address and port): no 4-tuple is shared, so
/// both connections pair by their ISNs. The router's conntrack forgot the idle first connection
/// and rejected the client's next request with a RST in the server's name (client-side frame
/// 9); the server capture, still running then (the second connection follows), proves the
/// server never sent it.
#[test]
fn nat_state_expiry_pairs_by_isn_and_proves_the_reject_forged() {
    let client = load("nat-state-expiry-two-point.pcap");
    let server = load("nat-state-expiry-two-point-server.pcap");
    assert_ne!(client.connections[0].client, server.connections[0].client);
    let pairs = pair(client.view(), server.view());
    let got: Vec<(u32, u32, MatchBasis)> = pairs.iter().map(|p| (p.a, p.b, p.basis)).collect();
    assert_eq!(
        got,
        vec![(0, 0, MatchBasis::Isn), (1, 1, MatchBasis::Isn)],
        "{pairs:?}"
    );
    for p in &pairs {
        assert!(p.clock_offset_ns.abs() < 1_000_000, "{p:?}");
        let place = twopoint::placement(client.view(), server.view(), p).unwrap();
        assert_eq!(place.a_end, Dir::Client, "{p:?}");
    }
    let w = witness_resets(client.view(), server.view(), &pairs);
    assert_eq!(
        verdicts(&w),
        vec![(Side::A, 9, Dir::Server, Witness::NeverSent, None)]
    );
    // In the other order, the same verdict from capture b.
    let pairs = pair(server.view(), client.view());
    assert_eq!(pairs.len(), 2);
    let w = witness_resets(server.view(), client.view(), &pairs);
    assert_eq!(
        verdicts(&w),
        vec![(Side::B, 9, Dir::Server, Witness::NeverSent, None)]
    );
}

/// Every manifest entry that names a `related` capture taken at the other end pairs with it,
/// and each of its connections finds its counterpart.
#[test]
fn related_manifest_captures_pair_completely() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/manifest.json");
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for e in &entries {
        let (Some(file), Some(related)) = (e["file"].as_str(), e["related"].as_str()) else {
            continue;
        };
        let a = load(file);
        let b = load(related);
        let pairs = pair(a.view(), b.view());
        assert_eq!(pairs.len(), a.connections.len(), "{file} with {related}");
        assert_eq!(pairs.len(), b.connections.len(), "{file} with {related}");
        let a_end = match e["capture_point"].as_str() {
            Some("client") => Dir::Client,
            Some("server") => Dir::Server,
            other => panic!("{file}: capture_point {other:?}"),
        };
        for p in &pairs {
            let place = twopoint::placement(a.view(), b.view(), p).unwrap();
            assert_eq!(place.a_end, a_end, "{file}: {p:?}");
        }
        // No RST seen at one end is missing at the other for want of coverage.
        for w in witness_resets(a.view(), b.view(), &pairs) {
            assert_ne!(w.verdict, Witness::NotCovered, "{file}: {w:?}");
        }
        checked += 1;
    }
    assert!(checked >= 3, "{checked} related entries");
}
