//! The lock-free single-producer single-consumer queue at the heart of a pipe.
//!
//! Items live in a linked list of fixed-size chunks. Positions are global counters: the
//! writer fills slot `written`, publishes everything up to the end of the last complete
//! message by storing that count into `state`, and the reader consumes up to the count it
//! last saw. `state` also carries two flags:
//!
//! * `ASLEEP`, set by the reader with a CAS when it finds nothing new. The writer's publishing
//!   swap clears it and, seeing it was set, wakes the reader. Because publication and the
//!   sleep flag share one word, a wake-up can never be lost and is sent only on the
//!   sleep→busy edge.
//! * `CLOSED`, set by the writer when it is dropped; the reader reports `Closed` once it has
//!   consumed everything published before.
//!
//! Flow control counts whole messages (an item whose [`Item::more`] is false ends one). The
//! reader publishes how many messages it consumed into the `credit` word with a swap; a
//! writer at its high-water mark sets `WAITING` in the same word with a CAS (which fails, and
//! is retried, if credit arrived meanwhile). The reader's swap returns the flag and it wakes
//! the writer. The same word carries `CLOSED` when the reader is dropped. One word, two
//! read-modify-writes: no store/load race, so no wake-up is lost.

use super::prefetch::WriteAhead;
use crate::sync::{Arc, AtomicPtr, AtomicU64, Ordering, UnsafeCell};
use std::mem::MaybeUninit;
use std::ptr;

/// Slots per chunk. Small under loom so chunk hand-over is explored.
#[cfg(not(loom))]
const CHUNK: usize = 256;
#[cfg(loom)]
const CHUNK: usize = 2;

const ASLEEP: u64 = 1 << 63;
const WAITING: u64 = 1 << 63;
const CLOSED: u64 = 1 << 62;
const COUNT: u64 = CLOSED - 1;

/// How many slots ahead of the one it fills the writer fetches lines for writing.
const WRITE_AHEAD: usize = 4;

/// What travels through a pipe: a frame that says whether more of its message follows.
pub(crate) trait Item {
    /// Whether the next item belongs to the same message.
    fn more(&self) -> bool;
}

/// How the other side of a pipe is woken. Called only on the sleep→busy edge.
pub(crate) trait Wake: Send + Sync {
    /// The party this waker belongs to must look at its pipe again.
    fn wake(&self);
}

/// The outcome of [`Reader::read`].
#[derive(Debug)]
pub(crate) enum Read<T> {
    /// The next item.
    Item(T),
    /// Nothing to read now; the reader is marked asleep and will be woken when the writer
    /// publishes more (or goes away).
    Empty,
    /// The writer is gone and everything it published has been read.
    Closed,
}

impl<T> Read<T> {
    /// The same outcome with the item, if any, passed through `f`.
    #[inline]
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Read<U> {
        match self {
            Read::Item(item) => Read::Item(f(item)),
            Read::Empty => Read::Empty,
            Read::Closed => Read::Closed,
        }
    }
}

/// Why [`Writer::write`] gave the item back.
#[derive(Debug)]
pub(crate) enum WriteError<T> {
    /// The high-water mark is reached; the writer will be woken when credit returns.
    Full(T),
    /// The reader is gone.
    Closed(T),
}

impl<T> WriteError<T> {
    /// The same refusal, carrying `item` instead.
    pub(crate) fn carrying<U>(self, item: U) -> WriteError<U> {
        match self {
            WriteError::Full(_) => WriteError::Full(item),
            WriteError::Closed(_) => WriteError::Closed(item),
        }
    }
}

struct Chunk<T> {
    slots: [Slot<T>; CHUNK],
    next: AtomicPtr<Chunk<T>>,
}

/// One item's place, on cache lines of its own: the writer filling the next slot does not
/// take the line the reader is reading from.
#[repr(align(64))]
struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

impl<T> Chunk<T> {
    fn alloc() -> *mut Chunk<T> {
        Box::into_raw(Box::new(Chunk {
            slots: std::array::from_fn(|_| Slot(UnsafeCell::new(MaybeUninit::uninit()))),
            next: AtomicPtr::new(ptr::null_mut()),
        }))
    }
}

/// Keeps a hot atomic on its own cache line.
#[repr(align(64))]
struct Padded<T>(T);

