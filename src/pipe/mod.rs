//! The pipe: a pair of single-producer single-consumer lock-free queues, one per direction,
//! between a socket (application thread) and a session (I/O thread), or between two sockets
//! (inproc).
//!
//! This is the only module of the crate that uses `unsafe`. The queue follows the design of
//! libzmq's ypipe: the writer publishes a batch with one atomic swap, and the same word tells
//! it whether the reader went to sleep, in which case (and only then) it wakes the reader.
//! High-water marks count whole messages; the reader hands credit back every `(hwm + 1) / 2`
//! messages and whenever it runs dry.

#![allow(unsafe_code)]

mod queue;

pub(crate) use queue::{channel, Item, Read, Reader, Wake, WriteError, Writer};

use crate::msg::Msg;
use std::sync::Arc;

impl Item for Msg {
    #[inline]
    fn more(&self) -> bool {
        Msg::more(self)
    }
}

/// Both ends a party holds of a bidirectional pipe: what it sends and what it receives.
pub(crate) struct PipeEnds {
    pub(crate) out: Writer<Msg>,
    pub(crate) inb: Reader<Msg>,
}

/// Creates a bidirectional pipe between party `a` and party `b`.
///
/// `a_to_b_hwm` limits messages queued from `a` to `b`, `b_to_a_hwm` the other way (0 means no
/// limit). `wake_a` is called when `a` must look at the pipe again (data arrived while it
/// slept, or credit returned while it waited), `wake_b` likewise for `b`.
pub(crate) fn pipe_pair(
    a_to_b_hwm: u64,
    b_to_a_hwm: u64,
    wake_a: Arc<dyn Wake>,
    wake_b: Arc<dyn Wake>,
) -> (PipeEnds, PipeEnds) {
    let (a_out, b_in) = channel(a_to_b_hwm, wake_b.clone(), wake_a.clone());
    let (b_out, a_in) = channel(b_to_a_hwm, wake_a, wake_b);
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
