//! Writes a live capture to a pcapng file as it arrives, so nothing captured is lost.
//!
//! Why by hand: `pcap-file` 2.0 writes Enhanced Packet Block timestamps in nanoseconds but does
//! not add the `if_tsresol` option that says so, so Wireshark and tcpdump would read every time
//! a thousand times too late (see `source/mod.rs` on the same crate's reading side). The four
//! block types needed (section header, interface description, enhanced packet, interface
//! statistics) are a few dozen lines of the pcapng specification
//! (draft-ietf-opsawg-pcapng), written here with nanosecond resolution declared.

use std::io::{self, Write};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const ISB: u32 = 5;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Kernel counters written at the end in an Interface Statistics Block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndStats {
    pub start_ns: i64,
    pub end_ns: i64,
    /// Packets the kernel saw (libpcap's `ps_recv`).
    pub received: u64,
    /// Dropped by the kernel for lack of buffer space (`ps_drop`).
    pub os_dropped: u64,
    /// Dropped by the interface (`ps_ifdrop`).
    pub if_dropped: u64,
}

/// A pcapng writer for one interface, in the machine's byte order (as dumpcap writes).
pub struct PcapngWriter<W: Write> {
    out: W,
    written: u64,
}

/// One block being assembled: body bytes, then framed with type and lengths.
struct Block {
    kind: u32,
    body: Vec<u8>,
    /// An option was too long to write.
    too_long: bool,
}

impl Block {
    fn new(kind: u32) -> Self {
        Self {
            kind,
            body: Vec::with_capacity(64),
            too_long: false,
        }
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.body.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.body.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.body.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn pad(&mut self) {
        while !self.body.len().is_multiple_of(4) {
            self.body.push(0);
        }
    }
    /// An option: code, length, value padded to 32 bits.
    /// Values longer than an option can hold (65,535 bytes) are cut at a UTF-8 boundary by
    /// callers; here they are refused rather than silently cut.
    fn option(&mut self, code: u16, value: &[u8]) -> &mut Self {
        let Ok(len) = u16::try_from(value.len()) else {
            self.too_long = true;
            return self;
        };
        self.u16(code).u16(len);
        self.body.extend_from_slice(value);
        self.pad();
        self
    }
    fn end_of_options(&mut self) -> &mut Self {
        self.u32(0)
    }
    fn write(&self, out: &mut impl Write) -> io::Result<u64> {
        if self.too_long {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a pcapng option longer than 65,535 bytes",
            ));
        }
        let total = u32::try_from(self.body.len() + 12)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "block too large"))?;
        out.write_all(&self.kind.to_ne_bytes())?;
        out.write_all(&total.to_ne_bytes())?;
        out.write_all(&self.body)?;
        out.write_all(&total.to_ne_bytes())?;
        Ok(u64::from(total))
    }
}

