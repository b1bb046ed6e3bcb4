//! `Msg`: one frame of a (possibly multipart) message.
//!
//! Small bodies live inline in the value, so sending and receiving them allocates nothing;
//! larger ones are reference-counted [`Bytes`], so fan-out, inproc and the decoder hand them
//! on without copying.

use crate::peer::Metadata;
use bytes::{Bytes, BytesMut};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Bodies up to this many bytes are stored inline, without a heap allocation.
pub(crate) const INLINE_CAPACITY: usize = 64;

/// Flag bits carried with a frame inside the crate.
pub(crate) mod flags {
    /// More frames of the same message follow.
    pub const MORE: u8 = 0x01;
    /// A subscription (`0x01 topic`) that goes to ZMTP 3.1 peers as a SUBSCRIBE command.
    pub const SUBSCRIBE: u8 = 0x10;
    /// An unsubscription (`0x00 topic`) that goes to ZMTP 3.1 peers as a CANCEL command.
    pub const CANCEL: u8 = 0x20;
}

#[derive(Clone)]
enum Body {
    Inline {
        len: u8,
        data: [u8; INLINE_CAPACITY],
    },
    Shared(Bytes),
}

/// One frame of a message: a body of bytes and whether more frames follow.
///
/// Convert into a `Msg` from `&[u8]`, `Vec<u8>`, [`Bytes`], `&str` or `String`; owned and
/// shared sources are taken without copying their bytes. A `Msg` dereferences to `[u8]`.
#[derive(Clone)]
pub struct Msg {
    body: Body,
    flags: u8,
    /// The sending peer's metadata, on received messages.
    meta: Option<Arc<Metadata>>,
}

impl Msg {
    /// An empty frame (a zero-length body), such as the REQ/REP delimiter.
    pub const fn new() -> Self {
        Msg {
            body: Body::Inline {
                len: 0,
                data: [0; INLINE_CAPACITY],
            },
            flags: 0,
            meta: None,
        }
    }

    /// An inline frame whose body is the first `len` bytes of `window`, copied with one
    /// fixed-size move instead of a copy of `len` bytes: the narrow stores of a short copy
    /// stall the wide loads that move the message on (store forwarding). The bytes after
    /// the body come along and are never read: every read of an inline body stops at `len`.
    /// `more` is set here too, for the same reason: a flag set afterwards is another narrow
    /// store just before the message is moved.
    #[inline]
    pub(crate) fn inline_prefix(window: &[u8; INLINE_CAPACITY], len: u8, more: bool) -> Self {
        debug_assert!(len as usize <= INLINE_CAPACITY);
        Msg {
            body: Body::Inline { len, data: *window },
            flags: u8::from(more) * flags::MORE,
            meta: None,
        }
    }

    /// A frame holding a copy of `data`; small bodies are stored inline.
    #[inline]
    pub fn copy_from_slice(data: &[u8]) -> Self {
        if data.len() <= INLINE_CAPACITY {
            let mut inline = [0; INLINE_CAPACITY];
            inline[..data.len()].copy_from_slice(data);
            Msg {
                body: Body::Inline {
                    len: data.len() as u8,
                    data: inline,
                },
                flags: 0,
                meta: None,
            }
        } else {
            Msg::from_bytes(Msg::copy_out_of_line(data))
        }
    }

    /// A shared copy of a body too large to be inline.
    #[inline(never)]
    fn copy_out_of_line(data: &[u8]) -> Bytes {
        if data.len() <= crate::buf::slab::MAX_BODY {
            crate::buf::slab::copy(data)
        } else {
            crate::buf::pool::copy(data)
        }
    }

