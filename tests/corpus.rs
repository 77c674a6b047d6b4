//! Conformance against ../shared/corpus: every capture opens; connections and RST frames agree
//! with tshark; decoded TCP fields agree with tcpdump's expected output; packet counts agree
//! with capinfos; Zeek's `conn_state` agrees with Zeek's baselines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{analyze, analyze_every_record, corpus, tsv};
use rstscope::analysis::Analysis;
use rstscope::decode::flags;
use rstscope::flow::PacketRecord;

// ---- Every capture opens ----

#[test]
fn every_capture_opens_with_results_partial_results_or_a_clear_error() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<String> = tsv(&dir.join("INDEX.tsv"))
        .into_iter()
        .map(|r| r["relpath"].clone())
        .collect();
    files.push("pcap-parser/err-eof.bin".to_owned());
    assert!(
        files.len() > 1400,
        "the corpus index lists {} captures",
        files.len()
    );
    let (mut full, mut partial, mut refused) = (0, 0, 0);
    for rel in &files {
        let outcome = analyze(&dir.join(rel));
        match (&outcome.analysis, &outcome.error) {
            (Some(_), None) => full += 1,
            (Some(a), Some(e)) => {
                assert!(
                    e.is_partial(),
                    "{rel}: partial result with a non-partial error {e}"
                );
                assert!(
                    a.warnings.iter().any(|w| w.kind == "input-stopped"),
                    "{rel}: a partial result must carry a warning"
                );
                partial += 1;
            }
            (None, Some(e)) => {
                let msg = e.to_string();
                assert!(msg.len() > 15, "{rel}: unclear error {msg:?}");
                refused += 1;
            }
            (None, None) => panic!("{rel}: the analysis ended with neither a result nor an error"),
        }
    }
    println!(
        "{} captures: {full} read whole, {partial} partial, {refused} refused",
        files.len()
    );
}

#[test]
fn files_libpcap_rejects_are_rejected_with_libpcaps_reason() {
    let Some(dir) = corpus() else { return };
    let dir = dir.join("libpcap");
    let rows = tsv(&dir.join("EXPECTED_ERRORS.tsv"));
    assert_eq!(rows.len(), 6);
    for row in rows {
        let outcome = analyze(&dir.join(&row["file"]));
        assert!(outcome.analysis.is_none(), "{} was opened", row["file"]);
        let err = outcome.error.expect("an error").to_string();
        let expected = row["expected_libpcap_error"].trim_start_matches("Failed opening: ");
        if row["file"].ends_with("shb-option-too-long.pcapng") {
            // libpcap reports 32 for the header's length where the block declares 52 (0x34);
            // rstscope names the declared length. The trailer and the verdict are the same.
            assert_eq!(
                err,
                "block total length in header 52 and trailer 808464432 don't match"
            );
            continue;
        }
        assert_eq!(err, expected, "{}", row["file"]);
    }
}

#[test]
fn damaged_files_keep_the_records_before_the_break() {
    let Some(dir) = corpus() else { return };
    // A record that claims 16 MB: everything before it is kept and the offset is named.
    let outcome = analyze(&dir.join("suricata-verify/tests/bug-6875-01/fuzz.pcap"));
    let err = outcome.error.expect("an error").to_string();
    assert!(err.starts_with("stopped at byte "), "{err}");
    // Files cut inside a record.
    for rel in [
        "suricata-verify/tests/bug-1450-04/tls_DER-incomplete-header.pcap",
        "suricata-verify/tests/bug-1450-05/tls_DER-incomplete-content.pcap",
    ] {
        let outcome = analyze(&dir.join(rel));
        let a = outcome.analysis.expect("partial analysis");
        let e = outcome.error.expect("an error").to_string();
        assert!(e.contains("stopped at byte"), "{rel}: {e}");
        assert!(a.stats.frames > 0, "{rel}: nothing kept");
    }
}

// ---- tshark: connections and RST frames ----

