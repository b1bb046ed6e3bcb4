//! Load balancing: each message goes whole to the next pipe, round robin, skipping pipes at
//! their high-water mark.

use super::{place_pending, send_made, Blocked, Pending, Pipes};
use crate::msg::Msg;
use crate::pipe::WriteError;

#[derive(Debug, Default)]
enum Sending {
    #[default]
    Idle,
    /// In the middle of a multipart message going to this pipe.
    To(usize),
    /// The pipe died mid-message: swallow the rest of it.
    Dropping,
}

/// Round-robin distribution of whole messages.
#[derive(Debug, Default)]
pub(crate) struct LoadBalancer {
    active: Vec<usize>,
    current: usize,
    sending: Sending,
}

impl LoadBalancer {
    pub(crate) fn attach(&mut self, idx: usize) {
        self.activate(idx);
    }

    pub(crate) fn detach(&mut self, idx: usize) {
        self.deactivate(idx);
        if matches!(self.sending, Sending::To(i) if i == idx) {
            self.sending = Sending::Dropping;
        }
    }

    pub(crate) fn activate(&mut self, idx: usize) {
        if !self.active.contains(&idx) {
            self.active.push(idx);
        }
    }

    fn deactivate(&mut self, idx: usize) {
        if let Some(pos) = self.active.iter().position(|&i| i == idx) {
            self.active.remove(pos);
            if self.current > pos {
                self.current -= 1;
            }
        }
    }

    /// Sends one frame to the pipe whose turn it is; returns the pipe used.
    #[inline(always)]
    pub(crate) fn send<P: Pipes>(
        &mut self,
        pipes: &mut P,
        msg: Msg,
    ) -> Result<Option<usize>, Blocked<Msg>> {
        send_made(msg, |pending, more| self.send_from(pipes, pending, more))
    }

    /// Sends the frame in `pending` (see [`super::Pattern::send_from`]), made where it will
    /// lie in the pipe whose turn it is; returns the pipe used. Leaves it in `pending` when
    /// no pipe takes it now.
    #[inline(always)]
    pub(crate) fn send_from<P: Pipes, T: Into<Msg>>(
        &mut self,
        pipes: &mut P,
        pending: &mut Option<Pending<T>>,
        more: bool,
    ) -> Result<Option<usize>, Blocked<()>> {
        match self.sending {
            Sending::To(idx) => {
                if pipes
                    .write_in_place(idx, |slot| place_pending(pending, slot, more))
                    .is_err()
                {
                    *pending = None;
                    pipes.dead(idx);
                    self.sending = if more {
                        Sending::Dropping
                    } else {
                        Sending::Idle
                    };
                    return Ok(None);
                }
                if !more {
                    pipes.flush(idx);
                    self.sending = Sending::Idle;
                    self.current += 1;
                }
                return Ok(Some(idx));
            }
            Sending::Dropping => {
                *pending = None;
                if !more {
                    self.sending = Sending::Idle;
                }
                return Ok(None);
            }
            Sending::Idle => {}
        }
        while !self.active.is_empty() {
            if self.current >= self.active.len() {
                self.current = 0;
            }
            let pos = self.current;
            let idx = self.active[pos];
            // No separate writability check: a full or closed pipe refuses the frame, and
            // it is made only when a pipe takes it.
            match pipes.write_in_place(idx, |slot| place_pending(pending, slot, more)) {
                Ok(()) => {
                    if more {
                        self.sending = Sending::To(idx);
                    } else {
                        pipes.flush(idx);
                        self.current = pos + 1;
                    }
                    return Ok(Some(idx));
                }
                Err(WriteError::Full(())) => {
                    self.active.remove(pos);
                }
                Err(WriteError::Closed(())) => {
                    self.active.remove(pos);
                    pipes.dead(idx);
                }
            }
        }
        Err(Blocked::Again(()))
    }

    /// Whether the next message would be accepted: a message is half sent (its later frames
    /// always are), or some pipe has room. Pipes without room are set aside until they wake.
    pub(crate) fn has_out<P: Pipes>(&mut self, pipes: &mut P) -> bool {
        if !matches!(self.sending, Sending::Idle) {
            return true;
        }
        while !self.active.is_empty() {
            if self.current >= self.active.len() {
                self.current = 0;
            }
            let idx = self.active[self.current];
            if pipes.writable(idx) {
                return true;
            }
            self.active.remove(self.current);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::FakePipes;

    #[test]
    fn round_robin_whole_messages_and_skip_full_pipes() {
        let mut pipes = FakePipes::with(3, 2);
        let mut lb = LoadBalancer::default();
        for i in 0..3 {
            lb.attach(i);
        }
        for n in 0..3 {
            let mut a = Msg::from(format!("{n}a"));
            a.set_more(true);
            lb.send(&mut pipes, a).unwrap();
            lb.send(&mut pipes, Msg::from(format!("{n}b"))).unwrap();
        }
        for (i, p) in pipes.pipes.iter().enumerate() {
            assert_eq!(p.outbound.len(), 2);
            assert_eq!(p.outbound[0], &format!("{i}a")[..]);
        }
        // Fill pipe 0 and 1; everything goes to 2 until it is full too.
        for _ in 0..3 {
            lb.send(&mut pipes, Msg::from("x")).unwrap();
        }
        assert!(matches!(
            lb.send(&mut pipes, Msg::from("y")),
            Err(Blocked::Again(_))
        ));
        pipes.pipes[1].outbound.clear();
        lb.activate(1);
        assert_eq!(lb.send(&mut pipes, Msg::from("z")).unwrap(), Some(1));
    }
}
