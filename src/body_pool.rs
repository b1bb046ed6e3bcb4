//! Buffers for large copied message bodies, reused once the last reference to a body is
//! gone.
//!
//! A body copied from a caller's slice (`Msg::copy_from_slice`, `send(&[u8])`) above a few
//! KiB gets a buffer of its size class (the next power of two). The `Bytes` made of it hands
//! the buffer back to the class's pool when its last clone is dropped, on whichever thread
//! that is: the receiving socket's or the I/O thread's that wrote it out. The sender then
//! copies its next body into a buffer that is mapped and, when the receiver keeps up, still
//! in cache; a fresh allocation each time cost a page fault every 4 KiB once the allocator
//! gave the memory back to the kernel (inproc 64 KiB: ~3 faults per message), and slabs
//! shared by several bodies were freed whole only when the slowest of them went.
//!
//! Where the copy starts in its buffer depends on where the source lies: the body starts at
//! the source's offset within a 64-byte cache line (up to [`LINE`] - 1 bytes into its
//! buffer). On this project's AMD machine glibc's `rep movsb` copy of 64 KiB takes 15-20
//! times as long when the destination is 8-24 bytes past its source counted within a 4 KiB
//! page (each load looks like it depends on a store just made to the same page offset), and
//! 10-60 % longer at the other distances that are an odd multiple of 16 (48: 1.6x, 80 and
//! 112: 1.3x, beyond: 1.15x); at a whole number of lines apart it runs at full speed. Two
//! 64 KiB allocations made one after the other by glibc lie exactly 16 bytes apart in that
//! sense, so a sender's buffer and a pooled one often did: 31 µs per copy instead of 1.5.
//!
//! Each class keeps at most [`KEPT_BYTES`] of idle buffers, so the pools together never hold
//! more than `CLASSES * KEPT_BYTES` (9 MiB) while nothing is in flight.

use bytes::Bytes;
use std::sync::{Mutex, MutexGuard};

/// The smallest class holds bodies up to 4 KiB (`1 << SMALLEST_LOG2`).
const SMALLEST_LOG2: u32 = 12;
/// The largest class holds bodies up to 1 MiB; larger ones are allocated for themselves.
const LARGEST_LOG2: u32 = 20;
const CLASSES: usize = (LARGEST_LOG2 - SMALLEST_LOG2 + 1) as usize;
/// Idle bytes one class keeps at most (16 buffers of 64 KiB, one of 1 MiB).
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
    let log2 = len.max(1).next_power_of_two().trailing_zeros();
    (log2 <= LARGEST_LOG2).then(|| log2.saturating_sub(SMALLEST_LOG2) as usize)
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

/// A shared copy of `data`, in a pooled buffer when its size has a class.
pub(crate) fn copy(data: &[u8]) -> Bytes {
    let Some(class) = class_of(data.len()) else {
        return Bytes::copy_from_slice(data);
    };
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
    fn a_buffer_is_reused_once_its_last_reference_is_gone() {
        // The 512 KiB class, which no other test of this binary uses, so none takes the
        // buffer in between.
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let body = copy(&data);
        assert_eq!(&body[..], &data[..]);
        let at = body.as_ptr();
        let clone = body.clone();
        drop(body);
        let other = copy(&data[..299_999]);
        assert_ne!(other.as_ptr(), at, "a clone still uses the buffer");
        assert_eq!(&clone[..], &data[..]);
        drop(other);
        drop(clone);
        // Both buffers are back (LIFO): the next copy gets the one freed last.
        let again = copy(&data[..262_145]);
        assert_eq!(again.as_ptr(), at);
        assert_eq!(&again[..], &data[..262_145]);
        drop(again);

        // Sources at every 16-byte offset of a page, copied in turn into that same buffer:
        // every copy lands a whole number of cache lines past its source (so never just
        // past it within a page), the body starting at one of four places in the buffer.
        let len = 262_145;
        let mut starts = std::collections::BTreeSet::new();
        for offset in (0..PAGE).step_by(16) {
            let src = &data[offset..offset + len];
            let body = copy(src);
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
