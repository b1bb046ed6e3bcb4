//! Medium copied bodies (too large to be inline, up to [`MAX_BODY`]): pieces of per-thread
//! slabs, so a stream of them costs one allocation per slab, not per message, and the
//! receiving thread frees nothing per message either.
//!
//! Every piece of a slab shares the slab's reference count. Cutting a piece off as each
//! body is made would increment that count while the receiving thread decrements it for
//! the bodies it drops, the two cores trading the count's cache line once per message, a
//! stall on both sides every time. So a slab is cut into [`PIECES`] pieces of one size class
//! (a power of two) all at once, when it starts: making a body then pops a piece and
//! copies into it, touching no shared count, and the receiver's decrements find the line
//! where the previous one left it.
//!
//! A handle to the slab's end is kept with the thread's spares and reclaims the whole slab
//! once every body cut from it is gone; a slab whose bodies are still in flight is passed
//! over for a new one.

use super::spares::Spares;
use crate::pipe::WriteAhead;
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;

/// Bodies up to this size are pieces of a slab.
pub(crate) const MAX_BODY: usize = 1 << LARGEST_LOG2;
/// The smallest class: pieces of 128 bytes (bodies of 64 bytes and less are inline).
const SMALLEST_LOG2: u32 = 7;
const LARGEST_LOG2: u32 = 11;
const CLASSES: usize = (LARGEST_LOG2 - SMALLEST_LOG2 + 1) as usize;
/// Pieces per slab: a slab is 4 KiB (128-byte pieces) to 64 KiB (2 KiB pieces), which is
/// also the most one retained message can pin.
const PIECES: usize = 32;
/// How many pieces ahead of the one handed out the next one's lines are fetched for writing.
const FETCH_AHEAD: usize = 2;

/// One size class of a thread's slabs.
#[derive(Default)]
struct Class {
    /// The empty pieces of the current slab, the next one last.
    pieces: Vec<BytesMut>,
    /// Used slabs (a handle to each one's end), to reclaim once their bodies are gone.
    spares: Spares,
    /// Set (when the CPU can) as the first slab is cut, so that making a body reads this
    /// thread's copy and no shared global.
    write_ahead: Option<WriteAhead>,
}

thread_local! {
    static SLABS: RefCell<[Class; CLASSES]> = RefCell::default();
}

/// A shared copy of `data` (at most [`MAX_BODY`] bytes) in a piece of a slab.
pub(crate) fn copy(data: &[u8]) -> Bytes {
    let mut body = buffer(data.len());
    body.extend_from_slice(data);
    body.freeze()
}

/// An empty piece of a slab with room for `capacity` bytes (at most [`MAX_BODY`]); a fresh
/// allocation while the thread's slabs are gone (a thread-local destructor sending).
pub(crate) fn buffer(capacity: usize) -> BytesMut {
    debug_assert!(capacity <= MAX_BODY);
    let class = class_of(capacity);
    SLABS
        .try_with(|slabs| {
            let mut slabs = slabs.try_borrow_mut().ok()?;
            Some(slabs[class].piece(piece_size(class)))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| BytesMut::with_capacity(capacity))
}

fn class_of(len: usize) -> usize {
    super::pool::ceil_log2(len).saturating_sub(SMALLEST_LOG2) as usize
}

fn piece_size(class: usize) -> usize {
    1 << (SMALLEST_LOG2 as usize + class)
}

impl Class {
    fn piece(&mut self, size: usize) -> BytesMut {
        // The piece handed out after the next one: the receiver of its last body read its
        // lines on another core, so they start coming over now and the copy into it finds
        // them here. Fetched before the pop, so that the piece popped goes straight out
        // instead of waiting on the stack.
        if let (Some(ahead), Some(at)) = (
            self.write_ahead,
            self.pieces.len().checked_sub(FETCH_AHEAD + 1),
        ) {
            let next = &self.pieces[at];
            ahead.lines(next.as_ptr(), next.capacity());
        }
        if let Some(piece) = self.pieces.pop() {
            return piece;
        }
        // A new slab: cut from the end, so the pieces pop in address order; the first one
        // is handed out now, and an empty handle past the last is kept to reclaim the slab.
        self.write_ahead = WriteAhead::new();
        let mut slab = self.spares.take(size * PIECES);
        let end = slab.split_off(size * PIECES);
        for i in (1..PIECES).rev() {
            self.pieces.push(slab.split_off(size * i));
        }
        self.spares.keep(end);
        slab
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_medium_size() {
        for len in 0..=MAX_BODY {
            let class = class_of(len);
            assert!(class < CLASSES, "{len}");
            assert!(piece_size(class) >= len, "{len}");
            assert!(len <= 128 || piece_size(class) < 2 * len, "{len}");
        }
    }

    #[test]
    fn a_slab_is_cut_into_pieces_handed_out_in_order() {
        std::thread::spawn(|| {
            let first = buffer(1000);
            assert_eq!(first.capacity(), 1024);
            let mut previous = first.as_ptr();
            for _ in 1..PIECES {
                let piece = buffer(1024);
                assert_eq!(piece.capacity(), 1024);
                assert_eq!(piece.as_ptr(), previous.wrapping_add(1024));
                previous = piece.as_ptr();
            }
            // The slab is used up (its first piece still held): the next is another one's.
            let next = buffer(1024);
            assert!(next.as_ptr() < first.as_ptr() || next.as_ptr() > previous);
        })
        .join()
        .unwrap();
    }

    /// Bodies of `len` bytes, the i-th all `first + i`, and where each lies.
    fn bodies(first: u8, len: usize) -> (Vec<Bytes>, Vec<*const u8>) {
        let bodies: Vec<Bytes> = (0..PIECES)
            .map(|i| copy(&vec![first.wrapping_add(i as u8); len]))
            .collect();
        let at = bodies.iter().map(|b| b.as_ptr()).collect();
        (bodies, at)
    }

    fn intact(bodies: &[Bytes], first: u8) -> bool {
        (0..)
            .zip(bodies)
            .all(|(i, b)| b.iter().all(|&x| x == first.wrapping_add(i)))
    }

    #[test]
    fn a_slab_comes_back_once_its_bodies_are_gone() {
        // A thread of its own: its slabs start fresh.
        std::thread::spawn(|| {
            let (a, at_a) = bodies(0, 500);
            // A's bodies live: B is another slab.
            let (b, at_b) = bodies(100, 300);
            assert!(at_b.iter().all(|p| !at_a.contains(p)));
            assert!(intact(&a, 0) && intact(&b, 100));
            drop(a);
            // A is free again: the same pieces, in the same order, and B's bodies are
            // not touched.
            let (d, at_d) = bodies(50, 450);
            assert_eq!(at_d, at_a);
            assert!(intact(&b, 100) && intact(&d, 50));
        })
        .join()
        .unwrap();
    }
}
