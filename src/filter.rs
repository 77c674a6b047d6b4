//! The connection filter typed in the app's filter box (no egui here: any consumer can apply it).
//!
//! Syntax: words separated by spaces; a connection is shown when it matches every word. A word
//! `key:value` matches one field, a bare word matches any of them, and a leading `-` negates.
//!
//! | word | matches |
//! | --- | --- |
//! | `host:10.0.0.1`, `ip:10.0.0.1` | either endpoint's address (a prefix also matches: `ip:10.0.`) |
//! | `port:443` | either endpoint's port |
//! | `client:10.0.0.1`, `server:10.0.0.2:80` | that endpoint (address, or address:port) |
//! | `cause:idle-timeout` | the diagnosis's cause (a prefix matches: `cause:idle`) |
//! | `end:reset`, `termination:reset` | how it ended: fin, half-closed, reset, refused, unanswered, open |
//! | `sender:server`, `sender:client` | who the RST claims to come from |
//! | `kind:middlebox`, `kind:endpoint` | what kind of thing sent it |
//! | `incident:mass-reset` | part of an incident (reset with others by one host at once) |
//! | `id:42`, `stream:42` | the connection number (Wireshark's `tcp.stream`) |
//! | `443`, `10.0.0.1`, `reset`, `idle` | any of the above |

use crate::addr::IpText;
use crate::diagnose::{Diagnosis, SenderKind};
use crate::flow::{Connection, Dir};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Field {
    Host,
    Port,
    Client,
    Server,
    Cause,
    End,
    Sender,
    Kind,
    Incident,
    Id,
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    field: Field,
    value: String,
    negate: bool,
}

/// A parsed filter; the empty filter matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<Term>,
}

/// A word the filter does not understand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError(pub String);

impl Filter {
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            let (negate, word) = match word.strip_prefix('-') {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, word),
            };
            let (field, value) = match word.split_once(':') {
                // IPv6 addresses contain colons: only known keys split.
                Some((key, value)) if is_key(key) => (field_of(key), value),
                _ => (Field::Any, word),
            };
            if value.is_empty() {
                return Err(FilterError(format!(
                    "`{word}` needs a value after the colon"
                )));
            }
            if field == Field::Port && value.parse::<u16>().is_err() {
                return Err(FilterError(format!("`{value}` is not a port number")));
            }
            if field == Field::Id && value.parse::<u32>().is_err() {
                return Err(FilterError(format!("`{value}` is not a connection number")));
            }
            terms.push(Term {
                field,
                value: value.to_ascii_lowercase(),
                negate,
            });
        }
        Ok(Self { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, c: &Connection, d: Option<&Diagnosis>) -> bool {
        self.terms.iter().all(|t| term_matches(t, c, d) != t.negate)
    }
}

fn is_key(key: &str) -> bool {
    matches!(
        key,
        "host"
            | "ip"
            | "port"
            | "client"
            | "server"
            | "cause"
            | "end"
            | "termination"
            | "sender"
            | "kind"
            | "incident"
            | "id"
            | "stream"
    )
}

fn field_of(key: &str) -> Field {
    match key {
        "host" | "ip" => Field::Host,
        "port" => Field::Port,
        "client" => Field::Client,
        "server" => Field::Server,
        "cause" => Field::Cause,
        "end" | "termination" => Field::End,
        "sender" => Field::Sender,
        "kind" => Field::Kind,
        "incident" => Field::Incident,
        _ => Field::Id,
    }
}

fn endpoint_matches(addr: std::net::SocketAddr, value: &str) -> bool {
    let ip = IpText::of(addr.ip());
    let ip = ip.as_str();
    if ip.starts_with(value) {
        return true;
    }
    // `ip:port`, or `[v6]:port` as `SocketAddr` writes it.
    let port = |rest: &str| rest.parse::<u16>().is_ok_and(|p| p == addr.port());
    value
        .strip_prefix(ip)
        .and_then(|r| r.strip_prefix(':'))
        .is_some_and(port)
        || value
            .strip_prefix('[')
            .and_then(|r| r.strip_prefix(ip))
            .and_then(|r| r.strip_prefix("]:"))
            .is_some_and(port)
}

