//! The pcapng format (draft-ietf-opsawg-pcapng): blocks of `type, total length, body, total
//! length`. A file is one or more sections, each opened by a Section Header Block that sets its
//! byte order; interfaces are numbered per section. Packets come in Enhanced (6), Simple (3) and
//! the obsolete Packet (2) blocks; every other block type is skipped.

use std::io::Read;

use super::{Damage, Endian, RecordRef, SourceError, stream::ByteStream, to_ns};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OBSOLETE_PACKET: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const ISB: u32 = 5;
const OPT_COMMENT: u16 = 1;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Larger blocks are treated as damage. libpcap's limit is of the same order (16 MiB).
const MAX_BLOCK: usize = 16 << 20;

const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

pub(super) fn is_shb(magic: &[u8]) -> bool {
    magic == SHB.to_le_bytes()
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    units_per_sec: u64,
    offset_s: i64,
}

pub(super) struct PcapNgState {
    endian: Endian,
    interfaces: Vec<Interface>,
    /// The kernel's RST records rstscope saved with a live capture (see `live::kernel`).
    pub(super) kernel_resets: Vec<super::live::kernel::KernelReset>,
}

impl PcapNgState {
    pub(super) fn open<R: Read>(s: &mut ByteStream<R>) -> Result<Self, SourceError> {
        let mut state = Self {
            endian: Endian::Little,
            interfaces: Vec::new(),
            kernel_resets: Vec::new(),
        };
        match state.read_shb(s) {
            Ok(()) => Ok(state),
            Err(Damage::Stopped { reason, .. }) => Err(SourceError::Rejected(reason)),
            Err(Damage::Io { offset, cause }) => Err(SourceError::Io { offset, cause }),
        }
    }

