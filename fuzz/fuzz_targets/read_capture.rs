//! The capture reader over any bytes: pcap, pcapng or either gzip-compressed.
//!
//! Beyond "no panic, no allocation sized by a header field" (run with `-rss_limit_mb` and
//! `-malloc_limit_mb`), three ways of delivering the same bytes must read the same records and
//! stop at the same place: all at once, a few bytes per read (a slow pipe), and gzip-compressed.
#![no_main]

use std::io::{self, Read, Write};

use libfuzzer_sys::fuzz_target;
use rstscope::source::{CaptureReader, SourceError};

/// A pipe that hands out at most `step` bytes per read.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[derive(Debug, PartialEq)]
struct Record {
    frame: u64,
    ts_ns: i64,
    link_type: u32,
    orig_len: u32,
    data: Vec<u8>,
    /// Where the reader stood after it.
    offset: u64,
}

/// Every record, and how reading ended (the message without the words only gzip adds).
fn read_all(input: Box<dyn Read + Send>) -> (Vec<Record>, Option<String>) {
    let mut records = Vec::new();
    let (mut reader, _, _) = match CaptureReader::from_read(input) {
        Ok(r) => r,
        Err(e) => return (records, Some(message(&e))),
    };
    let mut last_offset = reader.offset();
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(
                    p.frame,
                    records.len() as u64 + 1,
                    "frames are numbered in order"
                );
                assert!(p.ts_ns >= 0, "times are clamped to the documented range");
                let (frame, ts_ns, link_type, orig_len) =
                    (p.frame, p.ts_ns, p.link_type, p.orig_len);
                let data = p.data.to_vec();
                let offset = reader.offset();
                assert!(offset > last_offset, "every record moves the reader on");
                last_offset = offset;
                records.push(Record {
                    frame,
                    ts_ns,
                    link_type,
                    orig_len,
                    data,
                    offset,
                });
            }
            Ok(None) => return (records, None),
            Err(e) => {
                assert!(
                    e.is_partial(),
                    "a reader that opened fails only partially: {e}"
                );
                assert!(
                    matches!(reader.next_packet(), Ok(None)),
                    "after an error it is finished"
                );
                return (records, Some(message(&e)));
            }
        }
    }
}

fn message(e: &SourceError) -> String {
    e.to_string().replace(" of the decompressed stream", "")
}

fuzz_target!(|data: &[u8]| {
    let whole = read_all(Box::new(io::Cursor::new(data.to_vec())));
    let step = usize::from(data.first().copied().unwrap_or(0) % 7) + 1;
    let trickled = read_all(Box::new(Trickle {
        data: data.to_vec(),
        at: 0,
        step,
    }));
    assert_eq!(whole, trickled, "a slow pipe reads what a file reads");
    // Input that is already gzip is read as it is above; plain input, compressed, reads alike.
    if !data.starts_with(&[0x1f, 0x8b]) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        let compressed = gz.finish().unwrap();
        let unzipped = read_all(Box::new(io::Cursor::new(compressed)));
        assert_eq!(whole, unzipped, "gzip reads what plain reads");
    }
});
