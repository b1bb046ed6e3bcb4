//! Frame codec: a decoder that turns a byte buffer into frames, checking every length before
//! it is used, and an output queue that batches encoded frames and keeps large bodies as their
//! own segments so they are written with `writev` instead of being copied.

use super::frame_flags::{COMMAND, LONG, MORE};
use super::ProtocolError;
use crate::buf::Received;
use crate::msg::{Msg, INLINE_CAPACITY};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::IoSlice;

/// The header of a frame whose body is longer than 255 bytes: flags, then an 8-byte size.
pub(crate) const LONG_HEADER: usize = 9;

/// A decoded frame, before the connection interprets it.
#[derive(Debug)]
pub(crate) enum RawFrame {
    /// A data frame; `Msg::more` carries the MORE flag.
    Data(Msg),
    /// A command frame's body (`name-len name data`).
    Command(Bytes),
}

#[derive(Debug, Clone, Copy)]
enum DecodeState {
    Header,
    Body { flags: u8, size: usize },
}

/// Decodes frames from the front of a buffer. Never allocates more than the bytes that
/// actually arrived: the caller grows the buffer by what [`Decoder::wants`] says, which is
/// capped by what has been received so far.
#[derive(Debug)]
pub(crate) struct Decoder {
    max_msg_size: Option<u64>,
    /// Bodies up to this size take the fast path (inline, and within `max_msg_size`).
    inline_limit: usize,
    state: DecodeState,
}

impl Decoder {
    pub(crate) fn new(max_msg_size: Option<u64>) -> Decoder {
        let inline_limit = max_msg_size.map_or(INLINE_CAPACITY, |max| {
            (max.min(INLINE_CAPACITY as u64)) as usize
        });
        Decoder {
            max_msg_size,
            inline_limit,
            state: DecodeState::Header,
        }
    }

    /// Bytes needed in the buffer to finish the current frame (at least one header's worth).
    pub(crate) fn wants(&self) -> usize {
        match self.state {
            DecodeState::Header => LONG_HEADER,
            DecodeState::Body { size, .. } => size,
        }
    }

    /// The fast path alone: a small data frame that is all in `buf`, taken in one step.
    /// `None` means "use [`Decoder::decode`]", not "no frame".
    #[inline]
    pub(crate) fn decode_small(&mut self, buf: &mut impl Received) -> Option<Msg> {
        let bytes = buf.bytes();
        if !self.has_small(bytes) {
            return None;
        }
        let msg = Self::take_small(bytes);
        let len = Self::small_len(bytes);
        buf.skip(len);
        Some(msg)
    }

    /// Whether `buf` starts with a small data frame that is all there, for
    /// [`Decoder::take_small`].
    #[inline]
    pub(crate) fn has_small(&self, buf: &[u8]) -> bool {
        matches!(self.state, DecodeState::Header)
            && buf.len() >= 2
            && buf[0] & !MORE == 0
            && (buf[1] as usize) <= self.inline_limit
            && buf.len() >= 2 + buf[1] as usize
    }

    /// The small data frame at the front of `buf`, which stays there (the caller skips
    /// [`Decoder::small_len`] bytes, once per run of frames); call only after
    /// [`Decoder::has_small`] said there is one.
    #[inline]
    pub(crate) fn take_small(buf: &[u8]) -> Msg {
        let size = buf[1] as usize;
        let more = buf[0] & MORE != 0;
        let window = buf.get(2..2 + INLINE_CAPACITY);
        match window.and_then(|w| <&[u8; INLINE_CAPACITY]>::try_from(w).ok()) {
            Some(window) => Msg::inline_prefix(window, size as u8, more),
            None => {
                let mut msg = Msg::copy_from_slice(&buf[2..2 + size]);
                msg.set_more(more);
                msg
            }
        }
    }

    /// The length, header included, of the small frame at the front of `buf`.
    #[inline]
    pub(crate) fn small_len(buf: &[u8]) -> usize {
        2 + buf[1] as usize
    }