struct Shared<T> {
    /// Published count | `ASLEEP` | `CLOSED`. Written by the writer, CAS'd by the reader.
    state: Padded<AtomicU64>,
    /// Messages consumed (published by the reader) | `WAITING` (writer) | `CLOSED` (reader).
    credit: Padded<AtomicU64>,
    /// One recycled chunk, handed from reader to writer.
    spare: AtomicPtr<Chunk<T>>,
    /// Where the reader stood when it was dropped (chunk, base position, read position):
    /// the last owner drops the items left from there to `written_at_close`.
    reader_head: AtomicPtr<Chunk<T>>,
    reader_base: AtomicU64,
    reader_pos: AtomicU64,
    written_at_close: AtomicU64,
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let mut chunk = self.reader_head.load(Ordering::Acquire);
        let mut base = self.reader_base.load(Ordering::Acquire);
        let read = self.reader_pos.load(Ordering::Acquire);
        let written = self.written_at_close.load(Ordering::Acquire);
        for pos in read..written {
            while pos >= base + CHUNK as u64 {
                // SAFETY: both ends are gone (we are in `Shared::drop`), so nobody else
                // touches the chain; `chunk` is a live chunk of this queue and positions below
                // `written` always have their chunk linked.
                let next = unsafe { (*chunk).next.load(Ordering::Acquire) };
                // SAFETY: `chunk` came from `Box::into_raw` and is unlinked from all use now.
                drop(unsafe { Box::from_raw(chunk) });
                chunk = next;
                base += CHUNK as u64;
            }
            let idx = (pos - base) as usize;
            // SAFETY: slots in `read..written` were initialised by the writer and never
            // consumed by the reader; each is dropped exactly once here.
            unsafe { (*chunk).slots[idx].0.with_mut(|p| (*p).assume_init_drop()) };
        }
        while !chunk.is_null() {
            // SAFETY: as above; the rest of the chain holds no initialised items.
            let next = unsafe { (*chunk).next.load(Ordering::Acquire) };
            // SAFETY: each chunk in the chain is owned by the queue and freed once.
            drop(unsafe { Box::from_raw(chunk) });
            chunk = next;
        }
        let spare = self.spare.load(Ordering::Acquire);
        if !spare.is_null() {
            // SAFETY: the spare chunk is not in the chain (the reader unlinked it first) and
            // holds no initialised items.
            drop(unsafe { Box::from_raw(spare) });
        }
    }
}

/// Creates a queue limited to `hwm` unread messages (0: unlimited). `wake_reader` is called
/// when the reader must look again, `wake_writer` when a writer at its mark gets credit.
pub(crate) fn channel<T: Item>(
    hwm: u64,
    wake_reader: std::sync::Arc<dyn Wake>,
    wake_writer: std::sync::Arc<dyn Wake>,
) -> (Writer<T>, Reader<T>) {
    let first = Chunk::alloc();
    let shared = Arc::new(Shared {
        state: Padded(AtomicU64::new(0)),
        credit: Padded(AtomicU64::new(0)),
        spare: AtomicPtr::new(ptr::null_mut()),
        reader_head: AtomicPtr::new(first),
        reader_base: AtomicU64::new(0),
        reader_pos: AtomicU64::new(0),
        written_at_close: AtomicU64::new(0),
    });
    let writer = Writer {
        shared: shared.clone(),
        tail: first,
        tail_base: 0,
        written: 0,
        complete: 0,
        complete_tail: first,
        complete_base: 0,
        published: 0,
        msgs_written: 0,
        peer_msgs_read: 0,
        hwm,
        write_ahead: WriteAhead::new(),
        wake_reader,
    };
    let reader = Reader {
        shared,
        head: first,
        head_base: 0,
        read: 0,
        readable: 0,
        msgs_read: 0,
        credit_published: 0,
        credit_step: if hwm == 0 { 0 } else { hwm.div_ceil(2).max(1) },
        in_message: false,
        wake_writer,
    };
    (writer, reader)
}

/// The producing end of a queue. `Send`, not `Sync`, not `Clone`.
pub(crate) struct Writer<T> {
    shared: Arc<Shared<T>>,
    /// The chunk holding slot `written` (or the full one before it, at a boundary).
    tail: *mut Chunk<T>,
    tail_base: u64,
    written: u64,
    /// End of the last complete message, and the chunk it ended in.
    complete: u64,
    complete_tail: *mut Chunk<T>,
    complete_base: u64,
    published: u64,
    msgs_written: u64,
    peer_msgs_read: u64,
    hwm: u64,
    /// Set when the CPU can fetch lines for writing (see [`Writer::prepare_ahead`]).
    write_ahead: Option<WriteAhead>,
    wake_reader: std::sync::Arc<dyn Wake>,
}

// SAFETY: the raw chunk pointers are owned by this end (the slots at and after `published`
// are touched only by the writer); moving the writer to another thread moves that ownership
// with it. `T: Send` because items cross to the reader's thread.
unsafe impl<T: Send> Send for Writer<T> {}

