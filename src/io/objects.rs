//! The I/O thread's objects (listeners and sessions) in a slab addressed by index plus
//! generation ([`Key`]), so a stale token or timer never reaches an object that reused the
//! slot.

pub(crate) use crate::command::Key;

pub(crate) struct Slab<T> {
    slots: Vec<(u32, Option<T>)>,
    free: Vec<usize>,
    len: usize,
    /// The generation of the next slot made anew, so that a slot cut off the end and made
    /// again never repeats a generation a stale key may still hold.
    next_generation: u32,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            next_generation: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The key the next insert will use.
    pub(crate) fn vacant_key(&self) -> Key {
        match self.free.last() {
            Some(&index) => Key {
                index,
                generation: self.slots[index].0.wrapping_add(1),
            },
            None => Key {
                index: self.slots.len(),
                generation: self.next_generation,
            },
        }
    }

    pub(crate) fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index];
                slot.0 = slot.0.wrapping_add(1);
                slot.1 = Some(value);
                Key {
                    index,
                    generation: slot.0,
                }
            }
            None => {
                let generation = self.next_generation;
                self.next_generation = generation.wrapping_add(1);
                self.slots.push((generation, Some(value)));
                Key {
                    index: self.slots.len() - 1,
                    generation,
                }
            }
        }
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index) {
            Some((generation, Some(value))) if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    /// The live object at `index`, whatever its generation (for poll events, whose tokens
    /// are deregistered before a slot is reused).
    pub(crate) fn key_at(&self, index: usize) -> Option<Key> {
        match self.slots.get(index) {
            Some((generation, Some(_))) => Some(Key {
                index,
                generation: *generation,
            }),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index)?;
        if slot.0 != key.generation || slot.1.is_none() {
            return None;
        }
        self.len -= 1;
        self.free.push(key.index);
        let value = slot.1.take();
        self.shrink();
        value
    }

    /// Gives memory back once most slots are empty: the empty slots at the end are cut off
    /// (a mio token is a slot index, so slots in use never move). A burst of connections
    /// that has gone does not keep its table.
    fn shrink(&mut self) {
        if self.slots.len() < 64 || self.len * 4 > self.slots.len() {
            return;
        }
        while self.slots.last().is_some_and(|(_, v)| v.is_none()) {
            self.slots.pop();
        }
        let end = self.slots.len();
        self.free.retain(|&index| index < end);
        self.slots.shrink_to(end * 2);
        self.free.shrink_to(self.free.len() * 2);
    }

    pub(crate) fn keys(&self) -> Vec<Key> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, (_, v))| v.is_some())
            .map(|(index, (generation, _))| Key {
                index,
                generation: *generation,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_miss() {
        let mut s = Slab::new();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(a.index, b.index);
        assert!(s.get_mut(a).is_none());
        assert_eq!(s.get_mut(b), Some(&mut "b"));
        assert_eq!(s.vacant_key().index, 1);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn a_burst_that_left_gives_its_slots_back_without_repeating_keys() {
        let mut s = Slab::new();
        let first = s.insert(0);
        let burst: Vec<Key> = (1..1000).map(|i| s.insert(i)).collect();
        for key in &burst {
            assert_eq!(s.remove(*key), Some(key.index));
        }
        assert_eq!(s.len(), 1);
        assert!(s.slots.capacity() < 64, "{} slots kept", s.slots.capacity());
        // Slots made again never take a generation a key of the burst holds.
        for old in &burst[..10] {
            let new = s.insert(7);
            assert!(s.get_mut(*old).is_none(), "{old:?} reached {new:?}");
        }
        assert_eq!(s.get_mut(first), Some(&mut 0));
    }
}