fn split_ts(ts_ns: i64) -> (u32, u32) {
    let t = u64::try_from(ts_ns).unwrap_or(0);
    #[allow(clippy::cast_possible_truncation)]
    ((t >> 32) as u32, t as u32)
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header and the interface description.
    pub fn new(
        mut out: W,
        link_type: u32,
        snaplen: u32,
        interface: &str,
        filter: &str,
    ) -> io::Result<Self> {
        let mut shb = Block::new(SHB);
        shb.u32(BYTE_ORDER_MAGIC).u16(1).u16(0).u64(u64::MAX);
        shb.option(3, std::env::consts::OS.as_bytes());
        shb.option(
            4,
            format!("rstscope {}", env!("CARGO_PKG_VERSION")).as_bytes(),
        );
        shb.end_of_options();
        let mut written = shb.write(&mut out)?;

        let mut idb = Block::new(IDB);
        #[allow(clippy::cast_possible_truncation)]
        idb.u16(link_type as u16).u16(0).u32(snaplen);
        idb.option(2, interface.as_bytes());
        if !filter.is_empty() {
            // if_filter: a first byte of 0 says "libpcap filter string".
            let mut f = vec![0u8];
            f.extend_from_slice(filter.as_bytes());
            idb.option(11, &f);
        }
        // if_tsresol: 10^-9 s.
        idb.option(9, &[9]);
        idb.end_of_options();
        written += idb.write(&mut out)?;
        Ok(Self { out, written })
    }

    /// Appends one packet.
    pub fn packet(&mut self, ts_ns: i64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let padded = data.len().next_multiple_of(4);
        let total = u32::try_from(32 + padded)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let (hi, lo) = split_ts(ts_ns);
        // The fixed part in one write; the data straight from the caller's buffer.
        let mut head = [0u8; 28];
        for (i, v) in [EPB, total, 0, hi, lo, caplen, orig_len].iter().enumerate() {
            head[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        self.out.write_all(&head)?;
        self.out.write_all(data)?;
        self.out.write_all(&[0u8; 3][..padded - data.len()])?;
        self.out.write_all(&total.to_ne_bytes())?;
        self.written += u64::from(total);
        Ok(())
    }

    /// Writes the kernel's counters (an Interface Statistics Block), as dumpcap does at the end.
    /// `comments` go into the block as `opt_comment` options (Wireshark shows them).
    pub fn statistics(&mut self, s: &EndStats, comments: &[String]) -> io::Result<()> {
        let mut isb = Block::new(ISB);
        let (hi, lo) = split_ts(s.end_ns);
        isb.u32(0).u32(hi).u32(lo);
        let ts = |ns: i64| {
            let (hi, lo) = split_ts(ns);
            let mut b = hi.to_ne_bytes().to_vec();
            b.extend_from_slice(&lo.to_ne_bytes());
            b
        };
        isb.option(2, &ts(s.start_ns));
        isb.option(3, &ts(s.end_ns));
        isb.option(4, &s.received.to_ne_bytes());
        isb.option(5, &s.if_dropped.to_ne_bytes());
        isb.option(7, &s.os_dropped.to_ne_bytes());
        for c in comments {
            isb.option(1, c.as_bytes());
        }
        isb.end_of_options();
        self.written += isb.write(&mut self.out)?;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{CaptureReader, Format};

    #[test]
    fn written_file_reads_back_with_nanosecond_times_and_lengths() {
        let mut w = PcapngWriter::new(Vec::new(), 1, 96, "lo", "tcp port 80").unwrap();
        let frames: [(i64, u32, &[u8]); 3] = [
            (1_700_000_000_123_456_789, 60, &[1, 2, 3, 4, 5]),
            (1_700_000_001_000_000_001, 1514, &[9; 96]),
            (1_700_000_002_000_000_000, 4, &[7, 7, 7, 7]),
        ];
        for (ts, len, data) in frames {
            w.packet(ts, len, data).unwrap();
        }
        w.statistics(
            &EndStats {
                start_ns: frames[0].0,
                end_ns: frames[2].0,
                received: 3,
                os_dropped: 1,
                if_dropped: 0,
            },
            &["a comment".to_owned()],
        )
        .unwrap();
        let written = w.written();
        let bytes = w.into_inner();
        assert_eq!(written, bytes.len() as u64);
        let (mut r, format, gzip) =
            CaptureReader::from_read(Box::new(std::io::Cursor::new(bytes))).unwrap();
        assert_eq!((format, gzip), (Format::PcapNg, false));
        for (i, (ts, len, data)) in frames.iter().enumerate() {
            let p = r.next_packet().unwrap().expect("a packet");
            assert_eq!(p.frame, i as u64 + 1);
            assert_eq!(p.ts_ns, *ts);
            assert_eq!(p.orig_len, *len);
            assert_eq!(p.link_type, 1);
            assert_eq!(p.data, *data);
        }
        assert!(
            r.next_packet().unwrap().is_none(),
            "the statistics block is not a packet"
        );
    }
}
