//! The diagnosis over public captures: every RST-bearing capture in ../shared/corpus is
//! diagnosed without a panic (the distribution of causes is printed), and captures whose story
//! is known get the right attribution.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use rstscope::diagnose::{Cause, Confidence, RstEffect, SenderKind};
use rstscope::flow::Dir;

#[test]
fn every_rst_bearing_capture_is_diagnosed_and_the_causes_are_counted() {
    let Some(dir) = common::corpus() else { return };
    let mut by_cause: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut captures, mut diagnosed) = (0, 0);
    for row in common::tsv(&dir.join("INDEX.tsv")) {
        if row["tcp_rst_packets"].parse::<u64>().unwrap_or(0) == 0 {
            continue;
        }
        captures += 1;
        let outcome = common::analyze(&dir.join(&row["relpath"]));
        let Some(a) = outcome.analysis else { continue };
        for (c, d) in a.connections.iter().zip(&a.diagnoses) {
            if c.resets.is_empty() {
                continue;
            }
            let d = d.as_ref().unwrap_or_else(|| {
                panic!(
                    "{}: connection {} has a RST but no diagnosis",
                    row["relpath"], c.id
                )
            });
            // The first RST that took effect decides; every RST before it was ignored by its
            // receiver, and every RST is attributed (one by one, or, past 64 around the
            // deciding one, counted in a row that claims nothing).
            let lead = d.rst_frame.unwrap();
            for r in &d.resets {
                if r.frame < lead {
                    assert_eq!(r.effect, RstEffect::Ignored, "{}", row["relpath"]);
                }
            }
            for r in &c.resets {
                let judged = d
                    .resets
                    .iter()
                    .any(|v| v.frame == r.frame && v.genuine.is_some());
                let counted = d.resets.iter().any(|v| v.genuine.is_none());
                assert!(
                    judged || counted,
                    "{}: RST frame {} not attributed",
                    row["relpath"],
                    r.frame
                );
            }
            assert!(
                d.summary.contains(&format!("frame {lead}")),
                "{}",
                d.summary
            );
            // Alternatives are other verdicts, each with why it is possible and how to tell.
            for alt in &d.alternatives {
                assert!(
                    (alt.cause, alt.sender_kind) != (d.cause, d.sender_kind),
                    "{}: the verdict listed as its own alternative",
                    row["relpath"]
                );
                assert!(!alt.why.is_empty() && !alt.tell_apart.is_empty());
            }
            assert!(!d.fixes().is_empty());
            diagnosed += 1;
            *by_cause.entry(d.cause.id()).or_default() += 1;
            *by_kind
                .entry(match d.sender_kind {
                    SenderKind::Endpoint => "endpoint",
                    SenderKind::Middlebox => "middlebox",
                })
                .or_default() += 1;
        }
    }
    println!("diagnosed {diagnosed} reset connections in {captures} RST-bearing captures");
    println!("  by cause: {by_cause:?}");
    println!("  by sender kind: {by_kind:?}");
    assert!(
        captures > 100 && diagnosed > 120,
        "{captures} captures, {diagnosed} diagnoses"
    );
    assert!(
        by_cause.len() >= 6,
        "the corpus exercises several causes: {by_cause:?}"
    );
}

/// Zeek's rst-inject-rae trace: a RST in the server's name answering the SYN, with TTL 46 where
/// the server's packets have 49 (Zeek's test calls it an injected RST), outside the client's
/// window: the client ignores it and the connection goes on, until the server's own RST (frame
/// 7, TTL 49, the next IP ID of its sequence) ends it. Every RST is attributed; the verdict is
/// the server's own RST's.
#[test]
fn zeek_injected_rst_is_attributed_forged_and_the_servers_own_rst_decides() {
    let Some(path) = common::corpus() else { return };
    let path = path.join("zeek/Traces/tcp/rst-inject-rae.pcap");
    let a = common::analyze(&path).analysis.unwrap();
    let d = a.diagnoses[0].as_ref().unwrap();
    assert_eq!(d.rst_frame, Some(7), "{}", d.summary);
    assert_eq!(
        (d.sender, d.sender_kind),
        (Dir::Server, SenderKind::Endpoint)
    );
    let frame = |f: u64| d.resets.iter().find(|r| r.frame == f).unwrap();
    let forged = frame(2);
    assert_eq!(
        (forged.genuine, forged.sender_kind, forged.effect),
        (Some(false), Some(SenderKind::Middlebox), RstEffect::Ignored)
    );
    assert!(
        forged.note.contains("TTL 46 is not the server's 49"),
        "{}",
        forged.note
    );
    let own = frame(7);
    assert_eq!(
        (own.genuine, own.effect),
        (Some(true), RstEffect::EndedConnection)
    );
    assert_eq!(frame(9).genuine, Some(true));
    // The server never answered the client's 25 bytes and reset 1.6 s later: a server that
    // gave up waiting for the rest of the request, or one that closed with them unread. The
    // wire cannot tell (no published timer fits 1.6 s): the verdict is low, and the other is
    // its alternative.
    let pair = [Cause::IdleTimeout, Cause::UnreadDataClose];
    assert!(pair.contains(&d.cause), "{}", d.summary);
    assert_eq!(d.confidence, Confidence::Low);
    let other = pair.iter().find(|c| **c != d.cause).unwrap();
    assert!(
        d.alternatives.iter().any(|x| x.cause == *other),
        "{:?}",
        d.alternatives
    );
}

