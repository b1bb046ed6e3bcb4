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
//! Where the copy starts in its buffer depends on where the source lies: a copy whose
//! destination is less than [`ALIAS_GAP`] bytes past its source, counted within a 4 KiB page,
//! runs 15-20 times slower on this project's AMD machine (glibc's `rep movsb` copy: each
//! load looks like it depends on a store just made to the same page offset). Two 64 KiB
//! allocations made one after the other by glibc lie exactly 16 bytes apart in that sense, so
//! a sender's buffer and a pooled one often did: 31 µs per 64 KiB copy instead of 1.5 µs.
//! The body then starts `ALIAS_GAP` bytes into its buffer instead.
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

/// Copies landing less than this many bytes past their source (modulo 4 KiB) are moved
/// this far along: at 8-24 bytes the copy took 15-20 times as long, at 48 about 1.6 times,
/// from 64 on no longer than at a distance of 2 KiB.
const ALIAS_GAP: usize = 64;
const PAGE: usize = 4096;

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
    let mut buf = reused.unwrap_or_else(|| Vec::with_capacity(class_size(class) + ALIAS_GAP));
    let start = start_for(buf.as_ptr() as usize, data.as_ptr() as usize);
    buf.clear();
    buf.resize(start, 0);
    buf.extend_from_slice(data);
    Bytes::from_owner(Loan { buf, start, class })
}

/// Where in a buffer at `dst` a copy of the bytes at `src` starts: at 0 unless that lies
/// less than `ALIAS_GAP` bytes past `src` within a page.
fn start_for(dst: usize, src: usize) -> usize {
    let past = dst.wrapping_sub(src) % PAGE;
    if past != 0 && past < ALIAS_GAP {
        ALIAS_GAP
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // no copy lands less than ALIAS_GAP bytes past its source within a page, and some
        // had to be moved along to keep it so.
        let len = 262_145;
        let mut starts = std::collections::BTreeSet::new();
        for offset in (0..PAGE).step_by(16) {
            let src = &data[offset..offset + len];
            let body = copy(src);
            assert_eq!(&body[..], src);
            let past = (body.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize) % PAGE;
            assert!(
                past == 0 || past >= ALIAS_GAP,
                "offset {offset}: {past} bytes past"
            );
            starts.insert(body.as_ptr() as usize);
        }
        assert_eq!(
            starts.len(),
            2,
            "the body starts at 0 or ALIAS_GAP in one buffer"
        );
    }

    #[test]
    fn a_copy_starts_past_the_aliasing_distance() {
        assert_eq!(start_for(1000, 1000), 0);
        assert_eq!(start_for(1016, 1000), ALIAS_GAP);
        assert_eq!(start_for(1000 + PAGE + 8, 1000), ALIAS_GAP);
        assert_eq!(start_for(1000 + ALIAS_GAP, 1000), 0);
        assert_eq!(start_for(1000, 1016), 0, "4080 bytes past is far enough");
        assert_eq!(
            start_for(8, usize::MAX - 7),
            ALIAS_GAP,
            "across the address space's end"
        );
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
