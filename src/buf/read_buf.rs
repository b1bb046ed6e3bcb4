//! A session's receive buffer: how much to read per syscall and where the bytes go.
//!
//! Bodies leave the buffer without a copy (they share its allocation), so the sizing rule
//! decides both the syscall count and the memory a queue of received messages pins:
//!
//! * small frames: reads of `READ_CHUNK`; the decoder copies small bodies out, so a buffer
//!   is reused and idle connections hold little;
//! * large frames (the last one decoded was at least `LARGE_FRAME`): the buffer grows in
//!   steps of about `PREALLOC_MAX` and each read takes whatever room is left, so one
//!   allocation holds many bodies back to back (a queue of them pins about its own size) and
//!   a body that straddles two reads is not copied into a doubled buffer. A new buffer is
//!   stretched (by less than a frame) to end where a frame ends if frames keep the size of
//!   the last one, and it is not left while the current frame still fits, so that the
//!   frame that does not fit whole at the end of a buffer does not move on to the next one
//!   and leave its room unused (a queue of such frames would pin more than its bodies;
//!   frames just over half a buffer, nearly twice their size). Every byte taken
//!   off a large buffer comes back to it (`lending`), so it is read into again, once its
//!   bodies are gone, without being zeroed again;
//! * a frame announced larger than `READ_CHUNK`: room for it at once up to `PREALLOC_MAX`,
//!   beyond that never more than what has arrived, so memory follows received bytes, not
//!   announced sizes;
//! * before the handshake is done: reads of `HANDSHAKE_READ`, whatever the decoder wants, so
//!   a peer that has not authenticated costs the bytes it actually sent, not a read chunk.

use super::lending::{Lender, Recycler, Retired};
use super::Received;
use bytes::{Buf, Bytes, BytesMut};
use std::io::{self, Read};

/// Read in chunks of this size while frames are small.
const READ_CHUNK: usize = 64 * 1024;
/// Buffers for large frames come in this size.
pub(crate) const PREALLOC_MAX: usize = 1024 * 1024;
/// Read in chunks of this size until the handshake is done.
const HANDSHAKE_READ: usize = 512;
/// A decoded body at least this large switches to large-frame buffers.
const LARGE_FRAME: usize = 16 * 1024;
/// Large buffers are allocated in whole pages, so that one that comes back serves the next
/// buffer of about the same size.
const PAGE: usize = 4096;

thread_local! {
    /// Large buffers of this I/O thread's sessions, reused once their bodies are gone.
    static RECYCLER: std::cell::RefCell<Recycler> = std::cell::RefCell::default();
}

/// Lets `retired`'s buffer wait for its bodies in this thread's recycler.
fn recycle(retired: Retired) {
    RECYCLER.with(|r| r.borrow_mut().retire(retired));
}

pub(crate) struct ReadBuf {
    buf: BytesMut,
    /// The room after `buf`'s bytes that the last read zeroed but did not fill, split off
    /// so the decoder sees only received bytes, and joined back (in place) for the next
    /// read: the room is zeroed once per buffer, not once per read.
    room: BytesMut,
    /// The length on the wire of the last frame decoded, if it was a large one.
    large: Option<usize>,
    /// The length on the wire of a large frame's header (the buffer does not read frames,
    /// it only plans room for them).
    long_header: usize,
    /// Set while `buf` is a large buffer, which keeps every byte taken off its front (or
    /// gets it back) so that it is reused without being zeroed again.
    lender: Option<Lender>,
}

impl ReadBuf {
    /// An empty buffer for frames whose headers take `long_header` bytes when their bodies
    /// are large.
    pub(crate) fn new(long_header: usize) -> ReadBuf {
        ReadBuf {
            buf: BytesMut::new(),
            room: BytesMut::new(),
            large: None,
            long_header,
            lender: None,
        }
    }

