//! Large receive buffers whose bytes leave as message bodies and come back whole.
//!
//! A read needs initialized memory, so a receive buffer is zeroed before the kernel copies
//! into it. A `BytesMut` that is reused forgets that its bytes were ever written (its length
//! goes back to zero once the bodies cut from it are gone), so it would be zeroed again on
//! every reuse: a pass over the whole buffer on the receiving I/O thread, on top of the
//! kernel's copy into it, for every buffer's worth of bytes received.
//!
//! Here every byte taken off the front of a large buffer stays in a `BytesMut` piece of it:
//! the pieces that do not leave (headers, bodies copied out) are kept by the [`Lender`], and
//! a body leaves as a `Bytes` whose owner, a [`Loan`], hands its piece back when the last
//! clone of the body is dropped, on whatever thread. Once every lent piece is back, the
//! pieces join (in place: they are neighbours in one allocation) into the whole buffer with
//! every byte still initialized, and the next reads go straight into it. A piece that never
//! comes back (a body kept for good) only means the buffer is not reused.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Buffers an I/O thread keeps waiting for their bodies: a queue that is read as fast as
/// it fills gives its oldest buffer back before the next is needed; each one waiting costs
/// nothing but, once its bodies are gone, its size in idle memory.
const KEPT: usize = 2;

/// Where the lent pieces of one buffer come back to.
#[derive(Default)]
struct Home {
    returned: Mutex<Vec<BytesMut>>,
}

/// A body lent out: its piece of the buffer, handed back when the body is dropped.
struct Loan {
    piece: BytesMut,
    home: Arc<Home>,
}

impl AsRef<[u8]> for Loan {
    fn as_ref(&self) -> &[u8] {
        &self.piece
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        let piece = std::mem::take(&mut self.piece);
        // The piece is pushed before `home` is released: whoever finds the home unique
        // (`Arc::get_mut`, an acquire) finds the piece in it.
        self.home
            .returned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(piece);
    }
}

/// The first byte's address and the length of a whole buffer: what its pieces join into.
#[derive(Clone, Copy)]
struct Extent {
    base: usize,
    len: usize,
}

impl Extent {
    fn of(buf: &BytesMut) -> Extent {
        Extent {
            base: buf.as_ptr() as usize,
            len: buf.len(),
        }
    }
}

/// A buffer being read into and taken from: the pieces taken off its front that did not
/// leave, and where the lent ones come back to.
pub(crate) struct Lender {
    home: Arc<Home>,
    kept: Vec<BytesMut>,
    whole: Extent,
}

impl Lender {
    /// Starts lending from `whole`, every byte of which is initialized (its length is its
    /// capacity).
    pub(crate) fn new(whole: &BytesMut) -> Lender {
        debug_assert_eq!(whole.len(), whole.capacity());
        Lender {
            home: Arc::default(),
            kept: Vec::new(),
            whole: Extent::of(whole),
        }
    }

    /// Keeps a piece that does not leave, joined to the last one kept where it follows it
    /// (a run of small frames is one piece).
    pub(crate) fn keep(&mut self, piece: BytesMut) {
        if piece.capacity() == 0 {
            return;
        }
        let piece = match self.kept.last_mut() {
            Some(last) => match last.try_unsplit(piece) {
                Ok(()) => return,
                Err(piece) => piece,
            },
            None => piece,
        };
        self.kept.push(piece);
    }

    /// The address of the buffer's first byte.
    #[cfg(test)]
    pub(crate) fn base(&self) -> usize {
        self.whole.base
    }

    /// Lends `piece` out as a body.
    pub(crate) fn lend(&self, piece: BytesMut) -> Bytes {
        Bytes::from_owner(Loan {
            piece,
            home: Arc::clone(&self.home),
        })
    }

    /// Stops taking from the buffer, `rest` being its pieces still here (the bytes not taken,
    /// the room after them): it waits for its bodies.
    pub(crate) fn retire(mut self, rest: impl IntoIterator<Item = BytesMut>) -> Retired {
        self.kept
            .extend(rest.into_iter().filter(|p| p.capacity() > 0));
        Retired {
            home: self.home,
            pieces: self.kept,
            whole: self.whole,
        }
    }
}

/// A buffer no longer read into, waiting for the bodies lent from it.
pub(crate) struct Retired {
    home: Arc<Home>,
    pieces: Vec<BytesMut>,
    whole: Extent,
}

impl Retired {
    /// Whether every body lent from the buffer is gone.
    fn is_back(&mut self) -> bool {
        Arc::get_mut(&mut self.home).is_some()
    }

    /// The whole buffer, every byte initialized, once [`Retired::is_back`]; `None` if a
    /// piece is missing (the buffer is then let go).
    fn join(mut self) -> Option<BytesMut> {
        let home = Arc::get_mut(&mut self.home)?;
        let returned = home
            .returned
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        self.pieces.append(returned);
        self.pieces.sort_unstable_by_key(|p| p.as_ptr() as usize);
        let mut pieces = self.pieces.into_iter();
        let mut whole = pieces.next()?;
        for piece in pieces {
            // Only neighbours in the one allocation join; a gap means a piece is missing.
            whole.try_unsplit(piece).ok()?;
        }
        let joined = Extent::of(&whole);
        (joined.base == self.whole.base && joined.len == self.whole.len).then_some(whole)
    }
}

