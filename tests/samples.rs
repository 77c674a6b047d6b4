//! The sample captures (sample-captures/manifest.json, recorded from real Linux stacks with the
//! kernel's own reason for each RST): every entry's connection, RST frames, their senders and
//! the termination are found as the manifest says, and the diagnosis names the cause, the
//! sender and the kind of sender the manifest records. This is the diagnosis's gate: 100%.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;

use std::collections::BTreeMap;

use rstscope::analysis::Analysis;
use rstscope::diagnose::{Cause, Confidence, SenderKind};
use rstscope::flow::{Connection, Dir};
use serde_json::Value;

fn manifest() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `ip:port` with an IPv6 address written without brackets, as the manifest does.
fn endpoint(s: &str) -> SocketAddr {
    let (ip, port) = s.rsplit_once(':').unwrap();
    SocketAddr::new(ip.parse().unwrap(), port.parse().unwrap())
}

#[test]
fn every_manifest_entry_is_found_with_its_resets_and_ending() {
    let entries = manifest();
    assert!(entries.len() >= 20, "{} entries", entries.len());
    for e in &entries {
        let file = e["file"].as_str().unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample-captures")
            .join(file);
        let outcome = common::analyze(&path);
        assert!(outcome.error.is_none(), "{file}: {:?}", outcome.error);
        let a = outcome.analysis.unwrap();

        // Every RST the kernel trace attributed is in the analysis, from the named endpoint.
        for d in e["rst_details"].as_array().into_iter().flatten() {
            let frame = d["frame"].as_u64().unwrap();
            let src = endpoint(d["src"].as_str().unwrap());
            let (conn, reset) = a
                .connections
                .iter()
                .find_map(|c| c.resets.iter().find(|r| r.frame == frame).map(|r| (c, r)))
                .unwrap_or_else(|| panic!("{file}: no RST at frame {frame}"));
            let sender = match reset.from {
                Dir::Client => conn.client,
                Dir::Server => conn.server,
            };
            assert_eq!(sender, src, "{file}: RST frame {frame} sender");
        }
        let all_rsts: Vec<u64> = a
            .connections
            .iter()
            .flat_map(|c| c.resets.iter().map(|r| r.frame))
            .collect();
        let want: Vec<u64> = e["rst_frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_u64().unwrap())
            .collect();
        for f in &want {
            assert!(
                all_rsts.contains(f),
                "{file}: RST frame {f} missing; found {all_rsts:?}"
            );
        }

        // The connection(s) the entry is about: its ending, and who sent its first RST. Without
        // a 4-tuple the entry is about every connection to its server port.
        let t = &e["tuple"];
        let port = u16::try_from(
            e["server_port"]
                .as_u64()
                .or(t["server_port"].as_u64())
                .unwrap(),
        )
        .unwrap();
        let concerned: Vec<_> = if t["client_ip"].is_string() {
            let client = endpoint(&format!(
                "{}:{}",
                t["client_ip"].as_str().unwrap(),
                t["client_port"]
            ));
            a.connections
                .iter()
                .filter(|c| c.client == client)
                .collect()
        } else {
            a.connections
                .iter()
                .filter(|c| c.server.port() == port)
                .collect()
        };
        assert!(!concerned.is_empty(), "{file}: no connection found");
        for conn in concerned {
            assert_eq!(conn.server.port(), port, "{file}");
            assert_eq!(
                conn.termination().as_str(),
                e["termination"].as_str().unwrap(),
                "{file}: termination"
            );
            if let Some(by) = e["rst_by"].as_str() {
                let first = conn
                    .resets
                    .first()
                    .unwrap_or_else(|| panic!("{file}: no RST in the connection"));
                let from = match first.from {
                    Dir::Client => "client",
                    Dir::Server => "server",
                };
                assert_eq!(from, by, "{file}: first RST's sender");
            }
        }
        if let Some(n) = e["expected_connections"].as_u64() {
            assert_eq!(a.connections.len() as u64, n, "{file}: connections");
        }
    }
}

/// The connections a manifest entry is about: its 4-tuple, or every connection to its server
/// port.
fn concerned<'a>(e: &Value, a: &'a Analysis) -> Vec<&'a Connection> {
    let t = &e["tuple"];
    let port = e["server_port"]
        .as_u64()
        .or(t["server_port"].as_u64())
        .unwrap();
    if t["client_ip"].is_string() {
        let client = endpoint(&format!(
            "{}:{}",
            t["client_ip"].as_str().unwrap(),
            t["client_port"]
        ));
        a.connections
            .iter()
            .filter(|c| c.client == client)
            .collect()
    } else {
        a.connections
            .iter()
            .filter(|c| u64::from(c.server.port()) == port)
            .collect()
    }
}

fn confidence_name(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    }
}