/// Zeek's quantum-insert trace: a packet injected in the server's name (TTL 56 where the
/// server's others have 54) races the real response; the RSTs are the client's own kernel's.
#[test]
fn quantum_insert_rsts_are_the_clients_own_and_the_injection_is_shown() {
    let Some(path) = common::corpus() else { return };
    let path = path.join("zeek/Traces/tcp/qi_internet_SYNACK_curl_jsonip.pcap");
    let a = common::analyze(&path).analysis.unwrap();
    let d = a.diagnoses[0].as_ref().unwrap();
    assert_eq!(
        (d.sender, d.sender_kind),
        (Dir::Client, SenderKind::Endpoint),
        "{}",
        d.summary
    );
    assert!(
        d.evidence
            .iter()
            .any(|e| e.frame == 5 && e.note.contains("injected")),
        "the injected packet is evidence: {:#?}",
        d.evidence
    );
}

/// tcpdump's `tcp_rst_data` capture: a RST carrying diagnostic text (RFC 1122 4.2.2.12).
#[test]
fn rst_with_data_shows_its_text() {
    let Some(path) = common::corpus() else { return };
    let path = path.join("tcpdump/tcp_rst_data.pcap");
    let a = common::analyze(&path).analysis.unwrap();
    let d = a.diagnoses.iter().flatten().next().unwrap();
    assert!(
        d.evidence.iter().any(|e| e.note.contains("BIG-IP")),
        "{:#?}",
        d.evidence
    );
}

/// The kernel's record of a RST, attached to the diagnosis it concerns: it must match the RST's
/// addresses, ports, direction and time, and when this machine's kernel sent a RST the packets
/// called forged, the record overrules them.
#[test]
fn the_kernels_record_attaches_to_its_own_rst_and_overrules_a_forgery_verdict() {
    use rstscope::diagnose::kernel;
    use rstscope::source::live::kernel::KernelReset;

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-captures/middlebox-reset-injected.pcap");
    let a = common::analyze(&path).analysis.unwrap();
    let (c, d) = a
        .connections
        .iter()
        .zip(&a.diagnoses)
        .find_map(|(c, d)| d.as_ref().map(|d| (c, d)))
        .unwrap();
    assert_eq!(d.cause, Cause::MiddleboxReset, "the packets say forged");
    let rst = c
        .resets
        .iter()
        .find(|r| Some(r.frame) == d.rst_frame)
        .unwrap();
    let (src, dst) = match rst.from {
        Dir::Client => (c.client, c.server),
        Dir::Server => (c.server, c.client),
    };
    let record = |src, dst, wall_ns| KernelReset {
        src,
        dst,
        state: "UNKNOWN".into(),
        reason: "NO_SOCKET".into(),
        wall_ns,
    };
    // Wrong direction, or seconds away: not this RST.
    for other in [
        record(dst, src, rst.ts_ns),
        record(src, dst, rst.ts_ns + 5_000_000_000),
    ] {
        let mut d2 = d.clone();
        kernel::attach(&mut d2, c, &[other]);
        assert!(d2.kernel.is_none());
        assert_eq!(&d2, d);
    }
    let mut d2 = d.clone();
    kernel::attach(&mut d2, c, &[record(src, dst, rst.ts_ns + 300_000)]);
    let k = d2.kernel.as_ref().expect("attached");
    assert_eq!((k.reason.as_str(), k.frame), ("NO_SOCKET", rst.frame));
    assert_eq!(d2.cause, Cause::NoSocket);
    assert_eq!(d2.sender_kind, SenderKind::Endpoint);
    assert_eq!(k.agrees, Some(true));
    assert!(d2.summary.contains("NO_SOCKET"), "{}", d2.summary);
}

/// `bench/gen_capture.py` spreads a few independent resets per server over the capture; a
/// one-second window finds "mass resets" among them by coincidence (the rule before this one
/// found 2 here, and 161 at 20,000 connections). Incidents must come from simultaneity that the
/// host's own reset rate does not explain: none here.
#[test]
fn independent_resets_in_a_generated_capture_make_no_incident() {
    let dir = std::env::temp_dir().join(format!("rstscope-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gen.pcap");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/gen_capture.py");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args([
            "--size-mb",
            "5",
            "--connections",
            "4000",
            "--seed",
            "1",
            "-o",
        ])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs bench/gen_capture.py");
    assert!(status.success());
    let a = common::analyze(&path).analysis.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // The capture does hold coincidences: some host's RSTs fall three to a second.
    let mut by_host: std::collections::BTreeMap<std::net::IpAddr, Vec<i64>> =
        std::collections::BTreeMap::new();
    for c in a
        .connections
        .iter()
        .filter(|c| c.termination() == rstscope::flow::Termination::Reset)
    {
        let r = &c.resets[0];
        let host = match r.from {
            Dir::Client => c.client.ip(),
            Dir::Server => c.server.ip(),
        };
        by_host.entry(host).or_default().push(r.ts_ns);
    }
    for ts in by_host.values_mut() {
        ts.sort_unstable();
    }
    let coincidences = by_host
        .values()
        .filter(|ts| ts.windows(3).any(|w| w[2] - w[0] <= 1_000_000_000))
        .count();
    println!(
        "generated capture: {} connections, {coincidences} hosts with three RSTs within a second",
        a.connections.len()
    );
    assert!(
        coincidences > 0,
        "the capture should hold chance coincidences"
    );
    assert!(a.incidents.is_empty(), "{:#?}", a.incidents);
}
