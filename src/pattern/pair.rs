//! PAIR: exactly one peer, both directions. A second peer is refused.

use super::{Blocked, Pattern, Pipes};
use crate::msg::Msg;
use crate::pipe::{Read, WriteError};
use crate::zmtp::PeerInfo;

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
        let Some(idx) = self.peer else {
            return Err(Blocked::Again(msg));
        };
        let more = msg.more();
        // Later frames of a started message are always accepted by the pipe.
        match pipes.write(idx, msg) {
            Ok(()) => {
                if !more {
                    pipes.flush(idx);
                }
                self.sending = more;
                Ok(())
            }
            Err(WriteError::Full(m)) => Err(Blocked::Again(m)),
            Err(WriteError::Closed(m)) => {
                pipes.dead(idx);
                Err(Blocked::Again(m))
            }
        }
    }

    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        if self.prefetched.is_some() {
            return self.prefetched.take().ok_or(Blocked::Again(()));
        }
        let Some(idx) = self.peer else {
            return Err(Blocked::Again(()));
        };
        match pipes.read(idx) {
            Read::Item(m) => Ok(m),
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
