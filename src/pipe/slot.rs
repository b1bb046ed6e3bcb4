//! The conflating pipe (`CONFLATE`): holds only the newest whole message. The writer never
//! blocks and never queues more than one message; the reader gets the latest one. A lock
//! guards the slot: conflation is for "latest value" feeds, not for the throughput path.

use super::queue::{place_checked, Item, Read, Wake, WriteError};
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex, MutexGuard};

struct State<T> {
    /// The newest complete message, frames in order.
    latest: Vec<T>,
    reader_asleep: bool,
    writer_closed: bool,
    reader_closed: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Creates a conflating pipe.
pub(crate) fn slot<T: Item>(
    wake_reader: Arc<dyn Wake>,
    wake_writer: Arc<dyn Wake>,
) -> (SlotWriter<T>, SlotReader<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            latest: Vec::new(),
            reader_asleep: false,
            writer_closed: false,
            reader_closed: false,
        }),
    });
    (
        SlotWriter {
            shared: shared.clone(),
            partial: Vec::new(),
            complete: None,
            wake_reader,
        },
        SlotReader {
            shared,
            current: VecDeque::new(),
            wake_writer,
        },
    )
}

/// The producing end of a conflating pipe.
pub(crate) struct SlotWriter<T> {
    shared: Arc<Shared<T>>,
    /// Frames of the message being written.
    partial: Vec<T>,
    /// The newest complete message not yet published.
    complete: Option<Vec<T>>,
    wake_reader: Arc<dyn Wake>,
}

impl<T: Item> SlotWriter<T> {
    /// Appends a frame; never full.
    pub(crate) fn write(&mut self, item: T) -> Result<(), WriteError<T>> {
        if self.is_closed() {
            return Err(WriteError::Closed(item));
        }
        self.push(item);
        Ok(())
    }

    /// Like `write`, but `place` makes the frame (see `Writer::write_in_place`), and only
    /// when the reader is still there: a refused frame stays unmade with the caller.
    pub(crate) fn write_in_place(
        &mut self,
        place: impl FnOnce(&mut MaybeUninit<T>) -> &mut T,
    ) -> Result<(), WriteError<()>> {
        if self.is_closed() {
            return Err(WriteError::Closed(()));
        }
        let mut made = MaybeUninit::uninit();
        place_checked(&mut made, place);
        // SAFETY: `place_checked` returned, so `made` holds the item `place` wrote.
        self.push(unsafe { made.assume_init() });
        Ok(())
    }

    /// Appends a frame without asking whether the reader is still there (the caller just
    /// did): a frame for a reader gone meanwhile goes with the pipe.
    fn push(&mut self, item: T) {
        let more = item.more();
        self.partial.push(item);
        if !more {
            // A newer complete message replaces any unpublished one.
            self.complete = Some(std::mem::take(&mut self.partial));
        }
    }

    /// Publishes the newest complete message in place of whatever the reader has not taken.
    pub(crate) fn flush(&mut self) -> bool {
        let Some(message) = self.complete.take() else {
            return false;
        };
        let mut state = self.shared.lock();
        let old = std::mem::replace(&mut state.latest, message);
        let wake = std::mem::take(&mut state.reader_asleep);
        drop(state);
        drop(old);
        if wake {
            self.wake_reader.wake();
        }
        wake
    }

    pub(crate) fn rollback(&mut self) {
        self.partial.clear();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().reader_closed
    }
}

impl<T> Drop for SlotWriter<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if let Some(message) = self.complete.take() {
            state.latest = message;
        }
        state.writer_closed = true;
        let wake = std::mem::take(&mut state.reader_asleep);
        drop(state);
        if wake {
            self.wake_reader.wake();
        }
    }
}

/// The consuming end of a conflating pipe.
pub(crate) struct SlotReader<T> {
    shared: Arc<Shared<T>>,
    /// Frames of the message being read.
    current: VecDeque<T>,
    #[allow(dead_code)] // the writer never waits, so it is never woken
    wake_writer: Arc<dyn Wake>,
}

impl<T: Item> SlotReader<T> {
    pub(crate) fn read(&mut self) -> Read<T> {
        if let Some(item) = self.current.pop_front() {
            return Read::Item(item);
        }
        let mut state = self.shared.lock();
        if !state.latest.is_empty() {
            self.current = std::mem::take(&mut state.latest).into();
            drop(state);
            return match self.current.pop_front() {
                Some(item) => Read::Item(item),
                None => Read::Empty,
            };
        }
        if state.writer_closed {
            return Read::Closed;
        }
        state.reader_asleep = true;
        Read::Empty
    }

    pub(crate) fn is_drained(&self) -> bool {
        self.current.is_empty() && self.shared.lock().latest.is_empty()
    }

    pub(crate) fn is_finished(&self) -> bool {
        let state = self.shared.lock();
        self.current.is_empty() && state.latest.is_empty() && state.writer_closed
    }
}

impl<T> Drop for SlotReader<T> {
    fn drop(&mut self) {
        self.shared.lock().reader_closed = true;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn keeps_only_the_newest_whole_message() {
        let wake = Arc::new(Count::default());
        let (mut w, mut r) = slot::<Frame>(wake.clone(), Arc::new(Count::default()));
        assert!(matches!(r.read(), Read::Empty));
        for i in 0..100 {
            w.write(Frame(i, true)).unwrap();
            w.write(Frame(i, false)).unwrap();
            let _ = w.flush();
        }
        assert_eq!(
            wake.0.load(Ordering::SeqCst),
            1,
            "woken once, on the sleep edge"
        );
        assert!(matches!(r.read(), Read::Item(Frame(99, true))));
        // A newer message arriving mid-read does not tear the one being read.
        w.write(Frame(100, false)).unwrap();
        let _ = w.flush();
        assert!(matches!(r.read(), Read::Item(Frame(99, false))));
        assert!(matches!(r.read(), Read::Item(Frame(100, false))));
        assert!(matches!(r.read(), Read::Empty));
        w.write(Frame(7, true)).unwrap(); // torn by the close: never delivered
        drop(w);
        assert!(matches!(r.read(), Read::Closed));
        assert!(r.is_finished());
    }
}