    /// Forgets the bytes of a connection that went away, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        match self.lender.take() {
            Some(lender) => {
                recycle(lender.retire([
                    std::mem::take(&mut self.buf),
                    std::mem::take(&mut self.room),
                ]));
            }
            None => {
                self.buf.clear();
                self.room = BytesMut::new();
            }
        }
        self.large = None;
    }

    /// Stops reading into the large buffer, if `buf` is one: its first `len` bytes (not yet
    /// decoded) move to a buffer of their own, the rest waits for its bodies.
    fn unlend(&mut self, len: usize) {
        if let Some(lender) = self.lender.take() {
            let old = std::mem::take(&mut self.buf);
            self.buf.extend_from_slice(&old[..len]);
            recycle(lender.retire([old]));
        }
    }

    /// Moves to a new large buffer of `size` bytes, from this thread's recycler: the first
    /// `len` bytes of `buf` (not yet decoded) move over, the old buffer waits for its bodies.
    fn start_large(&mut self, len: usize, size: usize) {
        let mut whole = RECYCLER.with(|r| r.borrow_mut().take(size.next_multiple_of(PAGE)));
        let mut lender = Lender::new(&whole);
        if whole.len() > size {
            // Reads stop at `size`; the rest waits in the lender to join the buffer again.
            lender.keep(whole.split_off(size));
        }
        whole[..len].copy_from_slice(&self.buf[..len]);
        let old = std::mem::replace(&mut self.buf, whole);
        if let Some(old_lender) = self.lender.replace(lender) {
            recycle(old_lender.retire([old]));
        }
    }

    /// Forgets the bytes and the allocation.
    pub(crate) fn release(&mut self) {
        *self = ReadBuf::new(self.long_header);
    }

    /// A body of `size` bytes was decoded.
    #[inline]
    pub(crate) fn note_frame(&mut self, size: usize) {
        self.large = (size >= LARGE_FRAME).then_some(self.long_header + size);
    }

    /// The size of a new buffer for large frames of `frame` bytes on the wire, which starts
    /// with the undecoded bytes of a frame the decoder wants `wants` bytes of: about
    /// `PREALLOC_MAX`, stretched to end where a frame ends if the frames to come are as
    /// long. The current frame ends `wants` bytes in when its header is decoded (its body
    /// then wants more than a header's worth), else a whole frame from the start.
    fn large_size(&self, frame: usize, wants: usize) -> usize {
        let first = if wants > self.long_header {
            wants
        } else {
            frame
        };
        if frame > PREALLOC_MAX || first > PREALLOC_MAX {
            return PREALLOC_MAX;
        }
        first + (PREALLOC_MAX - first).div_ceil(frame) * frame
    }

    /// One `read` from `stream`, the decoder wanting `wants` bytes in the buffer to finish
    /// its current frame (`handshaking`: the peer has not completed its handshake yet).
    /// Returns what `read` returned; the received bytes are appended.
    pub(crate) fn read_from(
        &mut self,
        stream: &mut impl Read,
        wants: usize,
        handshaking: bool,
    ) -> io::Result<usize> {
        let len = self.buf.len();
        // The zeroed room comes back if it still follows the bytes in the same allocation
        // (the decoder only ever takes bytes off the front); else it is let go.
        let room = std::mem::take(&mut self.room);
        if !room.is_empty() && self.buf.as_ptr().wrapping_add(len) == room.as_ptr() {
            self.buf.unsplit(room);
        }
        if handshaking {
            return self.read_chunk(stream, len, HANDSHAKE_READ);
        }
        let need = wants.saturating_sub(len);
        let mut chunk = need.clamp(READ_CHUNK, PREALLOC_MAX.max(len));
        let room = self.buf.capacity() - len;
        // Large frames stay in the buffer while the current one fits: one short read may
        // finish it, where moving on would leave its room unused.
        let full = match self.large {
            Some(_) => room < need.max(1),
            None => need > READ_CHUNK && room < chunk,
        };
        if full {
            let size = self
                .large
                .map_or(PREALLOC_MAX, |frame| self.large_size(frame, wants));
            if len + chunk <= size {
                // A new large buffer; the undecoded tail moves over (at most one frame's
                // worth of bytes).
                self.start_large(len, size);
            } else {
                self.unlend(len);
                self.buf.truncate(len);
                self.buf.reserve(chunk.max(PREALLOC_MAX));
            }
        }
        if self.large.is_some() {
            // All the room there is (at least `chunk` in a buffer just made).
            chunk = self.buf.capacity() - len;
        }
        self.read_chunk(stream, len, chunk)
    }

    /// Reads at most `chunk` bytes after the `len` received ones.
    fn read_chunk(
        &mut self,
        stream: &mut impl Read,
        len: usize,
        chunk: usize,
    ) -> io::Result<usize> {
        if self.buf.len() < len + chunk {
            if self.buf.capacity() < len + chunk {
                // Growing moves the bytes to a new allocation: not the large buffer's.
                self.unlend(len);
            }
            self.buf.resize(len + chunk, 0);
        }
        let result = stream.read(&mut self.buf[len..len + chunk]);
        let end = len + result.as_ref().map_or(0, |n| *n);
        self.room = self.buf.split_off(end);
        result
    }
}

