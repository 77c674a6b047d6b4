//! Decoding: link layer, IP and the TCP header, from one captured frame to a [`TcpSegment`].
//!
//! etherparse parses each IP header with its extension headers, in its lax mode, which keeps
//! what it parsed when a snapshot length cut the packet. Around it, this module walks what
//! etherparse's packet slicer does not know: link headers (BSD null/loopback, Linux SLL/SLL2,
//! PPP, Cisco HDLC, FDDI, 802.11, PPI, NFLOG, `IPoIB`), MPLS, `PPPoE`, `802.1ah` and tunnels (`IP-in-IP`,
//! GRE and ERSPAN, VXLAN, Geneve, GTP-U, Teredo); the connection is the innermost TCP header,
//! as in Wireshark. The TCP header itself is read here too: etherparse refuses a TCP header
//! whose options were cut by the snapshot length, while the fixed 20 bytes (ports, sequence
//! numbers, flags, window) are all rstscope needs from such a packet.

use std::net::IpAddr;

use etherparse::{IpNumber, LenSource};

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
        for (bit, c) in [
            (SYN, 'S'),
            (FIN, 'F'),
            (PSH, 'P'),
            (RST, 'R'),
            (URG, 'U'),
            (ECE, 'E'),
            (CWR, 'W'),
        ] {
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
    /// `TSval`, `TSecr`.
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
    /// The whole payload was captured (the snapshot length did not cut it).
    pub payload_captured: bool,
    /// The first bytes of a RST's payload (RFC 1122 4.2.2.12 allows diagnostic text), if any.
    pub rst_payload: Option<Box<[u8]>>,
}

