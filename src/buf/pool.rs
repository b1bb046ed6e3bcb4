//! Buffers for large copied message bodies, reused once the last reference to a body is
//! gone.
//!
//! A body copied from a caller's slice (`Msg::copy_from_slice`, `send(&[u8])`) above a few
//! KiB gets a buffer of its size class (the next power of two), so the sender copies into
//! memory that is mapped and, when the receiver keeps up, still in cache: a fresh allocation
//! each time would cost a page fault per page once the allocator gave the memory back to the
//! kernel. Buffers come from two places:
//!
//! * **The copying thread's ring**, per class: the buffers it copied its latest bodies
//!   into, oldest first. A body is split off its buffer (`BytesMut::split`), so making one
//!   allocates nothing and dropping one, on whichever thread, is one reference count
//!   decrement. Bodies leave a queue in the order they entered it, so only the oldest
//!   buffer is asked whether its body is gone (`try_reclaim`); if so it takes the new body,
//!   and if the next one is free too it is let go, so a ring holds about as many buffers as
//!   bodies are in flight. If the oldest is still in use it goes to the back (a body kept
//!   for long must not hold up the others) and the next oldest is asked; if that one is in
//!   use too a new buffer joins, up to [`KEPT_BYTES`] of them.
//! * **The shared pools**, when a ring is full and its oldest body still in flight (a deep
//!   queue: a fast sender at the HWM of a slower connection): the `Bytes` made of such a
//!   buffer hands it back to its class's pool when its last clone is dropped, so any number
//!   of bodies in flight is recycled. This costs a lock on both sides and an allocation per
//!   body, which is why the rings take the common case and the pools only the overflow.
//!
//! Where the copy starts in its buffer depends on where the source lies: the body starts at
//! the source's offset within a cache line (up to [`LINE`] - 1 bytes into its buffer), so
//! the destination lies a whole number of lines past its source. A large copy (glibc's
//! `rep movsb`, for one) can run far slower when the destination lies a few bytes past its
//! source counted within a page (each load looks as if it depended on a store just made to
//! the same page offset, and waits for it), and slower than need be at some other distances
//! that are not a whole number of lines; a whole number of lines apart it runs at full
//! speed. Large allocations made one after the other can lie just such a few bytes apart,
//! and so, without this, could a sender's buffer and a pooled one.
//!
//! Each class's shared pool keeps at most [`KEPT_BYTES`] of idle buffers, so the pools
//! together never hold more than `CLASSES * KEPT_BYTES` (9 MiB) while nothing is in flight;
//! a thread's rings hold at most as much, and little more than its bodies in flight while it
//! keeps copying (they go with the thread).

use bytes::{Buf, Bytes, BytesMut};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// The smallest class holds bodies up to 4 KiB (`1 << SMALLEST_LOG2`).
const SMALLEST_LOG2: u32 = 12;
/// The largest class holds bodies up to 1 MiB; larger ones are allocated for themselves.
const LARGEST_LOG2: u32 = 20;
const CLASSES: usize = (LARGEST_LOG2 - SMALLEST_LOG2 + 1) as usize;
/// Idle bytes one class's shared pool keeps at most, and the most one thread's ring of the
/// class holds (16 buffers of 64 KiB, one of 1 MiB).
const KEPT_BYTES: usize = 1024 * 1024;

/// A copy's destination lies a whole number of these past its source: a cache line.
const LINE: usize = 64;

type Pool = Mutex<Vec<Vec<u8>>>;

#[allow(clippy::declare_interior_mutable_const)] // only ever copied into `POOLS`
const EMPTY: Pool = Mutex::new(Vec::new());
static POOLS: [Pool; CLASSES] = [EMPTY; CLASSES];

fn lock(class: usize) -> MutexGuard<'static, Vec<Vec<u8>>> {
    POOLS[class].lock().unwrap_or_else(|e| e.into_inner())
}

/// The class for a body of `len` bytes, if it is not larger than the largest class.
fn class_of(len: usize) -> Option<usize> {
    let log2 = ceil_log2(len);
    (log2 <= LARGEST_LOG2).then(|| log2.saturating_sub(SMALLEST_LOG2) as usize)
}

