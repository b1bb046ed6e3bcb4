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
}

impl FairQueue {
    pub(crate) fn attach(&mut self, idx: usize) {
        self.activate(idx);
    }

    pub(crate) fn detach(&mut self, idx: usize) {
        if let Some(pos) = self.active.iter().position(|&i| i == idx) {
            self.active.remove(pos);
            if self.current > pos {
                self.current -= 1;
            }
        }
        if self.reading == Some(idx) {
            self.reading = None;
        }
    }

    pub(crate) fn activate(&mut self, idx: usize) {
        if !self.active.contains(&idx) {
            self.active.push(idx);
        }
    }

    /// Receives one frame and the pipe it came from.
    pub(crate) fn recv<P: Pipes + ?Sized>(
        &mut self,
        pipes: &mut P,
    ) -> Result<(Msg, usize), Blocked<()>> {
        if let Some(idx) = self.reading {
            // The rest of a message was published with its first frame.
            if let Read::Item(msg) = pipes.read(idx) {
                if !msg.more() {
                    self.reading = None;
                    self.current += 1;
                }
                return Ok((msg, idx));
            }
            self.reading = None;
            pipes.dead(idx);
        }
        while !self.active.is_empty() {
            if self.current >= self.active.len() {
                self.current = 0;
            }
            let pos = self.current;
            let idx = self.active[pos];
            match pipes.read(idx) {
                Read::Item(msg) => {
                    if msg.more() {
                        self.reading = Some(idx);
                        self.current = pos;
                    } else {
                        self.current = pos + 1;
                    }
                    return Ok((msg, idx));
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
}
