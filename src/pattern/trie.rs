//! The subscription trie: byte-string prefixes mapped to values (a count on the subscriber
//! side, the set of subscribed pipes on the publisher side).
//!
//! A compressed (radix) trie kept in one arena: each node holds the bytes of the edge from
//! its parent, so memory follows the distinct bytes stored, not the topics times their
//! length. Every walk is a loop with an explicit stack: peer data (a topic may be as long
//! as `MAXMSGSIZE`) never drives recursion.

/// Index of the root node in the arena.
const ROOT: u32 = 0;

#[derive(Debug)]
struct Node<V> {
    /// The bytes on the edge from the parent (empty only for the root).
    label: Box<[u8]>,
    /// Children by the first byte of their label, sorted.
    children: Vec<(u8, u32)>,
    value: Option<V>,
}

impl<V> Node<V> {
    fn new(label: &[u8]) -> Node<V> {
        Node {
            label: label.into(),
            children: Vec::new(),
            value: None,
        }
    }
}

/// A prefix trie from byte strings to values of type `V`.
#[derive(Debug)]
pub(crate) struct Trie<V> {
    nodes: Vec<Node<V>>,
    free: Vec<u32>,
    len: usize,
}

impl<V> Default for Trie<V> {
    fn default() -> Self {
        Trie {
            nodes: vec![Node::new(&[])],
            free: Vec::new(),
            len: 0,
        }
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl<V> Trie<V> {
    /// How many keys hold a value.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn alloc(&mut self, node: Node<V>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        node.label = Box::new([]);
        node.children = Vec::new();
        node.value = None;
        self.free.push(n);
    }

    /// The child of `n` whose label starts with `byte`: its position and index.
    #[inline]
    fn child(&self, n: u32, byte: u8) -> Option<(usize, u32)> {
        let children = &self.nodes[n as usize].children;
        children
            .binary_search_by_key(&byte, |&(b, _)| b)
            .ok()
            .map(|pos| (pos, children[pos].1))
    }

    /// The node holding exactly `key`, and the path to it as (parent, position) pairs.
    fn find(&self, key: &[u8], mut path: Option<&mut Vec<(u32, usize)>>) -> Option<u32> {
        let mut n = ROOT;
        let mut rest = key;
        while let Some(&first) = rest.first() {
            let (pos, c) = self.child(n, first)?;
            let label = &self.nodes[c as usize].label;
            if !rest.starts_with(label) {
                return None;
            }
            if let Some(p) = path.as_mut() {
                p.push((n, pos));
            }
            rest = &rest[label.len()..];
            n = c;
        }
        Some(n)
    }

    /// The value stored for exactly `key`.
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let n = self.find(key, None)?;
        self.nodes[n as usize].value.as_mut()
    }

    /// The value for `key`, created with `V::default()` if there is none.
    pub(crate) fn entry(&mut self, key: &[u8]) -> &mut V
    where
        V: Default,
    {
        let mut n = ROOT;
        let mut rest = key;
        while let Some(&first) = rest.first() {
            match self.child(n, first) {
                None => {
                    let leaf = self.alloc(Node::new(rest));
                    let children = &mut self.nodes[n as usize].children;
                    let pos = children.partition_point(|&(b, _)| b < first);
                    children.insert(pos, (first, leaf));
                    n = leaf;
                    rest = &[];
                }
                Some((pos, c)) => {
                    let label_len = self.nodes[c as usize].label.len();
                    let common = common_prefix(&self.nodes[c as usize].label, rest);
                    if common < label_len {
                        // Split the edge: a new node for the shared part, `c` below it.
                        let label = std::mem::take(&mut self.nodes[c as usize].label);
                        let mut mid = Node::new(&label[..common]);
                        mid.children.push((label[common], c));
                        self.nodes[c as usize].label = label[common..].into();
                        let mid = self.alloc(mid);
                        self.nodes[n as usize].children[pos].1 = mid;
                        n = mid;
                    } else {
                        n = c;
                    }
                    rest = &rest[common..];
                }
            }
        }
        let value = &mut self.nodes[n as usize].value;
        if value.is_none() {
            self.len += 1;
        }
        value.get_or_insert_with(V::default)
    }