/// Captures where rstscope and tshark 4.0 differ on purpose, with the reason.
const TSHARK_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "suricata-verify/tests/defrag/bug-6887-defrag-eth-vlan-ipv4-tcp-syn/frag-eth-vlan-ip-tcp-syn.pcap",
        FRAGMENTED_SYN,
    ),
    (
        "suricata-verify/tests/defrag/bug-6887-defrag-ipv4-tcp-syn/frag-ip-tcp-syn.pcap",
        FRAGMENTED_SYN,
    ),
    (
        "suricata-verify/tests/defrag/bug-6887-defrag-ppp-ipv4-tcp-syn/frag-ppp-ip-tcp-syn.pcap",
        FRAGMENTED_SYN,
    ),
    ("tcpdump/beep-oobr.pcap", FUZZED),
    ("tcpdump/heapoverflow-tcp_print.pcap", FUZZED),
    ("tcpdump/mptcp-dss-oobr.pcap", FUZZED),
    ("tcpdump/tcp-auth-heapoverflow.pcap", FUZZED),
    (
        "tcpdump/bigtcp-ipv6.pcap",
        "an IPv6 jumbogram (payload length 0 and a hop-by-hop Jumbo option, Linux BIG TCP): tshark 4.0 calls it malformed and counts no conversation; rstscope reads its TCP header",
    ),
    (
        "tcpdump/bgp-aigp.pcap",
        "link type Juniper Ethernet (178) is not decoded",
    ),
    (
        "zeek/Traces/tunnels/ayiya3.pcap",
        "the AYIYA tunnel (UDP 5072) is not decoded",
    ),
    (
        "zeek/Traces/tunnels/gre-aruba-amsdu.pcap",
        "Aruba's GRE encapsulation of 802.11 A-MSDU frames (GRE protocol 0x8200) is not decoded",
    ),
];

const FRAGMENTED_SYN: &str = "a SYN split across IPv4 fragments: tshark reassembles it; rstscope does not reassemble IP fragments and the first fragment holds too little of the TCP header";
const FUZZED: &str = "a fuzzed tcpdump regression capture: tshark's dissector throws on the broken header before its conversation table counts the packet; rstscope keeps the TCP header it could read";

fn tshark_conversations(conv: &str) -> usize {
    conv.lines().filter(|l| l.contains("<->")).count()
}

fn tshark_rst_frames(rst: &str) -> BTreeSet<u64> {
    rst.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split('\t').next()?.parse().ok())
        .collect()
}

fn rst_frames(a: &Analysis) -> BTreeSet<u64> {
    a.connections
        .iter()
        .flat_map(|c| c.resets.iter().map(|r| r.frame))
        .collect()
}

#[test]
fn connections_and_rst_frames_agree_with_tshark() {
    let Some(dir) = corpus() else { return };
    let exceptions: HashMap<&str, &str> = TSHARK_EXCEPTIONS.iter().copied().collect();
    let mut agree = 0;
    let mut excepted = 0;
    let mut failures = Vec::new();
    let mut stale = Vec::new();
    let mut total = 0;
    for row in tsv(&dir.join("INDEX.tsv")) {
        let rel = &row["relpath"];
        let conv_path = dir.join(format!("oracle/{rel}.conv.txt"));
        let Ok(conv) = std::fs::read_to_string(&conv_path) else {
            continue;
        };
        let rst =
            std::fs::read_to_string(dir.join(format!("oracle/{rel}.rst.tsv"))).unwrap_or_default();
        total += 1;
        let want_conns = tshark_conversations(&conv);
        let want_rsts = tshark_rst_frames(&rst);
        let outcome = analyze(&dir.join(rel));
        let (got_conns, got_rsts) = outcome.analysis.as_ref().map_or((0, BTreeSet::new()), |a| {
            (a.connections.len(), rst_frames(a))
        });
        let same = got_conns == want_conns && got_rsts == want_rsts;
        match (same, exceptions.get(rel.as_str())) {
            (true, None) => agree += 1,
            (true, Some(_)) => stale.push(rel.clone()),
            (false, Some(_)) => excepted += 1,
            (false, None) => failures.push(format!(
                "{rel}: connections {got_conns} vs tshark {want_conns}; RST frames only rstscope {:?}, only tshark {:?}",
                got_rsts.difference(&want_rsts).take(8).collect::<Vec<_>>(),
                want_rsts.difference(&got_rsts).take(8).collect::<Vec<_>>()
            )),
        }
    }
    println!(
        "tshark agreement: {agree} of {total} captures ({:.1}%), {excepted} listed exceptions, {} unexplained",
        100.0 * f64::from(agree) / f64::from(total),
        failures.len()
    );
    assert!(total > 500, "only {total} oracle files found");
    assert!(
        stale.is_empty(),
        "exceptions that now agree (remove them): {stale:#?}"
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- tcpdump: per-packet flags, seq/ack and length ----

struct DumpLine {
    frame: u64,
    flags: BTreeSet<char>,
    seq: Option<u64>,
    ack: Option<u64>,
    length: u32,
    tuple: String,
}

fn parse_tcpdump(out: &str) -> Vec<DumpLine> {
    let frame_re = regex::Regex::new(r"^\s*(\d+)  ").unwrap();
    let tcp_re = regex::Regex::new(
        r"(\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\](?:, cksum [^,]*)?(?:, seq (\d+)(?::\d+)?)?(?:, ack (\d+))?.*?, length (\d+)",
    )
    .unwrap();
    let mut frame = 0;
    let mut lines = Vec::new();
    for line in out.lines() {
        if let Some(c) = frame_re.captures(line) {
            frame = c[1].parse().unwrap();
        }
        if let Some(c) = tcp_re.captures(line) {
            let f = &c[5];
            lines.push(DumpLine {
                frame,
                flags: if f == "none" {
                    BTreeSet::new()
                } else {
                    f.chars().collect()
                },
                seq: c.get(6).map(|m| m.as_str().parse().unwrap()),
                ack: c.get(7).map(|m| m.as_str().parse().unwrap()),
                length: c[8].parse().unwrap(),
                tuple: format!("{}.{}>{}.{}", &c[1], &c[2], &c[3], &c[4]),
            });
        }
    }
    lines
}

/// Test outputs whose TCP lines rstscope does not decode, with the reason.
const TCPDUMP_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "bcm-li-v",
        "TCP inside Broadcom's lawful-intercept shim on UDP 49152, which rstscope (like tshark 4.0) does not decode",
    ),
    (
        "bgp-aigp",
        "link type Juniper Ethernet (178) is not decoded",
    ),
];

