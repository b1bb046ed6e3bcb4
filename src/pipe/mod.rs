//! The pipe: a pair of single-producer single-consumer lock-free queues, one per direction,
//! between a socket (application thread) and a session (I/O thread), or between two sockets
//! (inproc).
//!
//! This is the only module of the crate that uses `unsafe`. The queue follows the design of
//! libzmq's ypipe: the writer publishes a batch with one atomic swap, and the same word tells
//! it whether the reader went to sleep, in which case (and only then) it wakes the reader.
//! High-water marks count whole messages; the reader hands credit back every `(hwm + 1) / 2`
//! messages and whenever it runs dry. [`WriteAhead`] fetches lines for writing before the
//! stores that need them, for the queue's slots and for the body slabs' pieces.

#![allow(unsafe_code)]

mod prefetch;
mod queue;
mod slot;

pub(crate) use prefetch::WriteAhead;
pub(crate) use queue::{channel, Item, Read, Reader, Wake, WriteError, Writer};
use slot::{slot, SlotReader, SlotWriter};

use std::mem::MaybeUninit;
use std::sync::Arc;

/// How much a pipe direction may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Capacity {
    /// At most this many unread messages (0: no limit).
    Messages(u64),
    /// Only the newest whole message (`CONFLATE`).
    LatestOnly,
}

/// The sending side of one pipe direction.
pub(crate) enum OutPipe<T> {
    Queue(Writer<T>),
    Slot(SlotWriter<T>),
}

/// The receiving side of one pipe direction.
pub(crate) enum InPipe<T> {
    Queue(Reader<T>),
    Slot(SlotReader<T>),
}

impl<T: Item> OutPipe<T> {
    #[inline]
    pub(crate) fn write(&mut self, msg: T) -> Result<(), WriteError<T>> {
        match self {
            OutPipe::Queue(w) => w.write(msg),
            OutPipe::Slot(w) => w.write(msg),
        }
    }

    /// Makes the next message in place once there is room for it (see
    /// `Writer::write_in_place`): when the pipe refuses it, `make` has not run.
    #[inline]
    pub(crate) fn write_with(&mut self, make: impl FnOnce() -> T) -> Result<(), WriteError<()>> {
        self.write_in_place(|slot| slot.write(make()))
    }

    /// Makes the next message in its slot once there is room for it (see
    /// `Writer::write_in_place`).
    #[inline(always)]
    pub(crate) fn write_in_place(
        &mut self,
        place: impl FnOnce(&mut MaybeUninit<T>) -> &mut T,
    ) -> Result<(), WriteError<()>> {
        match self {
            OutPipe::Queue(w) => w.write_in_place(place),
            OutPipe::Slot(w) => w.write_in_place(place),
        }
    }

    /// Publishes what was written; returns whether the reader had to be woken.
    #[inline]
    pub(crate) fn flush(&mut self) -> bool {
        match self {
            OutPipe::Queue(w) => w.flush(),
            OutPipe::Slot(w) => w.flush(),
        }
    }

    /// Whether a new message may be written now (marks the writer waiting if not).
    #[inline]
    pub(crate) fn is_writable(&mut self) -> bool {
        match self {
            OutPipe::Queue(w) => w.is_writable(),
            OutPipe::Slot(w) => !w.is_closed(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            OutPipe::Queue(w) => w.is_closed(),
            OutPipe::Slot(w) => w.is_closed(),
        }
    }

    pub(crate) fn rollback(&mut self) {
        match self {
            OutPipe::Queue(w) => w.rollback(),
            OutPipe::Slot(w) => w.rollback(),
        }
    }
}

impl<T: Item> InPipe<T> {
    #[inline]
    pub(crate) fn read(&mut self) -> Read<T> {
        match self {
            InPipe::Queue(r) => r.read(),
            InPipe::Slot(r) => r.read(),
        }
    }

    /// Moves the next message into `dst`.
    #[inline]
    pub(crate) fn read_into(&mut self, dst: &mut T) -> Read<()> {
        match self {
            InPipe::Queue(r) => r.read_into(dst),
            InPipe::Slot(r) => r.read().map(|msg| *dst = msg),
        }
    }

    /// Lends the next message to `f` without moving it out of the pipe (see
    /// `Reader::read_in_place`).
    #[inline]
    pub(crate) fn read_in_place<R>(&mut self, f: impl FnOnce(&T) -> R) -> Read<R> {
        match self {
            InPipe::Queue(r) => r.read_in_place(f),
            InPipe::Slot(r) => r.read().map(|msg| f(&msg)),
        }
    }