    /// Removes the value for `key` and prunes the nodes that no longer lead anywhere.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<V> {
        let mut path = Vec::new();
        let target = self.find(key, Some(&mut path))?;
        let value = self.nodes[target as usize].value.take()?;
        self.len -= 1;
        let mut n = target;
        while let Some((parent, pos)) = path.pop() {
            let node = &self.nodes[n as usize];
            if node.value.is_some() {
                break;
            }
            match node.children.len() {
                0 => {
                    self.nodes[parent as usize].children.remove(pos);
                    self.release(n);
                    n = parent; // the parent may now be an empty pass-through node
                }
                1 => {
                    // A pass-through node: fold it into its only child.
                    let child = node.children[0].1;
                    let mut label = node.label.to_vec();
                    label.extend_from_slice(&self.nodes[child as usize].label);
                    self.nodes[child as usize].label = label.into();
                    self.nodes[parent as usize].children[pos].1 = child;
                    self.release(n);
                    break;
                }
                _ => break,
            }
        }
        Some(value)
    }

    /// Calls `f` with the value of every stored key that is a prefix of `data` (the empty
    /// key included), shortest first.
    #[inline]
    pub(crate) fn for_each_prefix(&self, data: &[u8], mut f: impl FnMut(&V)) {
        let mut n = ROOT;
        let mut rest = data;
        loop {
            if let Some(v) = &self.nodes[n as usize].value {
                f(v);
            }
            let Some(&first) = rest.first() else { return };
            let Some((_, c)) = self.child(n, first) else {
                return;
            };
            let label = &self.nodes[c as usize].label;
            if !rest.starts_with(label) {
                return;
            }
            rest = &rest[label.len()..];
            n = c;
        }
    }

    /// Whether some stored key is a prefix of `data`.
    #[inline]
    pub(crate) fn has_prefix_of(&self, data: &[u8]) -> bool {
        let mut n = ROOT;
        let mut rest = data;
        loop {
            if self.nodes[n as usize].value.is_some() {
                return true;
            }
            let Some(&first) = rest.first() else {
                return false;
            };
            let Some((_, c)) = self.child(n, first) else {
                return false;
            };
            let label = &self.nodes[c as usize].label;
            if !rest.starts_with(label) {
                return false;
            }
            rest = &rest[label.len()..];
            n = c;
        }
    }

    /// Calls `f` with every stored key and its value, in key order. `f` returns false to
    /// have the key removed.
    pub(crate) fn retain(&mut self, mut f: impl FnMut(&[u8], &mut V) -> bool) {
        let mut key = Vec::new();
        let mut doomed: Vec<Vec<u8>> = Vec::new();
        // (node, length of the key before this node's label)
        let mut stack = vec![(ROOT, 0usize)];
        while let Some((n, depth)) = stack.pop() {
            key.truncate(depth);
            let node = &mut self.nodes[n as usize];
            key.extend_from_slice(&node.label);
            if let Some(v) = node.value.as_mut() {
                if !f(&key, v) {
                    doomed.push(key.clone());
                }
            }
            let here = key.len();
            stack.extend(node.children.iter().rev().map(|&(_, c)| (c, here)));
        }
        for k in doomed {
            self.remove(&k);
        }
    }

    /// Calls `f` with every stored key and its value, in key order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8], &V)) {
        let mut key = Vec::new();
        let mut stack = vec![(ROOT, 0usize)];
        while let Some((n, depth)) = stack.pop() {
            key.truncate(depth);
            let node = &self.nodes[n as usize];
            key.extend_from_slice(&node.label);
            if let Some(v) = &node.value {
                f(&key, v);
            }
            let here = key.len();
            stack.extend(node.children.iter().rev().map(|&(_, c)| (c, here)));
        }
    }

    /// Nodes in use (for tests of pruning).
    #[cfg(test)]
    fn live_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

