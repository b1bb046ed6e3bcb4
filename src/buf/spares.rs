//! Buffers kept for reuse (the slabs of medium bodies): a buffer whose bytes were cut into
//! message bodies is reclaimed whole once every body cut from it is gone, instead of being
//! freed and a new one allocated (whose pages the kernel must fault in again). Each thread
//! keeps a few, per buffer size; a buffer still pointed into is passed over, and the oldest
//! spare is let go when a new one comes. A reclaimed buffer is empty: what it held counts
//! as unwritten, so a reader must zero it again (large receive buffers, which reads fill,
//! come back with their bytes instead: `buf::lending`).

use bytes::BytesMut;

/// Spares kept per thread and size: each may hold a whole slab while it waits, so few; two
/// catch a receiver that keeps up.
const KEPT: usize = 2;

#[derive(Default)]
pub(crate) struct Spares {
    kept: Vec<BytesMut>,
}

impl Spares {
    /// An empty buffer with room for `size` bytes: a spare nothing points into any more,
    /// else a new one.
    pub(crate) fn take(&mut self, size: usize) -> BytesMut {
        match self.kept.iter_mut().position(|b| b.try_reclaim(size)) {
            Some(i) => {
                let mut buf = self.kept.swap_remove(i);
                buf.clear();
                buf
            }
            None => BytesMut::with_capacity(size),
        }
    }

    /// Keeps `used`, whose bytes are no longer needed here (they may live on in bodies split
    /// off it), to be reclaimed once those are gone.
    pub(crate) fn keep(&mut self, mut used: BytesMut) {
        used.clear();
        if self.kept.len() == KEPT {
            self.kept.remove(0);
        }
        self.kept.push(used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_once_its_bodies_are_gone() {
        let mut spares = Spares::default();
        let mut buf = spares.take(1024);
        let base = buf.as_ptr();
        buf.extend_from_slice(&[1; 1000]);
        let body = buf.split().freeze();
        spares.keep(buf);
        // A body still points into it: a new buffer.
        let other = spares.take(1024);
        assert_ne!(other.as_ptr(), base);
        assert!(other.capacity() >= 1024);
        drop(body);
        // Now it is reclaimed whole, from its start.
        let again = spares.take(1024);
        assert_eq!(again.as_ptr(), base);
        assert!(again.capacity() >= 1024 && again.is_empty());
    }

    #[test]
    fn at_most_a_few_are_kept() {
        let mut spares = Spares::default();
        for _ in 0..10 {
            let buf = spares.take(64);
            spares.keep(buf);
        }
        assert!(spares.kept.len() <= KEPT);
    }
}