    /// An empty buffer with room for `capacity` bytes, to build a body in and send without
    /// a copy: fill it (it is a [`BytesMut`]: `extend_from_slice`, `resize`, `BufMut`,
    /// `writer()`), then send it or make it a `Msg` with `Msg::from`. This is libzmq's
    /// `zmq_msg_init_size`, except that the buffer starts empty rather than holding stale
    /// bytes.
    ///
    /// The memory comes from the calling thread's reused buffers, the ones `send(&[u8])`
    /// copies large bodies into: once a stream of messages built so is running, making one
    /// allocates nothing and dropping it (on any thread) gives its memory back. Writing past
    /// `capacity` moves the body to an allocation of its own, as `BytesMut` does.
    ///
    /// ```
    /// use bytes::BufMut;
    /// let mut body = zerosock::Msg::buffer(1 << 16);
    /// body.put_u64(7);
    /// body.resize(1 << 16, 0);
    /// let msg = zerosock::Msg::from(body);
    /// assert_eq!(msg.len(), 1 << 16);
    /// assert_eq!(msg[7], 7);
    /// ```
    pub fn buffer(capacity: usize) -> BytesMut {
        if capacity <= crate::buf::slab::MAX_BODY {
            crate::buf::slab::buffer(capacity)
        } else {
            crate::buf::pool::buffer(capacity)
        }
    }

    /// A frame sharing `bytes` (no copy).
    pub fn from_bytes(bytes: Bytes) -> Self {
        Msg {
            body: Body::Shared(bytes),
            flags: 0,
            meta: None,
        }
    }

    /// The body.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.body {
            Body::Inline { len, data } => &data[..*len as usize],
            Body::Shared(b) => b,
        }
    }

    /// The body as UTF-8 text, if it is.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }

    /// The body's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.body {
            Body::Inline { len, .. } => *len as usize,
            Body::Shared(b) => b.len(),
        }
    }

    /// Whether the body is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A metadata property of the peer this message came from (libzmq's `zmq_msg_gets`):
    /// `Socket-Type`, `Identity`, `Peer-Address`, application properties (`X-...`) the peer
    /// set with `METADATA`, and, where a ZAP handler authenticated the peer, `User-Id` and the
    /// handler's metadata. Names compare case-insensitively. `None` on messages that were not
    /// received, or if the value is not UTF-8.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.meta.as_ref()?.get_str(name)
    }

    /// All metadata of the peer this message came from, if it was received.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.meta.as_deref()
    }

    #[inline]
    pub(crate) fn set_metadata(&mut self, meta: &Arc<Metadata>) {
        self.meta = Some(meta.clone());
    }

    /// Whether more frames of the same message follow this one.
    #[inline]
    pub fn more(&self) -> bool {
        self.flags & flags::MORE != 0
    }

    /// Sets whether more frames follow (what `SNDMORE` does on send).
    #[inline]
    pub fn set_more(&mut self, more: bool) {
        if more {
            self.flags |= flags::MORE;
        } else {
            self.flags &= !flags::MORE;
        }
    }

    /// Marks a `0x01 topic` / `0x00 topic` message as a subscription change, so the engine
    /// sends it to a ZMTP 3.1 peer as a SUBSCRIBE / CANCEL command.
    pub(crate) fn mark_subscription(&mut self, subscribe: bool) {
        self.flags |= if subscribe {
            flags::SUBSCRIBE
        } else {
            flags::CANCEL
        };
    }

    /// `Some(true)` for a marked subscription, `Some(false)` for a marked cancel.
    #[inline]
    pub(crate) fn subscription(&self) -> Option<bool> {
        if self.flags & flags::SUBSCRIBE != 0 {
            Some(true)
        } else if self.flags & flags::CANCEL != 0 {
            Some(false)
        } else {
            None
        }
    }

    /// The body as [`Bytes`]; shared bodies are returned without a copy.
    pub fn into_bytes(self) -> Bytes {
        match self.body {
            Body::Inline { len, data } => Bytes::copy_from_slice(&data[..len as usize]),
            Body::Shared(b) => b,
        }
    }

    /// The body as a `Vec<u8>`.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// The body if it is stored in the message itself: the whole inline array and how many
    /// of its bytes are the body (the encoder copies it with one fixed-size move).
    #[inline]
    pub(crate) fn inline(&self) -> Option<(&[u8; INLINE_CAPACITY], usize)> {
        match &self.body {
            Body::Inline { len, data } => Some((data, *len as usize)),
            Body::Shared(_) => None,
        }
    }

    /// The body if it is a shared buffer (large bodies go to the wire from it without
    /// copying them).
    #[inline]
    pub(crate) fn shared(&self) -> Option<&Bytes> {
        match &self.body {
            Body::Shared(b) => Some(b),
            Body::Inline { .. } => None,
        }
    }
}