/// Subscriber side: each topic counts its subscriptions (two subscribes need two
/// unsubscribes).
impl Trie<u32> {
    /// Counts one subscription to `topic`; true if it is the first.
    pub(crate) fn add(&mut self, topic: &[u8]) -> bool {
        let count = self.entry(topic);
        *count += 1;
        *count == 1
    }

    /// Drops one subscription to `topic`; true if that was the last one (false also when
    /// there was none).
    pub(crate) fn rm(&mut self, topic: &[u8]) -> bool {
        match self.get_mut(topic) {
            None => false,
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                self.remove(topic);
                true
            }
        }
    }
}

/// What removing one pipe's subscription did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Removed {
    /// The pipe was not subscribed to the topic.
    NotFound,
    /// It was the last pipe subscribed to the topic.
    Last,
    /// Other pipes remain subscribed.
    Remain,
}

/// Publisher side: each topic holds the set of pipes subscribed to it.
impl Trie<Vec<usize>> {
    /// Subscribes pipe `idx` to `topic`; true if no pipe was subscribed to it before.
    pub(crate) fn add_pipe(&mut self, topic: &[u8], idx: usize) -> bool {
        let pipes = self.entry(topic);
        let first = pipes.is_empty();
        if !pipes.contains(&idx) {
            pipes.push(idx);
        }
        first
    }

    /// Unsubscribes pipe `idx` from `topic`.
    pub(crate) fn rm_pipe(&mut self, topic: &[u8], idx: usize) -> Removed {
        let Some(pipes) = self.get_mut(topic) else {
            return Removed::NotFound;
        };
        let Some(pos) = pipes.iter().position(|&p| p == idx) else {
            return Removed::NotFound;
        };
        pipes.swap_remove(pos);
        if pipes.is_empty() {
            self.remove(topic);
            Removed::Last
        } else {
            Removed::Remain
        }
    }

