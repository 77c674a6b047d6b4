//! The kernel's own word on a RST: joins what `tcp:tcp_send_reset` said (during a live capture
//! on the machine that sent it) to the diagnosis of the RST it was about.
//!
//! Which reasons fit which causes was observed, not guessed: `sample-captures/make-captures`
//! records the reason of every RST of every scenario (Linux 6.18), in `manifest.json`.

use serde::Serialize;

use super::{Actor, Cause, Confidence, Diagnosis, SenderKind};
use crate::flow::{Connection, Dir};
use crate::source::live::kernel::KernelReset;

/// The kernel's record of sending a RST, beside the diagnosis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KernelWord {
    /// The kernel's reason (`NO_SOCKET`, `TCP_ABORT_ON_CLOSE`, ...).
    pub reason: String,
    /// The socket's state when it sent the RST.
    pub state: String,
    /// The reason in words.
    pub meaning: String,
    /// The RST the record is about.
    pub frame: u64,
    /// Whether the reason fits the diagnosed cause; `None` when the reason says too little.
    pub agrees: Option<bool>,
}

/// What each reason means, and the causes it is seen with.
pub fn reason_meaning(reason: &str) -> (&'static str, &'static [Cause]) {
    use Cause::{
        AbortiveClose, IdleTimeout, KeepaliveTimeout, NoSocket, ProbeAbort, Refused,
        UnreadDataClose, WriteAfterClose,
    };
    match reason {
        "NO_SOCKET" => (
            "no socket matched the segment's addresses and ports (a closed port, or a socket that is gone)",
            &[NoSocket, Refused, WriteAfterClose],
        ),
        "TCP_ABORT_ON_CLOSE" => (
            "the application closed the socket with received data it had not read",
            &[UnreadDataClose],
        ),
        "TCP_STATE" => (
            "the application aborted the connection (close with SO_LINGER 0, or a disconnect)",
            &[AbortiveClose, IdleTimeout, ProbeAbort],
        ),
        "TCP_ABORT_ON_LINGER" => (
            "the socket's linger time (or tcp_fin_timeout) ran out in FIN-WAIT-2",
            &[AbortiveClose, IdleTimeout],
        ),
        "TCP_ABORT_ON_DATA" => (
            "data arrived after the application had closed or shut down reading",
            &[UnreadDataClose, WriteAfterClose],
        ),
        "TCP_DISCONNECT_WITH_DATA" => (
            "the application disconnected with data still queued",
            &[AbortiveClose, UnreadDataClose],
        ),
        "TCP_TIMEWAIT_SOCKET" => (
            "a segment hit a connection already closed and waiting in TIME-WAIT",
            &[WriteAfterClose],
        ),
        "TCP_KEEPALIVE_TIMEOUT" => (
            "keep-alive probes went unanswered and the kernel gave up",
            &[KeepaliveTimeout],
        ),
        "TCP_ABORT_ON_MEMORY" => (
            "the kernel ran short of socket memory and dropped orphaned connections",
            &[],
        ),
        "TCP_INVALID_ACK_SEQUENCE" | "TCP_TOO_OLD_ACK" | "TCP_ACK_UNSENT_DATA" | "TCP_OLD_ACK" => (
            "a segment acknowledged data that does not fit the connection",
            &[],
        ),
        "TCP_RFC7323_PAWS" => ("a segment failed the timestamp (PAWS) check", &[]),
        "TCP_FLAGS" | "INVALID_SYN" => {
            ("a segment had flags invalid in the connection's state", &[])
        }
        _ => ("the kernel did not say more", &[]),
    }
}

/// The cause a reason names by itself, when it names one: the kernel's record then outweighs
/// what the packets suggest. `NO_SOCKET` does not (a closed port, a restarted server and a
/// stale pooled connection all give it).
pub fn reason_cause(reason: &str) -> Option<Cause> {
    match reason {
        "TCP_ABORT_ON_CLOSE" => Some(Cause::UnreadDataClose),
        "TCP_STATE" => Some(Cause::AbortiveClose),
        "TCP_KEEPALIVE_TIMEOUT" => Some(Cause::KeepaliveTimeout),
        "TCP_TIMEWAIT_SOCKET" => Some(Cause::WriteAfterClose),
        _ => None,
    }
}

