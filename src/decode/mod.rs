//! Decoding: link layer, IP and the TCP header, from one captured frame to a [`TcpSegment`].
//!
//! etherparse does the link and IP layers (Ethernet with 802.1Q/802.1ad tags, IPv4 options, IPv6
//! extension headers) in its lax mode, which keeps what it parsed when a snapshot length cut the
//! packet. The link headers etherparse does not know (BSD null/loopback, Linux SLL2, PPP, Cisco
//! HDLC) are a few fixed bytes each and are stripped here. The TCP header itself is read here
//! too: etherparse refuses a TCP header whose options were cut by the snapshot length, while the
//! fixed 20 bytes (ports, sequence numbers, flags, window) are all rstscope needs from such a
//! packet.

use std::net::IpAddr;

use etherparse::{EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, LenSource};

use crate::source::linktype;

/// TCP flag bits as they appear in byte 13 of the header.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    /// Flags as tcpdump prints them: `S`, `S.`, `R.`, `F.`, `P.` ... (`.` = ACK).
    pub fn tcpdump(f: u8) -> String {
        let mut s = String::with_capacity(6);
        for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (PSH, 'P'), (RST, 'R'), (URG, 'U'), (ECE, 'E'), (CWR, 'W')] {
            if f & bit != 0 {
                s.push(c);
            }
        }
        if f & ACK != 0 {
            s.push('.');
        }
        if s.is_empty() {
            s.push_str("none");
        }
        s
    }
}

/// The TCP options rstscope looks at (RFC 9293 3.2, RFC 7323).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// TSval, TSecr.
    pub timestamp: Option<(u32, u32)>,
}

/// One decoded TCP segment, owned, small enough to cross threads in batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification; `None` for IPv6.
    pub ip_id: Option<u16>,
    pub dont_fragment: bool,
    /// Payload length on the wire, from the IP length fields, even if the capture cut it short.
    pub payload_len: u32,
    pub options: TcpOptions,
    /// The first bytes of a RST's payload (RFC 1122 4.2.2.12 allows diagnostic text), if any.
    pub rst_payload: Option<Box<[u8]>>,
}

/// Why a frame yielded no TCP segment. Counted and summarised, never an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// The capture's link type is not decoded.
    LinkType(u32),
    /// Not IP (ARP, LLDP, other ethertypes).
    NotIp,
    /// IP, but another protocol (UDP, ICMP ...).
    NotTcp(u8),
    /// A fragment of an IP datagram (not reassembled).
    Fragment,
    /// Cut before the fixed 20-byte TCP header, or the IP header was cut.
    Truncated,
    /// Header fields that cannot be right (a TCP data offset below 5, a bad IP version ...).
    Malformed,
}

impl Skip {
    /// A sentence for the warnings summary.
    pub fn describe(self) -> String {
        match self {
            Self::LinkType(lt) => format!("link type {lt} ({}) is not decoded", linktype_name(lt)),
            Self::NotIp => "frames that are not IP (ARP, LLDP, other ethertypes)".to_owned(),
            Self::NotTcp(p) => format!("IP frames of protocol {p} ({}), not TCP", ip_proto_name(p)),
            Self::Fragment => "IP fragments (not reassembled)".to_owned(),
            Self::Truncated => "frames cut by the snapshot length before a whole TCP header".to_owned(),
            Self::Malformed => "frames with malformed IP or TCP headers".to_owned(),
        }
    }

    /// True for skips that are the normal content of a capture (other protocols), not a loss.
    pub fn is_expected(self) -> bool {
        matches!(self, Self::NotIp | Self::NotTcp(_))
    }
}

fn ip_proto_name(p: u8) -> &'static str {
    match p {
        1 => "ICMP",
        2 => "IGMP",
        4 => "IP-in-IP",
        17 => "UDP",
        41 => "IPv6-in-IP",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        _ => "other",
    }
}

/// Short names of link types, for messages.
pub fn linktype_name(lt: u32) -> &'static str {
    match lt {
        linktype::NULL => "BSD loopback",
        linktype::ETHERNET => "Ethernet",
        linktype::PPP => "PPP",
        linktype::RAW | linktype::RAW_BSD_12 | linktype::RAW_BSD_14 => "raw IP",
        linktype::PPP_HDLC => "PPP in HDLC framing",
        linktype::PPP_ETHER => "PPPoE",
        linktype::C_HDLC => "Cisco HDLC",
        linktype::LOOP => "OpenBSD loopback",
        linktype::LINUX_SLL => "Linux cooked v1",
        linktype::ARCNET_LINUX => "Linux ARCnet",
        linktype::IPV4 => "raw IPv4",
        linktype::IPV6 => "raw IPv6",
        linktype::NFLOG => "Linux NFLOG",
        linktype::LINUX_SLL2 => "Linux cooked v2",
        10 => "FDDI",
        105 => "IEEE 802.11",
        127 => "802.11 radiotap",
        192 => "PPI",
        _ => "unknown",
    }
}

