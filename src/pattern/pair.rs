//! PAIR: exactly one peer, both directions. A second peer is refused.

use super::{place_pending, send_made, Blocked, Pattern, Pending, Pipes};
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{Read, WriteError};

/// PAIR socket logic.
#[derive(Debug, Default)]
pub(crate) struct Pair {
    peer: Option<usize>,
    /// A frame read ahead by `has_in`, kept for `recv`.
    prefetched: Option<Msg>,
    /// A message is half sent (its later frames are always accepted).
    sending: bool,
}

impl<P: Pipes> Pattern<P> for Pair {
    fn attach(
        &mut self,
        _pipes: &mut P,
        idx: usize,
        _peer: Option<&PeerInfo>,
        _connected: bool,
    ) -> bool {
        if self.peer.is_some() {
            return false;
        }
        self.peer = Some(idx);
        true
    }

    fn detach(&mut self, idx: usize) {
        if self.peer == Some(idx) {
            self.peer = None;
            self.prefetched = None;
            self.sending = false;
        }
    }

    fn activate(&mut self, _pipes: &mut P, _idx: usize) {}

    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        send_made(msg, |pending, more| self.send_from(pipes, pending, more))
    }

    #[inline(always)]
    fn send_from<T: Into<Msg>>(
        &mut self,
        pipes: &mut P,
        pending: &mut Option<Pending<T>>,
        more: bool,
    ) -> Result<(), Blocked<()>> {
        let Some(idx) = self.peer else {
            return Err(Blocked::Again(()));
        };
        // Later frames of a started message are always accepted by the pipe.
        match pipes.write_in_place(idx, |slot| place_pending(pending, slot, more)) {
            Ok(()) => {
                if !more {
                    pipes.flush(idx);
                }
                self.sending = more;
                Ok(())
            }
            Err(WriteError::Full(())) => Err(Blocked::Again(())),
            Err(WriteError::Closed(())) => {
                pipes.dead(idx);
                Err(Blocked::Again(()))
            }
        }
    }

    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        let mut msg = Msg::new();
        self.recv_into(pipes, &mut msg)?;
        Ok(msg)
    }

    #[inline(always)]
    fn recv_into(&mut self, pipes: &mut P, dst: &mut Msg) -> Result<(), Blocked<()>> {
        if let Some(msg) = self.prefetched.take() {
            *dst = msg;
            return Ok(());
        }
        let Some(idx) = self.peer else {
            return Err(Blocked::Again(()));
        };
        match pipes.read_into(idx, dst) {
            Read::Item(()) => Ok(()),
            Read::Empty => Err(Blocked::Again(())),
            Read::Closed => {
                pipes.dead(idx);
                Err(Blocked::Again(()))
            }
        }
    }

    fn has_in(&mut self, pipes: &mut P) -> bool {
        if self.prefetched.is_none() {
            self.prefetched = Pattern::<P>::recv(self, pipes).ok();
        }
        self.prefetched.is_some()
    }

    fn has_out(&mut self, pipes: &mut P) -> bool {
        self.sending || self.peer.is_some_and(|idx| pipes.writable(idx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::FakePipes;

    #[test]
    fn one_peer_only_and_both_directions() {
        let mut pair = Pair::default();
        let pair: &mut dyn Pattern<FakePipes> = &mut pair;
        let mut pipes = FakePipes::with(2, 1);
        assert!(pair.attach(&mut pipes, 0, None, true));
        assert!(!pair.attach(&mut pipes, 1, None, false));
        pair.send(&mut pipes, Msg::from("a")).unwrap();
        assert_eq!(pipes.pipes[0].outbound, vec![Msg::from("a")]);
        pipes.pipes[0].inbound.push_back(Msg::from("r"));
        assert_eq!(pair.recv(&mut pipes).unwrap(), "r");
        assert!(matches!(pair.recv(&mut pipes), Err(Blocked::Again(()))));
        assert!(!pair.has_in(&mut pipes));
        pipes.pipes[0].inbound.push_back(Msg::from("kept"));
        assert!(pair.has_in(&mut pipes) && pair.has_in(&mut pipes));
        assert_eq!(pair.recv(&mut pipes).unwrap(), "kept");
        assert!(!pair.has_in(&mut pipes));
        assert!(!pair.has_out(&mut pipes), "capacity 1, one message queued");
        pair.detach(0);
        assert!(pair.attach(&mut pipes, 1, None, false));
    }
}