    /// Takes the next whole frame off the front of `buf`, if it is all there.
    #[inline]
    pub(crate) fn decode(
        &mut self,
        input: &mut impl Received,
    ) -> Result<Option<RawFrame>, ProtocolError> {
        if let Some(msg) = self.decode_small(input) {
            return Ok(Some(RawFrame::Data(msg)));
        }
        if let DecodeState::Header = self.state {
            let buf = input.bytes();
            let Some(&flags) = buf.first() else {
                return Ok(None);
            };
            if flags & !(MORE | LONG | COMMAND) != 0 {
                return Err(ProtocolError::ReservedFlags(flags));
            }
            if flags & COMMAND != 0 && flags & MORE != 0 {
                return Err(ProtocolError::CommandWithMore);
            }
            let (size, header) = if flags & LONG != 0 {
                if buf.len() < LONG_HEADER {
                    return Ok(None);
                }
                let mut be = [0u8; 8];
                be.copy_from_slice(&buf[1..LONG_HEADER]);
                (u64::from_be_bytes(be), LONG_HEADER)
            } else {
                if buf.len() < 2 {
                    return Ok(None);
                }
                (buf[1] as u64, 2)
            };
            let limit = self
                .max_msg_size
                .unwrap_or(MAX_FRAME)
                .min(MAX_FRAME)
                .min(usize::MAX as u64);
            if size > limit {
                return Err(ProtocolError::MessageTooLarge { size, limit });
            }
            input.skip(header);
            self.state = DecodeState::Body {
                flags,
                size: size as usize,
            };
        }
        let DecodeState::Body { flags, size } = self.state else {
            unreachable!("header state handled above")
        };
        if input.bytes().len() < size {
            return Ok(None);
        }
        self.state = DecodeState::Header;
        if flags & COMMAND != 0 {
            return Ok(Some(RawFrame::Command(input.take(size))));
        }
        let msg = if size <= INLINE_CAPACITY {
            let m = Msg::copy_from_slice(&input.bytes()[..size]);
            input.skip(size);
            m
        } else {
            Msg::from_bytes(input.take(size))
        };
        let mut msg = msg;
        msg.set_more(flags & MORE != 0);
        Ok(Some(RawFrame::Data(msg)))
    }
}

/// Encoded bytes waiting to be written: a run of segments, each either a batch of headers
/// and small bodies copied together, or one large body shared without a copy.
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    segments: VecDeque<Bytes>,
    batch: BytesMut,
    len: usize,
}

/// The largest frame accepted without `MAXMSGSIZE`: 2^47 bytes, the whole user address
/// space of x86-64 and aarch64 Linux. A larger announcement can never be received into
/// memory, so it closes the connection at once (libzmq closes when the allocation fails).
pub(crate) const MAX_FRAME: u64 = 1 << 47;

/// Bodies at least this long are not copied into the batch but written from their own buffer.
const ZERO_COPY_MIN: usize = 8 * 1024;

/// An output queue takes no more messages once it holds this many bytes copied into its
/// batch (headers and small bodies) ...
const COPIED_MAX: usize = 256 * 1024;
/// ... or this many in all. Large bodies are not copied, so only the number of bytes one
/// `writev` hands the kernel grows: a stream moves more bytes per second in fewer, larger
/// writes. The bound caps what a connection holds queued, and the slices one `writev` takes
/// ([`MAX_SEGMENTS`]).
const QUEUED_MAX: usize = 1024 * 1024;

/// Segments a full output queue has at most (bodies just large enough to be written from
/// their own buffers, each after a run of headers, and the batch): enough slices for one
/// `writev` to take it all.
pub(crate) const MAX_SEGMENTS: usize = 2 * QUEUED_MAX.div_ceil(ZERO_COPY_MIN) + 1;