/// Decodes one frame of the given link type.
pub fn decode(link_type: u32, data: &[u8]) -> Result<TcpSegment, Skip> {
    let sliced = match link_type {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).map_err(|_| Skip::Truncated)?,
        linktype::RAW | linktype::RAW_BSD_12 | linktype::RAW_BSD_14 | linktype::IPV4 | linktype::IPV6 => {
            from_ip(data)?
        }
        linktype::NULL | linktype::LOOP => {
            // A 4-byte address family, host byte order for NULL, network order for LOOP; BSDs
            // number AF_INET6 24, 28 or 30. The IP version nibble tells the rest.
            let af = data.get(..4).ok_or(Skip::Truncated)?;
            let family = u32::from_le_bytes([af[0], af[1], af[2], af[3]])
                .min(u32::from_be_bytes([af[0], af[1], af[2], af[3]]));
            if !matches!(family, 2 | 24 | 28 | 30) {
                return Err(Skip::NotIp);
            }
            from_ip(&data[4..])?
        }
        linktype::LINUX_SLL => {
            // 16-byte header; the protocol (an ethertype for IP) is its last two bytes.
            let h = data.get(..16).ok_or(Skip::Truncated)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([h[14], h[15]])), &data[16..])
        }
        linktype::LINUX_SLL2 => {
            // 20-byte header; the protocol is its first two bytes.
            let h = data.get(..20).ok_or(Skip::Truncated)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([h[0], h[1]])), &data[20..])
        }
        linktype::C_HDLC => {
            // Address, control, then an ethertype.
            let h = data.get(..4).ok_or(Skip::Truncated)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([h[2], h[3]])), &data[4..])
        }
        linktype::PPP | linktype::PPP_HDLC => {
            // Optional address/control (0xff 0x03), then the PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
            let body = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
            let proto = body.get(..2).ok_or(Skip::Truncated)?;
            match u16::from_be_bytes([proto[0], proto[1]]) {
                0x0021 | 0x0057 => from_ip(&body[2..])?,
                _ => return Err(Skip::NotIp),
            }
        }
        other => return Err(Skip::LinkType(other)),
    };
    from_sliced(&sliced)
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    LaxSlicedPacket::from_ip(data).map_err(|e| match e {
        etherparse::err::ip::LaxHeaderSliceError::Len(_) => Skip::Truncated,
        etherparse::err::ip::LaxHeaderSliceError::Content(_) => Skip::Malformed,
    })
}

fn from_sliced(p: &LaxSlicedPacket<'_>) -> Result<TcpSegment, Skip> {
    let Some(net) = &p.net else {
        // etherparse stops without a net layer for non-IP ethertypes, and for IP headers that
        // were cut or broken; tell those apart by the error it kept.
        return Err(match &p.stop_err {
            Some((etherparse::err::packet::SliceError::Len(_), _)) => Skip::Truncated,
            Some(_) => Skip::Malformed,
            None => Skip::NotIp,
        });
    };
    let (src, dst, ttl, ip_id, dont_fragment, payload, declared_len) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let consumed = h.slice().len() + v4.extensions().auth.map_or(0, |a| a.slice().len());
            let declared = usize::from(h.total_len()).saturating_sub(consumed);
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.ttl(),
                Some(h.identification()),
                h.dont_fragment(),
                v4.payload(),
                declared,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let declared = usize::from(h.payload_length()).saturating_sub(v6.extensions().slice().len());
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.hop_limit(),
                None,
                false,
                v6.payload(),
                declared,
            )
        }
        LaxNetSlice::Arp(_) => return Err(Skip::NotIp),
    };
    if payload.fragmented {
        return Err(Skip::Fragment);
    }
    if payload.ip_number != IpNumber::TCP {
        return Err(Skip::NotTcp(payload.ip_number.0));
    }
    // TSO/GRO captures carry an IPv4 total length of 0; etherparse then falls back to the
    // slice length, and so does this. A snaplen-cut packet ("incomplete") keeps its declared
    // length: that is what was on the wire.
    let wire_len = if payload.len_source == LenSource::Slice && !payload.incomplete {
        payload.payload.len()
    } else {
        declared_len
    };
    parse_tcp(payload.payload, wire_len, src, dst, ttl, ip_id, dont_fragment)
}

