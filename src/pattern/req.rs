//! REQ: a strict request/reply state machine over a round-robin DEALER.
//!
//! ```text
//!  Idle ──first frame──► Sending ──last frame──► Awaiting ──delimiter ok──► Receiving
//!   ▲                                            │   ▲                         │
//!   └──────────── last frame of the reply ───────┼───┼─────────────────────────┘
//!                                                 └───┘ wrong pipe / stale / malformed: dropped
//! ```
//!
//! Each request goes out as `[request id]` (with `REQ_CORRELATE`), an empty delimiter, then
//! the user's frames, to the next peer in turn. A reply is accepted only from the peer that
//! got the request, only with the delimiter (and the current request id), and only while it
//! is awaited. `REQ_RELAXED` lets a new request replace one whose reply never came.

use super::dealer::probe;
use super::{Blocked, FairQueue, FlagOption, LoadBalancer, Pattern, PatternOption, Pipes};
use crate::error::Error;
use crate::msg::Msg;
use crate::peer::PeerInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Ready for a new request.
    Idle,
    /// The request's frames are going to `pipe` (`None`: it died, the rest is dropped).
    Sending { pipe: Option<usize> },
    /// The request is out; the reply must come from `pipe` (`None`: that peer left).
    Awaiting { pipe: Option<usize> },
    /// Handing out the frames of the reply from `pipe`.
    Receiving { pipe: usize },
}

/// REQ socket logic.
#[derive(Debug)]
pub(crate) struct Req {
    lb: LoadBalancer,
    fq: FairQueue,
    state: State,
    /// `REQ_RELAXED`: a new request may be sent before the reply came.
    relaxed: bool,
    /// `REQ_CORRELATE`: prefix requests with an id and accept only the matching reply.
    correlate: bool,
    request_id: u32,
    probe: bool,
    /// A reply accepted ahead by `has_in` (its first body frame and pipe), kept for `recv`.
    ready: Option<(Msg, usize)>,
}

impl Req {
    pub(crate) fn new() -> Req {
        Req {
            lb: LoadBalancer::default(),
            fq: FairQueue::default(),
            state: State::Idle,
            relaxed: false,
            correlate: false,
            request_id: crate::random::random_u64() as u32,
            probe: false,
            ready: None,
        }
    }

    /// The value of an option [`Pattern::set_option`] takes, `None` for the others.
    pub(crate) fn flag(&self, option: FlagOption) -> Option<bool> {
        match option {
            FlagOption::ReqRelaxed => Some(self.relaxed),
            FlagOption::ReqCorrelate => Some(self.correlate),
            FlagOption::ProbeRouter => Some(self.probe),
            _ => None,
        }
    }

    /// Drops the remaining frames of the message whose frame `more` was last read.
    fn skip_rest<P: Pipes>(&mut self, pipes: &mut P, mut more: bool) {
        while more {
            match self.fq.recv(pipes) {
                Ok((m, _)) => more = m.more(),
                Err(_) => return,
            }
        }
    }

    /// Drops every message waiting now (stale replies must not answer the next request).
    fn drain<P: Pipes>(&mut self, pipes: &mut P) {
        self.ready = None;
        while self.fq.recv(pipes).is_ok() {}
    }

    /// Reads until a well-formed reply from the `expected` pipe, dropping anything else;
    /// returns its first body frame and pipe. Changes no state, so `has_in` may call it.
    fn accept_reply<P: Pipes>(
        &mut self,
        pipes: &mut P,
        expected: Option<usize>,
    ) -> Result<(Msg, usize), Blocked<()>> {
        loop {
            let (first, idx) = self.fq.recv(pipes)?;
            if Some(idx) != expected {
                self.skip_rest(pipes, first.more());
                continue;
            }
            let mut frame = first;
            if self.correlate {
                let ok = frame.more() && frame[..] == self.request_id.to_ne_bytes();
                if !ok {
                    self.skip_rest(pipes, frame.more());
                    continue;
                }
                frame = match self.fq.recv(pipes) {
                    Ok((m, _)) => m,
                    Err(_) => continue,
                };
            }
            if !frame.more() || !frame.is_empty() {
                self.skip_rest(pipes, frame.more());
                continue;
            }
            let (body, _) = self.fq.recv(pipes)?;
            return Ok((body, idx));
        }
    }

    /// Starts a request: the id frame (if correlating) and the delimiter, to the next peer.
    fn begin<P: Pipes>(&mut self, pipes: &mut P) -> Result<Option<usize>, Blocked<()>> {
        let mut delimiter = Msg::new();
        delimiter.set_more(true);
        if self.correlate {
            let id = self.request_id.wrapping_add(1);
            let mut frame = Msg::copy_from_slice(&id.to_ne_bytes());
            frame.set_more(true);
            let pipe = self.lb.send(pipes, frame).map_err(|_| Blocked::Again(()))?;
            self.request_id = id;
            self.lb
                .send(pipes, delimiter)
                .map_err(|_| Blocked::Again(()))?;
            Ok(pipe)
        } else {
            self.lb
                .send(pipes, delimiter)
                .map_err(|_| Blocked::Again(()))
        }
    }
}