/// One I/O thread's buffers waiting for their bodies, oldest first.
#[derive(Default)]
pub(crate) struct Recycler {
    retired: VecDeque<Retired>,
}

impl Recycler {
    /// A buffer of at least `size` bytes, every one initialized (its length is its
    /// capacity): a retired one whose bodies are all gone, else a new one, zeroed.
    pub(crate) fn take(&mut self, size: usize) -> BytesMut {
        let mut i = 0;
        while i < self.retired.len() {
            if !self.retired[i].is_back() {
                i += 1;
                continue;
            }
            let retired = self.retired.remove(i).expect("index in range");
            if let Some(whole) = retired.join().filter(|w| w.len() >= size) {
                return whole;
            }
        }
        BytesMut::zeroed(size)
    }

    /// Keeps `retired` until its bodies are gone (letting the oldest go when full).
    pub(crate) fn retire(&mut self, retired: Retired) {
        if self.retired.len() == KEPT {
            self.retired.pop_front();
        }
        self.retired.push_back(retired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(len: usize) -> BytesMut {
        let mut b = BytesMut::zeroed(len);
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        b
    }

    #[test]
    fn a_buffer_comes_back_whole_with_its_bytes_once_its_bodies_are_gone() {
        let mut recycler = Recycler::default();
        let mut buf = filled(1000);
        let base = buf.as_ptr();
        let mut lender = Lender::new(&buf);
        lender.keep(buf.split_to(10));
        let body = lender.lend(buf.split_to(100));
        lender.keep(buf.split_to(5));
        lender.keep(buf.split_to(5)); // joins the last one kept
        assert_eq!(lender.kept.len(), 2);
        let other = lender.lend(buf.split_to(300));
        assert_eq!(&body[..], &filled(1000)[10..110]);
        recycler.retire(lender.retire([buf]));
        // A body is still held: a new buffer, zeroed.
        let fresh = recycler.take(1000);
        assert_ne!(fresh.as_ptr(), base);
        assert!(fresh.len() == 1000 && fresh.iter().all(|&b| b == 0));
        drop(body);
        let clone = other.clone();
        drop(other);
        assert_ne!(
            recycler.take(1000).as_ptr(),
            base,
            "a clone still holds one"
        );
        drop(clone);
        // Back whole, in place, with the bytes it held: nothing was zeroed again.
        let again = recycler.take(1000);
        assert_eq!(again.as_ptr(), base);
        assert_eq!(again, filled(1000));
        assert!(recycler.retired.is_empty());
    }

    #[test]
    fn bodies_come_back_from_other_threads() {
        let mut recycler = Recycler::default();
        let mut buf = filled(1 << 16);
        let base = buf.as_ptr();
        let lender = Lender::new(&buf);
        let bodies: Vec<Bytes> = (0..16).map(|_| lender.lend(buf.split_to(4096))).collect();
        recycler.retire(lender.retire([buf]));
        std::thread::spawn(move || drop(bodies)).join().unwrap();
        assert_eq!(recycler.take(1 << 16).as_ptr(), base);
    }

    #[test]
    fn a_missing_piece_lets_the_buffer_go_and_a_small_one_is_not_taken() {
        let mut recycler = Recycler::default();
        let mut buf = filled(1000);
        let lender = Lender::new(&buf);
        let _forgotten = buf.split_to(10); // neither kept nor lent
        recycler.retire(lender.retire([buf]));
        let fresh = recycler.take(1000);
        assert!(fresh.iter().all(|&b| b == 0), "not joined across a gap");
        assert!(recycler.retired.is_empty(), "let go");

        let buf = filled(500);
        let base = buf.as_ptr();
        recycler.retire(Lender::new(&buf).retire([buf]));
        assert_ne!(recycler.take(1000).as_ptr(), base, "too small");
        assert!(recycler.retired.is_empty());
    }

    #[test]
    fn at_most_a_few_wait() {
        let mut recycler = Recycler::default();
        let mut held = Vec::new();
        let mut bases = Vec::new();
        for _ in 0..10 {
            let mut buf = filled(100);
            bases.push(buf.as_ptr());
            let lender = Lender::new(&buf);
            held.push(lender.lend(buf.split_to(50)));
            recycler.retire(lender.retire([buf]));
        }
        assert_eq!(recycler.retired.len(), KEPT);
        drop(held);
        // The newest ones waited; the older ones were let go (and may be allocated anew).
        let again = recycler.take(100);
        assert!(bases[10 - KEPT..].contains(&again.as_ptr()));
        assert_eq!(again, filled(100), "reused, not zeroed");
    }
}