#[allow(clippy::too_many_arguments)]
fn parse_tcp(
    b: &[u8],
    wire_len: usize,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_id: Option<u16>,
    dont_fragment: bool,
) -> Result<TcpSegment, Skip> {
    if b.len() < 20 {
        return Err(Skip::Truncated);
    }
    let be16 = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let header_len = usize::from(b[12] >> 4) * 4;
    if header_len < 20 {
        return Err(Skip::Malformed);
    }
    let flags = b[13];
    let options = parse_options(&b[20..header_len.min(b.len())]);
    let payload_len = u32::try_from(wire_len.saturating_sub(header_len)).unwrap_or(u32::MAX);
    let rst_payload = (flags & flags::RST != 0 && payload_len > 0 && b.len() > header_len)
        .then(|| b[header_len..b.len().min(header_len + 256)].into());
    Ok(TcpSegment {
        src,
        dst,
        src_port: be16(0),
        dst_port: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags,
        window: be16(14),
        ttl,
        ip_id,
        dont_fragment,
        payload_len,
        options,
        rst_payload,
    })
}

/// Reads the options rstscope uses; stops quietly at anything malformed or cut.
fn parse_options(mut o: &[u8]) -> TcpOptions {
    let mut out = TcpOptions::default();
    while let Some(&kind) = o.first() {
        match kind {
            0 => break,
            1 => {
                o = &o[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = o.get(1) else { break };
        let len = usize::from(len);
        if len < 2 || len > o.len() {
            break;
        }
        let v = &o[2..len];
        match (kind, v.len()) {
            (2, 2) => out.mss = Some(u16::from_be_bytes([v[0], v[1]])),
            (3, 1) => out.window_scale = Some(v[0]),
            (4, 0) => out.sack_permitted = true,
            (8, 8) => {
                out.timestamp = Some((
                    u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                    u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                ));
            }
            _ => {}
        }
        o = &o[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn ipv4_tcp(payload: &[u8], syn: bool) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(etherparse::VlanId::try_new(10).unwrap())
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 61)
            .tcp(40000, 443, 1000, 64240);
        if syn {
            b = b.syn();
        }
        let b = b.ack(77);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn vlan_tagged_ipv4_segment_decodes_all_fields() {
        let frame = ipv4_tcp(b"hello", false);
        let s = decode(linktype::ETHERNET, &frame).unwrap();
        assert_eq!(s.src, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!((s.src_port, s.dst_port, s.seq, s.ack), (40000, 443, 1000, 77));
        assert_eq!(s.flags, flags::ACK);
        assert_eq!((s.ttl, s.payload_len, s.window), (61, 5, 64240));
        assert!(s.ip_id.is_some());
    }

    #[test]
    fn snaplen_cut_frame_keeps_wire_payload_length() {
        let frame = ipv4_tcp(&[0u8; 1000], false);
        // Ethernet 14 + VLAN 4 + IPv4 20 + TCP 20 = 58 bytes kept, payload cut.
        let s = decode(linktype::ETHERNET, &frame[..58]).unwrap();
        assert_eq!(s.payload_len, 1000);
    }

    #[test]
    fn frame_cut_inside_tcp_header_is_truncated() {
        let frame = ipv4_tcp(b"", false);
        assert_eq!(decode(linktype::ETHERNET, &frame[..50]), Err(Skip::Truncated));
    }

    #[test]
    fn linux_sll2_and_null_headers_are_stripped() {
        let frame = ipv4_tcp(b"xy", true);
        let ip = &frame[18..];
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll2.extend_from_slice(ip);
        let s = decode(linktype::LINUX_SLL2, &sll2).unwrap();
        assert_eq!((s.flags, s.payload_len), (flags::SYN | flags::ACK, 2));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert_eq!(decode(linktype::NULL, &null).unwrap().seq, 1000);
    }

    #[test]
    fn ipv6_hop_limit_and_no_ip_id() {
        let b = PacketBuilder::ipv6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 7)
            .tcp(1, 2, 3, 4)
            .rst();
        let mut out = Vec::new();
        b.write(&mut out, b"why").unwrap();
        let s = decode(linktype::RAW, &out).unwrap();
        assert_eq!((s.ttl, s.ip_id, s.payload_len), (7, None, 3));
        assert_eq!(s.rst_payload.as_deref(), Some(&b"why"[..]));
    }

    #[test]
    fn udp_is_counted_not_decoded() {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 5).udp(53, 53);
        let mut out = Vec::new();
        b.write(&mut out, b"x").unwrap();
        assert_eq!(decode(linktype::IPV4, &out), Err(Skip::NotTcp(17)));
    }

    #[test]
    fn options_parser_reads_mss_wscale_sack_and_timestamps() {
        let o = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7];
        let p = parse_options(&o);
        assert_eq!(p.mss, Some(1460));
        assert!(p.sack_permitted);
        assert_eq!(p.timestamp, Some((1, 2)));
        assert_eq!(p.window_scale, Some(7));
    }

    #[test]
    fn tcpdump_flag_letters() {
        assert_eq!(flags::tcpdump(flags::SYN | flags::ACK), "S.");
        assert_eq!(flags::tcpdump(flags::RST), "R");
        assert_eq!(flags::tcpdump(flags::FIN | flags::PSH | flags::ACK), "FP.");
    }
}
