//! The socket's table of pipes, one per peer, addressed by a small index for the pattern and
//! by a pipe id for wake-ups.

use crate::msg::Msg;
use crate::pattern::Pipes;
use crate::peer::{Metadata, PeerInfo};
use crate::pipe::{PipeEnds, Read, WriteError};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) struct PipeSlot {
    pub(crate) id: u64,
    pub(crate) ends: PipeEnds<Msg>,
    /// What the peer's handshake said; `None` until a connecter's first handshake.
    #[allow(dead_code)] // read by the routing patterns
    pub(crate) peer: Option<PeerInfo>,
    /// The peer's metadata, attached to every message read from this pipe.
    pub(crate) meta: Option<Arc<Metadata>>,
    pub(crate) endpoint_id: u64,
    /// The other end belongs to a socket of this context (inproc), not to an I/O thread.
    pub(crate) inproc: bool,
}

impl PipeSlot {
    /// Records what a (new) handshake said about the peer.
    pub(crate) fn set_peer(&mut self, peer: PeerInfo) {
        self.meta = Some(Arc::new(Metadata::new(peer.properties.clone())));
        self.peer = Some(peer);
    }
}

#[derive(Default)]
pub(crate) struct PipeTable {
    slots: Vec<Option<PipeSlot>>,
    free: Vec<usize>,
    by_id: HashMap<u64, usize>,
    pub(crate) dead: Vec<usize>,
    /// How many of the pipes are inproc.
    inproc: usize,
}

impl PipeTable {
    pub(crate) fn insert(&mut self, slot: PipeSlot) -> usize {
        let id = slot.id;
        self.inproc += usize::from(slot.inproc);
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(id, idx);
        idx
    }

    pub(crate) fn remove(&mut self, idx: usize) -> Option<PipeSlot> {
        let slot = self.slots.get_mut(idx)?.take()?;
        self.by_id.remove(&slot.id);
        crate::pattern::shrink_after_removal(&mut self.by_id);
        self.inproc -= usize::from(slot.inproc);
        self.free.push(idx);
        Some(slot)
    }

    pub(crate) fn index_of(&self, id: u64) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    pub(crate) fn get_mut(&mut self, idx: usize) -> Option<&mut PipeSlot> {
        self.slots.get_mut(idx).and_then(|s| s.as_mut())
    }

    /// Whether a peer is another socket of this context: a message from it comes straight
    /// from that socket's thread, not through an I/O thread.
    pub(crate) fn has_inproc(&self) -> bool {
        self.inproc > 0
    }

    /// Indices of the pipes that came from `endpoint_id`.
    pub(crate) fn of_endpoint(&self, endpoint_id: u64) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|s| s.endpoint_id == endpoint_id))
            .map(|(i, _)| i)
            .collect()
    }

    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.by_id.clear();
        self.dead.clear();
        self.inproc = 0;
    }

    #[inline]
    fn ends(&mut self, idx: usize) -> &mut PipeEnds<Msg> {
        &mut self.slots[idx]
            .as_mut()
            .expect("patterns only use attached pipes")
            .ends
    }
}

impl Pipes for PipeTable {
    #[inline]
    fn writable(&mut self, idx: usize) -> bool {
        self.ends(idx).out.is_writable()
    }

    fn closed(&mut self, idx: usize) -> bool {
        self.ends(idx).out.is_closed()
    }

    #[inline]
    fn write(&mut self, idx: usize, msg: Msg) -> Result<(), WriteError<Msg>> {
        self.ends(idx).out.write(msg)
    }

    #[inline(always)]
    fn write_in_place(
        &mut self,
        idx: usize,
        place: impl FnOnce(&mut std::mem::MaybeUninit<Msg>) -> &mut Msg,
    ) -> Result<(), WriteError<()>> {
        self.ends(idx).out.write_in_place(place)
    }

    #[inline]
    fn flush(&mut self, idx: usize) {
        let _ = self.ends(idx).out.flush();
    }

    #[inline]
    fn read_into(&mut self, idx: usize, dst: &mut Msg) -> Read<()> {
        let slot = self.slots[idx]
            .as_mut()
            .expect("patterns only use attached pipes");
        let got = slot.ends.inb.read_into(dst);
        if let (Read::Item(()), Some(meta)) = (&got, &slot.meta) {
            dst.set_metadata(meta);
        }
        got
    }

    #[inline]
    fn prefetch(&self, idx: usize) {
        if let Some(Some(slot)) = self.slots.get(idx) {
            slot.ends.inb.prefetch();
        }
    }

    fn dead(&mut self, idx: usize) {
        if !self.dead.contains(&idx) {
            self.dead.push(idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipe::{pipe_pair, Capacity, Wake};

    struct Nobody;

    impl Wake for Nobody {
        fn wake(&self) {}
    }

    fn slot(id: u64, inproc: bool) -> PipeSlot {
        let (ends, _theirs) = pipe_pair(
            Capacity::Messages(10),
            Capacity::Messages(10),
            Arc::new(Nobody),
            Arc::new(Nobody),
        );
        PipeSlot {
            id,
            ends,
            peer: None,
            meta: None,
            endpoint_id: 0,
            inproc,
        }
    }

    #[test]
    fn the_table_knows_while_an_inproc_pipe_is_attached() {
        let mut table = PipeTable::default();
        table.insert(slot(1, false));
        assert!(!table.has_inproc());
        let first = table.insert(slot(2, true));
        let second = table.insert(slot(3, true));
        assert!(table.has_inproc());
        table.remove(first);
        assert!(table.has_inproc(), "one inproc pipe is left");
        table.remove(second);
        assert!(!table.has_inproc());
        // Removing a slot twice does not count it twice.
        assert!(table.remove(second).is_none());
        table.insert(slot(4, true));
        assert!(table.has_inproc());
        table.clear();
        assert!(!table.has_inproc());
    }
}