impl<T: Item> Writer<T> {
    /// Appends `item`. The first frame of a message needs credit (the high-water mark); later
    /// frames of a started message are always accepted, so a message is never cut in two.
    /// Nothing is visible to the reader before [`Writer::flush`].
    #[inline]
    pub(crate) fn write(&mut self, item: T) -> Result<(), WriteError<T>> {
        if let Err(e) = self.check_room() {
            return Err(e.carrying(item));
        }
        self.append(|slot| slot.write(item));
        Ok(())
    }

    /// Like [`Writer::write`], but the item is made only once there is room for it, in its
    /// slot: `place` writes it there (`MaybeUninit::write`) and returns it. For a writer
    /// that builds each item from something it can leave untouched when the queue is full
    /// (the decoder and its read buffer, a socket and its caller's value); made in place, the
    /// item is never moved, so nothing loads back what its making just stored. `place` must
    /// return the reference `write` gave it (checked: anything else panics).
    #[inline]
    pub(crate) fn write_in_place(
        &mut self,
        place: impl FnOnce(&mut MaybeUninit<T>) -> &mut T,
    ) -> Result<(), WriteError<()>> {
        self.check_room()?;
        self.append(place);
        Ok(())
    }

    #[inline]
    fn check_room(&mut self) -> Result<(), WriteError<()>> {
        if self.shared.credit.0.load(Ordering::Relaxed) & CLOSED != 0 {
            return Err(WriteError::Closed(()));
        }
        if self.written == self.complete && !self.has_credit() {
            return Err(WriteError::Full(()));
        }
        Ok(())
    }

    #[inline]
    fn append(&mut self, place: impl FnOnce(&mut MaybeUninit<T>) -> &mut T) {
        if self.written == self.tail_base + CHUNK as u64 {
            self.advance_tail();
        }
        let idx = (self.written - self.tail_base) as usize;
        // SAFETY: slot `written` lies in `tail` (checked above) and is beyond `published`,
        // so the reader does not access it; it is uninitialised (consumed or never used).
        let more = unsafe {
            (*self.tail).slots[idx]
                .0
                .with_mut(|p| place_checked(&mut *p, place).more())
        };
        self.written += 1;
        self.prepare_ahead(idx);
        if !more {
            self.complete = self.written;
            self.complete_tail = self.tail;
            self.complete_base = self.tail_base;
            self.msgs_written += 1;
        }
    }

    /// Starts taking, for writing, the cache lines of the slot `WRITE_AHEAD` places after
    /// slot `idx` of the tail chunk. The reader read that slot on its core one chunk ago
    /// (chunks are recycled), so its lines sit there (see [`WriteAhead`]); fetched now, they
    /// arrive while the slots before it are filled.
    #[inline(always)]
    fn prepare_ahead(&self, idx: usize) {
        if let Some(ahead) = self.write_ahead {
            if idx + WRITE_AHEAD < CHUNK {
                // SAFETY: `tail` is a live chunk of this queue and `idx + WRITE_AHEAD < CHUNK`;
                // `addr_of!` makes a raw pointer without reading or referencing the slot.
                let at = unsafe { ptr::addr_of!((*self.tail).slots[idx + WRITE_AHEAD]) };
                ahead.lines(at.cast(), std::mem::size_of::<Slot<T>>());
            }
        }
    }

    fn advance_tail(&mut self) {
        // SAFETY: `tail` is a live chunk of this queue; its `next` is written only by the
        // writer and read by the reader after an Acquire of the published count.
        let next = unsafe { (*self.tail).next.load(Ordering::Acquire) };
        let next = if next.is_null() {
            let spare = self.shared.spare.swap(ptr::null_mut(), Ordering::AcqRel);
            let chunk = if spare.is_null() {
                Chunk::alloc()
            } else {
                // SAFETY: the reader put `spare` there after it finished with it; we now own
                // it exclusively and reset its link.
                unsafe { (*spare).next.store(ptr::null_mut(), Ordering::Relaxed) };
                spare
            };
            // SAFETY: as above; published to the reader by the Release of the next flush.
            unsafe { (*self.tail).next.store(chunk, Ordering::Release) };
            chunk
        } else {
            // A chunk left linked by a rollback: still ours, reuse it.
            next
        };
        self.tail = next;
        self.tail_base += CHUNK as u64;
    }