/// The gate and its figures. Every manifest entry (real programs in network namespaces, the
/// kernel's own reason for every RST as ground truth) gets the cause, the sender and the kind
/// of sender the manifest records, on every connection it is about: 100%. Entries that record
/// a mass reset get one incident holding those connections, with each connection's own
/// mechanism as its cause; entries that record `"incident": null` get none; a published default
/// timer the scenario ran with is named. Printed: the confusion matrix (expected cause x
/// diagnosed cause) and how often each confidence level is right.
#[test]
#[allow(clippy::too_many_lines)]
fn every_sample_gets_its_cause_sender_incident_and_timer() {
    let entries = manifest();
    let mut matrix: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut by_confidence: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for e in &entries {
        let Some(expected) = e["expected_cause"].as_str() else {
            continue;
        };
        let file = e["file"].as_str().unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample-captures")
            .join(file);
        let a = common::analyze(&path).analysis.unwrap();
        let conns = concerned(e, &a);
        assert!(!conns.is_empty(), "{file}: no connection found");
        for c in conns {
            let Some(d) = a.diagnoses[c.id as usize].as_ref() else {
                wrong.push(format!("{file} #{}: no diagnosis", c.id));
                continue;
            };
            checked += 1;
            *matrix
                .entry(expected.to_owned())
                .or_default()
                .entry(d.cause.id().to_owned())
                .or_default() += 1;
            let sender = match d.sender {
                Dir::Client => "client",
                Dir::Server => "server",
            };
            let kind = match d.sender_kind {
                SenderKind::Endpoint => "endpoint",
                SenderKind::Middlebox => "middlebox",
            };
            let right = d.cause.id() == expected
                && e["rst_by"].as_str().is_none_or(|by| by == sender)
                && e["sender_kind"].as_str().is_none_or(|k| k == kind);
            let tally = by_confidence
                .entry(confidence_name(d.confidence))
                .or_default();
            tally.1 += 1;
            if right {
                tally.0 += 1;
            } else {
                wrong.push(format!(
                    "{file} #{}: expected {expected} by the {} ({}), diagnosed {} by the {sender} ({kind}), {}",
                    c.id,
                    e["rst_by"],
                    e["sender_kind"],
                    d.cause.id(),
                    confidence_name(d.confidence)
                ));
            }
            // Below high, the runners-up that a reader should weigh are named (not only the
            // weak-sign `unknown`: every sample's verdict has a real competitor or is high).
            let real = |a: &&rstscope::diagnose::Alternative| {
                a.cause != Cause::Unknown || a.sender_kind != d.sender_kind
            };
            if d.confidence < Confidence::High && !d.alternatives.iter().any(|a| real(&a)) {
                wrong.push(format!(
                    "{file} #{}: a {} verdict with no real alternative",
                    c.id,
                    confidence_name(d.confidence)
                ));
            }
            match e["incident"].as_str() {
                Some("mass-reset") => {
                    let inc = d.incident.and_then(|i| a.incidents.get(i));
                    if !inc.is_some_and(|i| i.connections.contains(&c.id)) {
                        wrong.push(format!("{file} #{}: not in a mass-reset incident", c.id));
                    }
                }
                _ if e.get("incident").is_some_and(Value::is_null) && !a.incidents.is_empty() => {
                    wrong.push(format!(
                        "{file}: {} incident(s), expected none",
                        a.incidents.len()
                    ));
                }
                _ => {}
            }
            let timer = &e["timer"];
            if timer["default"].as_bool() == Some(true) {
                let setting = timer["setting"].as_str().unwrap();
                let named = d.known_timeout.as_deref().unwrap_or("");
                if !named.contains(setting) {
                    wrong.push(format!(
                        "{file} #{}: the default timer {setting} is not named ({named:?})",
                        c.id
                    ));
                }
            }
        }
    }
    let causes: Vec<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
    println!(
        "confusion matrix over {checked} reset connections in the sample captures (rows: expected, columns: diagnosed; only causes that occur)"
    );
    let used: Vec<&str> = causes
        .iter()
        .copied()
        .filter(|c| matrix.contains_key(*c) || matrix.values().any(|row| row.contains_key(*c)))
        .collect();
    let width = used.iter().map(|c| c.len()).max().unwrap_or(8);
    print!("{:>width$} |", "");
    for (i, _) in used.iter().enumerate() {
        print!(" {:>3}", i + 1);
    }
    println!();
    for (i, row) in used.iter().enumerate() {
        print!("{row:>width$} |");
        for col in &used {
            let n = matrix
                .get(*row)
                .and_then(|r| r.get(*col))
                .copied()
                .unwrap_or(0);
            if n == 0 {
                print!("   .");
            } else {
                print!(" {n:>3}");
            }
        }
        println!("   ({})", i + 1);
    }
    for level in ["high", "medium", "low"] {
        let (right, total) = by_confidence.get(level).copied().unwrap_or_default();
        #[allow(clippy::cast_precision_loss)]
        let share = if total == 0 {
            0.0
        } else {
            100.0 * right as f64 / total as f64
        };
        println!("confidence {level}: {right} of {total} right ({share:.0}%)");
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked >= 45, "{checked} connections checked");
}

#[test]
fn many_graceful_connections_and_one_reset_yield_exactly_one_diagnosis() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/busy-one-reset.pcapng");
    let a = common::analyze(&path).analysis.unwrap();
    assert!(a.connections.len() >= 20);
    assert_eq!(a.diagnoses.iter().flatten().count(), 1);
    let graceful = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/graceful-fin.pcap");
    let a = common::analyze(&graceful).analysis.unwrap();
    assert!(a.diagnoses.iter().all(Option::is_none));
}