/// Pipes carry messages; a message's MORE flag is what keeps a multipart message whole
/// across a pipe (a reader never sees part of one that the writer rolled back).
impl crate::pipe::Item for Msg {
    #[inline]
    fn more(&self) -> bool {
        Msg::more(self)
    }
}

impl Msg {
    /// A frame holding `prefix` followed by `rest`; no heap allocation when it fits inline.
    pub(crate) fn prefixed(prefix: u8, rest: &[u8]) -> Msg {
        if rest.len() < INLINE_CAPACITY {
            let mut buf = [0u8; INLINE_CAPACITY];
            buf[0] = prefix;
            buf[1..=rest.len()].copy_from_slice(rest);
            Msg::copy_from_slice(&buf[..=rest.len()])
        } else {
            let mut body = Vec::with_capacity(rest.len() + 1);
            body.push(prefix);
            body.extend_from_slice(rest);
            Msg::from(body)
        }
    }
}

impl Default for Msg {
    fn default() -> Self {
        Msg::new()
    }
}

impl Deref for Msg {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Msg {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.as_bytes();
        let mut d = f.debug_struct("Msg");
        d.field("len", &body.len()).field("more", &self.more());
        let head = &body[..body.len().min(32)];
        match std::str::from_utf8(head) {
            Ok(text) => d.field("body", &text),
            Err(_) => d.field("body", &head),
        };
        d.finish()
    }
}

