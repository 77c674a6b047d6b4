//! The sample captures (sample-captures/manifest.json, recorded from real Linux stacks with the
//! kernel's own reason for each RST): every entry's connection, RST frames, their senders and
//! the termination are found as the manifest says, and the diagnosis names the cause, the
//! sender and the kind of sender the manifest records. This is the diagnosis's gate: 100%.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;

use rstscope::flow::Dir;
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