/// True when a test's arguments end in a capture filter: tcpdump then numbers only the packets
/// that pass it, so its frame numbers are not file positions.
fn has_filter(args: &str) -> bool {
    let mut words = args.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "--" => return words.next().is_some(),
            "-T" | "-c" | "--skip" | "-E" | "-s" | "-y" | "-m" | "-M" => {
                words.next();
            }
            w if w.starts_with('-') => {}
            _ => return true,
        }
    }
    false
}

#[test]
fn decoded_tcp_fields_agree_with_tcpdump() {
    let Some(dir) = corpus() else { return };
    let dir = dir.join("tcpdump");
    let exceptions: HashMap<&str, &str> = TCPDUMP_EXCEPTIONS.iter().copied().collect();
    let (mut checked, mut tests) = (0, 0);
    let mut failures = Vec::new();
    for row in tsv(&dir.join("TESTS.tsv")) {
        if row["tcp_printed"] != "yes"
            || exceptions.contains_key(row["name"].as_str())
            || has_filter(&row["args"])
        {
            continue;
        }
        let Ok(out) = std::fs::read_to_string(dir.join(&row["out"])) else {
            continue;
        };
        let outcome = analyze_every_record(&dir.join(&row["pcap"]));
        let Some(a) = outcome.analysis else {
            failures.push(format!("{}: not opened: {:?}", row["name"], outcome.error));
            continue;
        };
        tests += 1;
        let records: HashMap<u64, PacketRecord> = a
            .packets
            .iter()
            .flatten()
            .map(|p| (u64::from(p.frame), *p))
            .collect();
        let lines = parse_tcpdump(&out);
        let mut per_frame: BTreeMap<u64, usize> = BTreeMap::new();
        for l in &lines {
            *per_frame.entry(l.frame).or_default() += 1;
        }
        // Relative numbering: within one direction, raw - printed is one constant (or 0).
        let mut seq_delta: HashMap<String, u32> = HashMap::new();
        let mut ack_delta: HashMap<String, u32> = HashMap::new();
        for l in &lines {
            if per_frame[&l.frame] > 1 {
                continue; // tunnels: several TCP headers in one frame
            }
            let Some(r) = records.get(&l.frame) else {
                failures.push(format!(
                    "{} frame {}: tcpdump printed TCP, rstscope decoded none",
                    row["name"], l.frame
                ));
                continue;
            };
            checked += 1;
            let mut ours: BTreeSet<char> = flags::tcpdump(r.flags).chars().collect();
            ours.remove(&'n'); // "none"
            ours.retain(|c| *c != 'o' && *c != 'e');
            let mut theirs = l.flags.clone();
            theirs.retain(|c| *c != 'e'); // AE bit, not decoded
            if ours != theirs || r.payload_len != l.length {
                failures.push(format!(
                    "{} frame {}: flags {:?}/{} vs tcpdump {:?}/{}",
                    row["name"], l.frame, ours, r.payload_len, theirs, l.length
                ));
            }
            for (printed, raw, deltas) in [
                (l.seq, r.seq, &mut seq_delta),
                (l.ack, r.ack, &mut ack_delta),
            ] {
                let Some(p) = printed else { continue };
                let Ok(p) = u32::try_from(p) else {
                    failures.push(format!(
                        "{} frame {}: value {p} out of range",
                        row["name"], l.frame
                    ));
                    continue;
                };
                let d = raw.wrapping_sub(p);
                if d != 0 {
                    let first = *deltas.entry(l.tuple.clone()).or_insert(d);
                    if first != d {
                        failures.push(format!(
                            "{} frame {}: seq/ack {raw} inconsistent with tcpdump's {p}",
                            row["name"], l.frame
                        ));
                    }
                }
            }
        }
    }
    println!(
        "tcpdump agreement: {checked} TCP lines in {tests} expected outputs, {} disagreements",
        failures.len()
    );
    assert!(checked > 1000, "only {checked} lines checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- pcapng test suite: packet counts ----

#[test]
fn pcapng_suite_packet_counts_equal_capinfos() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for row in tsv(&dir.join("INDEX.tsv")) {
        let rel = &row["relpath"];
        if !rel.starts_with("pcapng-suite/") && !rel.starts_with("pcap-parser/") {
            continue;
        }
        let want: u64 = row["capinfos_packets"].parse().unwrap_or(0);
        let outcome = analyze(&dir.join(rel));
        let got = outcome.analysis.map_or(0, |a| a.stats.frames);
        assert_eq!(got, want, "{rel}: {:?}", outcome.error);
        checked += 1;
    }
    assert!(checked >= 48, "{checked}");
}

// ---- Zeek: conn_state ----

struct ZeekRow {
    tuple: (String, String),
    conn_state: String,
    history: Option<String>,
}

fn zeek_rows(log: &str) -> Vec<ZeekRow> {
    let mut fields: Vec<&str> = Vec::new();
    let mut rows = Vec::new();
    for line in log.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') || fields.is_empty() {
            continue;
        }
        let v: HashMap<&str, &str> = fields.iter().copied().zip(line.split('\t')).collect();
        if v.get("proto").is_some_and(|p| *p != "tcp") {
            continue;
        }
        let (Some(oh), Some(op), Some(rh), Some(rp), Some(state)) = (
            v.get("id.orig_h"),
            v.get("id.orig_p"),
            v.get("id.resp_h"),
            v.get("id.resp_p"),
            v.get("conn_state"),
        ) else {
            continue;
        };
        let a = format!("{oh}:{op}");
        let b = format!("{rh}:{rp}");
        rows.push(ZeekRow {
            tuple: if a <= b { (a, b) } else { (b, a) },
            conn_state: (*state).to_owned(),
            history: v.get("history").map(|h| (*h).to_owned()),
        });
    }
    rows
}