    /// Publishes every complete message written so far. Wakes the reader if (and only if) it
    /// went to sleep; returns whether it did.
    pub(crate) fn flush(&mut self) -> bool {
        if self.complete == self.published {
            return false;
        }
        self.published = self.complete;
        let old = self.shared.state.0.swap(self.published, Ordering::AcqRel);
        if old & ASLEEP != 0 {
            self.wake_reader.wake();
            true
        } else {
            false
        }
    }

    /// Whether the reader has gone away.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.credit.0.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Drops the frames of an unfinished message (a connection died in the middle of it).
    pub(crate) fn rollback(&mut self) {
        let mut chunk = self.complete_tail;
        let mut base = self.complete_base;
        for pos in self.complete..self.written {
            if pos == base + CHUNK as u64 {
                // SAFETY: the chunks after the one where the last complete message ended were
                // linked by `write` and, lying beyond `published`, belong to the writer.
                chunk = unsafe { (*chunk).next.load(Ordering::Acquire) };
                base += CHUNK as u64;
            }
            let idx = (pos - base) as usize;
            // SAFETY: slot `pos` was initialised by `write`, never published, and is dropped
            // once: `written` moves back below it right after.
            unsafe { (*chunk).slots[idx].0.with_mut(|p| (*p).assume_init_drop()) };
        }
        self.written = self.complete;
        self.tail = self.complete_tail;
        self.tail_base = self.complete_base;
    }

    /// Whether a new message may be written now. When not, the writer is marked waiting and
    /// will be woken when credit returns or the reader goes away.
    pub(crate) fn is_writable(&mut self) -> bool {
        self.shared.credit.0.load(Ordering::Relaxed) & CLOSED == 0 && self.has_credit()
    }

    fn has_credit(&mut self) -> bool {
        if self.hwm == 0 || self.msgs_written - self.peer_msgs_read < self.hwm {
            return true;
        }
        // Make sure the reader can see what it must consume before we wait for credit.
        let _ = self.flush();
        let mut credit = self.shared.credit.0.load(Ordering::Acquire);
        loop {
            self.peer_msgs_read = credit & COUNT;
            if self.msgs_written - self.peer_msgs_read < self.hwm || credit & CLOSED != 0 {
                // Room, or the reader is gone (the caller finds out on write).
                return true;
            }
            if credit & WAITING != 0 {
                return false;
            }
            match self.shared.credit.0.compare_exchange(
                credit,
                credit | WAITING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return false,
                Err(now) => credit = now,
            }
        }
    }
}

impl<T> Drop for Writer<T> {
    fn drop(&mut self) {
        // Unfinished frames are dropped with the queue; publish the complete messages and the
        // close so the reader drains them and then sees `Closed`.
        self.shared
            .written_at_close
            .store(self.written, Ordering::Release);
        let old = self
            .shared
            .state
            .0
            .swap(self.complete | CLOSED, Ordering::AcqRel);
        if old & ASLEEP != 0 {
            self.wake_reader.wake();
        }
    }
}

/// Lets `place` initialise `slot` and returns the item it put there. `place` can only get a
/// reference to the slot's item by initialising it (`MaybeUninit::write`, or unsafe code),
/// so a returned reference to the slot itself proves the slot initialised; any other
/// reference panics before anything relies on it.
#[inline(always)]
pub(crate) fn place_checked<T>(
    slot: &mut MaybeUninit<T>,
    place: impl FnOnce(&mut MaybeUninit<T>) -> &mut T,
) -> &mut T {
    // A reference to a zero-sized item can sit at any address, so the check below would
    // prove nothing for one; no queue carries such items.
    assert!(std::mem::size_of::<T>() != 0, "items have a size");
    let at = slot.as_mut_ptr();
    let item: *mut T = place(slot);
    assert!(ptr::eq(item, at), "an item must be placed in its own slot");
    // SAFETY: `item` is the slot's address, and the only safe way to have a `&mut T` there
    // is to have initialised it; the borrow of the slot given to `place` has ended.
    unsafe { slot.assume_init_mut() }
}

/// The consuming end of a queue. `Send`, not `Sync`, not `Clone`.
pub(crate) struct Reader<T> {
    shared: Arc<Shared<T>>,
    head: *mut Chunk<T>,
    head_base: u64,
    read: u64,
    readable: u64,
    msgs_read: u64,
    credit_published: u64,
    credit_step: u64,
    in_message: bool,
    wake_writer: std::sync::Arc<dyn Wake>,
}

// SAFETY: the reader owns the slots in `read..readable` and the chunks behind it; moving it to
// another thread moves that ownership. `T: Send` because items arrive from the writer's thread.
unsafe impl<T: Send> Send for Reader<T> {}