    /// Reads a Section Header Block at the current position; it resets byte order and interfaces.
    fn read_shb<R: Read>(&mut self, s: &mut ByteStream<R>) -> Result<(), Damage> {
        let start = s.offset();
        let io = |cause| Damage::Io {
            offset: start,
            cause,
        };
        if !s.fill(12).map_err(io)? {
            return Err(Damage::stopped(
                start,
                "the file ends inside a section header block",
            ));
        }
        let h = s.peek(12);
        let bom = [h[8], h[9], h[10], h[11]];
        self.endian = if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
            Endian::Little
        } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
            Endian::Big
        } else {
            return Err(Damage::stopped(
                start,
                "section header block has a bad byte-order magic",
            ));
        };
        let total = self.endian.u32(&h[4..]) as usize;
        if !(28..=MAX_BLOCK).contains(&total) || !total.is_multiple_of(4) {
            return Err(Damage::stopped(
                start,
                format!("section header block has an invalid length {total}"),
            ));
        }
        if !s.fill(total).map_err(io)? {
            return Err(Damage::stopped(
                start,
                "the file ends inside a section header block",
            ));
        }
        let b = s.peek(total);
        let major = self.endian.u16(&b[12..]);
        let minor = self.endian.u16(&b[14..]);
        let trailer = self.endian.u32(&b[total - 4..]);
        if trailer as usize != total {
            return Err(Damage::stopped(
                start,
                format!("block total length in header {total} and trailer {trailer} don't match"),
            ));
        }
        // libpcap (sf-pcapng.c) reads versions 1.0 and 1.2 and rejects others with this text.
        if !(major == 1 && (minor == 0 || minor == 2)) {
            return Err(Damage::stopped(
                start,
                format!("unsupported pcapng savefile version {major}.{minor}"),
            ));
        }
        self.interfaces.clear();
        s.consume(total);
        Ok(())
    }

    pub(super) fn next_record<R: Read>(
        &mut self,
        s: &mut ByteStream<R>,
    ) -> Result<Option<RecordRef>, Damage> {
        loop {
            let start = s.offset();
            let io = |cause| Damage::Io {
                offset: start,
                cause,
            };
            if !s.fill(8).map_err(io)? {
                if s.available() == 0 {
                    return Ok(None);
                }
                return Err(Damage::stopped(
                    start,
                    "the file ends inside a block header",
                ));
            }
            let h = s.peek(8);
            if is_shb(&h[..4]) {
                self.read_shb(s)?;
                continue;
            }
            let block_type = self.endian.u32(h);
            let total = self.endian.u32(&h[4..]) as usize;
            if total < 12 || !total.is_multiple_of(4) || total > MAX_BLOCK {
                return Err(Damage::stopped(
                    start,
                    format!("block of type 0x{block_type:08x} has an invalid length {total}"),
                ));
            }
            if !s.fill(total).map_err(io)? {
                return Err(Damage::stopped(
                    start,
                    format!(
                        "the file ends inside a block of type 0x{block_type:08x} ({} of {total} bytes present)",
                        s.available()
                    ),
                ));
            }
            let b = s.peek(total);
            let trailer = self.endian.u32(&b[total - 4..]) as usize;
            if trailer != total {
                return Err(Damage::stopped(
                    start,
                    format!(
                        "block total length in header {total} and trailer {trailer} don't match"
                    ),
                ));
            }
            let body = &b[8..total - 4];
            let found = match block_type {
                IDB => {
                    let iface = self
                        .parse_idb(body)
                        .map_err(|r| Damage::stopped(start, r))?;
                    self.interfaces.push(iface);
                    None
                }
                EPB | OBSOLETE_PACKET => Some(
                    self.parse_epb(block_type, body)
                        .map_err(|r| Damage::stopped(start, r))?,
                ),
                SPB => Some(
                    self.parse_spb(body)
                        .map_err(|r| Damage::stopped(start, r))?,
                ),
                ISB if body.len() >= 12 => {
                    for (code, value) in Options::new(&body[12..], self.endian) {
                        if code == OPT_COMMENT {
                            let text = String::from_utf8_lossy(value);
                            self.kernel_resets
                                .extend(super::live::kernel::from_comment(&text));
                        }
                    }
                    None
                }
                _ => None,
            };
            let pos = s.pos();
            s.consume(total);
            if let Some((iface, ticks, orig_len, data_off, data_len)) = found {
                let (ts_ns, ts_clamped) = to_ns(ticks, iface.units_per_sec, iface.offset_s);
                return Ok(Some(RecordRef {
                    ts_ns,
                    ts_clamped,
                    link_type: iface.link_type,
                    orig_len,
                    data_start: pos + 8 + data_off,
                    data_len,
                }));
            }
        }
    }

    fn parse_idb(&self, body: &[u8]) -> Result<Interface, String> {
        if body.len() < 8 {
            return Err("interface description block is too short".to_owned());
        }
        let mut iface = Interface {
            link_type: u32::from(self.endian.u16(body)),
            snaplen: self.endian.u32(&body[4..]),
            units_per_sec: 1_000_000,
            offset_s: 0,
        };
        for (code, value) in Options::new(&body[8..], self.endian) {
            match code {
                IF_TSRESOL if !value.is_empty() => {
                    let r = value[0];
                    let exp = u32::from(r & 0x7F);
                    // MSB clear: 10^-exp; set: 2^-exp. Resolutions finer than 1e-19 don't fit.
                    iface.units_per_sec = if r & 0x80 == 0 {
                        10u64.checked_pow(exp)
                    } else {
                        2u64.checked_pow(exp)
                    }
                    .ok_or_else(|| {
                        format!("interface timestamp resolution 0x{r:02x} is out of range")
                    })?;
                }
                IF_TSOFFSET if value.len() >= 8 => {
                    iface.offset_s = i64::from_ne_bytes(self.endian.u64(value).to_ne_bytes());
                }
                _ => {}
            }
        }
        Ok(iface)
    }

    fn interface(&self, id: usize) -> Result<Interface, String> {
        self.interfaces.get(id).copied().ok_or_else(|| {
            format!(
                "a packet names interface {id}, but this section describes {} interface{}",
                self.interfaces.len(),
                if self.interfaces.len() == 1 { "" } else { "s" }
            )
        })
    }

    /// Enhanced Packet Block, or the obsolete Packet Block (16-bit interface id and drops count).
    fn parse_epb(
        &self,
        block_type: u32,
        body: &[u8],
    ) -> Result<(Interface, u64, u32, usize, usize), String> {
        if body.len() < 20 {
            return Err("packet block is too short".to_owned());
        }
        let e = self.endian;
        let if_id = if block_type == EPB {
            e.u32(body) as usize
        } else {
            usize::from(e.u16(body))
        };
        let iface = self.interface(if_id)?;
        let ticks = (u64::from(e.u32(&body[4..])) << 32) | u64::from(e.u32(&body[8..]));
        let caplen = e.u32(&body[12..]) as usize;
        let orig_len = e.u32(&body[16..]);
        if caplen > body.len() - 20 {
            return Err(format!(
                "a packet block claims {caplen} captured bytes but holds {}",
                body.len() - 20
            ));
        }
        Ok((iface, ticks, orig_len, 20, caplen))
    }

    /// Simple Packet Block: interface 0, no timestamp, captured length implied by the block.
    fn parse_spb(&self, body: &[u8]) -> Result<(Interface, u64, u32, usize, usize), String> {
        if body.len() < 4 {
            return Err("simple packet block is too short".to_owned());
        }
        let iface = self.interface(0)?;
        let orig_len = self.endian.u32(body);
        let mut caplen = (orig_len as usize).min(body.len() - 4);
        if iface.snaplen > 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        Ok((iface, 0, orig_len, 4, caplen))
    }
}

/// Iterates over a block's options: (code, value) pairs, values padded to 32 bits.
struct Options<'a> {
    rest: &'a [u8],
    endian: Endian,
}

impl<'a> Options<'a> {
    fn new(rest: &'a [u8], endian: Endian) -> Self {
        Self { rest, endian }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let code = self.endian.u16(self.rest);
        let len = usize::from(self.endian.u16(&self.rest[2..]));
        if code == OPT_END || 4 + len > self.rest.len() {
            return None;
        }
        let value = &self.rest[4..4 + len];
        let padded = (4 + len).div_ceil(4) * 4;
        self.rest = &self.rest[padded.min(self.rest.len())..];
        Some((code, value))
    }
}
