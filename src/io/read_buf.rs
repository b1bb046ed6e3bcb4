//! A session's receive buffer: how much to read per syscall and where the bytes go.
//!
//! Bodies leave the buffer without a copy (they share its allocation), so the sizing rule
//! decides both the syscall count and the memory a queue of received messages pins:
//!
//! * small frames: reads of `READ_CHUNK`; the decoder copies small bodies out, so a buffer
//!   is reused and idle connections hold little;
//! * large frames (the last one decoded was at least `LARGE_FRAME`): the buffer grows in
//!   `PREALLOC_MAX` steps and each read takes whatever room is left, so one allocation
//!   holds many bodies back to back (a queue of them pins about its own size) and a body
//!   that straddles two reads is not copied into a doubled buffer;
//! * a frame announced larger than `READ_CHUNK`: room for it at once up to `PREALLOC_MAX`,
//!   beyond that never more than what has arrived, so memory follows received bytes, not
//!   announced sizes.

use crate::spares::Spares;
use bytes::BytesMut;
use std::io::{self, Read};

/// Read in chunks of this size while frames are small.
const READ_CHUNK: usize = 64 * 1024;
/// Buffers for large frames come in this size.
pub(crate) const PREALLOC_MAX: usize = 1024 * 1024;
/// A decoded body at least this large switches to large-frame buffers.
const LARGE_FRAME: usize = 16 * 1024;

thread_local! {
    /// Large buffers of this I/O thread's sessions, reused once their bodies are gone.
    static SPARES: std::cell::RefCell<Spares> = std::cell::RefCell::default();
}

#[derive(Default)]
pub(crate) struct ReadBuf {
    buf: BytesMut,
    /// The room after `buf`'s bytes that the last read zeroed but did not fill, split off
    /// so the decoder sees only received bytes, and joined back (in place) for the next
    /// read: the room is zeroed once per buffer, not once per read.
    room: BytesMut,
    large: bool,
}

impl ReadBuf {
    /// The bytes received and not yet decoded.
    pub(crate) fn bytes(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Forgets the bytes of a connection that went away, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.room = BytesMut::new();
        self.large = false;
    }

    /// Forgets the bytes and the allocation.
    pub(crate) fn release(&mut self) {
        *self = ReadBuf::default();
    }

    /// A body of `size` bytes was decoded.
    #[inline]
    pub(crate) fn note_frame(&mut self, size: usize) {
        self.large = size >= LARGE_FRAME;
    }

    /// One `read` from `stream`, the decoder wanting `wants` bytes in the buffer to finish
    /// its current frame. Returns what `read` returned; the received bytes are appended.
    pub(crate) fn read_from(&mut self, stream: &mut impl Read, wants: usize) -> io::Result<usize> {
        let len = self.buf.len();
        // The zeroed room comes back if it still follows the bytes in the same allocation
        // (the decoder only ever takes bytes off the front); else it is let go.
        let room = std::mem::take(&mut self.room);
        if !room.is_empty() && self.buf.as_ptr().wrapping_add(len) == room.as_ptr() {
            self.buf.unsplit(room);
        }
        let need = wants.saturating_sub(len);
        let mut chunk = need.clamp(READ_CHUNK, PREALLOC_MAX.max(len));
        if (need > READ_CHUNK || self.large) && self.buf.capacity() - len < chunk {
            self.buf.truncate(len);
            if len + chunk <= PREALLOC_MAX {
                // A new large buffer: a spare of this thread's if one is free again; the
                // undecoded tail moves over (at most one frame's worth of bytes).
                SPARES.with(|spares| {
                    let mut spares = spares.borrow_mut();
                    let mut fresh = spares.take(PREALLOC_MAX);
                    fresh.extend_from_slice(&self.buf);
                    spares.keep(std::mem::replace(&mut self.buf, fresh));
                });
            } else {
                self.buf.reserve(chunk.max(PREALLOC_MAX));
            }
        }
        if self.large {
            chunk = chunk.max(self.buf.capacity() - len);
        }
        if self.buf.len() < len + chunk {
            self.buf.resize(len + chunk, 0);
        }
        let result = stream.read(&mut self.buf[len..len + chunk]);
        let end = len + result.as_ref().map_or(0, |n| *n);
        self.room = self.buf.split_off(end);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut rb = ReadBuf::default();
        let mut src = Source {
            left: 10,
            per_read: 10,
        };
        // The decoder wants 2^40 bytes: room is made for PREALLOC_MAX at most.
        assert_eq!(rb.read_from(&mut src, 1 << 40).unwrap(), 10);
        assert!(rb.bytes().capacity() + rb.room.capacity() <= 2 * PREALLOC_MAX);
    }

    #[test]
    fn large_frames_share_one_buffer_and_reads_fill_it() {
        let mut rb = ReadBuf::default();
        rb.note_frame(64 * 1024);
        let mut src = Source {
            left: usize::MAX,
            per_read: usize::MAX,
        };
        let n = rb.read_from(&mut src, 9).unwrap();
        assert!(n >= PREALLOC_MAX, "one read fills the large buffer: {n}");
        // Small frames again: back to small reads.
        rb.clear();
        rb.note_frame(100);
        assert_eq!(rb.read_from(&mut src, 2).unwrap(), READ_CHUNK);
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
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng
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
        let mut rb = ReadBuf::default();
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
                rb.read_from(&mut src, frame).unwrap();
            }
            let body = rb.bytes().split_to(frame).freeze();
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
