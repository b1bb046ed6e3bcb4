//! Fair queueing: take one whole message from each readable pipe in turn.

use super::{Blocked, Pipes};
use crate::msg::Msg;
use crate::pipe::Read;

/// Round-robin collection of whole messages.
#[derive(Debug, Default)]
pub(crate) struct FairQueue {
    active: Vec<usize>,
    current: usize,
    /// The pipe whose message we are in the middle of.
    reading: Option<usize>,
    /// That pipe was removed mid-message: the next frame returned is an empty last frame,
    /// so the caller never sees the frames of another message appended to a torn one.
    torn: Option<usize>,
    /// The first frame of the next message and its pipe, read ahead by [`FairQueue::peek`]
    /// (poll asks whether a message is waiting without taking it).
    prefetched: Option<(Msg, usize)>,
}

impl FairQueue {
    pub(crate) fn attach(&mut self, idx: usize) {
        self.activate(idx);
    }

    pub(crate) fn detach(&mut self, idx: usize) {
        if self.prefetched.as_ref().is_some_and(|(_, i)| *i == idx) {
            // Nobody saw any of that message: it goes whole, nothing is torn.
            self.prefetched = None;
            if self.reading == Some(idx) {
                self.reading = None;
            }
        }
        if let Some(pos) = self.active.iter().position(|&i| i == idx) {
            self.active.remove(pos);
            if self.current > pos {
                self.current -= 1;
            }
        }
        if self.reading == Some(idx) {
            self.reading = None;
            self.torn = Some(idx);
        }
    }

    pub(crate) fn activate(&mut self, idx: usize) {
        if !self.active.contains(&idx) {
            self.active.push(idx);
        }
    }

    /// Receives one frame and the pipe it came from.
    #[inline(always)]
    pub(crate) fn recv<P: Pipes + ?Sized>(
        &mut self,
        pipes: &mut P,
    ) -> Result<(Msg, usize), Blocked<()>> {
        let mut msg = Msg::new();
        let idx = self.recv_into(pipes, &mut msg)?;
        Ok((msg, idx))
    }

    /// Receives one frame into `dst`; returns the pipe it came from.
    #[inline(always)]
    pub(crate) fn recv_into<P: Pipes + ?Sized>(
        &mut self,
        pipes: &mut P,
        dst: &mut Msg,
    ) -> Result<usize, Blocked<()>> {
        if let Some(idx) = self.torn.take() {
            *dst = Msg::new();
            return Ok(idx);
        }
        if self.prefetched.is_some() {
            // Only after `peek`: a cheap test on the hot path, the move off it.
            let (msg, idx) = self.prefetched.take().ok_or(Blocked::Again(()))?;
            *dst = msg;
            return Ok(idx);
        }
        if let Some(idx) = self.reading {
            // The rest of a message was published with its first frame.
            if let Read::Item(()) = pipes.read_into(idx, dst) {
                if !dst.more() {
                    self.reading = None;
                    self.current += 1;
                    self.prefetch_next(pipes);
                }
                return Ok(idx);
            }
            self.reading = None;
            pipes.dead(idx);
            *dst = Msg::new();
            return Ok(idx);
        }
        while !self.active.is_empty() {
            if self.current >= self.active.len() {
                self.current = 0;
            }
            let pos = self.current;
            let idx = self.active[pos];
            match pipes.read_into(idx, dst) {
                Read::Item(()) => {
                    if dst.more() {
                        self.reading = Some(idx);
                        self.current = pos;
                    } else {
                        self.current = pos + 1;
                        self.prefetch_next(pipes);
                    }
                    return Ok(idx);
                }
                Read::Empty => {
                    self.active.remove(pos);
                }
                Read::Closed => {
                    self.active.remove(pos);
                    pipes.dead(idx);
                }
            }
        }
        Err(Blocked::Again(()))
    }

    /// Hints the pipe whose turn is next, when there are several: its next message is
    /// loaded while the caller handles this one.
    #[inline]
    fn prefetch_next<P: Pipes + ?Sized>(&self, pipes: &P) {
        if self.active.len() > 1 {
            let next = if self.current < self.active.len() {
                self.current
            } else {
                0
            };
            pipes.prefetch(self.active[next]);
        }
    }