impl Received for ReadBuf {
    fn bytes(&self) -> &[u8] {
        &self.buf
    }

    fn skip(&mut self, n: usize) {
        match &mut self.lender {
            Some(lender) => lender.keep(self.buf.split_to(n)),
            None => self.buf.advance(n),
        }
    }

    fn take(&mut self, n: usize) -> Bytes {
        match &self.lender {
            Some(lender) => lender.lend(self.buf.split_to(n)),
            None => self.buf.split_to(n).freeze(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zmtp::LONG_HEADER;

    /// A reader that hands out `total` bytes in reads of at most `per_read`.
    struct Source {
        left: usize,
        per_read: usize,
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.per_read).min(self.left);
            self.left -= n;
            buf[..n].fill(7);
            Ok(n)
        }
    }

    #[test]
    fn announced_sizes_cost_at_most_one_buffer_until_bytes_arrive() {
        let mut rb = ReadBuf::new(LONG_HEADER);
        let mut src = Source {
            left: 10,
            per_read: 10,
        };
        // The decoder wants 2^40 bytes: room is made for PREALLOC_MAX at most.
        assert_eq!(rb.read_from(&mut src, 1 << 40, false).unwrap(), 10);
        assert!(rb.buf.capacity() + rb.room.capacity() <= 2 * PREALLOC_MAX);
    }

    #[test]
    fn a_handshaking_peer_costs_what_it_sent() {
        let mut rb = ReadBuf::new(LONG_HEADER);
        let mut src = Source {
            left: 5,
            per_read: usize::MAX,
        };
        // However much the decoder wants, a read before the handshake takes a small chunk.
        assert_eq!(rb.read_from(&mut src, 1 << 20, true).unwrap(), 5);
        assert!(rb.buf.capacity() + rb.room.capacity() <= HANDSHAKE_READ);
        // Bytes that do arrive are all taken, the buffer growing with them.
        src.left = 10 * HANDSHAKE_READ;
        let mut got = 5;
        while got < 5 + 10 * HANDSHAKE_READ {
            got += rb.read_from(&mut src, 1 << 20, true).unwrap();
        }
        assert_eq!(rb.bytes().len(), got);
        assert!(rb.buf.capacity() + rb.room.capacity() <= 4 * got);
        // Once it is done, reads are large again.
        src.left = usize::MAX;
        assert_eq!(rb.read_from(&mut src, 2, false).unwrap(), READ_CHUNK);
    }

    #[test]
    fn large_frames_share_one_buffer_and_reads_fill_it() {
        let mut rb = ReadBuf::new(LONG_HEADER);
        rb.note_frame(64 * 1024);
        let mut src = Source {
            left: usize::MAX,
            per_read: usize::MAX,
        };
        let n = rb.read_from(&mut src, 9, false).unwrap();
        assert!(n >= PREALLOC_MAX, "one read fills the large buffer: {n}");
        // Small frames again: back to small reads.
        rb.clear();
        rb.note_frame(100);
        assert_eq!(rb.read_from(&mut src, 2, false).unwrap(), READ_CHUNK);
    }

    /// The next number of a seeded pseudo-random sequence (xorshift64).
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// A stream of data frames with `body`-byte bodies (long headers), handed out in reads
    /// of pseudo-random sizes up to `max_read`.
    struct Frames {
        body: usize,
        offset: usize,
        rng: u64,
        max_read: usize,
    }

    impl Frames {
        fn new(body: usize, max_read: usize) -> Frames {
            Frames {
                body,
                offset: 0,
                rng: 0x2545_f491_4f6c_dd1d,
                max_read,
            }
        }
    }

    impl Read for Frames {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf
                .len()
                .min(1 + (xorshift(&mut self.rng) % self.max_read as u64) as usize);
            let frame = LONG_HEADER + self.body;
            let mut header = [0u8; LONG_HEADER];
            header[0] = crate::zmtp::frame_flags::LONG;
            header[1..].copy_from_slice(&(self.body as u64).to_be_bytes());
            for b in &mut buf[..n] {
                let at = self.offset % frame;
                *b = if at < LONG_HEADER {
                    header[at]
                } else {
                    (self.offset / frame) as u8
                };
                self.offset += 1;
            }
            Ok(n)
        }
    }

