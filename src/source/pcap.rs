//! The classic libpcap savefile format (pcap(5) / draft-ietf-opsawg-pcap): a 24-byte file header,
//! then records with a 16-byte header each. Both byte orders, micro- and nanosecond timestamps,
//! and the "modified" format of Alexey Kuznetzov's patched libpcap (24-byte record headers).

use std::io::Read;

use super::{Damage, Endian, RecordRef, SourceError, stream::ByteStream, to_ns};

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
const MAGIC_KUZNETZOV: u32 = 0xa1b2_cd34;

/// libpcap's `MAXIMUM_SNAPLEN`: records claiming more are damage, not packets, whatever the
/// file header's snapshot length says (libpcap's `max_snaplen_for_dlt`, pcap-common.c).
const MAXIMUM_SNAPLEN: u32 = 262_144;

/// The largest record libpcap reads for a link type: 262,144 bytes but for the three link
/// types whose packets are larger by design (pcap-common.c, `max_snaplen_for_dlt`).
fn max_caplen_for(link_type: u32) -> u32 {
    match link_type {
        231 => 128 * 1024 * 1024, // LINKTYPE_DBUS
        279 => 8 * 1024 * 1024,   // LINKTYPE_EBHSCR
        249 => 1024 * 1024,       // LINKTYPE_USBPCAP
        _ => MAXIMUM_SNAPLEN,
    }
}

/// True when `magic` (the first 4 bytes) is a pcap magic number in either byte order.
pub(super) fn is_magic(magic: &[u8]) -> bool {
    let be = u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]);
    let le = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    [MAGIC_USEC, MAGIC_NSEC, MAGIC_KUZNETZOV]
        .iter()
        .any(|m| *m == be || *m == le)
}

pub(super) struct PcapState {
    endian: Endian,
    units_per_sec: u64,
    record_header_len: usize,
    link_type: u32,
    max_caplen: u32,
}

impl PcapState {
    pub(super) fn open<R: Read>(s: &mut ByteStream<R>) -> Result<Self, SourceError> {
        let io = |cause| SourceError::Io { offset: 0, cause };
        if !s.fill(24).map_err(io)? {
            return Err(SourceError::Rejected(format!(
                "truncated pcap file header: the file holds {} bytes, the header needs 24",
                s.available()
            )));
        }
        let h = s.peek(24);
        let raw = [h[0], h[1], h[2], h[3]];
        let (endian, magic) = if is_own(u32::from_le_bytes(raw)) {
            (Endian::Little, u32::from_le_bytes(raw))
        } else {
            (Endian::Big, u32::from_be_bytes(raw))
        };
        let major = endian.u16(&h[4..]);
        let minor = endian.u16(&h[6..]);
        // libpcap (sf-pcap.c) reads versions 2.0 to 2.4 and rejects the rest with this text.
        if major != 2 || minor > 4 {
            return Err(SourceError::Rejected(format!(
                "unsupported pcap savefile version {major}.{minor}"
            )));
        }
        let linktype_field = endian.u32(&h[20..]);
        // Bits 16-25 are reserved and must be zero (pcap spec; libpcap's LT_RESERVED1).
        let reserved = linktype_field & 0x03FF_0000;
        if reserved != 0 {
            return Err(SourceError::Rejected(format!(
                "savefile linktype reserved field not zero (0x{reserved:08x})"
            )));
        }
        s.consume(24);
        Ok(Self {
            endian,
            units_per_sec: if magic == MAGIC_NSEC {
                1_000_000_000
            } else {
                1_000_000
            },
            record_header_len: if magic == MAGIC_KUZNETZOV { 24 } else { 16 },
            link_type: linktype_field & 0xFFFF,
            max_caplen: max_caplen_for(linktype_field & 0xFFFF),
        })
    }

    pub(super) fn next_record<R: Read>(
        &mut self,
        s: &mut ByteStream<R>,
    ) -> Result<Option<RecordRef>, Damage> {
        let start = s.offset();
        let io = |cause| Damage::Io {
            offset: start,
            cause,
        };
        let hl = self.record_header_len;
        if !s.fill(hl).map_err(io)? {
            if s.available() == 0 {
                return Ok(None);
            }
            return Err(Damage::stopped(
                start,
                format!(
                    "the file ends inside a record header ({} of {hl} bytes)",
                    s.available()
                ),
            ));
        }
        let h = s.peek(hl);
        let secs = u64::from(self.endian.u32(h));
        let frac = u64::from(self.endian.u32(&h[4..]));
        let caplen = self.endian.u32(&h[8..]);
        let orig_len = self.endian.u32(&h[12..]);
        if caplen > self.max_caplen {
            return Err(Damage::stopped(
                start,
                format!(
                    "a record claims {caplen} captured bytes, more than the maximum of {}; the file is damaged from here",
                    self.max_caplen
                ),
            ));
        }
        let caplen = caplen as usize;
        if !s.fill(hl + caplen).map_err(io)? {
            return Err(Damage::stopped(
                start,
                format!(
                    "the file ends inside a packet record ({} of {caplen} captured bytes present)",
                    s.available().saturating_sub(hl)
                ),
            ));
        }
        let data_start = s.pos() + hl;
        s.consume(hl + caplen);
        let (ts_ns, ts_clamped) = to_ns(secs * self.units_per_sec + frac, self.units_per_sec, 0);
        Ok(Some(RecordRef {
            ts_ns,
            ts_clamped,
            link_type: self.link_type,
            orig_len,
            data_start,
            data_len: caplen,
        }))
    }
}

fn is_own(m: u32) -> bool {
    matches!(m, MAGIC_USEC | MAGIC_NSEC | MAGIC_KUZNETZOV)
}