#[cfg(test)]
impl TcpSegment {
    /// A segment for tests: `from` and `to` are `ip:port`, TTL 64, IP ID 0, window 1000, no
    /// options; change other fields with struct update syntax.
    pub(crate) fn test(
        from: &str,
        to: &str,
        flags: u8,
        seq: u32,
        ack: u32,
        payload_len: u32,
    ) -> Self {
        let a: std::net::SocketAddr = from.parse().expect("an ip:port");
        let b: std::net::SocketAddr = to.parse().expect("an ip:port");
        Self {
            src: a.ip(),
            dst: b.ip(),
            src_port: a.port(),
            dst_port: b.port(),
            seq,
            ack,
            flags,
            window: 1000,
            ttl: 64,
            ip_id: Some(0),
            dont_fragment: true,
            payload_len,
            options: TcpOptions::default(),
            payload_captured: true,
            rst_payload: None,
        }
    }
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
    /// A record with no bytes at all (captured length 0).
    Empty,
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
            Self::Empty => "empty records (no bytes captured)".to_owned(),
            Self::Truncated => {
                "frames that end before a whole TCP header (cut by the snapshot length, or short on the wire)".to_owned()
            }
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

/// Tunnels and link headers nest at most this deep; deeper packets are called malformed.
const MAX_DEPTH: u8 = 8;

/// Decodes one frame of the given link type, down through tunnels to the innermost TCP header.
///
/// `orig_len` is the frame's length on the wire: when the capture kept all of it, a header that
/// claims more bytes than the frame had is believed no further than the frame's end.
pub fn decode(link_type: u32, data: &[u8], orig_len: u32) -> Result<TcpSegment, Skip> {
    if data.is_empty() {
        return Err(Skip::Empty);
    }
    let ctx = Ctx {
        depth: 0,
        cut: data.len() < orig_len as usize,
    };
    decode_link(link_type, data, ctx)
}

/// What every layer needs to know: how deep it is, and whether the snapshot length cut the frame.
#[derive(Clone, Copy)]
struct Ctx {
    depth: u8,
    cut: bool,
}

impl Ctx {
    fn deeper(self) -> Result<Self, Skip> {
        if self.depth >= MAX_DEPTH {
            return Err(Skip::Malformed);
        }
        Ok(Self {
            depth: self.depth + 1,
            cut: self.cut,
        })
    }
}

fn be16(b: &[u8], i: usize) -> Result<u16, Skip> {
    b.get(i..i + 2)
        .map(|x| u16::from_be_bytes([x[0], x[1]]))
        .ok_or(Skip::Truncated)
}

fn rest(b: &[u8], from: usize) -> Result<&[u8], Skip> {
    b.get(from..).ok_or(Skip::Truncated)
}

fn decode_link(link_type: u32, data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let d = ctx.deeper()?;
    match link_type {
        linktype::ETHERNET => decode_ethernet(data, d),
        linktype::RAW
        | linktype::RAW_BSD_12
        | linktype::RAW_BSD_14
        | linktype::IPV4
        | linktype::IPV6 => decode_ip(data, d),
        linktype::NULL | linktype::LOOP => {
            // A 4-byte address family, host byte order for NULL, network order for LOOP; BSDs
            // number AF_INET6 24, 28 or 30. The IP version nibble tells the rest.
            let af = data.get(..4).ok_or(Skip::Truncated)?;
            let family = u32::from_le_bytes([af[0], af[1], af[2], af[3]])
                .min(u32::from_be_bytes([af[0], af[1], af[2], af[3]]));
            if !matches!(family, 2 | 24 | 28 | 30) {
                return Err(Skip::NotIp);
            }
            decode_ip(&data[4..], d)
        }
        // Linux cooked v1: 16-byte header ending in the protocol (an ethertype for IP).
        linktype::LINUX_SLL => decode_ethertype(be16(data, 14)?, rest(data, 16)?, d),
        // Linux cooked v2: 20-byte header starting with the protocol.
        linktype::LINUX_SLL2 => decode_ethertype(be16(data, 0)?, rest(data, 20)?, d),
        // Cisco HDLC: address, control, ethertype.
        linktype::C_HDLC => decode_ethertype(be16(data, 2)?, rest(data, 4)?, d),
        // IP over InfiniBand (libpcap's layout): two 20-byte addresses, protocol, reserved.
        IPOIB => decode_ethertype(be16(data, 40)?, rest(data, 44)?, d),
        linktype::ARCNET_LINUX => decode_arcnet(data, d),
        linktype::PPP | linktype::PPP_HDLC => {
            let body = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
            decode_ppp(body, d)
        }
        FDDI => {
            // Frame control, two MAC addresses, then 802.2 LLC.
            decode_llc(rest(data, 13)?, d)
        }
        IEEE802_11 => decode_80211(data, d),
        RADIOTAP => {
            let len = data
                .get(2..4)
                .map(|x| usize::from(u16::from_le_bytes([x[0], x[1]])))
                .ok_or(Skip::Truncated)?;
            decode_80211(rest(data, len)?, d)
        }
        PPI => {
            // Version, flags, length (LE), then the LINKTYPE of what follows (LE).
            let h = data.get(..8).ok_or(Skip::Truncated)?;
            let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
            let inner = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            decode_link(inner, rest(data, len)?, d)
        }
        linktype::NFLOG => decode_nflog(data, d),
        other => Err(Skip::LinkType(other)),
    }
}

const FDDI: u32 = 10;
const IEEE802_11: u32 = 105;
const RADIOTAP: u32 = 127;
const PPI: u32 = 192;
const IPOIB: u32 = 242;

fn decode_ethernet(data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let et = be16(data, 12)?;
    if et < 0x0600 {
        // 802.3 length field: an 802.2 LLC header follows.
        return decode_llc(rest(data, 14)?, ctx);
    }
    decode_ethertype(et, rest(data, 14)?, ctx)
}

/// 802.2 LLC; only SNAP (AA AA 03, then an OUI and an ethertype) carries IP.
fn decode_llc(data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    match data.get(..3) {
        Some([0xaa, 0xaa, 0x03]) => decode_ethertype(be16(data, 6)?, rest(data, 8)?, ctx),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
    }
}

fn decode_80211(data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let fc = data.get(..2).ok_or(Skip::Truncated)?;
    let (kind, subtype, flags) = ((fc[0] >> 2) & 3, fc[0] >> 4, fc[1]);
    // Data frames only; protected (encrypted) frames cannot be read.
    if kind != 2 || flags & 0x40 != 0 || subtype & 0x4 != 0 {
        return Err(Skip::NotIp);
    }
    let mut len = 24;
    if flags & 0x03 == 0x03 {
        len += 6; // four addresses (WDS)
    }
    if subtype & 0x8 != 0 {
        len += 2; // QoS control
    }
    decode_llc(rest(data, len)?, ctx)
}

/// Linux `ARCnet`: source, destination, 2-byte offset, protocol type; RFC 1201 types add a split
/// flag and a sequence id (and an exception frame 4 bytes more), RFC 1051 types do not.
fn decode_arcnet(data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let kind = *data.get(4).ok_or(Skip::Truncated)?;
    match kind {
        0xf0 => decode_ip(rest(data, 5)?, ctx),
        0xd4 | 0xc4 => {
            let exception = *data.get(5).ok_or(Skip::Truncated)? == 0xff;
            decode_ip(rest(data, if exception { 12 } else { 8 })?, ctx)
        }
        _ => Err(Skip::NotIp),
    }
}

fn decode_ppp(body: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    // PPP protocol: 0x0021 IPv4, 0x0057 IPv6, 0x0281 MPLS; a compressed one-byte 0x21 also
    // occurs.
    match body.first() {
        Some(0x21) => decode_ip(&body[1..], ctx),
        Some(_) => match be16(body, 0)? {
            0x0021 | 0x0057 => decode_ip(&body[2..], ctx),
            0x0281 => decode_ethertype(0x8847, &body[2..], ctx),
            _ => Err(Skip::NotIp),
        },
        None => Err(Skip::Truncated),
    }
}

/// Linux NFLOG: a 4-byte header, then TLVs (length and type in host order, padded to 4); type 9
/// holds the packet, starting at its IP header.
fn decode_nflog(data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let mut tlv = rest(data, 4)?;
    while tlv.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([tlv[0], tlv[1]]));
        let kind = u16::from_le_bytes([tlv[2], tlv[3]]);
        if len < 4 {
            return Err(Skip::Malformed);
        }
        if kind == 9 {
            return decode_ip(tlv.get(4..len).ok_or(Skip::Truncated)?, ctx);
        }
        tlv = tlv.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    Err(Skip::NotIp)
}