    /// Receives `count` frames of `body` bytes through a real decoder, keeping every body,
    /// and returns how many buffers they lie in (a body that does not follow the previous
    /// one's header in memory starts a new one).
    fn buffers_holding(body: usize, count: usize, max_read: usize) -> usize {
        let mut rb = ReadBuf::new(LONG_HEADER);
        let mut dec = crate::zmtp::Decoder::new(None);
        let mut src = Frames::new(body, max_read);
        let mut bodies: Vec<crate::msg::Msg> = Vec::new();
        while bodies.len() < count {
            match dec.decode(&mut rb).unwrap() {
                Some(crate::zmtp::RawFrame::Data(msg)) => {
                    assert_eq!(msg.len(), body);
                    assert!(msg.iter().all(|&b| b == bodies.len() as u8));
                    rb.note_frame(msg.len());
                    bodies.push(msg);
                }
                Some(crate::zmtp::RawFrame::Command(_)) => unreachable!("only data frames"),
                None => {
                    rb.read_from(&mut src, dec.wants(), false).unwrap();
                }
            }
        }
        1 + bodies
            .windows(2)
            .filter(|w| w[0].as_ptr().wrapping_add(body + LONG_HEADER) != w[1].as_ptr())
            .count()
    }

    /// Equal large frames fill their buffers whole, whatever the read sizes: 16 bodies of
    /// 64 KiB per buffer of about `PREALLOC_MAX`, two of 600 000 bytes (a buffer that ended
    /// at exactly `PREALLOC_MAX` would hold 15 of the first, one of the second).
    #[test]
    fn equal_large_frames_fill_their_buffers() {
        for max_read in [300_000, PREALLOC_MAX, 2 * PREALLOC_MAX] {
            // The first body arrives before large-frame buffers start, the next fills one.
            let n = buffers_holding(64 * 1024, 2 + 16 * 20, max_read);
            assert!(
                n <= 2 + 20,
                "64 KiB bodies, reads up to {max_read}: {n} buffers"
            );
            let n = buffers_holding(600_000, 2 + 2 * 10, max_read);
            assert!(
                n <= 2 + 10,
                "600 000-byte bodies, reads up to {max_read}: {n} buffers"
            );
        }
    }

