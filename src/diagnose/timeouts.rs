//! Published default timeouts of servers, proxies, load balancers and firewalls: a silence
//! before a RST that matches one of them names the timer that most likely fired.
//!
//! Only defaults that their vendors publish are listed, each with its source. What each timer
//! waits for matters as much as its length: nginx's 60 s `client_header_timeout` fires on a
//! client that has not finished its request, its 75 s `keepalive_timeout` on one that has
//! nothing more to ask, so the same silence can only name the timer that fits what the capture
//! shows the connection was waiting for.

/// What a timer waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waits {
    /// The next request on an idle keep-alive connection: the last exchange was complete.
    NextRequest,
    /// The rest of a request: the peer connected, or began a request, and went quiet.
    Request,
    /// The peer to read what it was sent: its receive window stayed at zero.
    PeerReading,
    /// Any traffic at all (load balancers count silence both ways).
    Any,
    /// A firewall or NAT forgets the connection's state (it does not reset it itself).
    StateForgotten,
}

/// A published default timeout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timer {
    pub seconds: f64,
    pub waits: Waits,
    /// Whose timer, and its name: "nginx's client_header_timeout".
    pub name: &'static str,
}

impl Timer {
    /// "nginx's client_header_timeout (60 s by default)".
    pub fn words(&self) -> String {
        format!("{} ({} by default)", self.name, seconds_words(self.seconds))
    }
}

fn seconds_words(s: f64) -> String {
    if s >= 120.0 && s % 60.0 == 0.0 {
        let m = s / 60.0;
        if m >= 60.0 && m % 60.0 == 0.0 {
            let h = m / 60.0;
            return if (h - 1.0).abs() < f64::EPSILON {
                "1 hour".to_owned()
            } else {
                format!("{h} hours")
            };
        }
        return format!("{m} minutes");
    }
    format!("{s} s")
}

