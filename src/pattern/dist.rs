//! Fan-out: one message to a set of pipes (the ones matching a subscription, or all).
//!
//! A pipe at its high-water mark misses the message (and later ones, until it wakes) while
//! the others get it: one slow peer never holds up the rest. Callers that must not drop
//! (`XPUB_NODROP`) ask [`Dist::matching_writable`] first.

use super::{slot, Pipes};
use crate::msg::Msg;
use crate::pipe::WriteError;

const ATTACHED: u8 = 1;
/// The last write found the pipe full; skipped until it wakes.
const FULL: u8 = 2;
/// In the matching set of the current message.
const MATCHED: u8 = 4;

/// The set of pipes a message fans out to.
#[derive(Debug, Default)]
pub(crate) struct Dist {
    pipes: Vec<usize>,
    /// Flags per pipe index.
    state: Vec<u8>,
    /// The pipes the current message goes to.
    matching: Vec<usize>,
    /// Spare buffer for [`Dist::reverse_match`].
    scratch: Vec<usize>,
    /// In the middle of a multipart message.
    more: bool,
}

impl Dist {
    pub(crate) fn attach(&mut self, idx: usize) {
        *slot(&mut self.state, idx) = ATTACHED;
        self.pipes.push(idx);
    }

    pub(crate) fn detach(&mut self, idx: usize) {
        if let Some(pos) = self.pipes.iter().position(|&p| p == idx) {
            self.pipes.swap_remove(pos);
        }
        if let Some(pos) = self.matching.iter().position(|&p| p == idx) {
            self.matching.remove(pos);
        }
        if let Some(s) = self.state.get_mut(idx) {
            *s = 0;
        }
    }

    /// Pipe `idx` woke: it may have room again.
    pub(crate) fn activate(&mut self, idx: usize) {
        if let Some(s) = self.state.get_mut(idx) {
            *s &= !FULL;
        }
    }

    /// Every attached pipe.
    pub(crate) fn pipes(&self) -> &[usize] {
        &self.pipes
    }

    /// Whether a multipart message is half sent.
    pub(crate) fn in_message(&self) -> bool {
        self.more
    }

    /// Adds pipe `idx` to the matching set of the message about to be sent.
    #[inline]
    pub(crate) fn mark(&mut self, idx: usize) {
        if let Some(s) = self.state.get_mut(idx) {
            if *s & (ATTACHED | MATCHED) == ATTACHED {
                *s |= MATCHED;
                self.matching.push(idx);
            }
        }
    }

    /// Matches every attached pipe.
    pub(crate) fn mark_all(&mut self) {
        for i in 0..self.pipes.len() {
            self.mark(self.pipes[i]);
        }
    }

    /// Swaps the matching set for its complement (`INVERT_MATCHING`).
    pub(crate) fn reverse_match(&mut self) {
        std::mem::swap(&mut self.matching, &mut self.scratch);
        self.matching.clear();
        for &idx in &self.pipes {
            if self.state[idx] & MATCHED == 0 {
                self.matching.push(idx);
            }
        }
        for &idx in &self.scratch {
            self.state[idx] &= !MATCHED;
        }
        for &idx in &self.matching {
            self.state[idx] |= MATCHED;
        }
        self.scratch.clear();
    }

    /// Empties the matching set.
    pub(crate) fn unmatch(&mut self) {
        for &idx in &self.matching {
            self.state[idx] &= !MATCHED;
        }
        self.matching.clear();
    }

    /// Whether every matching pipe has room for a new message (marks the others waiting, so
    /// they wake the socket when they drain).
    pub(crate) fn matching_writable<P: Pipes + ?Sized>(&mut self, pipes: &mut P) -> bool {
        let mut all = true;
        for &idx in &self.matching {
            if !pipes.writable(idx) {
                if pipes.closed(idx) {
                    // A gone reader never gets room: do not wait for it.
                    pipes.dead(idx);
                    continue;
                }
                all = false;
            }
        }
        all
    }

