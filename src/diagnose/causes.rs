//! One place per cause: what it means, how to explain it to a person, and what to change.
//!
//! The rules that choose a cause live in `super::rules`; this file holds the words, so that a
//! reader can check each cause's explanation and fixes side by side.

use serde::Serialize;

/// Why a RST was sent: always the mechanism that reset the connection. The identifiers are
/// rstscope's public vocabulary (JSON, UI, tests). Events across connections (a mass reset) are
/// [`super::Incident`]s, never a connection's cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    UnreadDataClose,
    AbortiveClose,
    IdleTimeout,
    FirewallStateExpiry,
    NoSocket,
    WriteAfterClose,
    KeepaliveTimeout,
    MiddleboxReset,
    Refused,
    ProbeAbort,
    Unknown,
}

impl Cause {
    pub const ALL: [Self; 11] = [
        Self::UnreadDataClose,
        Self::AbortiveClose,
        Self::IdleTimeout,
        Self::FirewallStateExpiry,
        Self::NoSocket,
        Self::WriteAfterClose,
        Self::KeepaliveTimeout,
        Self::MiddleboxReset,
        Self::Refused,
        Self::ProbeAbort,
        Self::Unknown,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Self::UnreadDataClose => "unread-data-close",
            Self::AbortiveClose => "abortive-close",
            Self::IdleTimeout => "idle-timeout",
            Self::FirewallStateExpiry => "firewall-state-expiry",
            Self::NoSocket => "no-socket",
            Self::WriteAfterClose => "write-after-close",
            Self::KeepaliveTimeout => "keepalive-timeout",
            Self::MiddleboxReset => "middlebox-reset",
            Self::Refused => "refused",
            Self::ProbeAbort => "probe-abort",
            Self::Unknown => "unknown",
        }
    }

    /// A few words for a table cell.
    pub fn title(self) -> &'static str {
        match self {
            Self::UnreadDataClose => "closed with unread data",
            Self::AbortiveClose => "deliberate abort",
            Self::IdleTimeout => "idle timeout",
            Self::FirewallStateExpiry => "firewall forgot the connection",
            Self::NoSocket => "no socket (state lost)",
            Self::WriteAfterClose => "write after the peer closed",
            Self::KeepaliveTimeout => "keep-alive timeout",
            Self::MiddleboxReset => "forged on the path",
            Self::Refused => "connection refused",
            Self::ProbeAbort => "probe or health check",
            Self::Unknown => "unknown",
        }
    }

    /// What happened, for someone who does not live in TCP.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::UnreadDataClose => {
                "The application closed its socket while data it had received was still unread in its receive buffer (or arrived after the close). TCP then must not pretend the exchange ended cleanly: instead of a FIN it sends a RST (RFC 1122 4.2.2.13, RFC 2525 2.17), and the peer may lose data it had not yet read, such as the response it was waiting for."
            }
            Self::AbortiveClose => {
                "The application aborted the connection on purpose instead of closing it: SO_LINGER with a zero timeout, or an explicit abort, makes close() send a RST and discard anything still queued. Nothing was left unread, so this was a choice, not an accident of timing."
            }
            Self::IdleTimeout => {
                "A proxy, load balancer or server gave up waiting and reset the connection: waiting for the next request on an idle keep-alive connection, for the rest of a request that was slow to arrive (a header or a body), or for a client that had stopped reading its response (its receive window stayed at zero). Many servers end such connections with a RST, some after an error response (HTTP 408) and a FIN. Every hop has its own timers; the first one to expire wins, and the request on that connection fails."
            }
            Self::FirewallStateExpiry => {
                "A stateful firewall or NAT on the path forgot this connection during a quiet period (its idle timeout expired). When traffic resumed it no longer recognised the packets: it either answered them with a RST in the server's name or dropped them silently until the sender gave up."
            }
            Self::NoSocket => {
                "The packet reached a host whose kernel has no socket for this connection: the process restarted or crashed, the host rebooted or failed over, or the connection's state was lost. The kernel answers such packets with a RST (RFC 9293 3.10.7.1)."
            }
            Self::WriteAfterClose => {
                "One side had already closed the connection (it sent its FIN), and the other side still wrote a request on it, typically a pooled keep-alive connection reused just as the server closed it. The closed side answers the data with a RST, and the request fails."
            }
            Self::KeepaliveTimeout => {
                "TCP keep-alive probes went unanswered: the peer or the path went silent, and the kernel gave up on the connection after its last probe and reset it (RFC 1122 4.2.3.6)."
            }
            Self::MiddleboxReset => {
                "A device on the path (a firewall, IPS, DPI box or proxy) forged this RST in the peer's name: its TTL or IP ID does not match the peer's own packets, or the peer kept sending after it. The peer never sent it."
            }
            Self::Refused => {
                "The SYN was answered with a RST: nothing listens on that port at that address (the service is down, still starting, or bound elsewhere), or a firewall rejects the connection."
            }
            Self::ProbeAbort => {
                "The connection was opened and reset at once with no data: a health check, load-balancer probe or port scanner checking that the port answers. Usually harmless."
            }
            Self::Unknown => "The capture does not show enough to tell why this RST was sent.",
        }
    }

    /// Concrete changes that make this cause go away.
    pub fn fixes(self) -> &'static [&'static str] {
        match self {
            Self::UnreadDataClose => &[
                "Drain before close: shutdown(fd, SHUT_WR), read until recv() returns 0 (EOF) or a short timeout, then close().",
                "A server that answers early (an error, a 413) must read and discard the rest of the request before closing, or let the client finish: nginx's lingering_close does this; in Node call req.resume() before ending the response; in Go read the body to EOF (io.Copy(io.Discard, r.Body)).",
                "A client that stops reading a response must expect the RST; read the response to its end if the server's logs matter.",
            ],
            Self::AbortiveClose => &[
                "Remove SO_LINGER with a zero timeout (setsockopt SO_LINGER {l_onoff=1, l_linger=0}; Java socket.setSoLinger(true, 0)) unless an abort is really meant.",
                "Shut down gracefully: Go's http.Server.Shutdown(ctx) rather than Close(); Node's server.close() and let keep-alive connections finish; stop accepting, finish in-flight requests, then close.",
            ],
            Self::IdleTimeout => &[
                "Make the client's idle timeout shorter than every proxy's and load balancer's on the path, e.g. a pool idle timeout of 55 s behind a 60 s load balancer (Go http.Transport.IdleConnTimeout, Node http.Agent keepAlive settings, Java HttpClient keep-alive).",
                "Or keep the connection alive: SO_KEEPALIVE with TCP_KEEPIDLE=30, TCP_KEEPINTVL=10, TCP_KEEPCNT=3 (Linux; Go net.Dialer{KeepAlive: 30 * time.Second}; Node socket.setKeepAlive(true, 30000); Java ExtendedSocketOptions.TCP_KEEPIDLE).",
                "A client that is slow to send its request or to read its response: send the request in one write, read responses promptly, or raise the server's request and send timeouts for this client (nginx client_header_timeout, client_body_timeout, send_timeout; HAProxy timeout http-request and timeout client; Node server.headersTimeout and requestTimeout).",
                "Retry idempotent requests that fail on a reused connection, with exponential backoff and jitter; give non-idempotent requests idempotency keys.",
            ],
            Self::FirewallStateExpiry => &[
                "Enable TCP keep-alives with an idle time below the firewall's or NAT's timeout: SO_KEEPALIVE with TCP_KEEPIDLE=30, TCP_KEEPINTVL=10, TCP_KEEPCNT=3 (Go net.Dialer{KeepAlive: 30 * time.Second}; Node socket.setKeepAlive(true, 30000)).",
                "Or raise the middlebox's idle timeout for this traffic (Linux conntrack: net.netfilter.nf_conntrack_tcp_timeout_established; cloud NAT gateways and firewalls have their own).",
                "Validate pooled connections before reuse and retry idempotent requests with exponential backoff and jitter.",
            ],
            Self::NoSocket => &[
                "Drain before stopping a server: stop accepting, finish in-flight requests, then exit (Kubernetes: a preStop hook and enough terminationGracePeriodSeconds; Go http.Server.Shutdown).",
                "Make clients retry idempotent requests on a reset with exponential backoff and jitter; use idempotency keys for the rest.",
                "If no restart happened, look for lost state on the path: a failover, a NAT or load balancer that moved the flow, an address that moved to another host.",
            ],
            Self::WriteAfterClose => &[
                "Validate pooled connections before reuse: check that the socket is not readable at EOF before writing a new request.",
                "Make the client's idle timeout shorter than the server's keep-alive timeout (e.g. client 4 s when Node's keepAliveTimeout is 5 s; 55 s behind nginx's 75 s).",
                "Retry idempotent requests that fail on a reused connection; give non-idempotent requests idempotency keys.",
            ],
            Self::KeepaliveTimeout => &[
                "Find out why the peer went silent at that moment (crash, network partition, failover, a firewall dropping the flow): keep-alive only detected it.",
                "Tune detection to your needs: TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT set how long a dead peer goes unnoticed (e.g. 30 s + 3 x 10 s).",
            ],
            Self::MiddleboxReset => &[
                "Find the device: the TTL puts it a few hops from the capture point; look for firewalls, IPS/DPI or proxies at that distance and read their logs for this connection.",
                "Check the device's policies for this traffic: IPS signatures, session or rate limits, TLS inspection, protocol enforcement.",
                "Capture at the server at the same time (rstscope analyze client.pcap server.pcap): a RST the server never sent proves the path forged it.",
            ],
            Self::Refused => &[
                "Check that the service is running and listens on this address and port (ss -ltn), and that it was not restarting at that moment.",
                "If a firewall rejects the connection, open the port for this client.",
                "During restarts, let clients retry with exponential backoff and jitter.",
            ],
            Self::ProbeAbort => &[
                "Usually nothing to fix. If these are your own health checks, use an application-level check (an HTTP request) or close with a FIN to keep the server's logs quiet.",
            ],
            Self::Unknown => &[
                "Capture at the other end at the same time (rstscope analyze client.pcap server.pcap) to see who really sent the RST.",
                "On the sending Linux host, trace the kernel's own reason: the tcp:tcp_send_reset tracepoint (perf trace or tracefs).",
            ],
        }
    }
}