    /// Starts loading what the next read will look at (see `Reader::prefetch`).
    #[inline]
    pub(crate) fn prefetch(&self) {
        if let InPipe::Queue(r) = self {
            r.prefetch();
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        match self {
            InPipe::Queue(r) => r.is_finished(),
            InPipe::Slot(r) => r.is_finished(),
        }
    }

    /// Whether nothing published is unread right now (no side effects).
    pub(crate) fn is_drained(&self) -> bool {
        match self {
            InPipe::Queue(r) => r.is_drained(),
            InPipe::Slot(r) => r.is_drained(),
        }
    }
}

/// Both ends a party holds of a bidirectional pipe: what it sends and what it receives.
pub(crate) struct PipeEnds<T> {
    pub(crate) out: OutPipe<T>,
    pub(crate) inb: InPipe<T>,
}

fn direction<T: Item>(
    capacity: Capacity,
    wake_reader: Arc<dyn Wake>,
    wake_writer: Arc<dyn Wake>,
) -> (OutPipe<T>, InPipe<T>) {
    match capacity {
        Capacity::Messages(hwm) => {
            let (w, r) = channel(hwm, wake_reader, wake_writer);
            (OutPipe::Queue(w), InPipe::Queue(r))
        }
        Capacity::LatestOnly => {
            let (w, r) = slot(wake_reader, wake_writer);
            (OutPipe::Slot(w), InPipe::Slot(r))
        }
    }
}

/// Creates a bidirectional pipe between party `a` and party `b`.
///
/// `a_to_b` limits what is queued from `a` to `b`, `b_to_a` the other way. `wake_a` is
/// called when `a` must look at the pipe again (data arrived while it slept, or credit
/// returned while it waited), `wake_b` likewise for `b`.
pub(crate) fn pipe_pair<T: Item>(
    a_to_b: Capacity,
    b_to_a: Capacity,
    wake_a: Arc<dyn Wake>,
    wake_b: Arc<dyn Wake>,
) -> (PipeEnds<T>, PipeEnds<T>) {
    let (a_out, b_in) = direction(a_to_b, wake_b.clone(), wake_a.clone());
    let (b_out, a_in) = direction(b_to_a, wake_a, wake_b);
    (
        PipeEnds {
            out: a_out,
            inb: a_in,
        },
        PipeEnds {
            out: b_out,
            inb: b_in,
        },
    )
}

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(test)]
mod tests {
    // Not under loom: these run on real threads and atomics.
    #![allow(clippy::mixed_attributes_style)]
    #![cfg(not(loom))]
    use super::*;
    use crate::msg::Msg;

    struct Nobody;

    impl Wake for Nobody {
        fn wake(&self) {}
    }

    /// Counts its drops; panics in the one marked to.
    struct Owner {
        drops: Arc<std::sync::atomic::AtomicUsize>,
        panics: bool,
    }

    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            b"owned body"
        }
    }

    impl Drop for Owner {
        fn drop(&mut self) {
            self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.panics {
                panic!("the old body's owner panics on drop");
            }
        }
    }

    /// Reading into a message whose old body panics when dropped: the frame read is not
    /// read again, nor dropped twice.
    #[test]
    fn a_panicking_old_body_does_not_make_a_frame_read_twice() {
        let nobody: Arc<dyn Wake> = Arc::new(Nobody);
        let (mut ours, mut theirs) = pipe_pair(
            Capacity::Messages(0),
            Capacity::Messages(0),
            nobody.clone(),
            nobody,
        );
        let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let body = |panics| {
            Msg::from_bytes(bytes::Bytes::from_owner(Owner {
                drops: drops.clone(),
                panics,
            }))
        };
        assert!(ours.out.write(body(false)).is_ok());
        assert!(ours.out.write(Msg::from("second")).is_ok());
        let _ = ours.out.flush();
        let mut dst = body(true);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = theirs.inb.read_into(&mut dst);
        }));
        assert!(caught.is_err());
        assert!(matches!(theirs.inb.read(), Read::Item(m) if m == "second"));
        drop(dst);
        drop(theirs);
        drop(ours);
        // The panicking body once, the frame read once.
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// A pipe whose reader is gone refuses a frame before it is made, so the caller still
    /// has it for another pipe; one that takes it makes it once. Both kinds of pipe.
    #[test]
    fn a_refused_frame_is_never_made() {
        for capacity in [Capacity::Messages(4), Capacity::LatestOnly] {
            let nobody: Arc<dyn Wake> = Arc::new(Nobody);
            let (mut ours, theirs) =
                pipe_pair(capacity, Capacity::Messages(4), nobody.clone(), nobody);
            let mut made = 0;
            let taken = ours.out.write_in_place(|slot| {
                made += 1;
                slot.write(Msg::from("frame"))
            });
            assert!(taken.is_ok());
            let _ = ours.out.flush();
            drop(theirs);
            let refused = ours.out.write_in_place(|slot| {
                made += 1;
                slot.write(Msg::from("frame"))
            });
            assert!(matches!(refused, Err(WriteError::Closed(()))));
            let refused = ours.out.write_with(|| {
                made += 1;
                Msg::from("frame")
            });
            assert!(matches!(refused, Err(WriteError::Closed(()))));
            assert_eq!(made, 1);
        }
    }
}
