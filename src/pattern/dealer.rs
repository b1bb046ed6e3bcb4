//! DEALER: round robin out, fair-queued in, messages passed through untouched. Blocks (or
//! says would-block) when every peer is at its high-water mark; never drops.

use super::{Blocked, FairQueue, FlagOption, LoadBalancer, Pattern, PatternOption, Pending, Pipes};
use crate::error::Error;
use crate::msg::Msg;
use crate::peer::PeerInfo;

/// DEALER socket logic.
#[derive(Debug, Default)]
pub(crate) struct Dealer {
    lb: LoadBalancer,
    fq: FairQueue,
    /// `PROBE_ROUTER`: greet every new peer with an empty message.
    probe: bool,
}

impl Dealer {
    /// The value of an option [`Pattern::set_option`] takes, `None` for the others.
    pub(crate) fn flag(&self, option: FlagOption) -> Option<bool> {
        match option {
            FlagOption::ProbeRouter => Some(self.probe),
            _ => None,
        }
    }
}

/// Writes the `PROBE_ROUTER` greeting (one empty frame) to a new pipe.
pub(crate) fn probe<P: Pipes + ?Sized>(pipes: &mut P, idx: usize) {
    if pipes.write(idx, Msg::new()).is_ok() {
        pipes.flush(idx);
    }
}

impl<P: Pipes> Pattern<P> for Dealer {
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
    }

    fn activate(&mut self, _pipes: &mut P, idx: usize) {
        self.lb.activate(idx);
        self.fq.activate(idx);
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

    fn has_out(&mut self, pipes: &mut P) -> bool {
        self.lb.has_out(pipes)
    }

    fn set_option(&mut self, _pipes: &mut P, option: PatternOption<'_>) -> Result<(), Error> {
        match option {
            PatternOption::ProbeRouter(on) => self.probe = on,
            _ => return Err(option.unsupported()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::{recv_all, send_msg, FakePipes};

    #[test]
    fn round_robin_out_fair_queue_in_and_probe() {
        let mut pipes = FakePipes::with(3, 0);
        let mut dealer = Dealer::default();
        let d: &mut dyn Pattern<FakePipes> = &mut dealer;
        d.set_option(&mut pipes, PatternOption::ProbeRouter(true))
            .unwrap();
        assert!(d
            .set_option(&mut pipes, PatternOption::Subscribe(b""))
            .is_err());
        for i in 0..3 {
            d.attach(&mut pipes, i, None, true);
        }
        for i in 0..3 {
            assert_eq!(pipes.pipes[i].messages(), vec![vec![Vec::<u8>::new()]]);
            pipes.pipes[i].outbound.clear();
        }
        for n in 0..6u8 {
            send_msg(d, &mut pipes, &[&[n], b"", b"x"]).unwrap();
        }
        for i in 0..3 {
            let got: Vec<u8> = pipes.pipes[i].messages().iter().map(|m| m[0][0]).collect();
            assert_eq!(got, vec![i as u8, i as u8 + 3]);
            assert_eq!(pipes.pipes[i].messages()[0].len(), 3);
        }
        pipes.push_in(0, &[b"a", b""]);
        pipes.push_in(0, &[b"b"]);
        pipes.push_in(2, &[b"c"]);
        let got = recv_all(d, &mut pipes);
        assert_eq!(
            got,
            vec![
                vec![b"a".to_vec(), vec![]],
                vec![b"c".to_vec()],
                vec![b"b".to_vec()]
            ]
        );
    }
}