    /// Unsubscribes pipe `idx` from every topic; `f` gets each topic it was subscribed to
    /// and whether it was the last pipe on it.
    pub(crate) fn rm_pipe_everywhere(&mut self, idx: usize, mut f: impl FnMut(&[u8], bool)) {
        self.retain(|topic, pipes| {
            if let Some(pos) = pipes.iter().position(|&p| p == idx) {
                pipes.swap_remove(pos);
                f(topic, pipes.is_empty());
            }
            !pipes.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<V>(t: &Trie<V>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        t.for_each(|k, _| out.push(k.to_vec()));
        out
    }

    #[test]
    fn prefix_matching_with_shared_prefixes_and_empty_topic() {
        let mut t = Trie::<u32>::default();
        assert!(!t.has_prefix_of(b"anything"));
        assert!(t.add(b"abc"));
        assert!(t.add(b"abd"));
        assert!(t.add(b"ab"));
        assert!(t.has_prefix_of(b"abcdef"));
        assert!(t.has_prefix_of(b"ab"));
        assert!(t.has_prefix_of(b"abx"));
        assert!(!t.has_prefix_of(b"a"));
        assert!(!t.has_prefix_of(b""));
        assert!(!t.has_prefix_of(b"b"));
        assert_eq!(
            keys(&t),
            vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]
        );
        // The empty topic matches everything, the empty message included.
        assert!(t.add(b""));
        assert!(t.has_prefix_of(b""));
        assert!(t.has_prefix_of(b"zzz"));
        assert!(t.rm(b""));
        assert!(!t.has_prefix_of(b"zzz"));
    }

    #[test]
    fn counted_subscriptions_need_as_many_removals() {
        let mut t = Trie::<u32>::default();
        assert!(t.add(b"topic"));
        assert!(!t.add(b"topic"));
        assert!(!t.rm(b"topic"));
        assert!(t.has_prefix_of(b"topic.1"));
        assert!(t.rm(b"topic"));
        assert!(!t.has_prefix_of(b"topic.1"));
        assert!(!t.rm(b"topic"), "removing what is not there");
        assert_eq!(t.len(), 0);
        assert_eq!(t.live_nodes(), 1, "pruned back to the root");
    }

    #[test]
    fn removal_prunes_and_merges_pass_through_nodes() {
        let mut t = Trie::<u32>::default();
        for k in [&b"abcd"[..], b"abce", b"ab", b"x"] {
            t.add(k);
        }
        assert!(t.rm(b"ab"));
        assert!(t.rm(b"abce"));
        // "abcd" must still match and be a single edge again.
        assert!(t.has_prefix_of(b"abcdz"));
        assert!(!t.has_prefix_of(b"abc"));
        assert_eq!(keys(&t), vec![b"abcd".to_vec(), b"x".to_vec()]);
        assert_eq!(t.live_nodes(), 3);
        assert!(t.rm(b"abcd"));
        assert!(t.rm(b"x"));
        assert_eq!(t.live_nodes(), 1);
    }

    #[test]
    fn pipe_sets_and_prefix_walk() {
        let mut t = Trie::<Vec<usize>>::default();
        assert!(t.add_pipe(b"a", 1));
        assert!(!t.add_pipe(b"a", 2));
        assert!(!t.add_pipe(b"a", 2), "a pipe is in a topic's set once");
        assert!(t.add_pipe(b"", 3));
        assert!(t.add_pipe(b"ab", 1));
        let mut seen = Vec::new();
        t.for_each_prefix(b"abc", |p| seen.extend_from_slice(p));
        assert_eq!(seen, vec![3, 1, 2, 1]);
        assert_eq!(t.rm_pipe(b"a", 3), Removed::NotFound);
        assert_eq!(t.rm_pipe(b"zz", 3), Removed::NotFound);
        assert_eq!(t.rm_pipe(b"a", 2), Removed::Remain);
        let mut gone = Vec::new();
        t.rm_pipe_everywhere(1, |k, last| gone.push((k.to_vec(), last)));
        assert_eq!(gone, vec![(b"a".to_vec(), true), (b"ab".to_vec(), true)]);
        assert_eq!(keys(&t), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn deep_and_long_topics_do_not_recurse() {
        // One very long topic and many nested ones: every operation is iterative.
        let mut t = Trie::<u32>::default();
        let long = vec![7u8; 1 << 20];
        t.add(&long);
        for i in 1..2000 {
            t.add(&long[..i]);
        }
        assert!(t.has_prefix_of(&long));
        let mut n = 0;
        t.for_each(|_, _| n += 1);
        assert_eq!(n, 2000);
        for i in 1..2000 {
            assert!(t.rm(&long[..i]));
        }
        assert!(t.rm(&long));
        assert_eq!(t.live_nodes(), 1);
    }

    #[test]
    fn random_operations_agree_with_a_naive_model() {
        use std::collections::BTreeMap;
        let mut t = Trie::<u32>::default();
        let mut model: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        let mut seed = 0x1234_5678_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 5) as usize;
            let key: Vec<u8> = (0..len).map(|_| b'a' + (next() % 3) as u8).collect();
            if next() % 3 == 0 {
                let last = model.get(&key) == Some(&1);
                if let Some(c) = model.get_mut(&key) {
                    *c -= 1;
                    if *c == 0 {
                        model.remove(&key);
                    }
                }
                assert_eq!(t.rm(&key), last);
            } else {
                assert_eq!(t.add(&key), !model.contains_key(&key));
                *model.entry(key).or_default() += 1;
            }
            let probe: Vec<u8> = (0..(next() % 6) as usize)
                .map(|_| b'a' + (next() % 3) as u8)
                .collect();
            let want = model.keys().any(|k| probe.starts_with(k));
            assert_eq!(t.has_prefix_of(&probe), want, "{probe:?}");
        }
        assert_eq!(keys(&t), model.keys().cloned().collect::<Vec<_>>());
        assert_eq!(t.len(), model.len());
    }
}