/// The published defaults. Sources, in order of the rows:
/// - nginx: <https://nginx.org/en/docs/http/ngx_http_core_module.html> (keepalive_timeout
///   "Default: keepalive_timeout 75s;", client_header_timeout and client_body_timeout
///   "Default: ... 60s;", send_timeout "Default: send_timeout 60s;"). On expiry nginx closes
///   the connection (FIN); with `reset_timedout_connection on` it resets it.
/// - Node.js: <https://nodejs.org/api/http.html> (`server.keepAliveTimeout` "Default: 5000",
///   `server.headersTimeout` "Default: 60000", `server.requestTimeout` "Default: 300000").
/// - HAProxy has no default timeouts; Debian's packaged /etc/haproxy/haproxy.cfg sets
///   `timeout client 50000` and `timeout server 50000`.
/// - Go: <https://pkg.go.dev/net/http#DefaultTransport> (`IdleConnTimeout: 90 * time.Second`;
///   the client's pool closes idle connections).
/// - Envoy: <https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/protocol.proto>
///   (HttpProtocolOptions.idle_timeout "defaults to 1 hour"), and the HTTP connection manager's
///   stream_idle_timeout "defaults to 5 minutes".
/// - AWS: <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html>
///   (ALB "The default is 60 seconds"), <https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html>
///   (NLB TCP idle timeout "350 seconds"; it then answers with a RST),
///   <https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html>
///   (NAT gateway "idle timeout of 350 seconds or more").
/// - Google Cloud: <https://cloud.google.com/load-balancing/docs/https> (external Application
///   Load Balancer "HTTP keepalive timeout ... 610 seconds"), <https://cloud.google.com/nat/docs/tune-nat-configuration>
///   (Cloud NAT "TCP established connection idle timeout: 1200 seconds").
/// - Azure: <https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout>
///   (Load Balancer "default ... 4 minutes"; with "TCP reset on idle" it resets both ends),
///   <https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource> (NAT gateway TCP idle
///   timeout "4 minutes" by default).
/// - Cisco ASA `timeout conn 1:00:00` (1 hour) by default.
/// - Linux: `net.ipv4.tcp_keepalive_time` 7200 s (Documentation/networking/ip-sysctl.rst).
pub const DEFAULTS: &[Timer] = &[
    Timer {
        seconds: 5.0,
        waits: Waits::NextRequest,
        name: "Node.js's server.keepAliveTimeout",
    },
    Timer {
        seconds: 50.0,
        waits: Waits::Any,
        name: "HAProxy's `timeout client` in Debian's packaged haproxy.cfg",
    },
    Timer {
        seconds: 60.0,
        waits: Waits::Request,
        name: "nginx's client_header_timeout and client_body_timeout",
    },
    Timer {
        seconds: 60.0,
        waits: Waits::Request,
        name: "Node.js's server.headersTimeout",
    },
    Timer {
        seconds: 60.0,
        waits: Waits::PeerReading,
        name: "nginx's send_timeout",
    },
    Timer {
        seconds: 60.0,
        waits: Waits::Any,
        name: "AWS Application Load Balancer's idle timeout",
    },
    Timer {
        seconds: 75.0,
        waits: Waits::NextRequest,
        name: "nginx's keepalive_timeout",
    },
    Timer {
        seconds: 90.0,
        waits: Waits::NextRequest,
        name: "Go's http.DefaultTransport IdleConnTimeout (the client's pool)",
    },
    Timer {
        seconds: 240.0,
        waits: Waits::Any,
        name: "Azure Load Balancer's idle timeout",
    },
    Timer {
        seconds: 240.0,
        waits: Waits::StateForgotten,
        name: "Azure NAT gateway's and Load Balancer's idle timeout",
    },
    Timer {
        seconds: 300.0,
        waits: Waits::Request,
        name: "Node.js's server.requestTimeout",
    },
    Timer {
        seconds: 300.0,
        waits: Waits::Any,
        name: "Envoy's stream_idle_timeout",
    },
    Timer {
        seconds: 350.0,
        waits: Waits::Any,
        name: "AWS Network Load Balancer's TCP idle timeout",
    },
    Timer {
        seconds: 350.0,
        waits: Waits::StateForgotten,
        name: "AWS NAT gateway's idle timeout",
    },
    Timer {
        seconds: 610.0,
        waits: Waits::NextRequest,
        name: "Google Cloud external Application Load Balancer's HTTP keepalive timeout",
    },
    Timer {
        seconds: 1200.0,
        waits: Waits::StateForgotten,
        name: "Google Cloud NAT's TCP established idle timeout",
    },
    Timer {
        seconds: 3600.0,
        waits: Waits::NextRequest,
        name: "Envoy's idle_timeout",
    },
    Timer {
        seconds: 3600.0,
        waits: Waits::StateForgotten,
        name: "Cisco ASA's connection idle timeout",
    },
    Timer {
        seconds: 7200.0,
        waits: Waits::Any,
        name: "Linux's net.ipv4.tcp_keepalive_time",
    },
];

/// The published defaults within 2 % (at least 0.5 s) of `idle_s` that wait for what the
/// connection was waiting for (`Any` timers fit every wait but a forgotten state).
pub fn matching(idle_s: f64, waits: Waits) -> Vec<&'static Timer> {
    DEFAULTS
        .iter()
        .filter(|t| {
            let fits = t.waits == waits
                || (t.waits == Waits::Any && waits != Waits::StateForgotten);
            fits && (idle_s - t.seconds).abs() <= (t.seconds * 0.02).max(0.5)
        })
        .collect()
}

/// The matching defaults in words: "idle 75.0 s: nginx's keepalive_timeout (75 s by default)".
pub fn describe(idle_s: f64, waits: Waits) -> Option<String> {
    let found = matching(idle_s, waits);
    if found.is_empty() {
        return None;
    }
    let names: Vec<String> = found.iter().map(|t| t.words()).collect();
    Some(format!("idle {idle_s:.1} s: {}", super::words::list(&names, "or")))
}
