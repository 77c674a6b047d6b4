//! The sample captures embedded in the binary, with their titles and descriptions from
//! sample-captures/manifest.json: the welcome screen offers them, no network or files needed.

use std::sync::Arc;

/// Every capture the manifest lists, by file name. A test checks that the two lists agree.
const FILES: &[(&str, &[u8])] = &[
    (
        "unread-data-close-server.pcap",
        include_bytes!("../../sample-captures/unread-data-close-server.pcap"),
    ),
    (
        "unread-data-close-server-v6.pcap",
        include_bytes!("../../sample-captures/unread-data-close-server-v6.pcap"),
    ),
    (
        "unread-data-close-client.pcap",
        include_bytes!("../../sample-captures/unread-data-close-client.pcap"),
    ),
    (
        "abortive-close-server.pcap",
        include_bytes!("../../sample-captures/abortive-close-server.pcap"),
    ),
    (
        "abortive-close-client.pcap",
        include_bytes!("../../sample-captures/abortive-close-client.pcap"),
    ),
    (
        "idle-timeout-haproxy-server-any.pcap",
        include_bytes!("../../sample-captures/idle-timeout-haproxy-server-any.pcap"),
    ),
    (
        "idle-timeout-haproxy.pcap",
        include_bytes!("../../sample-captures/idle-timeout-haproxy.pcap"),
    ),
    (
        "firewall-state-expiry-reject.pcap",
        include_bytes!("../../sample-captures/firewall-state-expiry-reject.pcap"),
    ),
    (
        "firewall-state-expiry-reject-v6.pcap",
        include_bytes!("../../sample-captures/firewall-state-expiry-reject-v6.pcap"),
    ),
    (
        "firewall-state-expiry-drop.pcap",
        include_bytes!("../../sample-captures/firewall-state-expiry-drop.pcap"),
    ),
    (
        "no-socket-server-restart.pcap",
        include_bytes!("../../sample-captures/no-socket-server-restart.pcap"),
    ),
    (
        "no-socket-server-restart-v6.pcap",
        include_bytes!("../../sample-captures/no-socket-server-restart-v6.pcap"),
    ),
    (
        "write-after-close.pcap",
        include_bytes!("../../sample-captures/write-after-close.pcap"),
    ),
    (
        "write-after-close-v6.pcap",
        include_bytes!("../../sample-captures/write-after-close-v6.pcap"),
    ),
    (
        "keepalive-timeout.pcap",
        include_bytes!("../../sample-captures/keepalive-timeout.pcap"),
    ),
    (
        "middlebox-reset-injected-server.pcap",
        include_bytes!("../../sample-captures/middlebox-reset-injected-server.pcap"),
    ),
    (
        "middlebox-reset-injected.pcap",
        include_bytes!("../../sample-captures/middlebox-reset-injected.pcap"),
    ),
    (
        "nat-state-expiry-two-point-server.pcap",
        include_bytes!("../../sample-captures/nat-state-expiry-two-point-server.pcap"),
    ),
    (
        "nat-state-expiry-two-point.pcap",
        include_bytes!("../../sample-captures/nat-state-expiry-two-point.pcap"),
    ),
    (
        "refused.pcap",
        include_bytes!("../../sample-captures/refused.pcap"),
    ),
    (
        "refused-v6.pcap",
        include_bytes!("../../sample-captures/refused-v6.pcap"),
    ),
    (
        "probe-abort-haproxy-check.pcap",
        include_bytes!("../../sample-captures/probe-abort-haproxy-check.pcap"),
    ),
    (
        "mass-reset-server-killed.pcap",
        include_bytes!("../../sample-captures/mass-reset-server-killed.pcap"),
    ),
    (
        "graceful-fin.pcap",
        include_bytes!("../../sample-captures/graceful-fin.pcap"),
    ),
    (
        "busy-one-reset.pcapng",
        include_bytes!("../../sample-captures/busy-one-reset.pcapng"),
    ),
    (
        "nginx-keepalive-race.pcap",
        include_bytes!("../../sample-captures/nginx-keepalive-race.pcap"),
    ),
    (
        "node-keepalive-race-v6.pcap",
        include_bytes!("../../sample-captures/node-keepalive-race-v6.pcap"),
    ),
    (
        "nginx-client-header-timeout.pcap",
        include_bytes!("../../sample-captures/nginx-client-header-timeout.pcap"),
    ),
    (
        "nginx-client-body-timeout-v6.pcap",
        include_bytes!("../../sample-captures/nginx-client-body-timeout-v6.pcap"),
    ),
    (
        "nginx-send-timeout-snaplen.pcap",
        include_bytes!("../../sample-captures/nginx-send-timeout-snaplen.pcap"),
    ),
    (
        "haproxy-http-request-timeout-any.pcap",
        include_bytes!("../../sample-captures/haproxy-http-request-timeout-any.pcap"),
    ),
    (
        "haproxy-tcp-timeout-client-nolinger-any.pcap",
        include_bytes!("../../sample-captures/haproxy-tcp-timeout-client-nolinger-any.pcap"),
    ),
    (
        "haproxy-tcp-timeout-client.pcap",
        include_bytes!("../../sample-captures/haproxy-tcp-timeout-client.pcap"),
    ),
    (
        "redis-idle-timeout.pcap",
        include_bytes!("../../sample-captures/redis-idle-timeout.pcap"),
    ),
    (
        "redis-hung-killed-v6.pcap",
        include_bytes!("../../sample-captures/redis-hung-killed-v6.pcap"),
    ),
    (
        "go-413-unread-body-snaplen.pcap",
        include_bytes!("../../sample-captures/go-413-unread-body-snaplen.pcap"),
    ),
    (
        "go-413-unread-body-v6.pcap",
        include_bytes!("../../sample-captures/go-413-unread-body-v6.pcap"),
    ),
    (
        "go-read-header-timeout.pcap",
        include_bytes!("../../sample-captures/go-read-header-timeout.pcap"),
    ),
    (
        "go-killed-mass-reset.pcap",
        include_bytes!("../../sample-captures/go-killed-mass-reset.pcap"),
    ),
    (
        "go-keepalive-timeout-v6-any.pcap",
        include_bytes!("../../sample-captures/go-keepalive-timeout-v6-any.pcap"),
    ),
    (
        "node-restart-go-client-no-socket.pcap",
        include_bytes!("../../sample-captures/node-restart-go-client-no-socket.pcap"),
    ),
    (
        "node-staggered-aborts-not-mass.pcap",
        include_bytes!("../../sample-captures/node-staggered-aborts-not-mass.pcap"),
    ),
    (
        "curl-max-time-unread.pcap",
        include_bytes!("../../sample-captures/curl-max-time-unread.pcap"),
    ),
    (
        "curl-sigint-v6.pcap",
        include_bytes!("../../sample-captures/curl-sigint-v6.pcap"),
    ),
    (
        "nmap-connect-scan.pcap",
        include_bytes!("../../sample-captures/nmap-connect-scan.pcap"),
    ),
    (
        "nmap-syn-scan-v6.pcap",
        include_bytes!("../../sample-captures/nmap-syn-scan-v6.pcap"),
    ),
    (
        "scapy-forged-rst-v6.pcap",
        include_bytes!("../../sample-captures/scapy-forged-rst-v6.pcap"),
    ),
    (
        "scapy-gfw-both-ends-any.pcap",
        include_bytes!("../../sample-captures/scapy-gfw-both-ends-any.pcap"),
    ),
    (
        "scapy-blind-spray.pcap",
        include_bytes!("../../sample-captures/scapy-blind-spray.pcap"),
    ),
    (
        "iptables-reject-policy-change.pcap",
        include_bytes!("../../sample-captures/iptables-reject-policy-change.pcap"),
    ),
    (
        "ip6tables-reject-syn-v6.pcap",
        include_bytes!("../../sample-captures/ip6tables-reject-syn-v6.pcap"),
    ),
    (
        "conntrack-flush-reject.pcap",
        include_bytes!("../../sample-captures/conntrack-flush-reject.pcap"),
    ),
    (
        "nat-masquerade-expiry-server.pcap",
        include_bytes!("../../sample-captures/nat-masquerade-expiry-server.pcap"),
    ),
    (
        "nat-masquerade-expiry.pcap",
        include_bytes!("../../sample-captures/nat-masquerade-expiry.pcap"),
    ),
    (
        "nat-masquerade-expiry-v6.pcap",
        include_bytes!("../../sample-captures/nat-masquerade-expiry-v6.pcap"),
    ),
    (
        "redis-pubsub-nat-expiry-server.pcap",
        include_bytes!("../../sample-captures/redis-pubsub-nat-expiry-server.pcap"),
    ),
    (
        "socat-relay-killed-any.pcap",
        include_bytes!("../../sample-captures/socat-relay-killed-any.pcap"),
    ),
];