fn decode_ethertype(et: u16, data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let d = ctx.deeper()?;
    match et {
        0x0800 | 0x86dd => decode_ip(data, d),
        // 802.1Q, 802.1ad and the old QinQ tag: 2 bytes of tag, then the next ethertype.
        0x8100 | 0x88a8 | 0x9100 | 0x9200 => decode_ethertype(be16(data, 2)?, rest(data, 4)?, d),
        // MPLS: labels until the bottom-of-stack bit, then IP by its version nibble.
        0x8847 | 0x8848 => {
            let mut i = 0;
            loop {
                let label = data.get(i..i + 4).ok_or(Skip::Truncated)?;
                i += 4;
                if label[2] & 1 == 1 {
                    break;
                }
            }
            let inner = rest(data, i)?;
            match inner.first().map(|b| b >> 4) {
                Some(4 | 6) => decode_ip(inner, d),
                // A pseudowire control word, then Ethernet.
                Some(0) => decode_ethernet(rest(inner, 4)?, d),
                _ => Err(Skip::NotIp),
            }
        }
        // PPPoE session: version/type, code, session id, length; then PPP.
        0x8864 => decode_ppp(rest(data, 6)?, d),
        // 802.1ah provider backbone bridging: a 4-byte I-TAG, then a whole Ethernet frame.
        0x88e7 => decode_ethernet(rest(data, 4)?, d),
        // Transparent Ethernet bridging (GRE, Geneve).
        0x6558 => decode_ethernet(data, d),
        _ => Err(Skip::NotIp),
    }
}

