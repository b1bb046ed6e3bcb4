//! REP: receive a request, send its reply, in strict alternation.
//!
//! Requests are fair-queued. The envelope — every frame up to and including the empty
//! delimiter — is kept and written back in front of the reply, to the pipe the request came
//! from. A request without a delimiter is malformed and dropped. As in libzmq, a reply to a
//! peer that left, or whose pipe is full, is dropped.

use super::{Blocked, FairQueue, Pattern, Pipes};
use crate::error::Error;
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::WriteError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a request.
    Idle,
    /// Handing out the body of a request from `pipe`.
    Receiving { pipe: Option<usize> },
    /// The request is read; the reply goes to `pipe` (`None`: that peer left).
    Reply { pipe: Option<usize> },
    /// In the middle of the reply (`None`: it is being dropped).
    Replying { pipe: Option<usize> },
}

/// REP socket logic.
#[derive(Debug)]
pub(crate) struct Rep {
    fq: FairQueue,
    state: State,
    /// The envelope of the current request; reused, so replies allocate nothing.
    envelope: Vec<Msg>,
    /// A request read ahead by `has_in` (its first body frame and pipe, `None` if that peer
    /// left since), kept for `recv`; its envelope is in `envelope`.
    ready: Option<(Msg, Option<usize>)>,
}

impl Default for Rep {
    fn default() -> Self {
        Rep {
            fq: FairQueue::default(),
            state: State::Idle,
            envelope: Vec::new(),
            ready: None,
        }
    }
}

impl Rep {
    /// Reads envelopes until a well-formed one (kept in `envelope`); returns the first body
    /// frame and its pipe. Changes no state, so `has_in` may call it.
    fn next_request<P: Pipes>(&mut self, pipes: &mut P) -> Result<(Msg, usize), Blocked<()>> {
        'request: loop {
            self.envelope.clear();
            let (mut frame, idx) = self.fq.recv(pipes)?;
            loop {
                if !frame.more() {
                    // The message ended before its delimiter: malformed, dropped.
                    continue 'request;
                }
                let bottom = frame.is_empty();
                self.envelope.push(frame);
                if bottom {
                    break;
                }
                frame = match self.fq.recv(pipes) {
                    Ok((m, i)) if i == idx => m,
                    _ => continue 'request,
                };
            }
            let (body, i) = self.fq.recv(pipes)?;
            if i != idx {
                continue 'request;
            }
            return Ok((body, idx));
        }
    }
}

impl<P: Pipes> Pattern<P> for Rep {
    fn attach(
        &mut self,
        _pipes: &mut P,
        idx: usize,
        _peer: Option<&PeerInfo>,
        _connected: bool,
    ) -> bool {
        self.fq.attach(idx);
        true
    }

    fn detach(&mut self, idx: usize) {
        self.fq.detach(idx);
        if let Some((_, pipe)) = &mut self.ready {
            if *pipe == Some(idx) {
                *pipe = None;
            }
        }
        match &mut self.state {
            State::Receiving { pipe } | State::Reply { pipe } | State::Replying { pipe }
                if *pipe == Some(idx) =>
            {
                *pipe = None
            }
            _ => {}
        }
    }