const MANIFEST: &str = include_str!("../../sample-captures/manifest.json");

/// One sample as the welcome screen shows it.
#[derive(Clone, Debug)]
pub struct Sample {
    pub file: String,
    pub title: String,
    pub description: String,
    /// The cause it shows (`None` for the graceful contrast).
    pub cause: Option<String>,
    pub bytes: Arc<[u8]>,
}

#[derive(serde::Deserialize)]
struct Entry {
    file: String,
    title: String,
    description: String,
    expected_cause: Option<String>,
}

/// The embedded samples in manifest order. Entries without embedded bytes are skipped (the
/// test `every_manifest_entry_is_embedded` keeps that from happening unnoticed).
pub fn all() -> Vec<Sample> {
    let entries: Vec<Entry> = serde_json::from_str(MANIFEST).unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|e| {
            let bytes = FILES.iter().find(|(f, _)| *f == e.file)?.1;
            Some(Sample {
                file: e.file,
                title: e.title,
                description: e.description,
                cause: e.expected_cause,
                bytes: Arc::from(bytes),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_manifest_entry_is_embedded() {
        let entries: Vec<Entry> = serde_json::from_str(MANIFEST).unwrap();
        assert_eq!(all().len(), entries.len());
        assert_eq!(FILES.len(), entries.len());
    }
}
