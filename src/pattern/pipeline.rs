//! PUSH (round robin out, never drops, blocks at HWM) and PULL (fair-queued in).

use super::{Blocked, FairQueue, LoadBalancer, Pattern, Pending, Pipes};
use crate::error::Error;
use crate::msg::Msg;
use crate::peer::PeerInfo;

/// PUSH: distributes whole messages round robin over every peer.
#[derive(Debug, Default)]
pub(crate) struct Push {
    lb: LoadBalancer,
}

impl<P: Pipes> Pattern<P> for Push {
    fn attach(
        &mut self,
        _pipes: &mut P,
        idx: usize,
        _peer: Option<&PeerInfo>,
        _connected: bool,
    ) -> bool {
        self.lb.attach(idx);
        true
    }
    fn detach(&mut self, idx: usize) {
        self.lb.detach(idx);
    }
    fn activate(&mut self, _pipes: &mut P, idx: usize) {
        self.lb.activate(idx);
    }
    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        self.lb.send(pipes, msg).map(|_| ())
    }
    #[inline(always)]
    fn send_from<T: Into<Msg>>(
        &mut self,
        pipes: &mut P,
        pending: &mut Option<Pending<T>>,
        more: bool,
    ) -> Result<(), Blocked<()>> {
        self.lb.send_from(pipes, pending, more).map(|_| ())
    }
    fn recv(&mut self, _pipes: &mut P) -> Result<Msg, Blocked<()>> {
        Err(Blocked::Fail(Error::WrongState(
            "PUSH sockets cannot receive",
        )))
    }
    fn has_in(&mut self, _pipes: &mut P) -> bool {
        false
    }
    fn has_out(&mut self, pipes: &mut P) -> bool {
        self.lb.has_out(pipes)
    }
    fn reads(&self) -> bool {
        false
    }
}

/// PULL: receives whole messages fair-queued from every peer.
#[derive(Debug, Default)]
pub(crate) struct Pull {
    fq: FairQueue,
}

impl<P: Pipes> Pattern<P> for Pull {
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
    }
    fn activate(&mut self, _pipes: &mut P, idx: usize) {
        self.fq.activate(idx);
    }
    fn send(&mut self, _pipes: &mut P, _msg: Msg) -> Result<(), Blocked<Msg>> {
        Err(Blocked::Fail(Error::WrongState("PULL sockets cannot send")))
    }
    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        self.fq.recv(pipes).map(|(m, _)| m)
    }
    #[inline(always)]
    fn recv_into(&mut self, pipes: &mut P, dst: &mut Msg) -> Result<(), Blocked<()>> {
        self.fq.recv_into(pipes, dst).map(|_| ())
    }
    fn has_in(&mut self, pipes: &mut P) -> bool {
        self.fq.has_in(pipes)
    }
    fn has_out(&mut self, _pipes: &mut P) -> bool {
        false
    }
}
