//! A growable read buffer that tracks the absolute byte offset of what it holds.

use std::io::{self, Read};

/// Buffers a byte stream so that one record at a time can be looked at in place.
///
/// Records are located by absolute buffer index between `fill` calls: a parser calls
/// [`ByteStream::fill`], reads header fields with [`ByteStream::peek`], notes where the payload
/// starts with [`ByteStream::pos`], then [`ByteStream::consume`]s the record. The bytes stay in
/// place until the next `fill`, so the payload can be lent out with [`ByteStream::record`].
pub struct ByteStream<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Absolute offset of `buf[0]` in the stream.
    base: u64,
}

const INITIAL_CAPACITY: usize = 1 << 20;

impl<R: Read> ByteStream<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; INITIAL_CAPACITY],
            pos: 0,
            end: 0,
            base: 0,
        }
    }

    /// Makes at least `n` bytes available at the current position. `Ok(false)` when the stream
    /// ends first (whatever was available stays available).
    pub fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n {
            if self.end == self.buf.len() {
                // Grow only as bytes arrive, doubling: `n` comes from a header field, and a
                // 40-byte file claiming a 4 GiB record must not get a 4 GiB zero-filled buffer.
                // The buffer stays below twice what the input has delivered (at least 1 MiB).
                let grown = self.buf.len().saturating_mul(2).min(n);
                self.buf.resize(grown, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Bytes available at the current position without reading more.
    pub fn available(&self) -> usize {
        self.end - self.pos
    }

    /// The next `n` available bytes. Callers `fill(n)` first.
    pub fn peek(&self, n: usize) -> &[u8] {
        &self.buf[self.pos..self.pos + n]
    }

    /// Absolute buffer index of the current position, valid until the next `fill`.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Offset of the current position from the start of the stream.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// Bytes at absolute buffer index `start`, located before a `consume`.
    pub fn record(&self, start: usize, len: usize) -> &[u8] {
        &self.buf[start..start + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes per call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn fill_gathers_short_reads_and_tracks_offsets() {
        let data: Vec<u8> = (0..=255).collect();
        let mut s = ByteStream::new(Trickle(&data));
        assert!(s.fill(10).unwrap());
        assert_eq!(s.peek(4), &[0, 1, 2, 3]);
        assert!(s.fill(200).unwrap());
        s.consume(200);
        assert!(s.fill(50).unwrap());
        assert_eq!(s.offset(), 200);
        assert_eq!(s.peek(2), &[200, 201]);
        let start = s.pos();
        s.consume(50);
        assert_eq!(s.record(start, 3), &[200, 201, 202]);
        assert!(!s.fill(10).unwrap(), "only 6 bytes remain");
        assert_eq!(s.available(), 6);
    }

    /// A header claiming a huge record over a short input: the buffer grows with what arrives,
    /// not with the claim.
    #[test]
    fn fill_of_a_huge_claim_allocates_what_arrived() {
        let data = vec![1u8; 3 * INITIAL_CAPACITY + 7];
        let mut s = ByteStream::new(&data[..]);
        assert!(!s.fill(usize::MAX / 2).unwrap());
        assert_eq!(s.available(), data.len());
        assert!(s.buf.len() <= 2 * data.len(), "{}", s.buf.len());
    }

    #[test]
    fn fill_grows_past_initial_capacity() {
        let data = vec![7u8; INITIAL_CAPACITY * 3];
        let mut s = ByteStream::new(&data[..]);
        assert!(s.fill(INITIAL_CAPACITY * 2 + 5).unwrap());
        assert!(s.available() >= INITIAL_CAPACITY * 2 + 5);
        assert_eq!(
            s.peek(INITIAL_CAPACITY * 2 + 5)[INITIAL_CAPACITY * 2 + 4],
            7
        );
        assert!(s.fill(INITIAL_CAPACITY * 3).unwrap());
        assert!(!s.fill(INITIAL_CAPACITY * 3 + 1).unwrap());
    }
}
