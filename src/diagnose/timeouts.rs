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

/// Who keeps a timer: the server's side (nginx, Node), the client's (a connection pool), or a
/// proxy or load balancer that is the server to its clients and the client to its backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Server,
    Client,
    Proxy,
}

/// How a timer ends the connection when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closes {
    /// A FIN (a graceful close): a RST comes only if the peer writes after it.
    Fin,
    /// A RST.
    Rst,
    /// Either, by configuration (nginx's `reset_timedout_connection`, `HAProxy`'s `nolinger`).
    Either,
}

/// A published default timeout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timer {
    pub seconds: f64,
    /// How much later than `seconds` it may fire (a timer checked periodically).
    pub late_s: f64,
    pub waits: Waits,
    pub holder: Holder,
    pub closes: Closes,
    /// Whose timer, and its name: "nginx's `client_header_timeout`".
    pub name: &'static str,
}

impl Timer {
    /// "nginx's `client_header_timeout` (60 s by default)".
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

/// The published defaults. Sources (read for this table; where only a copy of the vendor's
/// text could be read, it says so):
/// - nginx <https://nginx.org/en/docs/http/ngx_http_core_module.html>: `keepalive_timeout`
///   "Default: 75s" ("timed out keep-alive connections are closed normally": a FIN, never a
///   RST); `client_header_timeout` (the whole header) and `client_body_timeout` (between two
///   reads) "Default: 60s"; `send_timeout` "Default: 60s" (between two writes). nginx sends no
///   408 on the wire (`src/http/ngx_http_request.c` only logs it); it closes with a FIN, or a RST
///   with `reset_timedout_connection on`.
/// - Node.js <https://nodejs.org/api/http.html>: `server.keepAliveTimeout` "Default: 5000";
///   `server.headersTimeout` 60000 and `server.requestTimeout` 300000, both checked every
///   `connectionsCheckingInterval` (30 s), so they fire up to 30 s late, with a 408.
/// - `HAProxy` has no default timeouts (<https://docs.haproxy.org/dev/configuration.html>:
///   "An unspecified timeout results in an infinite timeout"); Debian 12's packaged
///   `/etc/haproxy/haproxy.cfg` sets `timeout client 50000` and `timeout server 50000`.
/// - Go <https://go.dev/src/net/http/transport.go>: `DefaultTransport` `IdleConnTimeout: 90 *
///   time.Second` (the client's pool closes idle connections).
/// - Envoy <https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/protocol.proto>:
///   `idle_timeout` "defaults to 1 hour"; the HTTP connection manager's `stream_idle_timeout`
///   defaults to 5 minutes (a 408, or a stream reset).
/// - AWS: ALB <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html>
///   "By default, ELB sets the idle timeout value for your load balancer to 60 seconds"; NLB
///   <https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html>
///   "The default idle timeout value for TCP flows is 350 seconds" and then "it receives a
///   TCP RST packet"; NAT gateway <https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html>
///   "returns an RST packet to any resources behind the NAT gateway that attempt to continue
///   the connection" after its 350 s idle timeout.
/// - Google Cloud (the API reference, read from a copy): target HTTP proxy
///   `httpKeepAliveTimeoutSec` "a default value (610 seconds)"; Cloud NAT
///   `tcpEstablishedIdleTimeoutSec` "Defaults to 1200s".
/// - Azure <https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout>:
///   Load Balancer idle timeout "The default setting is 4 minutes"; it silently drops the flow
///   unless "TCP reset on idle" is on, which resets both ends. NAT gateway
///   <https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource>: "4 minutes
///   (default)", then "A TCP reset packet is sent only upon detecting traffic on the dropped
///   connection flow".
/// - Cisco ASA (configuration guide, read from a copy): `timeout conn` "The default is 1 hour";
///   Palo Alto PAN-OS <https://docs.paloaltonetworks.com/ngfw/networking/session-settings-and-timeouts/configure-session-timeouts/configure-session-timeouts-pan-os>:
///   TCP session timeout "default is 3,600".
pub const DEFAULTS: &[Timer] = &[
    // Node closes the socket a second after keepAliveTimeout (the socket's timer has a 1 s
    // buffer so that clients told `timeout=5` stop first): Node 20.20 in
    // sample-captures/node-keepalive-race-v6.pcap closes after 6.0 s.
    Timer {
        seconds: 5.0,
        late_s: 1.0,
        waits: Waits::NextRequest,
        holder: Holder::Server,
        closes: Closes::Fin,
        name: "Node.js's server.keepAliveTimeout",
    },
    Timer {
        seconds: 50.0,
        late_s: 0.0,
        waits: Waits::Any,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "HAProxy's `timeout client` in Debian's packaged haproxy.cfg",
    },
    Timer {
        seconds: 60.0,
        late_s: 0.0,
        waits: Waits::Request,
        holder: Holder::Server,
        closes: Closes::Either,
        name: "nginx's client_header_timeout and client_body_timeout",
    },
    Timer {
        seconds: 60.0,
        late_s: 30.0,
        waits: Waits::Request,
        holder: Holder::Server,
        closes: Closes::Fin,
        name: "Node.js's server.headersTimeout",
    },
    Timer {
        seconds: 60.0,
        late_s: 0.0,
        waits: Waits::PeerReading,
        holder: Holder::Server,
        closes: Closes::Either,
        name: "nginx's send_timeout",
    },
    Timer {
        seconds: 60.0,
        late_s: 0.0,
        waits: Waits::Any,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "AWS Application Load Balancer's idle timeout",
    },
    Timer {
        seconds: 75.0,
        late_s: 0.0,
        waits: Waits::NextRequest,
        holder: Holder::Server,
        closes: Closes::Fin,
        name: "nginx's keepalive_timeout",
    },
    Timer {
        seconds: 90.0,
        late_s: 0.0,
        waits: Waits::NextRequest,
        holder: Holder::Client,
        closes: Closes::Fin,
        name: "Go's http.DefaultTransport IdleConnTimeout (the client's pool)",
    },
    Timer {
        seconds: 240.0,
        late_s: 0.0,
        waits: Waits::Any,
        holder: Holder::Proxy,
        closes: Closes::Rst,
        name: "Azure Load Balancer's idle timeout (with TCP reset on idle)",
    },
    Timer {
        seconds: 240.0,
        late_s: 0.0,
        waits: Waits::StateForgotten,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "Azure Load Balancer's and NAT gateway's idle timeout",
    },
    Timer {
        seconds: 300.0,
        late_s: 30.0,
        waits: Waits::Request,
        holder: Holder::Server,
        closes: Closes::Fin,
        name: "Node.js's server.requestTimeout",
    },
    Timer {
        seconds: 300.0,
        late_s: 0.0,
        waits: Waits::Any,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "Envoy's stream_idle_timeout",
    },
    Timer {
        seconds: 350.0,
        late_s: 0.0,
        waits: Waits::StateForgotten,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "AWS Network Load Balancer's and NAT gateway's idle timeout",
    },
    Timer {
        seconds: 610.0,
        late_s: 0.0,
        waits: Waits::NextRequest,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "Google Cloud's external Application Load Balancer's HTTP keepalive timeout",
    },
    Timer {
        seconds: 1200.0,
        late_s: 0.0,
        waits: Waits::StateForgotten,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "Google Cloud NAT's TCP established idle timeout",
    },
    Timer {
        seconds: 3600.0,
        late_s: 0.0,
        waits: Waits::NextRequest,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "Envoy's idle_timeout",
    },
    Timer {
        seconds: 3600.0,
        late_s: 0.0,
        waits: Waits::StateForgotten,
        holder: Holder::Proxy,
        closes: Closes::Either,
        name: "Cisco ASA's and Palo Alto's TCP connection idle timeout",
    },
];

/// What the capture shows about the silence a timer may explain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    /// What the connection was waiting for.
    pub waits: Waits,
    /// Which side ended it: the server or the client (a state-forgetting device is neither).
    pub by_server: bool,
    /// How it ended when the silence ran out: a FIN, or a RST.
    pub shown: Closes,
}

