//! Each end's TCP state (RFC 9293 3.3.2, figure 5) as a capture shows it, packet by packet: what
//! the desktop app's ladder diagram prints between arrows, and what a workshop steps through.
//!
//! The capture sits somewhere between the ends, so a packet is taken as sent and received at
//! the moment it was captured. A state change that needs no packet (an application's close
//! before its FIN leaves) cannot be seen and is shown when its packet is.

use std::fmt;

use super::{Dir, PacketRecord};
use crate::decode::flags;

/// RFC 9293's connection states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "CLOSED",
            Self::Listen => "LISTEN",
            Self::SynSent => "SYN-SENT",
            Self::SynReceived => "SYN-RECEIVED",
            Self::Established => "ESTABLISHED",
            Self::FinWait1 => "FIN-WAIT-1",
            Self::FinWait2 => "FIN-WAIT-2",
            Self::CloseWait => "CLOSE-WAIT",
            Self::Closing => "CLOSING",
            Self::LastAck => "LAST-ACK",
            Self::TimeWait => "TIME-WAIT",
        })
    }
}

/// Both ends' states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndStates {
    pub client: TcpState,
    pub server: TcpState,
}

impl EndStates {
    pub fn get(&self, d: Dir) -> TcpState {
        match d {
            Dir::Client => self.client,
            Dir::Server => self.server,
        }
    }
    fn set(&mut self, d: Dir, s: TcpState) {
        match d {
            Dir::Client => self.client = s,
            Dir::Server => self.server = s,
        }
    }
}

/// The states before the first packet: CLOSED and LISTEN when the connection starts with a
/// SYN, ESTABLISHED both ways when the capture joined it mid-stream.
pub fn initial(packets: &[PacketRecord]) -> EndStates {
    let starts_with_syn = packets.first().is_some_and(|p| p.flags & flags::SYN != 0);
    if starts_with_syn {
        EndStates {
            client: TcpState::Closed,
            server: TcpState::Listen,
        }
    } else {
        EndStates {
            client: TcpState::Established,
            server: TcpState::Established,
        }
    }
}

/// Both ends' states after each packet: `result[i]` holds after `packets[i]`.
pub fn replay(packets: &[PacketRecord]) -> Vec<EndStates> {
    replay_with_forged(packets, &[])
}

/// [`replay`], knowing that the RSTs in `forged` (frame numbers) were forged on the path: they
/// close their receiver, but the end whose address they carry never sent them and stays as it
/// was.
pub fn replay_with_forged(packets: &[PacketRecord], forged: &[u32]) -> Vec<EndStates> {
    let mut st = initial(packets);
    // Sequence number each side's FIN occupies, to recognise the ACK of it.
    let mut fin_seq: [Option<u32>; 2] = [None, None];
    let mut out = Vec::with_capacity(packets.len());
    for p in packets {
        step(&mut st, &mut fin_seq, p, forged.contains(&p.frame));
        out.push(st);
    }
    out
}

