//! gzip (RFC 1952) decompression that hands out every byte decoded before damage.
//!
//! Why not `flate2::read::MultiGzDecoder` alone: when inflating hits corrupt data, its `read`
//! returns the error and drops everything that same call had decoded, up to the caller's whole
//! buffer. A gzip capture damaged half-way then lost the records before the damage: the fuzz
//! target `read_capture` found a file that gave 0 records read whole and 6 read a few bytes at
//! a time. Here flate2's `Decompress` (the same `miniz_oxide` inflater) is driven directly, so the
//! bytes decoded before an error are returned first and the error comes on the next read. The
//! member framing around it (header fields, CRC-32 and length trailer, several members one
//! after another, as `cat a.gz b.gz` makes) is what is written by hand; it is about a hundred
//! lines.

use std::io::{self, BufRead, Read};

use crossbeam_channel::{Receiver, Sender, bounded};
use flate2::{Crc, Decompress, FlushDecompress, Status};

const MAGIC: [u8; 2] = [0x1f, 0x8b];
const DEFLATE: u8 = 8;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const IN_HEADER: &str = "it ends inside a gzip header";

enum State {
    /// At the start of a member (its header not yet read).
    Header,
    Body,
    /// After the last member.
    Done,
}

pub struct GzipReader<R> {
    inner: R,
    state: State,
    inflate: Decompress,
    crc: Crc,
    /// An error found while decoding bytes already handed out; returned by the next read.
    pending: Option<io::Error>,
    /// True once one member has been read: a second member is optional.
    one_read: bool,
}

impl<R: BufRead> GzipReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            state: State::Header,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            pending: None,
            one_read: false,
        }
    }

    /// The next byte, `None` at the end of the input.
    fn next_byte(&mut self) -> io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => return Ok(Some(b[0])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next byte of a header or trailer; the input ending there is damage (`what`).
    fn byte(&mut self, what: &str) -> io::Result<u8> {
        self.next_byte()?.ok_or_else(|| damaged(what))
    }

    fn skip(&mut self, n: usize) -> io::Result<()> {
        for _ in 0..n {
            self.byte(IN_HEADER)?;
        }
        Ok(())
    }

    /// Skips a zero-terminated field without keeping it (a hostile name may be endless).
    fn skip_string(&mut self) -> io::Result<()> {
        while self.byte(IN_HEADER)? != 0 {}
        Ok(())
    }

    /// Reads a member header; `false` at the end of the input after at least one member.
    fn header(&mut self) -> io::Result<bool> {
        let mut fixed = [0u8; 10];
        if self.one_read {
            // Another member, or the end. gzip(1) ignores what follows the last member
            // ("trailing garbage ignored"; tape padding is zeros), and so does this, however
            // the bytes arrive.
            for (slot, want) in fixed.iter_mut().zip(MAGIC) {
                match self.next_byte()? {
                    Some(b) if b == want => *slot = b,
                    _ => return Ok(false),
                }
            }
            for b in &mut fixed[2..] {
                *b = self.byte(IN_HEADER)?;
            }
        } else {
            for b in &mut fixed {
                *b = self.byte(IN_HEADER)?;
            }
            if fixed[..2] != MAGIC {
                return Err(damaged("a gzip member does not start with the gzip magic"));
            }
        }
        if fixed[2] != DEFLATE {
            return Err(damaged(&format!(
                "gzip compression method {} is not deflate",
                fixed[2]
            )));
        }
        let flags = fixed[3];
        if flags & FEXTRA != 0 {
            let len = u16::from_le_bytes([self.byte(IN_HEADER)?, self.byte(IN_HEADER)?]);
            self.skip(usize::from(len))?;
        }
        if flags & FNAME != 0 {
            self.skip_string()?;
        }
        if flags & FCOMMENT != 0 {
            self.skip_string()?;
        }
        if flags & FHCRC != 0 {
            self.skip(2)?;
        }
        self.inflate.reset(false);
        self.crc.reset();
        Ok(true)
    }

    fn trailer(&mut self) -> io::Result<()> {
        let mut t = [0u8; 8];
        for b in &mut t {
            *b = self.byte("it ends inside a gzip trailer")?;
        }
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        if crc != self.crc.sum() || size != self.crc.amount() {
            return Err(damaged("a gzip member's checksum does not match its data"));
        }
        self.one_read = true;
        Ok(())
    }

    /// Inflates into `buf`; `Ok(0)` only when the member ended without more output.
    fn body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let input = self.inner.fill_buf()?;
            let at_eof = input.is_empty();
            let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
            let result = self.inflate.decompress(input, buf, FlushDecompress::None);
            let consumed = usize::try_from(self.inflate.total_in() - in_before).unwrap_or(0);
            let written = usize::try_from(self.inflate.total_out() - out_before).unwrap_or(0);
            self.inner.consume(consumed);
            self.crc.update(&buf[..written]);
            let error = match result {
                Ok(Status::StreamEnd) => {
                    self.state = State::Header;
                    if let Err(e) = self.trailer() {
                        self.pending = Some(e);
                    }
                    return Ok(written);
                }
                Ok(_) if written > 0 => return Ok(written),
                Ok(_) if at_eof => damaged("it ends inside the compressed data"),
                Ok(_) if consumed > 0 => continue,
                // An inflate error, or neither input taken nor output made with input at
                // hand: it cannot go on.
                Ok(_) | Err(_) => damaged("corrupt deflate data"),
            };
            self.state = State::Done;
            if written > 0 {
                self.pending = Some(error);
                return Ok(written);
            }
            return Err(error);
        }
    }
}