/// The published defaults within 2 % (at least 0.5 s, plus how late they may fire) of `idle_s`
/// that wait for what the connection was waiting for, are kept by the side that ended it, and
/// end connections the way the capture shows (`Any` timers fit every wait but a forgotten
/// state; a device that forgets state is neither side).
pub fn matching(idle_s: f64, fit: Fit) -> Vec<&'static Timer> {
    DEFAULTS
        .iter()
        .filter(|t| {
            let waits = t.waits == fit.waits
                || (t.waits == Waits::Any && fit.waits != Waits::StateForgotten);
            let holder = fit.waits == Waits::StateForgotten
                || match t.holder {
                    Holder::Server => fit.by_server,
                    Holder::Client => !fit.by_server,
                    Holder::Proxy => true,
                };
            let closes = fit.waits == Waits::StateForgotten
                || t.closes == Closes::Either
                || t.closes == fit.shown;
            let tolerance = (t.seconds * 0.02).max(0.5);
            waits
                && holder
                && closes
                && idle_s >= t.seconds - tolerance
                && idle_s <= t.seconds + t.late_s + tolerance
        })
        .collect()
}

/// The matching defaults in words, after what was measured: "75.0 s idle: nginx's
/// `keepalive_timeout` (75 s by default)".
pub fn describe(idle_s: f64, fit: Fit, measured: &str) -> Option<String> {
    let found = matching(idle_s, fit);
    if found.is_empty() {
        return None;
    }
    let names: Vec<String> = found.iter().map(|t| t.words()).collect();
    Some(format!(
        "{idle_s:.1} s {measured}: {}",
        super::words::list(&names, "or")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(waits: Waits, by_server: bool, shown: Closes) -> Fit {
        Fit {
            waits,
            by_server,
            shown,
        }
    }

    #[test]
    fn a_silence_names_only_the_timers_that_fit_what_the_capture_shows() {
        let names = |s, f| matching(s, f).iter().map(|t| t.name).collect::<Vec<_>>();
        // A server's RST 60 s after a request began: nginx's header/body timers (with
        // reset_timedout_connection) and the ALB's idle timer; not Node's headersTimeout,
        // which ends with a 408 and a FIN, and not nginx's send_timeout.
        let n = names(60.4, fit(Waits::Request, true, Closes::Rst));
        assert!(
            n.iter().any(|x| x.contains("client_header_timeout")),
            "{n:?}"
        );
        assert!(
            n.iter().any(|x| x.contains("Application Load Balancer")),
            "{n:?}"
        );
        assert!(!n.iter().any(|x| x.contains("headersTimeout")), "{n:?}");
        assert!(!n.iter().any(|x| x.contains("send_timeout")), "{n:?}");
        // Closed with a FIN 85 s after the request began: Node checks headersTimeout every
        // 30 s, so 85 s still fits it.
        assert_eq!(
            names(85.0, fit(Waits::Request, true, Closes::Fin)),
            vec!["Node.js's server.headersTimeout"]
        );
        // nginx's keepalive_timeout closes with a FIN: it explains a FIN after 75 s idle, never
        // a bare RST, and never a client's.
        assert_eq!(
            names(75.2, fit(Waits::NextRequest, true, Closes::Fin)),
            vec!["nginx's keepalive_timeout"]
        );
        assert!(names(75.2, fit(Waits::NextRequest, true, Closes::Rst)).is_empty());
        assert!(names(75.2, fit(Waits::NextRequest, false, Closes::Fin)).is_empty());
        // Go's pool is the client's: a server closing after 90 s is not it.
        assert!(names(90.0, fit(Waits::NextRequest, true, Closes::Fin)).is_empty());
        assert_eq!(
            names(90.0, fit(Waits::NextRequest, false, Closes::Fin)).len(),
            1
        );
        // 350 s: the NLB and NAT gateway forget the flow; nothing resets at 350 s by itself.
        assert!(names(350.4, fit(Waits::NextRequest, true, Closes::Rst)).is_empty());
        assert_eq!(
            names(350.4, fit(Waits::StateForgotten, true, Closes::Rst)).len(),
            1
        );
        assert!(names(42.0, fit(Waits::Any, true, Closes::Rst)).is_empty());
        assert_eq!(
            describe(75.2, fit(Waits::NextRequest, true, Closes::Fin), "idle").unwrap(),
            "75.2 s idle: nginx's keepalive_timeout (75 s by default)"
        );
    }
}