    /// Whether a frame is waiting, without taking it: the rest of a message being read, or
    /// the first frame of the next one (read ahead and kept for [`FairQueue::recv`]). When
    /// this says no, every pipe is asleep and wakes the socket when data arrives.
    pub(crate) fn has_in<P: Pipes + ?Sized>(&mut self, pipes: &mut P) -> bool {
        self.torn.is_some() || self.reading.is_some() || self.peek(pipes).is_some()
    }

    /// The first frame of the next message and its pipe, without taking it; `None` when no
    /// message is waiting or a message is half read.
    pub(crate) fn peek<P: Pipes + ?Sized>(&mut self, pipes: &mut P) -> Option<(&Msg, usize)> {
        if self.prefetched.is_none() {
            if self.torn.is_some() || self.reading.is_some() {
                return None;
            }
            let first = self.recv(pipes).ok()?;
            self.prefetched = Some(first);
        }
        self.prefetched.as_ref().map(|(m, i)| (m, *i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::FakePipes;

    #[test]
    fn takes_one_message_from_each_pipe_in_turn() {
        let mut pipes = FakePipes::with(2, 10);
        for i in 0..2 {
            for n in 0..3 {
                let mut a = Msg::from(format!("{i}.{n}"));
                a.set_more(true);
                pipes.pipes[i].inbound.push_back(a);
                pipes.pipes[i].inbound.push_back(Msg::from("end"));
            }
        }
        let mut fq = FairQueue::default();
        fq.attach(0);
        fq.attach(1);
        let mut order = Vec::new();
        while let Ok((m, idx)) = fq.recv(&mut pipes) {
            if m.more() {
                order.push((idx, m.as_str().unwrap().to_string()));
                let (end, same) = fq.recv(&mut pipes).unwrap();
                assert_eq!(same, idx);
                assert_eq!(end, "end");
            }
        }
        let pipes_order: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(pipes_order, vec![0, 1, 0, 1, 0, 1]);
        pipes.pipes[1].closed = true;
        fq.activate(1);
        assert!(fq.recv(&mut pipes).is_err());
        assert_eq!(pipes.dead, vec![1]);
    }

    #[test]
    fn a_pipe_removed_mid_message_ends_that_message() {
        let mut pipes = FakePipes::with(2, 10);
        pipes.push_in(0, &[b"a1", b"a2", b"a3"]);
        pipes.push_in(1, &[b"b1"]);
        let mut fq = FairQueue::default();
        fq.attach(0);
        fq.attach(1);
        assert_eq!(fq.recv(&mut pipes).unwrap().0, "a1");
        fq.detach(0);
        let (end, _) = fq.recv(&mut pipes).unwrap();
        assert!(end.is_empty() && !end.more());
        assert_eq!(fq.recv(&mut pipes).unwrap(), (Msg::from("b1"), 1));
    }

    #[test]
    fn peeking_keeps_the_message_and_its_order() {
        let mut pipes = FakePipes::with(2, 10);
        let mut fq = FairQueue::default();
        fq.attach(0);
        fq.attach(1);
        assert!(!fq.has_in(&mut pipes));
        pipes.push_in(1, &[b"b1", b"b2"]);
        pipes.push_in(0, &[b"a"]);
        fq.activate(0);
        fq.activate(1);
        for _ in 0..3 {
            assert!(
                fq.has_in(&mut pipes),
                "level triggered: asked again, same answer"
            );
        }
        assert_eq!(
            fq.peek(&mut pipes).map(|(m, i)| (m.to_vec(), i)),
            Some((b"a".to_vec(), 0))
        );
        assert_eq!(fq.recv(&mut pipes).unwrap(), (Msg::from("a"), 0));
        assert!(fq.has_in(&mut pipes));
        assert_eq!(fq.recv(&mut pipes).unwrap().0, "b1");
        assert!(fq.has_in(&mut pipes), "the rest of a message counts");
        assert_eq!(fq.recv(&mut pipes).unwrap().0, "b2");
        assert!(!fq.has_in(&mut pipes));
    }

    #[test]
    fn a_peeked_message_of_a_removed_pipe_goes_whole() {
        let mut pipes = FakePipes::with(2, 10);
        pipes.push_in(0, &[b"a1", b"a2"]);
        pipes.push_in(1, &[b"b"]);
        let mut fq = FairQueue::default();
        fq.attach(0);
        fq.attach(1);
        assert!(fq.has_in(&mut pipes));
        fq.detach(0);
        assert_eq!(fq.recv(&mut pipes).unwrap(), (Msg::from("b"), 1));
        assert!(fq.recv(&mut pipes).is_err());
    }
}