impl<R: BufRead> Read for GzipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            self.state = State::Done;
            return Err(e);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => match self.header() {
                    Ok(true) => self.state = State::Body,
                    Ok(false) => {
                        self.state = State::Done;
                        return Ok(0);
                    }
                    Err(e) => {
                        self.state = State::Done;
                        return Err(e);
                    }
                },
                State::Body => {
                    let n = self.body(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                    if let Some(e) = self.pending.take() {
                        self.state = State::Done;
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// Damage to the compressed data: reported by the capture reader as "stopped at byte N of the
/// decompressed stream".
fn damaged(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Inflates on its own thread (`rstscope-gunzip`), a few chunks ahead of whoever reads: parsing
/// the capture then overlaps decompression instead of waiting for it. Bytes arrive in order,
/// then the error that stopped the stream (if any), exactly as the inner reader gave them.
pub struct Inflating {
    chunks: Receiver<io::Result<Vec<u8>>>,
    spare: Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Inflated bytes travel in chunks of this size, at most `AHEAD` of them waiting.
const CHUNK: usize = 256 * 1024;
const AHEAD: usize = 4;

impl Inflating {
    /// Starts the thread; if it cannot start, inflates on the caller's thread instead.
    pub fn spawn<R: Read + Send + 'static>(inner: R) -> Box<dyn Read + Send> {
        let (tx, chunks) = bounded::<io::Result<Vec<u8>>>(AHEAD);
        let (spare, spare_rx) = bounded::<Vec<u8>>(AHEAD + 2);
        // The reader goes to the thread and comes back if the thread cannot start.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(inner)));
        let theirs = std::sync::Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("rstscope-gunzip".to_owned())
            .spawn(move || {
                let Some(mut inner) = theirs.lock().ok().and_then(|mut g| g.take()) else {
                    return;
                };
                inflate_ahead(&mut inner, &tx, &spare_rx);
            });
        match spawned {
            Ok(thread) => Box::new(Self {
                chunks,
                spare,
                current: Vec::new(),
                pos: 0,
                done: false,
                thread: Some(thread),
            }),
            Err(_) => match slot.lock().ok().and_then(|mut g| g.take()) {
                Some(inner) => Box::new(inner),
                None => Box::new(io::empty()),
            },
        }
    }
}

/// The thread's body: fills chunks until the end, an error, or a reader that went away.
fn inflate_ahead<R: Read>(
    inner: &mut R,
    tx: &Sender<io::Result<Vec<u8>>>,
    spare: &Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = spare.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut n = 0;
        let mut failed = None;
        while n < CHUNK {
            match inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        buf.truncate(n);
        let end = n < CHUNK;
        if n > 0 && tx.send(Ok(buf)).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = tx.send(Err(e));
            return;
        }
        if end {
            return;
        }
    }
}

impl Read for Inflating {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(next)) => {
                    let used = std::mem::replace(&mut self.current, next);
                    let _ = self.spare.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The thread ended: the stream's end.
                Err(_) => self.done = true,
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for Inflating {
    fn drop(&mut self) {
        // Closing the channel stops the thread at its next chunk; waiting for it means that
        // what it holds is freed when the reader is.
        let (_, closed) = bounded(0);
        drop(std::mem::replace(&mut self.chunks, closed));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> (Vec<u8>, Option<String>) {
        let mut r = GzipReader::new(io::BufReader::new(bytes));
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    fn data() -> Vec<u8> {
        (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn reads_what_gzip_wrote_and_several_members_in_a_row() {
        let d = data();
        assert_eq!(read_all(&gzip(&d)), (d.clone(), None));
        let mut two = gzip(&d[..1000]);
        two.extend(gzip(&d[1000..]));
        assert_eq!(read_all(&two), (d, None));
    }

    #[test]
    fn a_name_and_comment_in_the_header_are_skipped() {
        let mut gz = flate2::GzBuilder::new()
            .filename("capture.pcap")
            .comment("from host a")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello").unwrap();
        assert_eq!(read_all(&gz.finish().unwrap()), (b"hello".to_vec(), None));
    }

    /// What flate2's own reader loses: the bytes decoded in the read that meets the damage.
    #[test]
    fn bytes_decoded_before_damage_are_handed_out_before_the_error() {
        let d = data();
        let mut gz = gzip(&d);
        let mid = gz.len() / 2;
        gz[mid] ^= 0xFF;
        gz[mid + 1] ^= 0xFF;
        let (out, err) = read_all(&gz);
        assert!(err.is_some());
        // The damage is half-way through the compressed bytes: the first quarter of the data
        // was decoded before it, and is all there.
        let quarter = d.len() / 4;
        assert!(out.len() > quarter, "{} of {}", out.len(), d.len());
        assert_eq!(out[..quarter], d[..quarter]);
    }

    #[test]
    fn a_cut_member_and_a_bad_checksum_are_damage() {
        let d = data();
        let gz = gzip(&d);
        let (out, err) = read_all(&gz[..gz.len() - 4]);
        assert_eq!(out, d);
        assert_eq!(err.as_deref(), Some("it ends inside a gzip trailer"));
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 1;
        let (_, err) = read_all(&bad);
        assert_eq!(
            err.as_deref(),
            Some("a gzip member's checksum does not match its data")
        );
        let (_, err) = read_all(&gz[..gz.len() / 2]);
        assert_eq!(err.as_deref(), Some("it ends inside the compressed data"));
    }

    #[test]
    fn trailing_zeros_after_the_last_member_are_ignored() {
        let mut gz = gzip(b"abc");
        gz.extend([0u8; 512]);
        assert_eq!(read_all(&gz), (b"abc".to_vec(), None));
    }

    /// Trailing bytes that start like a member (0x1f) but are not one end the stream the same
    /// way whether they arrive together or one at a time (found by review).
    #[test]
    fn trailing_garbage_ends_the_stream_however_it_arrives() {
        let mut gz = gzip(b"abc");
        gz.extend([0x1f, 0x00, 0x42]);
        assert_eq!(read_all(&gz), (b"abc".to_vec(), None));
        let mut r = GzipReader::new(io::BufReader::with_capacity(1, &gz[..]));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
    }
}