/// IP and what it carries: TCP, or a tunnel (IP-in-IP, GRE, VXLAN, Geneve, GTP-U, Teredo) whose
/// inner packet is decoded in turn. The innermost TCP segment is what the connection is.
fn decode_ip(data: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let d = ctx.deeper()?;
    let (ip, _ext_err) = etherparse::LaxIpSlice::from_slice(data).map_err(|e| match e {
        etherparse::err::ip::LaxHeaderSliceError::Len(_) => Skip::Truncated,
        etherparse::err::ip::LaxHeaderSliceError::Content(_) => Skip::Malformed,
    })?;
    let (src, dst, ttl, ip_id, dont_fragment, payload, declared_len) = match &ip {
        etherparse::LaxIpSlice::Ipv4(v4) => {
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
        etherparse::LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let declared =
                usize::from(h.payload_length()).saturating_sub(v6.extensions().slice().len());
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
    };
    // A first fragment (offset 0) holds the transport header: decode it, as Wireshark does when
    // it cannot reassemble. Later fragments hold only payload.
    let first_fragment = match &ip {
        etherparse::LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() == 0,
        etherparse::LaxIpSlice::Ipv6(_) => false,
    };
    if payload.fragmented && !first_fragment {
        return Err(Skip::Fragment);
    }
    let body = payload.payload;
    match payload.ip_number {
        IpNumber::TCP => {
            // TSO/GRO captures carry an IPv4 total length of 0; etherparse then falls back to
            // the slice length, and so does this. A packet cut by the snapshot length keeps
            // its declared length: that is what was on the wire. One whose IP length claims
            // more than the whole frame held is believed up to the frame's end.
            let wire_len =
                if payload.len_source == LenSource::Slice && (!payload.incomplete || !ctx.cut) {
                    body.len()
                } else {
                    declared_len
                };
            parse_tcp(body, wire_len, src, dst, ttl, ip_id, dont_fragment)
        }
        IpNumber::IPV4 | IpNumber::IPV6 => decode_ip(body, d),
        IpNumber::GRE => decode_gre(body, d),
        IpNumber::UDP => decode_udp_tunnel(body, d),
        other => Err(Skip::NotTcp(other.0)),
    }
}

/// GRE (RFC 2784/2890): flags and version, protocol, then optional checksum, key and sequence
/// words. ERSPAN and WCCP redirection add their own headers.
fn decode_gre(b: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let flags = be16(b, 0)?;
    let proto = be16(b, 2)?;
    let mut len = 4;
    for bit in [0x8000, 0x2000, 0x1000] {
        if flags & bit != 0 {
            len += 4;
        }
    }
    if flags & 0x4000 != 0 && flags & 0x8000 == 0 {
        len += 4; // routing present implies the checksum/offset word
    }
    let inner = rest(b, len)?;
    match proto {
        0x88be => decode_ethernet(rest(inner, 8)?, ctx), // ERSPAN type II
        0x22eb => decode_ethernet(rest(inner, 12)?, ctx), // ERSPAN type III
        0x883e => decode_ip(rest(inner, 4)?, ctx),       // WCCP redirect header
        et => decode_ethertype(et, inner, ctx),
    }
}

/// UDP tunnels on their registered ports: VXLAN 4789, Geneve 6081, GTP-U 2152, Teredo 3544.
fn decode_udp_tunnel(b: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let sport = be16(b, 0)?;
    let dport = be16(b, 2)?;
    let body = rest(b, 8)?;
    let on = |p: u16| sport == p || dport == p;
    if on(4789) || on(8472) {
        return decode_ethernet(rest(body, 8)?, ctx);
    }
    if on(6081) {
        let opt_len = usize::from(body.first().ok_or(Skip::Truncated)? & 0x3f) * 4;
        return decode_ethertype(be16(body, 2)?, rest(body, 8 + opt_len)?, ctx);
    }
    if on(2152) {
        return decode_gtp(body, ctx);
    }
    if on(4754) {
        return decode_gre(body, ctx); // GRE-in-UDP, RFC 8086
    }
    if on(3544) {
        // Teredo: optional authentication (0x0001) and origin indication (0x0000) headers.
        let mut t = body;
        if t.starts_with(&[0, 1]) {
            let id_len = usize::from(*t.get(2).ok_or(Skip::Truncated)?);
            let au_len = usize::from(*t.get(3).ok_or(Skip::Truncated)?);
            t = rest(t, 4 + id_len + au_len + 9)?;
        }
        if t.starts_with(&[0, 0]) {
            t = rest(t, 8)?;
        }
        return decode_ip(t, ctx);
    }
    Err(Skip::NotTcp(17))
}

/// GTP-U version 1 carrying IP (message type 255, G-PDU).
fn decode_gtp(b: &[u8], ctx: Ctx) -> Result<TcpSegment, Skip> {
    let flags = *b.first().ok_or(Skip::Truncated)?;
    if flags >> 5 != 1 || b.get(1) != Some(&0xff) {
        return Err(Skip::NotTcp(17));
    }
    let mut len = 8;
    if flags & 0x07 != 0 {
        len += 4; // sequence number, N-PDU number, next extension type
        let mut next = *b.get(11).ok_or(Skip::Truncated)?;
        while next != 0 && flags & 0x04 != 0 {
            let ext_len = usize::from(*b.get(len).ok_or(Skip::Truncated)?) * 4;
            if ext_len == 0 {
                return Err(Skip::Malformed);
            }
            next = *b.get(len + ext_len - 1).ok_or(Skip::Truncated)?;
            len += ext_len;
        }
    }
    decode_ip(rest(b, len)?, ctx)
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
    // A data offset below 5 words, or past the segment's end, is a broken header (tshark
    // marks such segments malformed and does not track them either).
    if header_len < 20 || header_len > wire_len {
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
        payload_captured: b.len() >= header_len + payload_len as usize,
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
        let s = decode(
            linktype::ETHERNET,
            &frame,
            u32::try_from(frame.len()).unwrap(),
        )
        .unwrap();
        assert_eq!(s.src, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (s.src_port, s.dst_port, s.seq, s.ack),
            (40000, 443, 1000, 77)
        );
        assert_eq!(s.flags, flags::ACK);
        assert_eq!((s.ttl, s.payload_len, s.window), (61, 5, 64240));
        assert!(s.ip_id.is_some());
    }

    #[test]
    fn snaplen_cut_frame_keeps_wire_payload_length() {
        let frame = ipv4_tcp(&[0u8; 1000], false);
        // Ethernet 14 + VLAN 4 + IPv4 20 + TCP 20 = 58 bytes kept, payload cut.
        let s = decode(
            linktype::ETHERNET,
            &frame[..58],
            u32::try_from(frame.len()).unwrap(),
        )
        .unwrap();
        assert_eq!(s.payload_len, 1000);
    }

    #[test]
    fn frame_cut_inside_tcp_header_is_truncated() {
        let frame = ipv4_tcp(b"", false);
        assert_eq!(
            decode(
                linktype::ETHERNET,
                &frame[..50],
                u32::try_from(frame.len()).unwrap()
            ),
            Err(Skip::Truncated)
        );
    }

    #[test]
    fn linux_sll2_and_null_headers_are_stripped() {
        let frame = ipv4_tcp(b"xy", true);
        let ip = &frame[18..];
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(ip);
        let s = decode(
            linktype::LINUX_SLL2,
            &sll2,
            u32::try_from(sll2.len()).unwrap(),
        )
        .unwrap();
        assert_eq!((s.flags, s.payload_len), (flags::SYN | flags::ACK, 2));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert_eq!(
            decode(linktype::NULL, &null, u32::try_from(null.len()).unwrap())
                .unwrap()
                .seq,
            1000
        );
    }

    #[test]
    fn ipv6_hop_limit_and_no_ip_id() {
        let b = PacketBuilder::ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            7,
        )
        .tcp(1, 2, 3, 4)
        .rst();
        let mut out = Vec::new();
        b.write(&mut out, b"why").unwrap();
        let s = decode(linktype::RAW, &out, u32::try_from(out.len()).unwrap()).unwrap();
        assert_eq!((s.ttl, s.ip_id, s.payload_len), (7, None, 3));
        assert_eq!(s.rst_payload.as_deref(), Some(&b"why"[..]));
    }

    #[test]
    fn udp_is_counted_not_decoded() {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 5).udp(53, 53);
        let mut out = Vec::new();
        b.write(&mut out, b"x").unwrap();
        assert_eq!(
            decode(linktype::IPV4, &out, u32::try_from(out.len()).unwrap()),
            Err(Skip::NotTcp(17))
        );
    }

    #[test]
    fn options_parser_reads_mss_wscale_sack_and_timestamps() {
        let o = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7,
        ];
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