    /// Sends one frame to every matching pipe; full pipes miss it. After the last frame the
    /// matching set is emptied.
    pub(crate) fn send_to_matching<P: Pipes>(&mut self, pipes: &mut P, msg: Msg) {
        let more = msg.more();
        let first = !self.more;
        if first {
            // Pipes known to be full miss the message without another try.
            let state = &mut self.state;
            self.matching.retain(|&idx| {
                if state[idx] & FULL != 0 {
                    state[idx] &= !MATCHED;
                    false
                } else {
                    true
                }
            });
        }
        let mut msg = Some(msg);
        let mut i = 0;
        while i < self.matching.len() {
            let idx = self.matching[i];
            let last = i + 1 == self.matching.len();
            let written = if last {
                let m = msg.take().expect("taken once, by the last pipe");
                pipes.write(idx, m).map_err(|e| e.carrying(()))
            } else {
                // Cloned straight into the pipe's slot: a clone made on the stack and then
                // moved there was loaded back right after its narrow stores (the inline
                // body's length and flags), and the loads stalled on store forwarding
                // (a fifth of this function's time in a 1 PUB -> 8 SUB fan-out of 64 B).
                let m = msg.as_ref().expect("kept for the last pipe");
                pipes.write_in_place(idx, |slot| slot.write(m.clone()))
            };
            match written {
                Ok(()) => {
                    if !more {
                        pipes.flush(idx);
                    }
                    i += 1;
                }
                Err(WriteError::Full(_)) => {
                    // Only a first frame can find the pipe full.
                    self.state[idx] = (self.state[idx] | FULL) & !MATCHED;
                    self.matching.remove(i);
                }
                Err(WriteError::Closed(_)) => {
                    self.state[idx] &= !MATCHED;
                    self.matching.remove(i);
                    pipes.dead(idx);
                }
            }
        }
        self.more = more;
        if !more {
            self.unmatch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::FakePipes;

    fn frame(s: &str, more: bool) -> Msg {
        let mut m = Msg::from(s);
        m.set_more(more);
        m
    }

    #[test]
    fn full_pipe_misses_messages_others_do_not() {
        let mut pipes = FakePipes::with(3, 2);
        let mut d = Dist::default();
        for i in 0..3 {
            d.attach(i);
        }
        for n in 0..4 {
            d.mark_all();
            d.send_to_matching(&mut pipes, frame(&format!("{n}a"), true));
            d.send_to_matching(&mut pipes, frame(&format!("{n}b"), false));
            // Pipe 0 is drained every time; 1 and 2 are not.
            pipes.pipes[0].outbound.clear();
        }
        assert_eq!(pipes.pipes[1].messages().len(), 2);
        assert_eq!(
            pipes.pipes[1].messages()[1],
            vec![b"1a".to_vec(), b"1b".to_vec()]
        );
        // Until it wakes, a full pipe is skipped without a write attempt.
        pipes.pipes[1].outbound.clear();
        d.mark_all();
        d.send_to_matching(&mut pipes, frame("x", false));
        assert!(pipes.pipes[1].outbound.is_empty());
        assert_eq!(pipes.pipes[0].outbound.len(), 1);
        d.activate(1);
        d.mark_all();
        d.send_to_matching(&mut pipes, frame("y", false));
        assert_eq!(pipes.pipes[1].outbound.len(), 1);
    }

    #[test]
    fn matching_and_its_complement() {
        let mut pipes = FakePipes::with(4, 0);
        let mut d = Dist::default();
        for i in 0..4 {
            d.attach(i);
        }
        d.mark(1);
        d.mark(1);
        d.mark(3);
        d.reverse_match();
        d.send_to_matching(&mut pipes, frame("m", false));
        let got: Vec<usize> = (0..4)
            .filter(|&i| !pipes.pipes[i].outbound.is_empty())
            .collect();
        assert_eq!(got, vec![0, 2]);
        // A pipe that closed is reported dead and dropped from the message.
        pipes.pipes[2].closed = true;
        d.mark_all();
        d.send_to_matching(&mut pipes, frame("n", true));
        d.detach(2);
        d.send_to_matching(&mut pipes, frame("o", false));
        assert_eq!(pipes.dead, vec![2]);
        assert_eq!(
            pipes.pipes[3].messages(),
            vec![vec![b"n".to_vec(), b"o".to_vec()]]
        );
    }
}
