//! Socket-type logic: which pipe a message goes to, which pipe the next one comes from.
//! Patterns see pipes only through the small [`Pipes`] trait, so they are tested against
//! fake pipes, without threads or I/O.

mod fq;
mod lb;
mod pair;
mod pipeline;

pub(crate) use fq::FairQueue;
pub(crate) use lb::LoadBalancer;
pub(crate) use pair::Pair;
pub(crate) use pipeline::{Pull, Push};

use crate::error::Error;
use crate::msg::Msg;
use crate::pipe::{Read, WriteError};
use crate::socket_type::SocketType;
use crate::zmtp::PeerInfo;

/// What a pattern may do with the socket's pipes, by index.
pub(crate) trait Pipes {
    /// Whether a new message may be written to pipe `idx` now (marks it waiting if not).
    fn writable(&mut self, idx: usize) -> bool;
    /// Writes one frame.
    fn write(&mut self, idx: usize, msg: Msg) -> Result<(), WriteError<Msg>>;
    /// Publishes what was written to pipe `idx`.
    fn flush(&mut self, idx: usize);
    /// Reads one frame.
    fn read(&mut self, idx: usize) -> Read<Msg>;
    /// Reports pipe `idx` as dead; the socket removes it after the current call.
    fn dead(&mut self, idx: usize);
}

/// Why a pattern could not send or receive now.
#[derive(Debug)]
pub(crate) enum Blocked<T> {
    /// Nothing can be done until a pipe wakes (the value is handed back).
    Again(T),
    /// The call is wrong whatever happens.
    Fail(Error),
}

/// The behaviour of one socket type, over pipes of type `P` (the socket's table, or fakes in
/// tests); generic so the per-message calls inline.
pub(crate) trait Pattern<P: Pipes>: Send {
    /// A new pipe joined; `peer` is what its handshake said, or `None` for a connect whose
    /// connection is not made yet. Returns false to refuse it (e.g. PAIR has its peer).
    fn attach(&mut self, idx: usize, peer: Option<&PeerInfo>) -> bool;
    /// A pipe attached before its connection now has a (new) peer.
    fn peer_ready(&mut self, _idx: usize, _peer: &PeerInfo) {}
    /// A pipe left.
    fn detach(&mut self, idx: usize);
    /// Pipe `idx` may have become readable or writable.
    fn activate(&mut self, idx: usize);
    /// Sends one frame (the `more` flag says whether the message goes on).
    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>>;
    /// Receives one frame.
    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>>;
    /// Whether this pattern ever reads its pipes (if not, the socket watches them for close).
    fn reads(&self) -> bool {
        true
    }
}

/// The pattern for a socket type, or `None` if the type is not implemented yet.
pub(crate) fn for_type<P: Pipes>(socket_type: SocketType) -> Option<Box<dyn Pattern<P>>> {
    Some(match socket_type {
        SocketType::Push => Box::new(Push::default()),
        SocketType::Pull => Box::new(Pull::default()),
        SocketType::Pair => Box::new(Pair::default()),
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod fake {
    //! In-memory pipes for pattern tests.
    use super::*;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub(crate) struct FakePipe {
        pub(crate) inbound: VecDeque<Msg>,
        pub(crate) outbound: Vec<Msg>,
        pub(crate) capacity: usize,
        pub(crate) closed: bool,
    }

    #[derive(Default)]
    pub(crate) struct FakePipes {
        pub(crate) pipes: Vec<FakePipe>,
        pub(crate) dead: Vec<usize>,
    }

    impl FakePipes {
        pub(crate) fn with(n: usize, capacity: usize) -> FakePipes {
            FakePipes {
                pipes: (0..n)
                    .map(|_| FakePipe {
                        capacity,
                        ..FakePipe::default()
                    })
                    .collect(),
                dead: Vec::new(),
            }
        }
    }

    impl Pipes for FakePipes {
        fn writable(&mut self, idx: usize) -> bool {
            let p = &self.pipes[idx];
            !p.closed && p.outbound.iter().filter(|m| !m.more()).count() < p.capacity
        }
        fn write(&mut self, idx: usize, msg: Msg) -> Result<(), WriteError<Msg>> {
            if self.pipes[idx].closed {
                return Err(WriteError::Closed(msg));
            }
            self.pipes[idx].outbound.push(msg);
            Ok(())
        }
        fn flush(&mut self, _idx: usize) {}
        fn read(&mut self, idx: usize) -> Read<Msg> {
            let p = &mut self.pipes[idx];
            match p.inbound.pop_front() {
                Some(m) => Read::Item(m),
                None if p.closed => Read::Closed,
                None => Read::Empty,
            }
        }
        fn dead(&mut self, idx: usize) {
            self.dead.push(idx);
        }
    }
}
