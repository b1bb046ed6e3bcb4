//! The buffer layer: where message bodies and received bytes live, and how their memory is
//! reused instead of allocated, zeroed and faulted in again for every message.
//!
//! The contract, for every piece here:
//!
//! * **Bodies are `bytes::Bytes`.** Whatever a piece hands out is an ordinary `Bytes` (or a
//!   `BytesMut` to fill), so a body can be cloned for fan-out, sent across threads and
//!   dropped on any thread. Reuse happens behind the reference count: a buffer comes back
//!   only once every body cut from it is gone, and never while one is still readable.
//! * **Memory follows what is used, not what is announced.** No piece sizes an allocation
//!   from a length a peer merely claimed; what is kept idle for reuse is bounded per thread
//!   or per size class.
//! * **Per thread first.** Each thread keeps its own slabs, spares and recycled receive
//!   buffers, so making a body takes no lock and touches no shared line in the common case;
//!   a shared pool is the fallback when a thread's own reserve is exhausted.
//! * **No knowledge of the wire, the pipes or the sockets.** The decoder sees received bytes
//!   through [`Received`]; the rest of the crate sees bodies.
//!
//! The pieces:
//!
//! * [`pool`]: large copied bodies, in buffers of their size class kept in a per-thread ring
//!   and shared pools.
//! * [`slab`]: medium copied bodies (up to [`slab::MAX_BODY`]), pieces of per-thread slabs.
//! * [`spares`]: the slabs a thread keeps for reuse once their bodies are gone.
//! * [`lending`]: large receive buffers whose bytes leave as bodies and come back whole.
//! * [`read_buf`]: a connection's receive buffer: how much to read per syscall, and where.

pub(crate) mod lending;
pub(crate) mod pool;
pub(crate) mod read_buf;
pub(crate) mod slab;
pub(crate) mod spares;

pub(crate) use read_buf::ReadBuf;

use bytes::{Buf, Bytes, BytesMut};

/// Received bytes that frames are taken off the front of: a plain `BytesMut`, or a
/// connection's receive buffer, which keeps track of the bytes it gives away so that it can
/// reuse its memory once they are all dropped.
pub(crate) trait Received {
    /// The bytes not yet taken.
    fn bytes(&self) -> &[u8];
    /// Drops `n` bytes off the front (headers, bodies copied out).
    fn skip(&mut self, n: usize);
    /// Takes `n` bytes off the front, without a copy.
    fn take(&mut self, n: usize) -> Bytes;
}

impl Received for BytesMut {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn skip(&mut self, n: usize) {
        self.advance(n);
    }

    fn take(&mut self, n: usize) -> Bytes {
        self.split_to(n).freeze()
    }
}