    /// Large buffers whose bodies are dropped as they arrive come back whole, every header
    /// and body taken off them returned, and are read into again without being zeroed: a
    /// new buffer's room is all zeroes, a reused one's holds the bytes of earlier frames. A
    /// few new buffers serve any number of frames, of 64 KiB or of 600 000 bytes.
    #[test]
    fn large_buffers_come_back_once_their_bodies_are_dropped() {
        for body in [64 * 1024, 600_000] {
            let mut rb = ReadBuf::new(LONG_HEADER);
            let mut dec = crate::zmtp::Decoder::new(None);
            let mut src = Frames::new(body, 100_000);
            let (mut frames, mut buffers, mut new_buffers) = (0, 0, 0);
            let mut base = None;
            while frames < 400 {
                match dec.decode(&mut rb).unwrap() {
                    Some(crate::zmtp::RawFrame::Data(msg)) => {
                        assert_eq!(msg.len(), body);
                        assert!(msg.iter().all(|&b| b == frames as u8), "frame {frames}");
                        rb.note_frame(msg.len());
                        frames += 1;
                    }
                    Some(crate::zmtp::RawFrame::Command(_)) => unreachable!("only data frames"),
                    None => {
                        rb.read_from(&mut src, dec.wants(), false).unwrap();
                        let now = rb.lender.as_ref().map(Lender::base);
                        if now.is_some() && now != base {
                            buffers += 1;
                            new_buffers += usize::from(rb.room.iter().all(|&b| b == 0));
                        }
                        base = now;
                    }
                }
            }
            assert!(buffers >= 20, "{body}-byte bodies: {buffers} buffers");
            assert!(
                new_buffers <= 3,
                "{body}-byte bodies: {new_buffers} of {buffers} buffers were new"
            );
        }
    }

    /// The byte at `offset` of the test stream.
    fn stream_byte(offset: u64) -> u8 {
        (offset.wrapping_mul(7) ^ (offset >> 9)) as u8
    }

    /// Hands out the test stream in reads whose sizes a seeded generator picks.
    struct Pattern {
        offset: u64,
        rng: u64,
    }

    impl Pattern {
        fn next(&mut self) -> u64 {
            xorshift(&mut self.rng)
        }
    }

    impl Read for Pattern {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1 + (self.next() % 300_000) as usize);
            for b in &mut buf[..n] {
                *b = stream_byte(self.offset);
                self.offset += 1;
            }
            Ok(n)
        }
    }

    /// Frames of every size taken off the front, some kept alive for a while (pinning their
    /// buffers), through reads of every size: every byte arrives once, in order, and no
    /// reuse of a buffer or of its zeroed room ever overwrites a body still held.
    #[test]
    fn bytes_survive_buffer_reuse_in_order() {
        let mut rb = ReadBuf::new(LONG_HEADER);
        let mut src = Pattern {
            offset: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
        };
        let mut consumed = 0u64;
        let mut held: std::collections::VecDeque<(u64, bytes::Bytes)> = Default::default();
        for _ in 0..1000 {
            let r = src.next();
            let frame = match r % 4 {
                0 => (r >> 8) as usize % 100,
                1 => (r >> 8) as usize % 20_000,
                _ => 16 * 1024 + (r >> 8) as usize % 100_000,
            };
            rb.note_frame(frame);
            while rb.bytes().len() < frame {
                rb.read_from(&mut src, frame, false).unwrap();
            }
            let body = rb.take(frame);
            held.push_back((consumed, body));
            consumed += frame as u64;
            if held.len() > (r >> 40) as usize % 40 {
                let (at, body) = held.pop_front().unwrap();
                for (i, &b) in body.iter().enumerate() {
                    assert_eq!(
                        b,
                        stream_byte(at + i as u64),
                        "byte {} of the stream",
                        at + i as u64
                    );
                }
            }
        }
        for (at, body) in held {
            assert!(body
                .iter()
                .enumerate()
                .all(|(i, &b)| b == stream_byte(at + i as u64)));
        }
        assert!(
            consumed > 10 * PREALLOC_MAX as u64,
            "buffers were cycled: {consumed}"
        );
    }
}