fn term_matches(t: &Term, c: &Connection, d: Option<&Diagnosis>) -> bool {
    let v = t.value.as_str();
    // An IPv4 address is written with digits and dots, an IPv6 one with hex digits, dots and
    // colons: other words are told without writing the connection's addresses out (a bare
    // word such as `reset` took 80 ms over a million connections, `c` 118 ms).
    let v4_word = v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let v6_word = v
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
    let address = |ip: std::net::IpAddr| {
        (if ip.is_ipv4() { v4_word } else { v6_word }) && IpText::of(ip).as_str().starts_with(v)
    };
    let host = || address(c.client.ip()) || address(c.server.ip());
    let port = || {
        v.parse::<u16>()
            .is_ok_and(|p| c.client.port() == p || c.server.port() == p)
    };
    let cause = || d.is_some_and(|d| d.cause.id().starts_with(v));
    let end = || c.termination().as_str().starts_with(v);
    let sender = || {
        d.is_some_and(|d| match d.sender {
            Dir::Client => v == "client",
            Dir::Server => v == "server",
        })
    };
    let kind = || {
        d.is_some_and(|d| match d.sender_kind {
            SenderKind::Endpoint => v == "endpoint",
            SenderKind::Middlebox => v == "middlebox",
        })
    };
    let id = || v.parse::<u32>().is_ok_and(|i| i == c.id);
    match t.field {
        Field::Host => host(),
        Field::Port => port(),
        Field::Client => endpoint_matches(c.client, v),
        Field::Server => endpoint_matches(c.server, v),
        Field::Cause => cause(),
        Field::End => end(),
        Field::Sender => sender(),
        Field::Kind => kind(),
        Field::Incident => d.is_some_and(|d| {
            d.incident.is_some() && crate::diagnose::IncidentKind::MassReset.id().starts_with(v)
        }),
        Field::Id => id(),
        Field::Any => host() || port() || cause() || end() || kind(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpSegment, flags};
    use crate::flow::{FlowConfig, FlowTracker};

    fn conns() -> (Vec<Connection>, Vec<Option<Box<Diagnosis>>>) {
        let mut t = FlowTracker::new(FlowConfig::default());
        let mk = |src: &str, dst: &str, f: u8, seq: u32, ack: u32| {
            TcpSegment::test(src, dst, f, seq, ack, 0)
        };
        t.observe(1, 0, &mk("10.0.0.1:5000", "10.0.0.2:80", flags::SYN, 1, 0));
        t.observe(
            2,
            1,
            &mk(
                "10.0.0.2:80",
                "10.0.0.1:5000",
                flags::RST | flags::ACK,
                0,
                2,
            ),
        );
        t.observe(
            3,
            2,
            &mk("[2001:db8::1]:6000", "[2001:db8::2]:443", flags::SYN, 1, 0),
        );
        let (c, p) = t.finish();
        let (d, _) = crate::diagnose::diagnose_all(&c, &p);
        (c, d)
    }

    fn shown(text: &str) -> Vec<u32> {
        let (c, d) = conns();
        let f = Filter::parse(text).unwrap();
        c.iter()
            .filter(|c| f.matches(c, d[c.id as usize].as_deref()))
            .map(|c| c.id)
            .collect()
    }

    #[test]
    fn empty_filter_shows_everything() {
        assert_eq!(shown(""), vec![0, 1]);
    }

    #[test]
    fn keyed_words_match_their_field() {
        assert_eq!(shown("port:80"), vec![0]);
        assert_eq!(shown("cause:refused"), vec![0]);
        assert_eq!(shown("end:unanswered"), vec![1]);
        assert_eq!(shown("sender:server kind:endpoint"), vec![0]);
        assert_eq!(shown("server:10.0.0.2:80"), vec![0]);
        assert_eq!(shown("id:1"), vec![1]);
    }

    #[test]
    fn bare_words_and_ipv6_addresses_match_any_field() {
        assert_eq!(shown("443"), vec![1]);
        assert_eq!(shown("2001:db8::2"), vec![1]);
        assert_eq!(shown("refus"), vec![0]);
        assert_eq!(shown("ip:10.0."), vec![0]);
        // Words that only an IPv6 address can begin with, and those neither can.
        assert_eq!(shown("2001:"), vec![1]);
        assert_eq!(shown("host:10"), vec![0]);
        assert_eq!(shown("host:db8"), Vec::<u32>::new());
    }

    #[test]
    fn a_leading_minus_negates() {
        assert_eq!(shown("-port:80"), vec![1]);
    }

    #[test]
    fn bad_words_are_reported_not_ignored() {
        assert!(Filter::parse("port:http").is_err());
        assert!(Filter::parse("cause:").is_err());
    }
}
