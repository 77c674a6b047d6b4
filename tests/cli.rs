//! The `rstscope analyze` command as a user runs it: exit codes, stdin, JSON, a closed pipe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rstscope"))
}

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample-captures")
        .join(name)
}

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

#[test]
fn json_report_has_the_documented_shape() {
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(sample("abortive-close-server.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out.stdout);
    assert_eq!(v["schema"], "rstscope.analysis/2");
    assert_eq!(v["source"]["complete"], true);
    let c = &v["connections"][0];
    for key in [
        "id",
        "client",
        "server",
        "first_frame",
        "last_frame",
        "start",
        "duration_s",
        "packets",
        "payload_bytes",
        "handshake",
        "idle_gaps",
        "termination",
        "resets",
        "zeek",
        "diagnosis",
    ] {
        assert!(c.get(key).is_some(), "missing {key}");
    }
    assert_eq!(c["termination"], "reset");
    assert_eq!(c["resets"][0]["frame"], 8);
    assert_eq!(c["resets"][0]["from"], "server");
    assert!(c["start"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn stdin_fed_in_small_chunks_gives_the_same_result_as_the_file() {
    let path = sample("busy-one-reset.pcapng");
    let from_file = bin()
        .args(["analyze", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut child = bin()
        .args(["analyze", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::Builder::new()
        .name("feeder".into())
        .spawn(move || {
            for chunk in bytes.chunks(97) {
                stdin.write_all(chunk).unwrap();
                stdin.flush().unwrap();
            }
        })
        .unwrap();
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let (a, b) = (json(&from_file.stdout), json(&out.stdout));
    assert_eq!(a["connections"], b["connections"]);
    assert_eq!(b["source"]["name"], "<stdin>");
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let missing = bin()
        .args(["analyze", "/nonexistent/capture.pcap"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("cannot open /nonexistent/capture.pcap"),
        "{err}"
    );

    let bytes = std::fs::read(sample("busy-one-reset.pcapng")).unwrap();
    let dir = std::env::temp_dir().join(format!("rstscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcapng");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let partial = bin()
        .args(["analyze", "--format", "json"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(partial.status.code(), Some(1));
    let err = String::from_utf8_lossy(&partial.stderr);
    assert!(err.contains("stopped at byte"), "{err}");
    let v = json(&partial.stdout);
    assert_eq!(v["source"]["complete"], false);
    assert!(
        !v["connections"].as_array().unwrap().is_empty(),
        "results before the break are kept"
    );
    std::fs::remove_dir_all(dir).ok();

    let bad_arg = bin()
        .args(["analyze", "--idle-gap", "-1", "x"])
        .output()
        .unwrap();
    assert_eq!(bad_arg.status.code(), Some(2));
}

#[test]
fn a_closed_output_pipe_is_not_an_error() {
    let path = sample("busy-one-reset.pcapng");
    let mut child = bin()
        .args(["analyze", "--format", "json"])
        .args(std::iter::repeat_n(&path, 300))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn text_report_names_each_rst_and_its_sender() {
    let out = bin()
        .args(["analyze", "--resets-only"])
        .arg(sample("refused.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("RST frame 2 at 2026-11-24T21:18:30.320270Z from the server"),
        "{text}"
    );
    assert!(text.contains("refused"), "{text}");
    // The wall-clock moment to look for in the sender's logs.
    assert!(
        text.contains("at 2026-11-24T21:18:30.320270Z (UTC): the moment to look for"),
        "{text}"
    );
}

#[test]
fn two_point_capture_proves_a_forged_rst_with_the_other_file() {
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(sample("nat-state-expiry-two-point.pcap"))
        .arg(sample("nat-state-expiry-two-point-server.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 RST proven forged on the path"), "{err}");
    let v = json(&out.stdout);
    let d = &v[0]["connections"][0]["diagnosis"];
    assert_eq!(d["cause"], "firewall-state-expiry");
    assert_eq!(d["sender_kind"], "middlebox");
    assert_eq!(d["confidence"], "high");
    let evidence = d["evidence"].to_string();
    assert!(evidence.contains("nat-state-expiry-two-point-server.pcap, captured at the server, shows the server never sent this RST"), "{evidence}");
}

#[test]
fn diagnosis_leads_each_reset_block_in_text() {
    let out = bin()
        .args(["analyze"])
        .arg(sample("no-socket-server-restart.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("The server's kernel had no socket for this connection any more when the client's packet (frame 8) arrived"),
        "{text}"
    );
    // What to change: once per cause at the end, or in the block with --verbose-text.
    let (_, fixes) = text.split_once("What to change, by cause:").unwrap();
    assert!(fixes.contains("no-socket ("), "{fixes}");
    assert!(fixes.contains("fix: "), "{fixes}");
    assert_eq!(
        text.matches("fix: ").count(),
        fixes.matches("fix: ").count()
    );
    let verbose = bin()
        .args(["analyze", "--verbose-text"])
        .arg(sample("no-socket-server-restart.pcap"))
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&verbose.stdout);
    assert!(!verbose.contains("What to change, by cause:"), "{verbose}");
    let (_, block) = verbose.split_once("\nconnection ").unwrap();
    assert!(block.contains("  fix: "), "{block}");
}

#[test]
fn causes_are_explained_once_unless_verbose() {
    let run = |extra: &[&str]| {
        let out = bin()
            .args(["analyze", "--format", "json"])
            .args(extra)
            .arg(sample("mass-reset-server-killed.pcap"))
            .output()
            .unwrap();
        assert!(out.status.success());
        json(&out.stdout)
    };
    let v = run(&[]);
    let causes = v["causes"].as_object().unwrap();
    let reset: Vec<&serde_json::Value> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["diagnosis"].is_null())
        .collect();
    assert!(reset.len() >= 3, "the sample resets several connections");
    for c in &reset {
        let d = &c["diagnosis"];
        assert!(
            d.get("explanation").is_none() && d.get("fixes").is_none(),
            "{d}"
        );
        let cause = d["cause"].as_str().unwrap();
        let text = &causes[cause];
        assert!(text["explanation"].as_str().unwrap().len() > 40, "{text}");
        assert!(!text["fixes"].as_array().unwrap().is_empty());
    }
    // Only the causes named: a verdict's or an alternative's.
    assert!(causes.len() <= 11);
    assert!(!causes.contains_key("refused"), "{causes:?}");
    let verbose = run(&["--verbose-text"]);
    let d = verbose["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["diagnosis"].is_null())
        .map(|c| &c["diagnosis"])
        .unwrap();
    let cause = d["cause"].as_str().unwrap();
    assert_eq!(d["explanation"], causes[cause]["explanation"]);
    assert_eq!(d["fixes"], causes[cause]["fixes"]);
}

#[test]
fn jsonl_is_one_record_per_line_with_the_documents_content() {
    let name = "mass-reset-server-killed.pcap";
    let lines = bin()
        .args(["analyze", "--format", "jsonl"])
        .arg(sample(name))
        .output()
        .unwrap();
    assert!(lines.status.success());
    let doc = bin()
        .args(["analyze", "--format", "json"])
        .arg(sample(name))
        .output()
        .unwrap();
    let doc = json(&doc.stdout);
    let records: Vec<serde_json::Value> = String::from_utf8(lines.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records[0]["record"], "source");
    assert_eq!(records[0]["schema"], "rstscope.lines/1");
    assert_eq!(records[0]["frames"], doc["source"]["frames"]);
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        records.iter().filter(|r| r["record"] == kind).collect()
    };
    let conns = of("connection");
    let doc_conns = doc["connections"].as_array().unwrap();
    assert_eq!(conns.len(), doc_conns.len());
    for (line, c) in conns.iter().zip(doc_conns) {
        let mut line = (*line).clone();
        let obj = line.as_object_mut().unwrap();
        assert_eq!(
            obj.remove("capture").unwrap(),
            serde_json::json!(doc["source"]["name"])
        );
        obj.remove("record");
        assert_eq!(&line, c);
    }
    assert_eq!(of("cause").len(), doc["causes"].as_object().unwrap().len());
    let incidents = of("incident");
    assert_eq!(incidents.len(), doc["incidents"].as_array().unwrap().len());
    assert!(!incidents.is_empty(), "the sample holds a mass reset");
    assert_eq!(incidents[0]["index"], 0);
    assert_eq!(
        incidents[0]["connections"],
        doc["incidents"][0]["connections"]
    );
}

#[test]
fn compact_and_pretty_json_are_the_same_document() {
    for name in ["busy-one-reset.pcapng", "mass-reset-server-killed.pcap"] {
        let compact = bin()
            .args(["analyze", "--format", "json"])
            .arg(sample(name))
            .output()
            .unwrap();
        let pretty = bin()
            .args(["analyze", "--format", "json", "--pretty"])
            .arg(sample(name))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&compact.stdout).lines().count(),
            1,
            "one line in a pipe"
        );
        let (c, p) = (json(&compact.stdout), json(&pretty.stdout));
        assert_eq!(c, p, "{name}");
        assert!(!c["connections"].as_array().unwrap().is_empty());
    }
    let v = json(
        &bin()
            .args(["analyze", "--format", "json"])
            .arg(sample("mass-reset-server-killed.pcap"))
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(v["incidents"][0]["kind"], "mass-reset");
}