impl<P: Pipes> Pattern<P> for Req {
    fn attach(
        &mut self,
        pipes: &mut P,
        idx: usize,
        _peer: Option<&PeerInfo>,
        _connected: bool,
    ) -> bool {
        if self.probe {
            probe(pipes, idx);
        }
        self.lb.attach(idx);
        self.fq.attach(idx);
        true
    }

    fn detach(&mut self, idx: usize) {
        self.lb.detach(idx);
        self.fq.detach(idx);
        // The index may be reused by a new peer, whose messages are no reply of ours.
        match &mut self.state {
            State::Sending { pipe } | State::Awaiting { pipe } if *pipe == Some(idx) => {
                *pipe = None
            }
            _ => {}
        }
    }

    fn activate(&mut self, _pipes: &mut P, idx: usize) {
        self.lb.activate(idx);
        self.fq.activate(idx);
    }

    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        match self.state {
            State::Awaiting { .. } | State::Receiving { .. } if !self.relaxed => {
                return Err(Blocked::Fail(Error::WrongState(
                    "REQ must receive the reply before sending another request",
                )));
            }
            State::Sending { .. } => {}
            _ => {
                // A new request (after the reply, or replacing it with REQ_RELAXED).
                self.drain(pipes);
                let pipe = match self.begin(pipes) {
                    Ok(pipe) => pipe,
                    Err(_) => return Err(Blocked::Again(msg)),
                };
                self.state = State::Sending { pipe };
            }
        }
        let more = msg.more();
        self.lb.send(pipes, msg)?;
        if !more {
            let State::Sending { pipe } = self.state else {
                unreachable!("checked above")
            };
            self.state = State::Awaiting { pipe };
        }
        Ok(())
    }

    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        let expected = match self.state {
            State::Idle | State::Sending { .. } => {
                return Err(Blocked::Fail(Error::WrongState(
                    "REQ must send a request before receiving",
                )));
            }
            State::Receiving { .. } => {
                let (m, _) = self.fq.recv(pipes)?;
                if !m.more() {
                    self.state = State::Idle;
                }
                return Ok(m);
            }
            State::Awaiting { pipe } => pipe,
        };
        let (body, idx) = match self.ready.take() {
            Some(ready) => ready,
            None => self.accept_reply(pipes, expected)?,
        };
        self.state = if body.more() {
            State::Receiving { pipe: idx }
        } else {
            State::Idle
        };
        Ok(body)
    }

    fn has_in(&mut self, pipes: &mut P) -> bool {
        match self.state {
            // The rest of a reply was published with its first frame.
            State::Receiving { .. } => true,
            State::Awaiting { pipe } => {
                if self.ready.is_none() {
                    self.ready = self.accept_reply(pipes, pipe).ok();
                }
                self.ready.is_some()
            }
            // As libzmq: a REQ has input only while a reply is awaited.
            State::Idle | State::Sending { .. } => false,
        }
    }

    fn has_out(&mut self, pipes: &mut P) -> bool {
        match self.state {
            State::Awaiting { .. } | State::Receiving { .. } if !self.relaxed => false,
            State::Sending { .. } => true,
            _ => self.lb.has_out(pipes),
        }
    }

    fn set_option(&mut self, _pipes: &mut P, option: PatternOption<'_>) -> Result<(), Error> {
        match option {
            PatternOption::ReqRelaxed(on) => self.relaxed = on,
            PatternOption::ReqCorrelate(on) => self.correlate = on,
            PatternOption::ProbeRouter(on) => self.probe = on,
            _ => return Err(option.unsupported()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::{deliver, send_msg, FakePipes};

    fn req(pipes: &mut FakePipes, n: usize) -> Req {
        let mut r = Req::new();
        for i in 0..n {
            Pattern::attach(&mut r, pipes, i, None, true);
        }
        r
    }

    fn wrong_state<T>(r: Result<T, Blocked<impl std::fmt::Debug>>) -> bool {
        matches!(r, Err(Blocked::Fail(Error::WrongState(_))))
    }

    #[test]
    fn strict_alternation_and_envelope() {
        let mut pipes = FakePipes::with(2, 0);
        let mut r = req(&mut pipes, 2);
        assert!(wrong_state(Pattern::recv(&mut r, &mut pipes)));
        send_msg(&mut r, &mut pipes, &[b"hello", b"world"]).unwrap();
        assert_eq!(
            pipes.pipes[0].messages(),
            vec![vec![vec![], b"hello".to_vec(), b"world".to_vec()]]
        );
        assert!(wrong_state(send_msg(&mut r, &mut pipes, &[b"again"])));
        // Nothing yet: would block.
        assert!(matches!(
            Pattern::recv(&mut r, &mut pipes),
            Err(Blocked::Again(()))
        ));
        // A reply from the other peer, a malformed one and then the right one.
        deliver(&mut r, &mut pipes, 1, &[b"", b"not yours"]);
        deliver(&mut r, &mut pipes, 0, &[b"no delimiter"]);
        deliver(&mut r, &mut pipes, 0, &[b"", b"re", b"ply"]);
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "re");
        let last = Pattern::recv(&mut r, &mut pipes).unwrap();
        assert!(last == "ply" && !last.more());
        // Round robin: the next request goes to the other peer.
        send_msg(&mut r, &mut pipes, &[b"second"]).unwrap();
        assert_eq!(pipes.pipes[1].messages().len(), 1);
        deliver(&mut r, &mut pipes, 1, &[b"", b"ok"]);
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "ok");
    }

    #[test]
    fn the_asked_peer_leaving_means_no_reply() {
        let mut pipes = FakePipes::with(2, 0);
        let mut r = req(&mut pipes, 1);
        send_msg(&mut r, &mut pipes, &[b"q"]).unwrap();
        Pattern::<FakePipes>::detach(&mut r, 0);
        // Index 0 comes back as a new peer; its message is not the reply.
        Pattern::attach(&mut r, &mut pipes, 0, None, false);
        deliver(&mut r, &mut pipes, 0, &[b"", b"impostor"]);
        assert!(matches!(
            Pattern::recv(&mut r, &mut pipes),
            Err(Blocked::Again(()))
        ));
    }

    #[test]
    fn relaxed_and_correlated_requests_drop_stale_replies() {
        let mut pipes = FakePipes::with(1, 0);
        let mut r = req(&mut pipes, 1);
        Pattern::set_option(&mut r, &mut pipes, PatternOption::ReqRelaxed(true)).unwrap();
        Pattern::set_option(&mut r, &mut pipes, PatternOption::ReqCorrelate(true)).unwrap();
        send_msg(&mut r, &mut pipes, &[b"one"]).unwrap();
        let first = pipes.pipes[0].messages()[0].clone();
        assert_eq!(first.len(), 3);
        assert_eq!(first[0].len(), 4);
        assert!(first[1].is_empty());
        // No reply came: relaxed allows a new request, with a new id.
        send_msg(&mut r, &mut pipes, &[b"two"]).unwrap();
        let second = pipes.pipes[0].messages()[1].clone();
        assert_ne!(first[0], second[0]);
        // The late reply to "one" is dropped, the reply to "two" accepted.
        deliver(&mut r, &mut pipes, 0, &[&first[0], b"", b"reply one"]);
        deliver(&mut r, &mut pipes, 0, &[&second[0], b"", b"reply two"]);
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "reply two");
        // Without correlate, REQ_CORRELATE off: an id-less reply is accepted again.
        Pattern::set_option(&mut r, &mut pipes, PatternOption::ReqCorrelate(false)).unwrap();
        send_msg(&mut r, &mut pipes, &[b"three"]).unwrap();
        deliver(&mut r, &mut pipes, 0, &[b"", b"reply three"]);
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "reply three");
    }

    #[test]
    fn replies_waiting_before_a_request_are_stale() {
        let mut pipes = FakePipes::with(1, 0);
        let mut r = req(&mut pipes, 1);
        deliver(&mut r, &mut pipes, 0, &[b"", b"unsolicited"]);
        send_msg(&mut r, &mut pipes, &[b"q"]).unwrap();
        assert!(matches!(
            Pattern::recv(&mut r, &mut pipes),
            Err(Blocked::Again(()))
        ));
    }

    #[test]
    fn input_only_for_the_awaited_reply_and_never_lost() {
        let mut pipes = FakePipes::with(2, 0);
        let mut r = req(&mut pipes, 2);
        let has_in = |r: &mut Req, p: &mut FakePipes| Pattern::has_in(r, p);
        let has_out = |r: &mut Req, p: &mut FakePipes| Pattern::has_out(r, p);
        assert!(!has_in(&mut r, &mut pipes) && has_out(&mut r, &mut pipes));
        send_msg(&mut r, &mut pipes, &[b"q"]).unwrap();
        assert!(!has_out(&mut r, &mut pipes), "strict: no second request");
        assert!(!has_in(&mut r, &mut pipes));
        // Not from the asked peer, then malformed: no input; then the reply.
        deliver(&mut r, &mut pipes, 1, &[b"", b"not yours"]);
        deliver(&mut r, &mut pipes, 0, &[b"no delimiter"]);
        assert!(!has_in(&mut r, &mut pipes));
        deliver(&mut r, &mut pipes, 0, &[b"", b"a", b"b"]);
        assert!(has_in(&mut r, &mut pipes) && has_in(&mut r, &mut pipes));
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "a");
        assert!(has_in(&mut r, &mut pipes));
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "b");
        assert!(!has_in(&mut r, &mut pipes) && has_out(&mut r, &mut pipes));
    }

    #[test]
    fn no_peer_blocks_the_request() {
        let mut pipes = FakePipes::with(0, 0);
        let mut r = Req::new();
        assert!(matches!(
            send_msg(&mut r, &mut pipes, &[b"q"]),
            Err(Blocked::Again(_))
        ));
        // Still idle: receiving is wrong, sending may be retried.
        assert!(wrong_state(Pattern::recv(&mut r, &mut pipes)));
    }
}
