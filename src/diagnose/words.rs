//! The sentences of a verdict. Each verdict's summary is built here, by one function per kind of
//! story, from the facts the rule found: no rule writes a sentence of its own, and no sentence is
//! glued from two rules' words. Plurals, lists of frames and hop distances are spelled out here
//! once.

use crate::flow::Dir;

use super::Actor;
use super::timeouts::Waits;

pub fn side(d: Dir) -> &'static str {
    match d {
        Dir::Client => "client",
        Dir::Server => "server",
    }
}

/// "1 packet", "3 packets"; `what` is the singular, the plural adds "s".
pub fn plural(n: impl Into<u64>, what: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// "a", "a and b", "a, b and c" (with `and` or `or`).
pub fn list(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// "frame 4", "frames 4 and 9", "frames 4, 6 and 9", "frames 12 to 40" (more than four).
pub fn frames(frames: &[u64]) -> String {
    let mut f = frames.to_vec();
    f.sort_unstable();
    f.dedup();
    match f.as_slice() {
        [] => "no frame".to_owned(),
        [one] => format!("frame {one}"),
        [first, .., last] if f.len() > 4 => format!("frames {first} to {last}"),
        all => format!(
            "frames {}",
            list(&all.iter().map(u64::to_string).collect::<Vec<_>>(), "and")
        ),
    }
}

/// Words for a hop distance estimated from a TTL: "no router between it and the capture
/// point", "1 router from the capture point", "2 routers from the capture point".
pub fn hops(hops: u8) -> String {
    match hops {
        0 => "no router between it and the capture point".to_owned(),
        n => format!("{} from the capture point", plural(n, "router")),
    }
}

/// A distance as the end of a sentence: "on the capture point's link", "1 router away".
pub fn distance(hops: u8) -> String {
    match hops {
        0 => "on the capture point's link".to_owned(),
        n => format!("{} away", plural(n, "router")),
    }
}

/// A duration in seconds as people say it: "0.4 ms", "12.5 ms", "1.2 s", "75.0 s".
pub fn duration(s: f64) -> String {
    if s < 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{s:.1} s")
    }
}

/// Who sent it, as the subject of a sentence: "The server's kernel".
pub fn who(sender: Dir, actor: Actor) -> String {
    let sd = side(sender);
    match actor {
        Actor::Application => format!("The {sd}'s application"),
        Actor::Kernel => format!("The {sd}'s kernel"),
        Actor::PathDevice => "A device on the path".to_owned(),
    }
}

/// What the rule found, in the terms its sentence needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Story {
    /// Forged in the sender's name; `signs` are short phrases ("its TTL is not the server's").
    Forged { signs: Vec<String> },
    /// A stateful device forgot the connection (after `idle_s` of silence, when it followed
    /// one) and rejected `trigger`.
    StateForgotten { idle_s: Option<f64>, trigger: u64 },
    /// The SYN was answered by a RST; `doubt`: a firewall in front would look the same.
    Refused { port: u16, doubt: bool },
    /// A device in front of the server rejected the SYN.
    RefusedOnPath { port: u16 },
    /// A handshake then an abort with no data.
    Probe { after_s: f64, half_open: bool },
    /// The peer wrote after the sender's FIN.
    WriteAfterClose {
        fin: u64,
        data: u64,
        bytes: u32,
        gap_s: f64,
    },
    /// Keep-alive probes went unanswered.
    Keepalive { probes: usize },
    /// The peer's packet found no socket.
    NoSocket { trigger: u64, idle_s: Option<f64> },
    /// A timer gave up waiting for `waits` after `idle_s`.
    Idle {
        waits: Waits,
        idle_s: f64,
        timer: Option<String>,
        /// It closed (FIN in the first frame) and reset the peer's later write (second frame).
        closed_then_reset: Option<(u64, u64)>,
    },
    /// The sender's application closed with data unread.
    Unread(UnreadSign),
    /// The sender's application aborted on purpose.
    Abort { after_idle_s: Option<f64> },
    /// Nothing in the capture says why.
    Unknown,
    /// No RST: the talker's data was black-holed after a silence.
    BlackHole { idle_s: f64, retransmissions: usize },
    /// No RST: the other side stopped answering.
    Unanswered { retransmissions: usize },
    /// The sending machine's kernel recorded why (live capture with the kernel's reasons).
    KernelSaid { reason: String, meaning: String },
}