/// The exponent of the smallest power of two that holds `len` bytes (at least 1): the size
/// classes of copied bodies, here and in [`super::slab`].
pub(crate) fn ceil_log2(len: usize) -> u32 {
    len.max(1).next_power_of_two().trailing_zeros()
}

fn class_size(class: usize) -> usize {
    1 << (SMALLEST_LOG2 as usize + class)
}

/// A body's buffer on loan from its class's pool; the body is `buf[start..]`.
struct Loan {
    buf: Vec<u8>,
    start: usize,
    class: usize,
}

impl AsRef<[u8]> for Loan {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let mut pool = lock(self.class);
        if (pool.len() + 1) * class_size(self.class) <= KEPT_BYTES {
            pool.push(buf);
        }
    }
}

thread_local! {
    /// This thread's rings, one per class.
    static RINGS: RefCell<[Ring; CLASSES]> = RefCell::default();
}

/// A shared copy of `data`, in a reused buffer when its size has a class.
pub(crate) fn copy(data: &[u8]) -> Bytes {
    let Some(class) = class_of(data.len()) else {
        return Bytes::copy_from_slice(data);
    };
    let in_ring = with_ring(class, |ring| ring.copy(data, class));
    match in_ring {
        Some(body) => body,
        // The ring is full and busy (or the thread is going away): the shared pool.
        None => lend(data, class),
    }
}

/// An empty buffer with room for `capacity` bytes, to build a body in: a piece of a buffer
/// in this thread's ring when the size has a class and the ring has one free (it is reused
/// once the piece and every body made of it are gone), else a fresh allocation.
pub(crate) fn buffer(capacity: usize) -> BytesMut {
    class_of(capacity)
        .and_then(|class| with_ring(class, |ring| ring.buffer(capacity, class)))
        .unwrap_or_else(|| BytesMut::with_capacity(capacity))
}

/// `f` on this thread's ring of `class`; `None` if `f` finds no room or the thread's rings
/// are gone (a thread-local destructor sending a message) or in use.
fn with_ring<T>(class: usize, f: impl FnOnce(&mut Ring) -> Option<T>) -> Option<T> {
    RINGS
        .try_with(|rings| f(&mut rings.try_borrow_mut().ok()?[class]))
        .ok()
        .flatten()
}

/// The buffers one thread made bodies of one class in, oldest first.
#[derive(Default)]
struct Ring {
    bufs: VecDeque<BytesMut>,
}

impl Ring {
    /// `data` copied into the next buffer; `None` when the ring has none.
    fn copy(&mut self, data: &[u8], class: usize) -> Option<Bytes> {
        let mut buf = self.next(data.len() + LINE, class)?;
        let start = start_for(buf.as_ptr() as usize, data.as_ptr() as usize);
        if start > 0 {
            buf.resize(start, 0);
            buf.advance(start);
        }
        buf.extend_from_slice(data);
        let body = buf.split().freeze();
        self.bufs.push_back(buf);
        Some(body)
    }

    /// The first `capacity` bytes of the next buffer, empty; `None` when the ring has none.
    fn buffer(&mut self, capacity: usize, class: usize) -> Option<BytesMut> {
        let mut buf = self.next(capacity, class)?;
        let rest = buf.split_off(capacity);
        self.bufs.push_back(rest);
        Some(buf)
    }

    /// An empty buffer with `room` bytes of space, taken out of the ring (the caller puts
    /// what is left of it back at the end): the oldest if nothing points into it any more,
    /// else a new one while the ring has room; `None` when it has none.
    fn next(&mut self, room: usize, class: usize) -> Option<BytesMut> {
        let mut free = self.oldest_is_free(room);
        if !free && self.bufs.len() > 1 {
            // The oldest body is still in use (a deep queue, or a body kept for long): its
            // buffer goes to the back, so that one body kept for long does not hold up the
            // others, and the next oldest is asked.
            self.bufs.rotate_left(1);
            free = self.oldest_is_free(room);
        }
        let mut buf = if free {
            let buf = self.bufs.pop_front()?;
            // Two free in a row: more buffers than bodies in flight; one goes.
            if self.oldest_is_free(room) {
                self.bufs.pop_front();
            }
            buf
        } else if (self.bufs.len() + 1) * class_size(class) <= KEPT_BYTES.max(class_size(class)) {
            BytesMut::with_capacity(class_size(class) + LINE)
        } else {
            return None;
        };
        buf.clear();
        Some(buf)
    }