impl<T: Item> Reader<T> {
    /// Takes the next item, or says why there is none.
    #[inline]
    pub(crate) fn read(&mut self) -> Read<T> {
        self.consume(|slot| {
            // SAFETY: `consume` lends a slot the writer initialised and that is read once.
            let item = unsafe { slot.assume_init_read() };
            let more = item.more();
            (item, more)
        })
    }

    /// Moves the next item into `dst` (dropping what `dst` held).
    #[inline]
    pub(crate) fn read_into(&mut self, dst: &mut T) -> Read<()> {
        self.consume(|slot| {
            // SAFETY: `consume` lends a slot the writer initialised and that is read once.
            *dst = unsafe { slot.assume_init_read() };
            ((), dst.more())
        })
    }

    /// Lends the next item to `f` where it lies in the queue, then drops it there: for a
    /// reader that only looks at the item (the encoder copying a small body into its batch),
    /// which saves moving it out first, and the stall of loading back what that move stored.
    #[inline]
    pub(crate) fn read_in_place<R>(&mut self, f: impl FnOnce(&T) -> R) -> Read<R> {
        self.consume(|slot| {
            // SAFETY: `consume` lends a slot the writer initialised and that is read once;
            // the reference does not outlive this closure, and the item is dropped after it.
            let item = unsafe { slot.assume_init_mut() };
            let more = item.more();
            let out = f(item);
            // SAFETY: as above: initialised, and never touched again until rewritten.
            unsafe { slot.assume_init_drop() };
            (out, more)
        })
    }

    /// Finds the next published slot and hands it to `take`, which must consume the item
    /// (move it out or drop it) and say whether more frames of its message follow.
    #[inline]
    fn consume<R>(&mut self, take: impl FnOnce(&mut MaybeUninit<T>) -> (R, bool)) -> Read<R> {
        if self.read == self.readable {
            if let Err(outcome) = self.refill() {
                return outcome;
            }
        }
        if self.read == self.head_base + CHUNK as u64 {
            // SAFETY: the writer linked `next` before publishing a position beyond this chunk
            // (Release), and we observed that position with Acquire in `refill`.
            let next = unsafe { (*self.head).next.load(Ordering::Acquire) };
            let done = self.head;
            self.head = next;
            self.head_base += CHUNK as u64;
            let old = self.shared.spare.swap(done, Ordering::AcqRel);
            if !old.is_null() {
                // SAFETY: a spare chunk is unlinked and empty; the swap gave us sole ownership.
                drop(unsafe { Box::from_raw(old) });
            }
        }
        let idx = (self.read - self.head_base) as usize;
        // Past the slot before `take` runs: if `take` panics (dropping what a reader's
        // destination held, or in the caller's closure), the item is leaked, never read or
        // dropped a second time.
        self.read += 1;
        // SAFETY: slot `idx` is below the published count we observed with Acquire, so the
        // writer initialised it and will not touch it again; `take` consumes it exactly once,
        // and `read` has moved past it already.
        let (out, more) = unsafe { (*self.head).slots[idx].0.with_mut(|p| take(&mut *p)) };
        self.in_message = more;
        if !more {
            self.msgs_read += 1;
            if self.credit_step != 0 && self.msgs_read - self.credit_published >= self.credit_step {
                self.publish_credit();
            }
        }
        Read::Item(out)
    }