/// Which sign of unread data the verdict rests on.
#[derive(Clone, Debug, PartialEq)]
pub enum UnreadSign {
    /// The RST acknowledges data the sender never acknowledged before.
    AckedAtClose,
    /// Data from the peer was still arriving: `bytes` from `frame` on.
    InFlight { frame: u64, bytes: u64 },
    /// A `message`-byte message answered with `answer` bytes.
    ShortAnswer { message: u64, answer: u64 },
    /// A `bytes`-byte request in `frames` never answered.
    NeverAnswered { bytes: u64, frames: Vec<u64> },
    /// The process holding it died with others (a mass reset), nothing else pending shown.
    ProcessDied,
    /// Its advertised window fell from `peak` to `last` bytes (zero: its buffer was full) as
    /// the peer's data arrived.
    WindowFell { peak: u64, last: u64, frame: u64 },
    /// Nothing unread shows on the wire, but it may not have read all it acknowledged.
    NotVisible,
}

/// " (retransmitted 3 times)", or nothing when it was not retransmitted.
fn retransmitted(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " (retransmitted once)".to_owned(),
        n => format!(" (retransmitted {n} times)"),
    }
}

/// The one-sentence summary of a verdict on the RST in `rst_frame` carrying `sender`'s
/// address.
// One arm per story: the sentences side by side are easier to check than split apart.
#[allow(clippy::too_many_lines)]
pub fn summary(sender: Dir, actor: Actor, rst_frame: u64, story: &Story) -> String {
    let sd = side(sender);
    let pd = side(sender.reverse());
    let w = who(sender, actor);
    match story {
        Story::Forged { signs } => format!(
            "A device on the path sent the RST (frame {rst_frame}) in the {sd}'s name: {}.",
            list(signs, "and")
        ),
        Story::StateForgotten {
            idle_s: Some(idle),
            trigger,
        } => format!(
            "A firewall or NAT on the path had forgotten the connection after {} of silence: it answered the {pd}'s next packet (frame {trigger}) with a RST in the {sd}'s name (frame {rst_frame}).",
            duration(*idle)
        ),
        Story::StateForgotten {
            idle_s: None,
            trigger,
        } => format!(
            "A firewall or NAT on the path had lost the connection's state (a flush, a failover, a reboot): it answered the {pd}'s next packet (frame {trigger}) with a RST in the {sd}'s name (frame {rst_frame})."
        ),
        Story::Refused { port, doubt: false } => format!(
            "{w} refused the connection: nothing listened on port {port}, and its RST (frame {rst_frame}) answered the SYN."
        ),
        Story::Refused { port, doubt: true } => format!(
            "The {sd}, or a firewall in front of it, refused the connection: a RST (frame {rst_frame}) answered the SYN to port {port}; a closed port and a REJECT rule look the same from here."
        ),
        Story::RefusedOnPath { port } => format!(
            "A device in front of the {sd} (a firewall's REJECT rule) refused the connection to port {port}: its RST (frame {rst_frame}) answered the SYN from closer than the {sd} is."
        ),
        Story::Probe {
            after_s,
            half_open: false,
        } => format!(
            "The {sd} only checked that the port answers (a health check or a scan): it reset the connection (frame {rst_frame}) {} after the handshake without sending a byte.",
            duration(*after_s)
        ),
        Story::Probe {
            after_s,
            half_open: true,
        } => format!(
            "The {sd} probed the port without opening a connection (a SYN scan): its kernel reset the {pd}'s SYN-ACK (frame {rst_frame}) {} after it.",
            duration(*after_s)
        ),
        Story::WriteAfterClose {
            fin,
            data,
            bytes,
            gap_s,
        } => format!(
            "{w} reset the connection (frame {rst_frame}) because the {pd} sent {} (frame {data}) {} after the {sd} had closed it (FIN, frame {fin}).",
            plural(*bytes, "byte"),
            duration(*gap_s)
        ),
        Story::Keepalive { probes } => format!(
            "{w} gave up on the connection (frame {rst_frame}) after {} went unanswered: the {pd} or the path had gone silent.",
            plural(*probes as u64, "keep-alive probe")
        ),
        Story::NoSocket {
            trigger,
            idle_s: Some(idle),
        } => format!(
            "{w} had no socket for this connection any more when the {pd}'s packet (frame {trigger}) arrived after {} of silence, and answered it with a RST (frame {rst_frame}): the {sd} had restarted, crashed or lost the connection, or a NAT on the path had forgotten it and sent the packet on from a new port.",
            duration(*idle)
        ),
        Story::NoSocket {
            trigger,
            idle_s: None,
        } => format!(
            "{w} had no socket for this connection when the {pd}'s packet (frame {trigger}) arrived, and answered it with a RST (frame {rst_frame}): the {sd} had restarted, crashed or lost the connection."
        ),
        Story::Idle {
            waits,
            idle_s,
            timer,
            closed_then_reset,
        } => {
            let what = match waits {
                Waits::NextRequest | Waits::Any | Waits::StateForgotten => {
                    format!("gave up on the idle connection after {}", duration(*idle_s))
                }
                Waits::Request => format!(
                    "gave up waiting for the {pd}'s request after {}",
                    duration(*idle_s)
                ),
                Waits::PeerReading => format!(
                    "gave up waiting for the {pd} to read: its receive window had stayed at zero for {}",
                    duration(*idle_s)
                ),
            };
            let timer = timer
                .as_ref()
                .map_or(String::new(), |t| format!(", the length of {t}"));
            match closed_then_reset {
                None => {
                    format!("The {sd} {what}{timer}, and reset the connection (frame {rst_frame}).")
                }
                Some((fin, data)) => format!(
                    "The {sd} {what}{timer} and closed the connection (FIN, frame {fin}); the {pd} kept sending (frame {data}), and the {sd}'s kernel answered with a RST (frame {rst_frame})."
                ),
            }
        }
        Story::Unread(sign) => {
            let how = match sign {
                UnreadSign::AckedAtClose => format!(
                    "the RST acknowledges bytes from the {pd} that the {sd} had not acknowledged before: they arrived as it closed"
                ),
                UnreadSign::InFlight { frame, bytes } => format!(
                    "data from the {pd} was still arriving ({} from frame {frame} on)",
                    plural(*bytes, "byte")
                ),
                UnreadSign::ShortAnswer { message, answer } => format!(
                    "it answered the {pd}'s {message}-byte message with {} and closed, most likely without reading all of it",
                    plural(*answer, "byte")
                ),
                UnreadSign::NeverAnswered { bytes, frames: f } => format!(
                    "the {pd}'s {} ({}) were never answered",
                    plural(*bytes, "byte"),
                    frames(f)
                ),
                UnreadSign::WindowFell {
                    peak,
                    last: 0,
                    frame,
                } => format!(
                    "its receive window had fallen from {peak} bytes to zero (frame {frame}): its buffer was full of data from the {pd} its application never read"
                ),
                UnreadSign::WindowFell { peak, last, frame } => format!(
                    "its receive window fell from {peak} to {last} bytes (frame {frame}) as the {pd}'s data arrived: the data piled up unread"
                ),
                UnreadSign::NotVisible => format!(
                    "nothing unread shows on the wire, but it may not have read all it had acknowledged from the {pd}"
                ),
                UnreadSign::ProcessDied => format!(
                    "it went down with other connections at the same moment, with what the {pd} had sent still unread"
                ),
            };
            format!(
                "The {sd}'s application closed the connection with received data unread, so its kernel sent a RST (frame {rst_frame}) instead of a FIN: {how}."
            )
        }
        Story::Abort { after_idle_s: None } => format!(
            "The {sd}'s application aborted the connection (SO_LINGER 0 or an explicit abort): it sent a RST (frame {rst_frame}) instead of a FIN, with nothing unread showing on the wire."
        ),
        Story::Abort {
            after_idle_s: Some(idle),
        } => format!(
            "The {sd}'s application aborted the connection after {} of silence (SO_LINGER 0 or an explicit abort): it sent a RST (frame {rst_frame}) instead of a FIN.",
            duration(*idle)
        ),
        Story::Unknown => format!(
            "The RST (frame {rst_frame}) carries the {sd}'s address, but this capture does not show why it was sent."
        ),
        Story::BlackHole {
            idle_s,
            retransmissions,
        } => format!(
            "No RST: after {} of silence the {pd}'s data went unanswered{} until the capture ended: a firewall or NAT on the path had most likely forgotten the connection and dropped it.",
            duration(*idle_s),
            retransmitted(*retransmissions)
        ),
        Story::KernelSaid { reason, meaning } => format!(
            "{w} sent the RST (frame {rst_frame}), and this machine's kernel recorded why: {reason}, {meaning}."
        ),
        Story::Unanswered { retransmissions } => format!(
            "No RST: the {sd} stopped answering the {pd}, whose data went unanswered{} until the capture ended.",
            retransmitted(*retransmissions)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_lists_read_as_english() {
        assert_eq!(plural(1u64, "packet"), "1 packet");
        assert_eq!(plural(2u64, "packet"), "2 packets");
        assert_eq!(frames(&[47]), "frame 47");
        assert_eq!(frames(&[9, 4]), "frames 4 and 9");
        assert_eq!(frames(&[4, 6, 9]), "frames 4, 6 and 9");
        assert_eq!(frames(&[1, 2, 3, 4, 5]), "frames 1 to 5");
        assert_eq!(hops(0), "no router between it and the capture point");
        assert_eq!(hops(1), "1 router from the capture point");
        assert_eq!(duration(0.0004), "0.4 ms");
        assert_eq!(duration(75.0), "75.0 s");
    }
}