/// Two frames are equal when their bytes are: like comparing a `Msg` with a slice or a
/// string, the MORE flag and the properties do not count (compare [`Msg::more`] where it
/// matters).
impl PartialEq for Msg {
    fn eq(&self, other: &Msg) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Msg {}

impl PartialEq<[u8]> for Msg {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for Msg {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Msg {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == &other[..]
    }
}

impl PartialEq<&str> for Msg {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl From<&[u8]> for Msg {
    #[inline]
    fn from(data: &[u8]) -> Self {
        Msg::copy_from_slice(data)
    }
}

impl<const N: usize> From<&[u8; N]> for Msg {
    fn from(data: &[u8; N]) -> Self {
        Msg::copy_from_slice(data)
    }
}

impl Msg {
    /// A frame taking over `data`'s bytes without a copy; small bodies are copied inline
    /// (the value is smaller than a shared handle to them).
    fn taking<B: AsRef<[u8]> + Into<Bytes>>(data: B) -> Self {
        if data.as_ref().len() <= INLINE_CAPACITY {
            Msg::copy_from_slice(data.as_ref())
        } else {
            Msg::from_bytes(data.into())
        }
    }
}

impl From<Vec<u8>> for Msg {
    fn from(data: Vec<u8>) -> Self {
        Msg::taking(data)
    }
}

impl From<Bytes> for Msg {
    fn from(data: Bytes) -> Self {
        Msg::from_bytes(data)
    }
}

impl From<BytesMut> for Msg {
    /// The buffer's bytes without a copy (small bodies are copied inline, as from a `Vec`).
    fn from(data: BytesMut) -> Self {
        Msg::taking(data)
    }
}

impl From<&str> for Msg {
    fn from(data: &str) -> Self {
        Msg::copy_from_slice(data.as_bytes())
    }
}

impl From<String> for Msg {
    fn from(data: String) -> Self {
        Msg::from(data.into_bytes())
    }
}

impl From<&String> for Msg {
    fn from(data: &String) -> Self {
        Msg::copy_from_slice(data.as_bytes())
    }
}

impl From<&Msg> for Msg {
    fn from(msg: &Msg) -> Self {
        msg.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_becomes_a_message_without_a_copy() {
        for size in [0, 5, 64, 65, 1000, 2048, 2049, 70_000, 2 << 20] {
            let mut body = Msg::buffer(size);
            assert!(body.is_empty() && body.capacity() >= size, "{size}");
            body.extend((0..size).map(|i| (i * 13) as u8));
            let at = body.as_ptr();
            let msg = Msg::from(body);
            assert_eq!(msg.len(), size);
            assert!(msg.iter().enumerate().all(|(i, &b)| b == (i * 13) as u8));
            // Small bodies go inline, as from a `Vec`; larger ones stay where they were built.
            assert_eq!(msg.shared().is_some(), size > INLINE_CAPACITY, "{size}");
            if size > INLINE_CAPACITY {
                assert_eq!(msg.as_ptr(), at, "{size}");
            }
        }
    }

    #[test]
    fn buffers_from_the_slab_are_pieces_of_their_own() {
        let mut a = Msg::buffer(1000);
        let mut b = Msg::buffer(1000);
        a.resize(1000, 1);
        b.resize(1000, 2);
        let copied = Msg::copy_from_slice(&[3; 1000]);
        assert!(a.iter().all(|&x| x == 1) && b.iter().all(|&x| x == 2));
        assert!(copied.iter().all(|&x| x == 3));
        let (a, b) = (Msg::from(a), Msg::from(b));
        assert_eq!(
            b.as_ptr() as usize - a.as_ptr() as usize,
            1024,
            "one slab, one piece of the 1 KiB class after the other"
        );
    }

    #[test]
    fn small_bodies_are_inline_and_value_is_compact() {
        assert!(
            std::mem::size_of::<Msg>() <= 88,
            "{}",
            std::mem::size_of::<Msg>()
        );
        let m = Msg::from(&b"hello"[..]);
        assert!(m.shared().is_none());
        assert_eq!(m, &b"hello"[..]);
        let big = Msg::from(vec![7u8; 100]);
        assert_eq!(big.shared().map(|b| b.len()), Some(100));
    }

    #[test]
    fn owned_sources_are_not_copied() {
        let v = vec![1u8; 1000];
        let ptr = v.as_ptr();
        let m = Msg::from(v);
        assert_eq!(m.as_bytes().as_ptr(), ptr);
        let b = Bytes::from(vec![2u8; 1000]);
        let ptr = b.as_ptr();
        assert_eq!(Msg::from(b).as_bytes().as_ptr(), ptr);
    }

    #[test]
    fn slab_carved_bodies_stay_independent() {
        let msgs: Vec<Msg> = (0..200u32)
            .map(|i| Msg::copy_from_slice(&vec![i as u8; 100 + (i as usize % 900)]))
            .collect();
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m.len(), 100 + i % 900);
            assert!(m.iter().all(|&b| b == i as u8));
        }
        let big: Vec<Msg> = (0..40u8)
            .map(|i| Msg::copy_from_slice(&vec![i; 60_000]))
            .collect();
        assert!(big
            .iter()
            .enumerate()
            .all(|(i, m)| m.len() == 60_000 && m[59_999] == i as u8));
        // Bodies cross threads and outlive the slab they were cut from.
        let handle = std::thread::spawn(move || msgs.into_iter().map(|m| m.len()).sum::<usize>());
        let _ = Msg::copy_from_slice(&[9u8; 2000]);
        assert_eq!(
            handle.join().unwrap(),
            (0..200).map(|i| 100 + i % 900).sum::<usize>()
        );
    }

    #[test]
    fn more_flag_round_trips() {
        let mut m = Msg::from("x");
        assert!(!m.more());
        m.set_more(true);
        assert!(m.more());
        m.set_more(false);
        assert!(!m.more());
        assert_eq!(Msg::new().len(), 0);
        assert_eq!(Msg::from(String::from("abc")).as_str(), Some("abc"));
    }
}