    /// Whether nothing points into the oldest buffer any more; if so, it has `room` bytes
    /// of space.
    fn oldest_is_free(&mut self, room: usize) -> bool {
        self.bufs.front_mut().is_some_and(|b| b.try_reclaim(room))
    }
}

/// A shared copy of `data` in a buffer from its class's shared pool, handed back when the
/// last clone of the body is dropped.
fn lend(data: &[u8], class: usize) -> Bytes {
    let reused = lock(class).pop();
    let mut buf = reused.unwrap_or_else(|| Vec::with_capacity(class_size(class) + LINE));
    let start = start_for(buf.as_ptr() as usize, data.as_ptr() as usize);
    buf.clear();
    buf.resize(start, 0);
    buf.extend_from_slice(data);
    Bytes::from_owner(Loan { buf, start, class })
}

/// Where in a buffer at `dst` a copy of the bytes at `src` starts: at `src`'s offset
/// within a cache line, counted from `dst`.
fn start_for(dst: usize, src: usize) -> usize {
    src.wrapping_sub(dst) % LINE
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;

    #[test]
    fn classes_are_powers_of_two_from_4_kib_to_1_mib() {
        assert_eq!(class_of(1), Some(0));
        assert_eq!(class_of(4096), Some(0));
        assert_eq!(class_of(4097), Some(1));
        assert_eq!(class_of(64 * 1024), Some(4));
        assert_eq!(class_of(1024 * 1024), Some(CLASSES - 1));
        assert_eq!(class_of(1024 * 1024 + 1), None);
        for class in 0..CLASSES {
            assert_eq!(class_of(class_size(class)), Some(class));
        }
    }

    #[test]
    fn a_pooled_buffer_is_reused_once_its_last_reference_is_gone() {
        // The 512 KiB class, which no other test of this binary lends from, so none takes
        // the buffer in between.
        let class = class_of(300_000).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let body = lend(&data, class);
        assert_eq!(&body[..], &data[..]);
        let at = body.as_ptr();
        let clone = body.clone();
        drop(body);
        let other = lend(&data[..299_999], class);
        assert_ne!(other.as_ptr(), at, "a clone still uses the buffer");
        assert_eq!(&clone[..], &data[..]);
        drop(other);
        drop(clone);
        // Both buffers are back (LIFO): the next body gets the one freed last.
        let again = lend(&data[..262_145], class);
        assert_eq!(again.as_ptr(), at);
        assert_eq!(&again[..], &data[..262_145]);
        drop(again);
        assert_copies_land_on_whole_lines(&data, |src| lend(src, class));
    }

    #[test]
    fn a_thread_reuses_its_oldest_buffer_once_its_body_is_gone() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let first = copy(&data);
        let at = first.as_ptr();
        let second = copy(&data);
        assert_ne!(second.as_ptr(), at, "the first body still uses its buffer");
        let clone = first.clone();
        drop(first);
        let third = copy(&data);
        assert_ne!(third.as_ptr(), at, "a clone still uses the buffer");
        drop(clone);
        let fourth = copy(&data);
        assert_eq!(fourth.as_ptr(), at, "the oldest buffer is free again");
        for body in [&second, &third, &fourth] {
            assert_eq!(&body[..], &data[..]);
        }
        drop((second, third, fourth));
        let class = class_of(data.len()).unwrap();
        assert_eq!(ring_len(class), 3);
        drop(copy(&data));
        drop(copy(&data));
        assert_eq!(
            ring_len(class),
            1,
            "one buffer is enough for one body at a time"
        );
        assert_copies_land_on_whole_lines(&data, copy);
    }

    /// Sources at every 16-byte offset of a page, each body made and dropped in turn (so
    /// all go into one buffer): every copy lands a whole number of cache lines past its
    /// source (so never just past it within a page), the body starting at one of four
    /// places in the buffer.
    fn assert_copies_land_on_whole_lines(data: &[u8], make: impl Fn(&[u8]) -> Bytes) {
        let len = data.len() - PAGE;
        let mut starts = std::collections::BTreeSet::new();
        for offset in (0..PAGE).step_by(16) {
            let src = &data[offset..offset + len];
            let body = make(src);
            assert_eq!(&body[..], src);
            let past = (body.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
            assert_eq!(
                past % LINE,
                0,
                "offset {offset}: {} bytes past",
                past % PAGE
            );
            starts.insert(body.as_ptr() as usize);
        }
        assert_eq!(starts.len(), 4, "the body starts 0, 16, 32 or 48 bytes in");
    }

    fn ring_len(class: usize) -> usize {
        RINGS.with(|rings| rings.borrow()[class].bufs.len())
    }

    #[test]
    fn a_ring_is_bounded_and_shrinks_to_the_bodies_in_flight() {
        let class = class_of(64 * 1024).unwrap();
        let most = KEPT_BYTES / class_size(class);
        let held: Vec<Bytes> = (0..most as u32 + 5)
            .map(|i| copy(&vec![i as u8; 60_000 + i as usize]))
            .collect();
        assert_eq!(ring_len(class), most, "the rest came from the shared pool");
        for (i, body) in held.iter().enumerate() {
            assert!(body.len() == 60_000 + i && body.iter().all(|&b| b == i as u8));
        }
        drop(held);
        // Each body dropped before the next is made: one buffer is enough, and the ring
        // lets one go per copy until it is down to that.
        for i in 0..most {
            let body = copy(&[i as u8; 50_000]);
            assert!(body.iter().all(|&b| b == i as u8));
        }
        assert_eq!(ring_len(class), 1);
    }

    #[test]
    fn a_buffer_is_a_piece_of_the_ring_reused_once_its_bodies_are_gone() {
        let class = class_of(70_000).unwrap();
        let mut first = buffer(70_000);
        assert!(first.is_empty() && first.capacity() >= 70_000);
        let at = first.as_ptr();
        first.extend_from_slice(&[9; 70_000]);
        assert_eq!(first.as_ptr(), at, "filling it to capacity moves nothing");
        let body = first.freeze();
        let second = buffer(70_000);
        assert_ne!(second.as_ptr(), at, "the first body still uses its buffer");
        drop(second);
        let clone = body.clone();
        drop(body);
        assert!(clone.iter().all(|&b| b == 9));
        drop(clone);
        // Copies and buffers of a class share its ring.
        let copied = copy(&[5; 70_000]);
        let past = (copied.as_ptr() as usize).wrapping_sub(at as usize);
        assert!(past < LINE, "the oldest buffer is free again ({past})");
        drop(copied);
        let third = buffer(66_000);
        assert_eq!(third.as_ptr(), at);
        drop(third);
        assert!(ring_len(class) <= 2);
    }

    #[test]
    fn a_buffer_written_past_its_capacity_keeps_every_byte() {
        let mut grown = buffer(5000);
        let neighbour = {
            let mut b = buffer(5000);
            b.extend_from_slice(&[2; 5000]);
            b.freeze()
        };
        grown.extend_from_slice(&[1; 5000]);
        grown.extend_from_slice(&[3; 20_000]);
        assert_eq!(grown.len(), 25_000);
        assert!(grown[..5000].iter().all(|&b| b == 1) && grown[5000..].iter().all(|&b| b == 3));
        assert!(neighbour.iter().all(|&b| b == 2));
        let huge = buffer(3 << 20);
        assert!(huge.is_empty() && huge.capacity() >= 3 << 20);
    }

    #[test]
    fn a_body_kept_for_long_does_not_hold_up_the_ring() {
        let class = class_of(100_000).unwrap();
        let kept = copy(&[1; 100_000]);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..20u8 {
            let body = copy(&[i; 100_000]);
            assert!(body.iter().all(|&b| b == i));
            seen.insert(body.as_ptr() as usize);
        }
        assert!(
            seen.len() <= 2,
            "{} buffers for one body at a time",
            seen.len()
        );
        assert_eq!(ring_len(class), 2);
        assert!(kept.iter().all(|&b| b == 1));
    }

    /// Bodies made on one thread and checked and dropped on another, out of order and while
    /// more are made (so the ring's oldest buffer is often still in use while younger ones
    /// are free): every body keeps exactly its own bytes.
    #[test]
    fn bodies_dropped_on_another_thread_out_of_order_keep_their_bytes() {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(u8, Bytes)>(8);
        let checker = std::thread::spawn(move || {
            let mut held: Vec<(u8, Bytes)> = Vec::new();
            let mut n = 0usize;
            for (mark, body) in rx {
                held.push((mark, body));
                n += 1;
                if held.len() > 5 {
                    let (mark, body) = held.swap_remove(n * 7 % held.len());
                    assert!(body.iter().all(|&b| b == mark), "body {n}");
                }
            }
            for (mark, body) in held {
                assert!(body.iter().all(|&b| b == mark));
            }
            n
        });
        for i in 0..2000u32 {
            let size = 2049 + (i as usize * 15_485) % 200_000;
            let mark = (i * 31) as u8;
            tx.send((mark, copy(&vec![mark; size]))).unwrap();
        }
        drop(tx);
        assert_eq!(checker.join().unwrap(), 2000);
    }

    #[test]
    fn a_copy_lands_a_whole_number_of_lines_past_its_source() {
        assert_eq!(start_for(1024, 1024), 0);
        assert_eq!(start_for(1024, 1040), 16);
        assert_eq!(
            start_for(1040, 1024),
            48,
            "16 bytes past would be the slowest copy"
        );
        assert_eq!(start_for(1024 + PAGE + 8, 1024), 56);
        assert_eq!(start_for(1024 + LINE, 1024), 0);
        for (dst, src) in [(8, usize::MAX - 7), (usize::MAX - 15, 32), (4096, 4095)] {
            let start = start_for(dst, src);
            assert!(start < LINE);
            assert_eq!(
                dst.wrapping_add(start).wrapping_sub(src) % LINE,
                0,
                "{dst} {src}"
            );
        }
    }

    #[test]
    fn a_class_keeps_a_bounded_number_of_idle_buffers() {
        let class = class_of(900 * 1024).unwrap();
        let bodies: Vec<Bytes> = (0..5).map(|_| copy(&[7; 900 * 1024])).collect();
        drop(bodies);
        assert!(lock(class).len() * class_size(class) <= KEPT_BYTES);
        assert!(!lock(class).is_empty());
    }

    /// Threads copying, holding and dropping bodies of many sizes at once (buffers move
    /// between them through the pools): every body keeps exactly its own bytes.
    #[test]
    fn bodies_on_many_threads_keep_their_own_bytes() {
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut held: Vec<(u8, Bytes)> = Vec::new();
                    for i in 0..400u32 {
                        let size = 3000 + (i as usize * 7919 + t as usize * 104_729) % 140_000;
                        let mark = t.wrapping_mul(61).wrapping_add(i as u8);
                        held.push((mark, copy(&vec![mark; size])));
                        if held.len() > 6 {
                            let (mark, body) = held.remove((i as usize) % held.len());
                            assert!(body.iter().all(|&b| b == mark), "thread {t}, body {i}");
                        }
                    }
                    for (mark, body) in held {
                        assert!(body.iter().all(|&b| b == mark));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    #[test]
    fn bodies_beyond_the_largest_class_are_plain_copies() {
        let data = vec![3u8; 2 * 1024 * 1024];
        assert_eq!(&copy(&data)[..], &data[..]);
    }
}