fn step(st: &mut EndStates, fin_seq: &mut [Option<u32>; 2], p: &PacketRecord, forged: bool) {
    use TcpState::{
        CloseWait, Closed, Closing, Established, FinWait1, FinWait2, LastAck, Listen, SynReceived,
        SynSent, TimeWait,
    };
    let (x, y) = (p.dir, p.dir.reverse());
    let f = p.flags;
    let (syn, ack, fin, rst) = (
        f & flags::SYN != 0,
        f & flags::ACK != 0,
        f & flags::FIN != 0,
        f & flags::RST != 0,
    );
    if rst {
        // The sender has dropped the connection; an acceptable RST closes the receiver too
        // (RFC 9293 3.10.7.4). Acceptability is judged in the flow tracker; here the RST is
        // taken as delivered.
        if !forged {
            st.set(x, Closed);
        }
        if st.get(y) != Listen {
            st.set(y, Closed);
        }
        return;
    }
    if syn && !ack {
        // An active open (or a new SYN after the end of the old one).
        st.set(x, SynSent);
        if matches!(st.get(y), Closed | TimeWait) {
            st.set(y, Listen);
        }
        return;
    }
    if syn && ack {
        st.set(x, SynReceived);
        if st.get(y) == SynSent {
            // The SYN-ACK reaches the active opener: it is established once it ACKs.
            st.set(y, Established);
        }
        return;
    }
    // The ACK of the other side's SYN completes a passive open.
    if ack && st.get(y) == SynReceived {
        st.set(y, Established);
    }
    if ack && st.get(x) == SynReceived {
        st.set(x, Established);
    }
    // The ACK of the other side's FIN.
    if ack && fin_seq[y.index()].is_some_and(|s| p.ack == s.wrapping_add(1)) {
        match st.get(y) {
            FinWait1 => st.set(y, FinWait2),
            Closing => st.set(y, TimeWait),
            LastAck => st.set(y, Closed),
            _ => {}
        }
    }
    if fin && fin_seq[x.index()].is_none() {
        fin_seq[x.index()] = Some(p.seq.wrapping_add(p.payload_len));
        match st.get(x) {
            Established | SynReceived => st.set(x, FinWait1),
            CloseWait => st.set(x, LastAck),
            _ => {}
        }
        match st.get(y) {
            Established => st.set(y, CloseWait),
            FinWait1 => st.set(y, Closing),
            FinWait2 => st.set(y, TimeWait),
            _ => {}
        }
        // A FIN that also acknowledges ours (FIN-WAIT-1 with our FIN acked) is handled by the
        // ACK check above on the next packet; a combined FIN+ACK of our FIN lands here.
        if ack
            && fin_seq[y.index()].is_some_and(|s| p.ack == s.wrapping_add(1))
            && st.get(y) == Closing
        {
            st.set(y, TimeWait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    fn p(dir: Dir, f: u8, seq: u32, ack: u32, len: u32) -> PacketRecord {
        PacketRecord {
            ts_ns: 0,
            frame: 0,
            seq,
            ack,
            payload_len: len,
            window: 0,
            ip_id: 0,
            flags: f,
            ttl: 64,
            dir,
            analysis: 0,
        }
    }
    const C: Dir = Dir::Client;
    const S: Dir = Dir::Server;
    const SYN: u8 = flags::SYN;
    const SA: u8 = flags::SYN | flags::ACK;
    const A: u8 = flags::ACK;
    const FA: u8 = flags::FIN | flags::ACK;
    const RA: u8 = flags::RST | flags::ACK;

    impl From<(TcpState, TcpState)> for EndStates {
        fn from((client, server): (TcpState, TcpState)) -> Self {
            Self { client, server }
        }
    }

    fn states(ps: &[PacketRecord]) -> Vec<(TcpState, TcpState)> {
        replay(ps).iter().map(|s| (s.client, s.server)).collect()
    }

    #[test]
    fn three_way_handshake_goes_through_syn_states_to_established() {
        let s = states(&[p(C, SYN, 0, 0, 0), p(S, SA, 100, 1, 0), p(C, A, 1, 101, 0)]);
        assert_eq!(
            s,
            vec![
                (SynSent, Listen),
                (Established, SynReceived),
                (Established, Established)
            ]
        );
    }

    #[test]
    fn active_close_by_client_ends_in_time_wait_and_closed() {
        let mut ps = vec![p(C, SYN, 0, 0, 0), p(S, SA, 100, 1, 0), p(C, A, 1, 101, 0)];
        ps.extend([
            p(C, FA, 1, 101, 0),
            p(S, A, 101, 2, 0),
            p(S, FA, 101, 2, 0),
            p(C, A, 2, 102, 0),
        ]);
        let s = states(&ps);
        assert_eq!(s[3], (FinWait1, CloseWait));
        assert_eq!(s[4], (FinWait2, CloseWait));
        assert_eq!(s[5], (TimeWait, LastAck));
        assert_eq!(s[6], (TimeWait, Closed));
    }

    #[test]
    fn simultaneous_close_passes_through_closing() {
        let ps = [
            p(C, A, 1, 1, 0),
            p(C, FA, 1, 1, 0),
            p(S, FA, 1, 1, 0),
            p(C, A, 2, 2, 0),
            p(S, A, 2, 2, 0),
        ];
        let s = states(&ps);
        assert_eq!(s[1], (FinWait1, CloseWait));
        assert_eq!(s[2], (Closing, LastAck));
        assert_eq!(s[3], (Closing, Closed));
        assert_eq!(s[4], (TimeWait, Closed));
    }

    #[test]
    fn rst_closes_both_ends() {
        let s = states(&[p(C, A, 1, 1, 10), p(S, RA, 1, 11, 0)]);
        assert_eq!(s[1], (Closed, Closed));
    }

    #[test]
    fn a_forged_rst_closes_only_its_receiver() {
        let mut rst = p(S, RA, 1, 11, 0);
        rst.frame = 7;
        let s = replay_with_forged(&[p(C, A, 1, 1, 10), rst], &[7]);
        assert_eq!(s[1], (Closed, Established).into());
    }

    #[test]
    fn refused_syn_leaves_the_listener_listening() {
        let s = states(&[p(C, SYN, 0, 0, 0), p(S, RA, 0, 1, 0)]);
        assert_eq!(s[1], (Closed, Closed));
        assert_eq!(TcpState::SynSent.to_string(), "SYN-SENT");
    }
}