/// How far apart (ns) a kernel record and a captured RST may be to be the same RST.
const MATCH_WINDOW_NS: i64 = 2_000_000_000;

/// Attaches the kernel's record of the diagnosis's RST, if the kernel sent one.
pub fn attach(d: &mut Diagnosis, c: &Connection, events: &[KernelReset]) {
    let Some(rst) = c
        .resets
        .iter()
        .find(|r| Some(r.frame) == d.rst_frame)
        .or(c.resets.first())
    else {
        return;
    };
    let (from, to) = match rst.from {
        Dir::Client => (c.client, c.server),
        Dir::Server => (c.server, c.client),
    };
    let Some(k) = events
        .iter()
        .filter(|k| k.src == from && k.dst == to)
        .filter(|k| k.wall_ns.abs_diff(rst.ts_ns) <= MATCH_WINDOW_NS.unsigned_abs())
        .min_by_key(|k| k.wall_ns.abs_diff(rst.ts_ns))
    else {
        return;
    };
    let (meaning, causes) = reason_meaning(&k.reason);
    let agrees = if d.sender_kind == SenderKind::Middlebox {
        // The endpoint's own kernel sent it: nothing forged it.
        Some(false)
    } else if causes.is_empty() {
        None
    } else {
        Some(causes.contains(&d.cause))
    };
    // Attached again on every live update: the reasons are added only the first time.
    let first = d.kernel.is_none();
    let mut agrees = agrees;
    if first {
        // This machine's kernel sent it: a verdict of forgery on the path cannot stand.
        let named = reason_cause(&k.reason).or_else(|| {
            (d.sender_kind == SenderKind::Middlebox).then_some(match k.reason.as_str() {
                "NO_SOCKET" => Cause::NoSocket,
                _ => Cause::Unknown,
            })
        });
        match (agrees, named) {
            (Some(false), Some(named)) => {
                overrule(d, named, &k.reason, meaning, rst.frame);
                agrees = Some(true);
            }
            (Some(true), _) => {
                d.confidence = Confidence::High;
                // The kernel's word settles what the capture alone could not.
                d.would_settle = None;
                d.alternatives.clear();
                d.sender_doubt = None;
                d.confidence_reasons.push(format!(
                    "verified: this machine's kernel logged sending it, reason {} ({meaning})",
                    k.reason
                ));
            }
            (Some(false), None) => d.confidence_reasons.push(format!(
                "this machine's kernel logged sending it with reason {} ({meaning}), which does not fit this cause",
                k.reason
            )),
            (None, _) => {}
        }
    }
    d.kernel = Some(KernelWord {
        reason: k.reason.clone(),
        state: k.state.clone(),
        meaning: meaning.to_owned(),
        frame: rst.frame,
        agrees,
    });
}

/// Replaces a diagnosis the packets suggested by the cause the kernel's record names.
fn overrule(d: &mut Diagnosis, cause: Cause, reason: &str, meaning: &str, frame: u64) {
    let guessed = d.cause;
    d.cause = cause;
    d.sender_kind = SenderKind::Endpoint;
    for r in d.resets.iter_mut().filter(|r| r.frame == frame) {
        r.genuine = Some(true);
        r.sender_kind = Some(SenderKind::Endpoint);
        r.note =
            format!("this machine's kernel sent it (reason {reason}): it ended the connection");
    }
    d.actor = match cause {
        Cause::UnreadDataClose | Cause::AbortiveClose => Actor::Application,
        _ => Actor::Kernel,
    };
    d.confidence = Confidence::High;
    // The packets' reading is overruled, and with it the reasons and evidence it gave.
    d.confidence_reasons = vec![format!(
        "the kernel's record overrules the packets: reason {reason} ({meaning}); the packets alone suggested {}",
        guessed.id()
    )];
    d.evidence.clear();
    d.summary = super::words::summary(
        d.sender,
        d.actor,
        frame,
        &super::words::Story::KernelSaid {
            reason: reason.to_owned(),
            meaning: meaning.to_owned(),
        },
    );
    d.alternatives.clear();
    d.sender_doubt = None;
    d.evidence.push(super::Evidence {
        frame,
        note: format!("tcp:tcp_send_reset on this machine: reason {reason}"),
    });
    d.would_settle = None;
}