    /// Starts loading the next item into this core's cache if it is published already, else
    /// the word that says how far the writer got: for a reader that will come back to this
    /// queue after doing something else (a socket reading one message from each of many
    /// pipes in turn), so the transfer from the writer's core overlaps that work instead of
    /// stalling the next read. A hint only: no effect on what is read.
    #[inline]
    pub(crate) fn prefetch(&self) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        {
            let (at, lines): (*const u8, usize) =
                if self.read < self.readable && self.read < self.head_base + CHUNK as u64 {
                    let idx = (self.read - self.head_base) as usize;
                    // SAFETY: `head` is a live chunk of this queue and `idx < CHUNK`;
                    // `addr_of!` makes a raw pointer without reading or referencing the slot.
                    let slot = unsafe { ptr::addr_of!((*self.head).slots[idx]) };
                    (slot.cast(), std::mem::size_of::<Slot<T>>().div_ceil(64))
                } else {
                    (ptr::addr_of!(self.shared.state).cast(), 1)
                };
            for line in 0..lines {
                // SAFETY: a prefetch has no effect on memory and cannot fault; the address
                // lies inside the slot or the state word. (A safe call in newer Rust.)
                #[allow(unused_unsafe)]
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        at.wrapping_add(line * 64).cast(),
                    )
                };
            }
        }
    }

    /// Whether everything published so far has been read (no side effects).
    pub(crate) fn is_drained(&self) -> bool {
        self.shared.state.0.load(Ordering::Acquire) & COUNT == self.read
    }

    /// Whether the writer is gone and everything it published has been read (no side
    /// effects: the reader is not put to sleep).
    pub(crate) fn is_finished(&self) -> bool {
        let state = self.shared.state.0.load(Ordering::Acquire);
        state & CLOSED != 0 && state & COUNT == self.read
    }

    fn refill<R>(&mut self) -> Result<(), Read<R>> {
        loop {
            let state = self.shared.state.0.load(Ordering::Acquire);
            let count = state & COUNT;
            if count > self.read {
                self.readable = count;
                return Ok(());
            }
            if state & CLOSED != 0 {
                return Err(Read::Closed);
            }
            if state & ASLEEP != 0 {
                return Err(Read::Empty);
            }
            // Running dry: return all credit first, so a waiting writer is never stuck.
            self.publish_credit();
            if self
                .shared
                .state
                .0
                .compare_exchange(state, state | ASLEEP, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Err(Read::Empty);
            }
        }
    }

    fn publish_credit(&mut self) {
        if self.credit_step == 0 || self.msgs_read == self.credit_published {
            return;
        }
        self.credit_published = self.msgs_read;
        let old = self.shared.credit.0.swap(self.msgs_read, Ordering::AcqRel);
        if old & WAITING != 0 {
            self.wake_writer.wake();
        }
    }
}