impl OutQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bytes waiting (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether to take more messages before writing.
    pub(crate) fn has_room(&self) -> bool {
        self.batch.len() < COPIED_MAX && self.len < QUEUED_MAX
    }

    /// Appends raw bytes (greeting, handshake commands).
    pub(crate) fn push_raw(&mut self, bytes: &[u8]) {
        self.batch.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    fn push_header(&mut self, flags: u8, size: usize) {
        if size <= 255 {
            self.batch.extend_from_slice(&[flags, size as u8]);
            self.len += 2;
        } else {
            self.batch.extend_from_slice(&[flags | LONG]);
            self.batch.extend_from_slice(&(size as u64).to_be_bytes());
            self.len += LONG_HEADER;
        }
    }

    /// Appends one data frame.
    #[inline]
    pub(crate) fn push_frame(&mut self, msg: &Msg) {
        let flags = if msg.more() { MORE } else { 0 };
        self.push_body(flags, msg);
    }

    /// Appends one command frame whose body (`name-len name data`) is `body`.
    pub(crate) fn push_command(&mut self, body: &[u8]) {
        self.push_header(COMMAND, body.len());
        self.batch.extend_from_slice(body);
        self.len += body.len();
    }

    fn push_body(&mut self, flags: u8, msg: &Msg) {
        if let Some((data, size)) = msg.inline() {
            // Small frames, the common case: header and body in one append.
            const _: () = assert!(INLINE_CAPACITY <= 255, "inline sizes fit the short header");
            let mut frame = [0u8; 2 + INLINE_CAPACITY];
            frame[0] = flags;
            frame[1] = size as u8;
            frame[2..].copy_from_slice(data);
            // Append all of `frame` with one fixed-size copy, then cut it back to the
            // frame's length: a copy of a length known only at run time is a call to
            // `memmove` per message. The bytes past the frame are never read.
            let end = self.batch.len() + 2 + size;
            self.batch.extend_from_slice(&frame);
            self.batch.truncate(end);
            self.len += 2 + size;
            return;
        }
        let size = msg.len();
        self.push_header(flags, size);
        match msg.shared() {
            Some(body) if size >= ZERO_COPY_MIN => {
                if !self.batch.is_empty() {
                    let batch = self.batch.split().freeze();
                    self.segments.push_back(batch);
                }
                self.segments.push_back(body.clone());
            }
            _ => self.batch.extend_from_slice(msg.as_bytes()),
        }
        self.len += size;
    }

    /// Fills `slices` with the waiting bytes, in order; returns how many were filled.
    pub(crate) fn io_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for seg in &self.segments {
            if n == slices.len() {
                return n;
            }
            slices[n] = IoSlice::new(seg);
            n += 1;
        }
        if n < slices.len() && !self.batch.is_empty() {
            slices[n] = IoSlice::new(&self.batch);
            n += 1;
        }
        n
    }

    /// Whether a single contiguous write would cover everything (no large segments).
    pub(crate) fn contiguous(&self) -> Option<&[u8]> {
        if self.segments.is_empty() {
            Some(&self.batch)
        } else {
            None
        }
    }

    /// Drops the first `n` bytes, which were written.
    pub(crate) fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            if let Some(front) = self.segments.front_mut() {
                if n >= front.len() {
                    n -= front.len();
                    self.segments.pop_front();
                } else {
                    front.advance(n);
                    return;
                }
            } else {
                self.batch.advance(n);
                return;
            }
        }
    }

    /// Everything waiting, as one vector (tests).
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for s in &self.segments {
            v.extend_from_slice(s);
        }
        v.extend_from_slice(&self.batch);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(dec: &mut Decoder, buf: &mut BytesMut) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(f) = dec.decode(buf).unwrap() {
            match f {
                RawFrame::Data(m) => out.push(m),
                RawFrame::Command(_) => panic!("command"),
            }
        }
        out
    }

    /// Fills a queue with `body` until it has no room; returns how many it took.
    fn fill(q: &mut OutQueue, body: &Msg) -> usize {
        let mut n = 0;
        while q.has_room() {
            q.push_frame(body);
            n += 1;
        }
        n
    }

    #[test]
    fn a_queue_takes_up_to_its_bounds_and_one_writev_covers_it() {
        // Copied bodies stop at the batch bound.
        let mut q = OutQueue::default();
        fill(&mut q, &Msg::from(vec![1u8; 1000]));
        assert!(q.len() >= COPIED_MAX && q.len() < COPIED_MAX + 1100);
        // Shared ones at the larger bound, whatever their size.
        for size in [ZERO_COPY_MIN, 64 * 1024, 3 * 1024 * 1024] {
            let mut q = OutQueue::default();
            let taken = fill(&mut q, &Msg::from(vec![2u8; size]));
            assert!(q.len() >= QUEUED_MAX && q.len() < QUEUED_MAX + size + 9);
            assert_eq!(taken, QUEUED_MAX.div_ceil(size + 9), "{size}");
            let mut slices = [IoSlice::new(&[]); MAX_SEGMENTS];
            let n = q.io_slices(&mut slices);
            let total: usize = slices[..n].iter().map(|s| s.len()).sum();
            assert_eq!(total, q.len(), "{size}: every byte in one call");
        }
    }

    #[test]
    fn short_and_long_frames_round_trip() {
        let mut q = OutQueue::default();
        let mut a = Msg::from("hi");
        a.set_more(true);
        let b = Msg::from(vec![9u8; 300]);
        let c = Msg::from(vec![3u8; 20_000]);
        for m in [&a, &b, &c] {
            q.push_frame(m);
        }
        let wire = q.to_vec();
        assert_eq!(&wire[..4], b"\x01\x02hi");
        assert_eq!(wire[4], LONG);
        assert_eq!(q.len(), wire.len());
        let mut buf = BytesMut::from(&wire[..]);
        let got = decode_all(&mut Decoder::new(None), &mut buf);
        assert_eq!(got, vec![a, b, c]);
        assert!(buf.is_empty());
    }

    #[test]
    fn small_frames_carry_only_their_own_bytes() {
        // Frames of 0..=64 bytes back to back: each is decoded from a window that runs into
        // the frames after it (and, near the end, from the short copy), and must neither
        // show nor re-encode a byte of its neighbours.
        let mut wire = Vec::new();
        for size in 0..=INLINE_CAPACITY {
            wire.extend_from_slice(&[0, size as u8]);
            wire.extend((0..size).map(|i| (size * 7 + i) as u8));
        }
        let mut buf = BytesMut::from(&wire[..]);
        let got = decode_all(&mut Decoder::new(None), &mut buf);
        assert_eq!(got.len(), INLINE_CAPACITY + 1);
        let mut q = OutQueue::default();
        for (size, msg) in got.iter().enumerate() {
            let body: Vec<u8> = (0..size).map(|i| (size * 7 + i) as u8).collect();
            assert_eq!(msg.as_bytes(), &body[..]);
            assert_eq!(msg.clone().into_bytes(), body);
            q.push_frame(msg);
        }
        assert_eq!(q.to_vec(), wire);
    }

    #[test]
    fn small_frames_taken_where_they_lie_keep_their_more_flag() {
        // A run of small frames read as a session reads them: each taken where it lies, the
        // buffer skipped by the run's length afterwards. Alone, the frames are too near the
        // end of the bytes for a window and are copied; followed by a long frame (where the
        // run stops), each is made from a window running past it.
        let run = [
            MORE, 2, b'a', b'b', 0, 1, b'c', MORE, 0, 0, 3, b'x', b'y', b'z',
        ];
        let mut followed = run.to_vec();
        followed.extend_from_slice(&[LONG, 0, 0, 0, 0, 0, 0, 0, 70]);
        followed.extend_from_slice(&[9; 70]);
        for wire in [&run[..], &followed[..]] {
            let dec = Decoder::new(None);
            let mut at = 0;
            let mut got = Vec::new();
            while dec.has_small(&wire[at..]) {
                got.push(Decoder::take_small(&wire[at..]));
                at += Decoder::small_len(&wire[at..]);
            }
            assert_eq!(at, run.len());
            let seen: Vec<(Vec<u8>, bool)> = got.iter().map(|m| (m.to_vec(), m.more())).collect();
            let want: Vec<(Vec<u8>, bool)> = vec![
                (b"ab".to_vec(), true),
                (b"c".to_vec(), false),
                (vec![], true),
                (b"xyz".to_vec(), false),
            ];
            assert_eq!(seen, want);
        }
    }

    #[test]
    fn limits_are_checked_before_anything_is_reserved() {
        let mut dec = Decoder::new(None);
        let mut buf = BytesMut::from(&[LONG, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..]);
        // 2^63-1 is more than any address space holds: refused even without MAXMSGSIZE.
        assert!(matches!(
            dec.decode(&mut buf),
            Err(ProtocolError::MessageTooLarge { .. })
        ));
        // The largest frame allowed without MAXMSGSIZE is accepted, and nothing is reserved
        // for it: the decoder just waits for its bytes.
        let mut buf = BytesMut::from(&[LONG][..]);
        buf.extend_from_slice(&MAX_FRAME.to_be_bytes());
        assert!(Decoder::new(None).decode(&mut buf).unwrap().is_none());
        let mut buf = BytesMut::from(&[LONG, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            Decoder::new(None).decode(&mut buf),
            Err(ProtocolError::MessageTooLarge { .. })
        ));
        let mut buf = BytesMut::from(&[0, 11][..]);
        assert!(matches!(
            Decoder::new(Some(10)).decode(&mut buf),
            Err(ProtocolError::MessageTooLarge {
                size: 11,
                limit: 10
            })
        ));
        let mut buf = BytesMut::from(&[0x08, 0][..]);
        assert_eq!(
            Decoder::new(None).decode(&mut buf).unwrap_err(),
            ProtocolError::ReservedFlags(0x08)
        );
        let mut buf = BytesMut::from(&[COMMAND | MORE, 0][..]);
        assert_eq!(
            Decoder::new(None).decode(&mut buf).unwrap_err(),
            ProtocolError::CommandWithMore
        );
    }

    #[test]
    fn partial_writes_advance_across_segments() {
        let mut q = OutQueue::default();
        q.push_frame(&Msg::from("a"));
        q.push_frame(&Msg::from(vec![1u8; 10_000]));
        q.push_frame(&Msg::from("b"));
        let full = q.to_vec();
        let mut written = Vec::new();
        while !q.is_empty() {
            let mut slices = [IoSlice::new(&[]); 4];
            let n = q.io_slices(&mut slices);
            let first = &slices[..n][0];
            let take = first.len().min(777);
            written.extend_from_slice(&first[..take]);
            q.advance(take);
        }
        assert_eq!(written, full);
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        fn frames() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
            // Messages of 1..4 frames; bodies around the inline, short/long and zero-copy
            // boundaries.
            let body = prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..70),
                proptest::collection::vec(any::<u8>(), 250..260),
                proptest::collection::vec(any::<u8>(), 8190..8200),
            ];
            proptest::collection::vec(proptest::collection::vec(body, 1..4), 1..8)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn encode_split_decode_is_identity(messages in frames(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)) {
                let mut q = OutQueue::default();
                let mut sent = Vec::new();
                for message in &messages {
                    for (i, body) in message.iter().enumerate() {
                        let mut m = Msg::from(body.clone());
                        m.set_more(i + 1 < message.len());
                        q.push_frame(&m);
                        sent.push(m);
                    }
                }
                let wire = q.to_vec();
                let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
                points.push(0);
                points.push(wire.len());
                points.sort_unstable();
                let mut dec = Decoder::new(None);
                let mut buf = BytesMut::new();
                let mut got = Vec::new();
                for w in points.windows(2) {
                    buf.extend_from_slice(&wire[w[0]..w[1]]);
                    got.extend(decode_all(&mut dec, &mut buf));
                }
                prop_assert!(buf.is_empty());
                prop_assert_eq!(got, sent);
            }
        }
    }
}