    fn activate(&mut self, _pipes: &mut P, idx: usize) {
        self.fq.activate(idx);
    }

    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        let more = msg.more();
        let target = match self.state {
            State::Idle | State::Receiving { .. } => {
                return Err(Blocked::Fail(Error::WrongState(
                    "REP must receive a request before replying",
                )));
            }
            State::Reply { pipe } => {
                // The first frame: the envelope goes first, or the whole reply is dropped.
                let target = pipe.filter(|&idx| {
                    pipes.writable(idx) || {
                        if pipes.closed(idx) {
                            pipes.dead(idx);
                        }
                        false
                    }
                });
                match target {
                    Some(idx) => {
                        for frame in self.envelope.drain(..) {
                            // Later frames of a started message are always accepted.
                            if pipes.write(idx, frame).is_err() {
                                break;
                            }
                        }
                    }
                    None => self.envelope.clear(),
                }
                target
            }
            State::Replying { pipe } => pipe,
        };
        let target = target.filter(|&idx| match pipes.write(idx, msg) {
            Ok(()) => true,
            Err(WriteError::Full(_)) | Err(WriteError::Closed(_)) => {
                pipes.dead(idx);
                false
            }
        });
        if more {
            self.state = State::Replying { pipe: target };
        } else {
            if let Some(idx) = target {
                pipes.flush(idx);
            }
            self.state = State::Idle;
        }
        Ok(())
    }

    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        match self.state {
            State::Reply { .. } | State::Replying { .. } => Err(Blocked::Fail(Error::WrongState(
                "REP must send the reply before receiving again",
            ))),
            State::Receiving { pipe } => {
                let (m, _) = self.fq.recv(pipes)?;
                if !m.more() {
                    self.state = State::Reply { pipe };
                }
                Ok(m)
            }
            State::Idle => {
                let (body, pipe) = match self.ready.take() {
                    Some(ready) => ready,
                    None => self.next_request(pipes).map(|(m, i)| (m, Some(i)))?,
                };
                self.state = if body.more() {
                    State::Receiving { pipe }
                } else {
                    State::Reply { pipe }
                };
                Ok(body)
            }
        }
    }

    fn has_in(&mut self, pipes: &mut P) -> bool {
        match self.state {
            State::Idle => {
                if self.ready.is_none() {
                    self.ready = self.next_request(pipes).ok().map(|(m, i)| (m, Some(i)));
                }
                self.ready.is_some()
            }
            // The rest of a request was published with its first frame.
            State::Receiving { .. } => true,
            State::Reply { .. } | State::Replying { .. } => false,
        }
    }

    fn has_out(&mut self, _pipes: &mut P) -> bool {
        // As libzmq: a reply is always accepted (dropped if its peer cannot take it).
        matches!(self.state, State::Reply { .. } | State::Replying { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::{deliver, send_msg, FakePipes};

    fn rep(pipes: &mut FakePipes, n: usize) -> Rep {
        let mut r = Rep::default();
        for i in 0..n {
            Pattern::attach(&mut r, pipes, i, None, false);
        }
        r
    }

    #[test]
    fn envelope_kept_and_reply_routed_back() {
        let mut pipes = FakePipes::with(2, 0);
        let mut r = rep(&mut pipes, 2);
        assert!(matches!(
            send_msg(&mut r, &mut pipes, &[b"x"]),
            Err(Blocked::Fail(Error::WrongState(_)))
        ));
        pipes.push_in(1, &[b"id1", b"id2", b"", b"body", b"more"]);
        pipes.push_in(0, &[b"", b"simple"]);
        // Fair queueing starts at pipe 0.
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "simple");
        assert!(matches!(
            Pattern::recv(&mut r, &mut pipes),
            Err(Blocked::Fail(Error::WrongState(_)))
        ));
        send_msg(&mut r, &mut pipes, &[b"r0"]).unwrap();
        assert_eq!(
            pipes.pipes[0].messages(),
            vec![vec![vec![], b"r0".to_vec()]]
        );
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "body");
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "more");
        send_msg(&mut r, &mut pipes, &[b"r1", b""]).unwrap();
        assert_eq!(
            pipes.pipes[1].messages(),
            vec![vec![
                b"id1".to_vec(),
                b"id2".to_vec(),
                vec![],
                b"r1".to_vec(),
                vec![]
            ]]
        );
    }

    #[test]
    fn input_only_for_a_well_formed_request_and_never_lost() {
        let mut pipes = FakePipes::with(1, 0);
        let mut r = rep(&mut pipes, 1);
        let has_in = |r: &mut Rep, p: &mut FakePipes| Pattern::has_in(r, p);
        let has_out = |r: &mut Rep, p: &mut FakePipes| Pattern::has_out(r, p);
        assert!(!has_in(&mut r, &mut pipes) && !has_out(&mut r, &mut pipes));
        deliver(&mut r, &mut pipes, 0, &[b"malformed"]);
        assert!(!has_in(&mut r, &mut pipes));
        deliver(&mut r, &mut pipes, 0, &[b"id", b"", b"q"]);
        assert!(has_in(&mut r, &mut pipes) && has_in(&mut r, &mut pipes));
        assert!(
            !has_out(&mut r, &mut pipes),
            "no reply before the request is read"
        );
        assert!(matches!(
            send_msg(&mut r, &mut pipes, &[b"early"]),
            Err(Blocked::Fail(Error::WrongState(_)))
        ));
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "q");
        assert!(!has_in(&mut r, &mut pipes) && has_out(&mut r, &mut pipes));
        send_msg(&mut r, &mut pipes, &[b"r"]).unwrap();
        assert_eq!(
            pipes.pipes[0].messages(),
            vec![vec![b"id".to_vec(), vec![], b"r".to_vec()]]
        );
    }

    #[test]
    fn malformed_requests_are_dropped() {
        let mut pipes = FakePipes::with(1, 0);
        let mut r = rep(&mut pipes, 1);
        pipes.push_in(0, &[b"no delimiter"]);
        pipes.push_in(0, &[b"a", b"b"]);
        pipes.push_in(0, &[b""]);
        pipes.push_in(0, &[b"", b"good"]);
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "good");
    }

    #[test]
    fn reply_to_a_departed_or_full_peer_is_dropped() {
        let mut pipes = FakePipes::with(2, 1);
        let mut r = rep(&mut pipes, 2);
        pipes.push_in(0, &[b"", b"q"]);
        Pattern::recv(&mut r, &mut pipes).unwrap();
        Pattern::<FakePipes>::detach(&mut r, 0);
        send_msg(&mut r, &mut pipes, &[b"lost", b"too"]).unwrap();
        assert!(pipes.pipes[0].outbound.is_empty());
        // Full pipe: dropped too, and the socket is ready for the next request.
        pipes.pipes[1].outbound.push(Msg::from("filler"));
        pipes.push_in(1, &[b"", b"q2"]);
        Pattern::recv(&mut r, &mut pipes).unwrap();
        send_msg(&mut r, &mut pipes, &[b"dropped"]).unwrap();
        assert_eq!(pipes.pipes[1].outbound.len(), 1);
        assert!(matches!(
            Pattern::recv(&mut r, &mut pipes),
            Err(Blocked::Again(()))
        ));
    }
}