impl<T> Drop for Reader<T> {
    fn drop(&mut self) {
        self.shared.reader_head.store(self.head, Ordering::Release);
        self.shared
            .reader_base
            .store(self.head_base, Ordering::Release);
        self.shared.reader_pos.store(self.read, Ordering::Release);
        let old = self.shared.credit.0.fetch_or(CLOSED, Ordering::AcqRel);
        if old & WAITING != 0 {
            self.wake_writer.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Debug, PartialEq)]
    struct Frame(u32, bool);
    impl Item for Frame {
        fn more(&self) -> bool {
            self.1
        }
    }

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(&self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    impl Count {
        fn get(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    fn pair(
        hwm: u64,
    ) -> (
        Writer<Frame>,
        Reader<Frame>,
        std::sync::Arc<Count>,
        std::sync::Arc<Count>,
    ) {
        let wr = std::sync::Arc::new(Count::default());
        let ww = std::sync::Arc::new(Count::default());
        let (w, r) = channel(hwm, wr.clone(), ww.clone());
        (w, r, wr, ww)
    }

    /// A frame holding a token, so a test can count how many frames are alive.
    #[derive(Debug)]
    #[allow(dead_code)] // the Arc is held for its drop, which the tests count
    struct Tracked(std::sync::Arc<()>, u32, bool);
    impl Item for Tracked {
        fn more(&self) -> bool {
            self.2
        }
    }

    /// A queue of [`Tracked`] frames, and the count of wake-ups of its writer.
    fn tracked_pair(hwm: u64) -> (Writer<Tracked>, Reader<Tracked>, std::sync::Arc<Count>) {
        let ww = std::sync::Arc::new(Count::default());
        let (w, r) = channel(hwm, std::sync::Arc::new(Count::default()), ww.clone());
        (w, r, ww)
    }

    fn item(r: &mut Reader<Frame>) -> Option<Frame> {
        match r.read() {
            Read::Item(f) => Some(f),
            _ => None,
        }
    }

    #[test]
    fn nothing_visible_before_flush_and_wake_only_on_sleep_edge() {
        let (mut w, mut r, wake_reader, _) = pair(0);
        w.write(Frame(1, false)).unwrap();
        assert!(matches!(r.read(), Read::Empty)); // now asleep
        assert!(w.flush());
        assert_eq!(wake_reader.get(), 1);
        w.write(Frame(2, false)).unwrap();
        assert!(!w.flush()); // reader awake: no second wake-up
        assert_eq!(item(&mut r), Some(Frame(1, false)));
        assert_eq!(item(&mut r), Some(Frame(2, false)));
        assert!(matches!(r.read(), Read::Empty));
        assert_eq!(wake_reader.get(), 1);
    }

    #[test]
    fn many_items_cross_chunks_in_order() {
        let (mut w, mut r, _, _) = pair(0);
        for round in 0..5u32 {
            for i in 0..1000 {
                w.write(Frame(round * 1000 + i, false)).unwrap();
            }
            let _ = w.flush();
            for i in 0..1000 {
                assert_eq!(item(&mut r), Some(Frame(round * 1000 + i, false)));
            }
        }
    }

    #[test]
    fn prefetching_in_every_state_leaves_reads_alone() {
        let (mut w, mut r, _, _) = pair(0);
        r.prefetch(); // nothing published yet: the state word
        for i in 0..(2 * CHUNK as u32 + 3) {
            w.write(Frame(i, false)).unwrap();
            let _ = w.flush();
        }
        // Before every read, including at each chunk boundary and with nothing refilled.
        for i in 0..(2 * CHUNK as u32 + 3) {
            r.prefetch();
            assert_eq!(item(&mut r), Some(Frame(i, false)));
        }
        r.prefetch();
        assert!(matches!(r.read(), Read::Empty));
        r.prefetch();
    }

    #[test]
    fn multipart_is_published_whole_and_rolled_back_whole() {
        let (mut w, mut r, _, _) = pair(0);
        w.write(Frame(1, true)).unwrap();
        let _ = w.flush();
        assert!(matches!(r.read(), Read::Empty));
        w.write(Frame(2, false)).unwrap();
        let _ = w.flush();
        assert_eq!(item(&mut r), Some(Frame(1, true)));
        assert_eq!(item(&mut r), Some(Frame(2, false)));
        // A torn message spanning chunk boundaries is rolled back, later ones are intact.
        for i in 0..600 {
            w.write(Frame(i, true)).unwrap();
        }
        w.rollback();
        w.write(Frame(7, false)).unwrap();
        let _ = w.flush();
        assert_eq!(item(&mut r), Some(Frame(7, false)));
        assert!(matches!(r.read(), Read::Empty));
    }

    #[test]
    fn hwm_counts_messages_and_credit_wakes_writer() {
        let (mut w, mut r, _, wake_writer) = pair(4);
        for i in 0..4 {
            w.write(Frame(i, true)).unwrap();
            w.write(Frame(i, false)).unwrap();
        }
        assert!(matches!(w.write(Frame(9, false)), Err(WriteError::Full(_))));
        assert!(!w.is_writable());
        // The full writer flushed for us; reading half returns credit and wakes it.
        for _ in 0..4 {
            assert!(item(&mut r).is_some());
        }
        assert_eq!(wake_writer.get(), 1);
        assert!(w.is_writable());
        w.write(Frame(10, false)).unwrap();
    }

    #[test]
    fn close_is_seen_after_drain_and_items_are_dropped_once() {
        let (mut w, mut r, wake_reader, _) = pair(0);
        assert!(matches!(r.read(), Read::Empty));
        w.write(Frame(1, false)).unwrap();
        w.write(Frame(2, true)).unwrap(); // torn: never delivered
        drop(w);
        assert_eq!(wake_reader.get(), 1);
        assert_eq!(item(&mut r), Some(Frame(1, false)));
        assert!(matches!(r.read(), Read::Closed));

        let (mut w, r, _, wake_writer) = pair(1);
        w.write(Frame(1, false)).unwrap();
        assert!(!w.is_writable());
        drop(r);
        assert_eq!(wake_writer.get(), 1);
        assert!(matches!(
            w.write(Frame(2, false)),
            Err(WriteError::Closed(_))
        ));
    }

    #[test]
    fn unread_items_are_dropped_exactly_once() {
        let token = std::sync::Arc::new(());
        let (mut w, mut r, _) = tracked_pair(0);
        for i in 0..1000 {
            w.write(Tracked(token.clone(), i, false)).unwrap();
        }
        let _ = w.flush();
        w.write(Tracked(token.clone(), 1000, true)).unwrap(); // torn: never published
        let mut read = Vec::new();
        for _ in 0..300 {
            match r.read() {
                Read::Item(t) => read.push(t),
                _ => panic!("published item missing"),
            }
        }
        assert_eq!(std::sync::Arc::strong_count(&token), 1 + 1001);
        drop(r);
        drop(w); // the 700 unread and the torn one go with the queue
        assert_eq!(std::sync::Arc::strong_count(&token), 1 + 300);
        drop(read);
        assert_eq!(std::sync::Arc::strong_count(&token), 1);
    }

    #[test]
    fn items_lent_in_place_are_dropped_there_once_and_count_as_read() {
        let token = std::sync::Arc::new(());
        let (mut w, mut r, ww) = tracked_pair(4);
        for i in 0..4 {
            w.write(Tracked(token.clone(), 2 * i, true)).unwrap();
            w.write(Tracked(token.clone(), 2 * i + 1, false)).unwrap();
        }
        assert!(!w.is_writable());
        // Lend, look, drop in place, mixed with ordinary reads; message ends return credit
        // as `read` does.
        let mut seen = Vec::new();
        for n in 0..8u32 {
            if n % 3 == 0 {
                match r.read() {
                    Read::Item(t) => seen.push((t.1, t.2)),
                    other => panic!("expected an item, got {other:?}"),
                }
            } else {
                match r.read_in_place(|t| (t.1, t.2)) {
                    Read::Item(pair) => seen.push(pair),
                    other => panic!("expected an item, got {other:?}"),
                }
            }
        }
        let expected: Vec<(u32, bool)> = (0..8).map(|i| (i, i % 2 == 0)).collect();
        assert_eq!(seen, expected);
        assert_eq!(std::sync::Arc::strong_count(&token), 1);
        assert_eq!(ww.get(), 1, "credit came back while the writer waited");
        assert!(w.is_writable());
        assert!(matches!(r.read_in_place(|t| t.1), Read::Empty));
        drop(w);
        assert!(matches!(r.read_in_place(|t| t.1), Read::Closed));
        // Many chunks' worth, lent in place only.
        let (mut w, mut r, _) = tracked_pair(0);
        let total = 3 * CHUNK as u32 + 7;
        for i in 0..total {
            w.write(Tracked(token.clone(), i, false)).unwrap();
        }
        let _ = w.flush();
        for i in 0..total {
            assert!(matches!(r.read_in_place(|t| t.1 == i), Read::Item(true)));
        }
        assert_eq!(std::sync::Arc::strong_count(&token), 1);
    }

    #[test]
    fn an_item_is_made_only_when_there_is_room() {
        let (mut w, mut r, _, wake_writer) = pair(2);
        let mut made = 0;
        for i in 0..2 {
            let out = w.write_in_place(|slot| {
                made += 1;
                slot.write(Frame(i, false))
            });
            assert!(out.is_ok());
        }
        // At the mark: the item is not made, and the writer now waits for credit.
        let full = w.write_in_place(|slot| {
            made += 1;
            slot.write(Frame(9, false))
        });
        assert!(matches!(full, Err(WriteError::Full(()))));
        assert_eq!(made, 2);
        assert_eq!(item(&mut r), Some(Frame(0, false)));
        assert_eq!(wake_writer.get(), 1);
        assert!(w.write_in_place(|slot| slot.write(Frame(2, false))).is_ok());
        let _ = w.flush();
        assert_eq!(item(&mut r), Some(Frame(1, false)));
        assert_eq!(item(&mut r), Some(Frame(2, false)));
        drop(r);
        let closed = w.write_in_place(|slot| {
            made += 1;
            slot.write(Frame(3, false))
        });
        assert!(matches!(closed, Err(WriteError::Closed(()))));
        assert_eq!(made, 2);
    }

    #[test]
    fn items_placed_in_their_slots_are_read_whole_messages_at_a_time() {
        let (mut w, mut r, _, _) = pair(4);
        assert!(w.write_in_place(|slot| slot.write(Frame(1, true))).is_ok());
        // Placed and then changed where it lies: the slot's item is what counts.
        let placed = w.write_in_place(|slot| {
            let frame = slot.write(Frame(2, true));
            frame.1 = false;
            frame
        });
        assert!(placed.is_ok());
        let _ = w.flush();
        assert_eq!(item(&mut r), Some(Frame(1, true)));
        assert_eq!(item(&mut r), Some(Frame(2, false)));
        assert_eq!(item(&mut r), None);
    }

    #[test]
    #[should_panic(expected = "placed in its own slot")]
    fn an_item_placed_anywhere_else_is_refused() {
        let (mut w, _r, _, _) = pair(4);
        let elsewhere: &'static mut Frame = Box::leak(Box::new(Frame(7, false)));
        let _ = w.write_in_place(move |_slot| elsewhere);
    }

    #[test]
    fn threads_move_a_million_items() {
        let (mut w, mut r, _, _) = pair(1000);
        let n = 1_000_000u32;
        let t = std::thread::spawn(move || {
            let mut i = 0;
            while i < n {
                match w.write(Frame(i, false)) {
                    Ok(()) => {
                        i += 1;
                        if i % 64 == 0 {
                            let _ = w.flush();
                        }
                    }
                    Err(_) => std::thread::yield_now(),
                }
            }
            let _ = w.flush();
        });
        let mut expect = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while expect < n {
            match r.read() {
                Read::Item(f) => {
                    assert_eq!(f.0, expect);
                    expect += 1;
                }
                Read::Empty => std::thread::yield_now(),
                Read::Closed => break,
            }
            assert!(std::time::Instant::now() < deadline);
        }
        assert_eq!(expect, n);
        t.join().unwrap();
    }
}