fn endpoint(a: std::net::SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

#[test]
fn zeek_conn_state_agrees_with_baselines() {
    let Some(dir) = corpus() else { return };
    let (mut total, mut same_state, mut same_history, mut with_history) =
        (0usize, 0usize, 0usize, 0usize);
    let mut disagreements = Vec::new();
    for row in tsv(&dir.join("zeek/pairs.tsv")) {
        let Ok(log) = std::fs::read_to_string(dir.join(&row["baseline"])) else {
            continue;
        };
        let zeek = zeek_rows(&log);
        if zeek.is_empty() {
            continue;
        }
        let outcome = analyze(&dir.join(&row["trace"]));
        let Some(a) = outcome.analysis else { continue };
        let mut ours: HashMap<(String, String), Vec<(&'static str, String)>> = HashMap::new();
        for c in &a.connections {
            let (x, y) = (endpoint(c.client), endpoint(c.server));
            let key = if x <= y { (x, y) } else { (y, x) };
            for z in c.zeek_connections() {
                ours.entry(key.clone())
                    .or_default()
                    .push((z.conn_state, z.history.clone()));
            }
        }
        for z in &zeek {
            total += 1;
            let candidates = ours.entry(z.tuple.clone()).or_default();
            if let Some(i) = candidates.iter().position(|(s, _)| *s == z.conn_state) {
                same_state += 1;
                let (_, h) = candidates.remove(i);
                if let Some(zh) = &z.history {
                    with_history += 1;
                    if *zh == h {
                        same_history += 1;
                    }
                }
            } else {
                disagreements.push(format!(
                    "{} {:?}: zeek {} {:?}, rstscope {:?}",
                    row["baseline"], z.tuple, z.conn_state, z.history, candidates
                ));
            }
        }
    }
    let pct = 100.0 * same_state as f64 / total.max(1) as f64;
    println!(
        "zeek conn_state agreement: {same_state} of {total} TCP connections ({pct:.1}%); history agrees for {same_history} of {with_history} matched"
    );
    let shown = if std::env::var_os("RSTSCOPE_VERBOSE").is_some() {
        disagreements.len()
    } else {
        60
    };
    for d in disagreements.iter().take(shown) {
        println!("  {d}");
    }
    assert!(total > 1000, "only {total} Zeek connections compared");
    assert!(pct >= 95.0, "conn_state agreement {pct:.1}% is below 95%");
}
