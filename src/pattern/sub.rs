//! SUB and XSUB: fair-queued receiving, and subscriptions sent to every publisher.
//!
//! Subscriptions are counted in a [`Trie`]: every subscribe goes upstream, but the cancel
//! only when the last subscription to the topic is dropped. They travel as `0x01 topic` /
//! `0x00 topic` messages marked with [`Msg::mark_subscription`], so the connection sends
//! them as SUBSCRIBE / CANCEL commands to ZMTP 3.1 peers and as messages to 3.0 peers.
//!
//! A pipe gets every subscription when it is attached; a pipe whose connection is remade
//! (the "hiccup", [`Pattern::peer_ready`] after an earlier handshake) gets them all again,
//! so traffic resumes after a publisher restart without the application resubscribing.
//!
//! SUB filters what it receives against its subscriptions too (`INVERT_MATCHING` turns
//! the filter around). XSUB, as in libzmq, passes everything on; its application sends the
//! subscription messages itself and may send other messages upstream.

use super::{slot, Blocked, Dist, FairQueue, FlagOption, Pattern, PatternOption, Pipes, Trie};
use crate::error::Error;
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::WriteError;

/// SUB / XSUB socket logic.
#[derive(Debug)]
pub(crate) struct Sub {
    /// SUB (true): subscriptions by option, filtering on receive. XSUB (false).
    sub: bool,
    fq: FairQueue,
    /// Every pipe, for subscriptions and (XSUB) upstream messages.
    dist: Dist,
    /// Per pipe: a handshake has completed on it (so the next one is a reconnect).
    known: Vec<bool>,
    subs: Trie<u32>,
    invert: bool,
    /// In the middle of a received message that passed the filter.
    recv_more: bool,
    /// Pipes owed every subscription once the (XSUB) message being sent is complete: a
    /// subscription must not land inside it.
    owed: Vec<usize>,
}

impl Sub {
    pub(crate) fn new(sub: bool) -> Sub {
        Sub {
            sub,
            fq: FairQueue::default(),
            dist: Dist::default(),
            known: Vec::new(),
            subs: Trie::default(),
            invert: false,
            recv_more: false,
            owed: Vec::new(),
        }
    }

    /// The value of an option [`Pattern::set_option`] takes, `None` for the others
    /// (`SUBSCRIBE` and `UNSUBSCRIBE` are write-only, as in libzmq).
    pub(crate) fn flag(&self, option: FlagOption) -> Option<bool> {
        match option {
            FlagOption::InvertMatching => Some(self.invert),
            _ => None,
        }
    }

    /// Writes one subscription change to pipe `idx` (dropped if the pipe is full, as libzmq
    /// does; a later reconnect sends them all again).
    fn write_subscription<P: Pipes>(pipes: &mut P, idx: usize, subscribe: bool, topic: &[u8]) {
        let mut msg = Msg::prefixed(subscribe as u8, topic);
        msg.mark_subscription(subscribe);
        if let Err(WriteError::Closed(_)) = pipes.write(idx, msg) {
            pipes.dead(idx);
        }
    }

    /// Sends every subscription to pipe `idx`.
    fn send_all_to<P: Pipes>(&self, pipes: &mut P, idx: usize) {
        if self.subs.len() == 0 {
            return;
        }
        self.subs
            .for_each(|topic, _| Self::write_subscription(pipes, idx, true, topic));
        pipes.flush(idx);
    }

    /// Sends one subscription change to every pipe.
    fn broadcast<P: Pipes>(&self, pipes: &mut P, subscribe: bool, topic: &[u8]) {
        for &idx in self.dist.pipes() {
            Self::write_subscription(pipes, idx, subscribe, topic);
            pipes.flush(idx);
        }
    }

    fn subscribe<P: Pipes>(&mut self, pipes: &mut P, topic: &[u8]) {
        self.subs.add(topic);
        self.broadcast(pipes, true, topic);
    }

    fn unsubscribe<P: Pipes>(&mut self, pipes: &mut P, topic: &[u8]) {
        if self.subs.rm(topic) {
            self.broadcast(pipes, false, topic);
        }
    }

    #[inline]
    fn wanted(&self, msg: &Msg) -> bool {
        !self.sub || self.subs.has_prefix_of(msg) != self.invert
    }

    /// Whether some message could be unwanted: false for an XSUB, and for a SUB subscribed
    /// to the empty topic (a prefix of everything) without `INVERT_MATCHING`.
    fn wants_filtering(&self) -> bool {
        self.sub && (self.invert || !self.subs.has_prefix_of(&[]))
    }
}

impl<P: Pipes> Pattern<P> for Sub {
    fn attach(
        &mut self,
        pipes: &mut P,
        idx: usize,
        peer: Option<&PeerInfo>,
        _connected: bool,
    ) -> bool {
        self.fq.attach(idx);
        self.dist.attach(idx);
        *slot(&mut self.known, idx) = peer.is_some();
        // Queued now, sent when (and if) the connection is made.
        self.send_all_to(pipes, idx);
        true
    }

    fn peer_ready(&mut self, pipes: &mut P, idx: usize, _peer: &PeerInfo) {
        if std::mem::replace(slot(&mut self.known, idx), true) {
            // A new connection: the subscriptions sent on the old one are gone with it.
            if self.dist.in_message() {
                self.owed.push(idx);
            } else {
                self.send_all_to(pipes, idx);
            }
        }
    }

    fn detach(&mut self, idx: usize) {
        self.fq.detach(idx);
        self.dist.detach(idx);
        self.owed.retain(|&i| i != idx);
        if let Some(k) = self.known.get_mut(idx) {
            *k = false;
        }
    }

    fn activate(&mut self, _pipes: &mut P, idx: usize) {
        self.fq.activate(idx);
        self.dist.activate(idx);
    }

    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        if self.sub {
            return Err(Blocked::Fail(Error::WrongState(
                "SUB sockets cannot send (use set_subscribe)",
            )));
        }
        if !self.dist.in_message() && !msg.more() {
            match msg.first() {
                Some(1) => {
                    self.subscribe(pipes, &msg[1..]);
                    return Ok(());
                }
                Some(0) => {
                    self.unsubscribe(pipes, &msg[1..]);
                    return Ok(());
                }
                _ => {}
            }
        }
        // Any other message goes upstream to every publisher.
        if !self.dist.in_message() {
            self.dist.mark_all();
        }
        self.dist.send_to_matching(pipes, msg);
        if !self.dist.in_message() {
            for idx in std::mem::take(&mut self.owed) {
                self.send_all_to(pipes, idx);
            }
        }
        Ok(())
    }

    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        loop {
            let (msg, _) = self.fq.recv(pipes)?;
            if self.recv_more || self.wanted(&msg) {
                self.recv_more = msg.more();
                return Ok(msg);
            }
            // Not subscribed: drop the whole message.
            let mut more = msg.more();
            while more {
                match self.fq.recv(pipes) {
                    Ok((m, _)) => more = m.more(),
                    Err(_) => break,
                }
            }
        }
    }

    fn recv_into(&mut self, pipes: &mut P, dst: &mut Msg) -> Result<(), Blocked<()>> {
        // When every message is wanted (the rest of one, an XSUB, or a SUB subscribed to
        // everything), the frame goes straight from the pipe into `dst`: moved out through
        // `recv`'s return value and again into `dst`, its loads stalled on the stores just
        // made (a fifth of each subscriber thread in a fan-out of 64 B). Otherwise a frame
        // must be looked at before `dst` may change, since an error leaves `dst` as it was.
        if self.recv_more || !self.wants_filtering() {
            self.fq.recv_into(pipes, dst)?;
            self.recv_more = dst.more();
            return Ok(());
        }
        *dst = self.recv(pipes)?;
        Ok(())
    }

    fn has_in(&mut self, pipes: &mut P) -> bool {
        if self.recv_more || !self.sub {
            return self.fq.has_in(pipes);
        }
        loop {
            let wanted = match self.fq.peek(pipes) {
                None => return false,
                Some((msg, _)) => self.subs.has_prefix_of(msg) != self.invert,
            };
            if wanted {
                return true;
            }
            // Filtered out: drop it as `recv` would.
            let mut more = match self.fq.recv(pipes) {
                Ok((m, _)) => m.more(),
                Err(_) => false,
            };
            while more {
                match self.fq.recv(pipes) {
                    Ok((m, _)) => more = m.more(),
                    Err(_) => break,
                }
            }
        }
    }

    fn has_out(&mut self, _pipes: &mut P) -> bool {
        // As libzmq: SUB never sends; XSUB always accepts (subscriptions, or messages that
        // are dropped for peers without room).
        !self.sub
    }

    fn set_option(&mut self, pipes: &mut P, option: PatternOption<'_>) -> Result<(), Error> {
        match option {
            PatternOption::Subscribe(topic) if self.sub => self.subscribe(pipes, topic),
            PatternOption::Unsubscribe(topic) if self.sub => self.unsubscribe(pipes, topic),
            PatternOption::InvertMatching(on) => self.invert = on,
            _ => return Err(option.unsupported()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::{deliver, recv_all, send_msg, FakePipes};
    use crate::peer::Properties;
    use crate::socket_type::SocketType;

    fn peer() -> PeerInfo {
        PeerInfo {
            socket_type: SocketType::Pub,
            identity: Default::default(),
            properties: Properties::new(),
        }
    }

    /// The subscription messages written to pipe `idx`, as (subscribe, topic).
    fn sent(pipes: &FakePipes, idx: usize) -> Vec<(bool, Vec<u8>)> {
        pipes.pipes[idx]
            .outbound
            .iter()
            .map(|m| {
                let subscribe = m.subscription().expect("marked as a subscription");
                assert_eq!(subscribe, m[0] == 1);
                (subscribe, m[1..].to_vec())
            })
            .collect()
    }

    #[test]
    fn counted_subscriptions_and_local_filter() {
        let mut pipes = FakePipes::with(1, 0);
        let mut s = Sub::new(true);
        Pattern::attach(&mut s, &mut pipes, 0, Some(&peer()), false);
        let set = |s: &mut Sub, pipes: &mut FakePipes, o| Pattern::set_option(s, pipes, o).unwrap();
        set(&mut s, &mut pipes, PatternOption::Subscribe(b"a"));
        set(&mut s, &mut pipes, PatternOption::Subscribe(b"a"));
        set(&mut s, &mut pipes, PatternOption::Unsubscribe(b"a"));
        set(&mut s, &mut pipes, PatternOption::Unsubscribe(b"never"));
        // Every subscribe goes up; the cancel waits for the last unsubscribe.
        assert_eq!(
            sent(&pipes, 0),
            vec![(true, b"a".to_vec()), (true, b"a".to_vec())]
        );
        deliver(&mut s, &mut pipes, 0, &[b"a1", b"x"]);
        deliver(&mut s, &mut pipes, 0, &[b"b1", b"y"]);
        deliver(&mut s, &mut pipes, 0, &[b"a2"]);
        assert_eq!(
            recv_all(&mut s, &mut pipes),
            vec![vec![b"a1".to_vec(), b"x".to_vec()], vec![b"a2".to_vec()]]
        );
        set(&mut s, &mut pipes, PatternOption::Unsubscribe(b"a"));
        assert_eq!(sent(&pipes, 0).last(), Some(&(false, b"a".to_vec())));
        deliver(&mut s, &mut pipes, 0, &[b"a3"]);
        assert!(recv_all(&mut s, &mut pipes).is_empty());
        // The empty topic: everything, the empty message included.
        set(&mut s, &mut pipes, PatternOption::Subscribe(b""));
        deliver(&mut s, &mut pipes, 0, &[b""]);
        deliver(&mut s, &mut pipes, 0, &[b"z"]);
        assert_eq!(recv_all(&mut s, &mut pipes).len(), 2);
        // Inverted: everything except the subscriptions.
        set(&mut s, &mut pipes, PatternOption::Unsubscribe(b""));
        set(&mut s, &mut pipes, PatternOption::Subscribe(b"a"));
        set(&mut s, &mut pipes, PatternOption::InvertMatching(true));
        deliver(&mut s, &mut pipes, 0, &[b"a4"]);
        deliver(&mut s, &mut pipes, 0, &[b"b4"]);
        assert_eq!(recv_all(&mut s, &mut pipes), vec![vec![b"b4".to_vec()]]);
        assert!(matches!(
            send_msg(&mut s, &mut pipes, &[b"x"]),
            Err(Blocked::Fail(Error::WrongState(_)))
        ));
    }

    /// `recv_into` delivers what `recv` does, straight into `dst` when everything is wanted,
    /// and leaves `dst` as it was when nothing wanted is waiting (dropping what is not).
    #[test]
    fn recv_into_filters_like_recv_and_leaves_dst_alone_when_blocked() {
        let mut pipes = FakePipes::with(1, 0);
        let mut s = Sub::new(true);
        Pattern::attach(&mut s, &mut pipes, 0, Some(&peer()), false);
        let set = |s: &mut Sub, pipes: &mut FakePipes, o| Pattern::set_option(s, pipes, o).unwrap();
        // Every frame `recv_into` gives until it blocks, as (body, more).
        let drain = |s: &mut Sub, pipes: &mut FakePipes, dst: &mut Msg| {
            let mut got = Vec::new();
            while Pattern::recv_into(s, pipes, dst).is_ok() {
                got.push((dst.to_vec(), dst.more()));
            }
            got
        };
        let frame = |body: &[u8], more| (body.to_vec(), more);
        let mut dst = Msg::from("untouched");
        // Nothing subscribed: every message is dropped, `dst` stays as it was.
        deliver(&mut s, &mut pipes, 0, &[b"a1", b"x"]);
        assert!(drain(&mut s, &mut pipes, &mut dst).is_empty());
        assert_eq!(&dst[..], b"untouched");
        set(&mut s, &mut pipes, PatternOption::Subscribe(b"a"));
        deliver(&mut s, &mut pipes, 0, &[b"b2"]);
        deliver(&mut s, &mut pipes, 0, &[b"a2", b"y"]);
        deliver(&mut s, &mut pipes, 0, &[b"b3", b"z"]);
        assert_eq!(
            drain(&mut s, &mut pipes, &mut dst),
            [frame(b"a2", true), frame(b"y", false)]
        );
        assert_eq!(
            &dst[..],
            b"y",
            "the dropped message after it left dst alone"
        );
        // Everything wanted: the direct path, whole messages, the empty one included.
        set(&mut s, &mut pipes, PatternOption::Subscribe(b""));
        deliver(&mut s, &mut pipes, 0, &[b"q", b"r"]);
        deliver(&mut s, &mut pipes, 0, &[b""]);
        assert_eq!(
            drain(&mut s, &mut pipes, &mut dst),
            [frame(b"q", true), frame(b"r", false), frame(b"", false)]
        );
        // Inverted, with the empty topic: nothing is wanted.
        set(&mut s, &mut pipes, PatternOption::InvertMatching(true));
        deliver(&mut s, &mut pipes, 0, &[b"s"]);
        dst = Msg::from("kept");
        assert!(drain(&mut s, &mut pipes, &mut dst).is_empty());
        assert_eq!(&dst[..], b"kept");
    }

    #[test]
    fn resubscribe_on_attach_and_on_reconnect_only() {
        let mut pipes = FakePipes::with(3, 0);
        let mut s = Sub::new(true);
        Pattern::set_option(&mut s, &mut pipes, PatternOption::Subscribe(b"a")).unwrap();
        Pattern::set_option(&mut s, &mut pipes, PatternOption::Subscribe(b"b")).unwrap();
        // A connect whose connection is not made yet: queued now, not again at the first
        // handshake.
        Pattern::attach(&mut s, &mut pipes, 0, None, true);
        assert_eq!(sent(&pipes, 0).len(), 2);
        Pattern::peer_ready(&mut s, &mut pipes, 0, &peer());
        assert_eq!(sent(&pipes, 0).len(), 2);
        // The connection is remade: everything again.
        Pattern::peer_ready(&mut s, &mut pipes, 0, &peer());
        assert_eq!(
            sent(&pipes, 0)[2..],
            [(true, b"a".to_vec()), (true, b"b".to_vec())]
        );
        // An accepted peer gets them at attach.
        Pattern::attach(&mut s, &mut pipes, 1, Some(&peer()), false);
        assert_eq!(sent(&pipes, 1).len(), 2);
    }

    #[test]
    fn xsub_subscription_messages_and_upstream_data() {
        let mut pipes = FakePipes::with(2, 0);
        let mut s = Sub::new(false);
        for i in 0..2 {
            Pattern::attach(&mut s, &mut pipes, i, Some(&peer()), false);
        }
        send_msg(&mut s, &mut pipes, &[b"\x01t"]).unwrap();
        send_msg(&mut s, &mut pipes, &[b"\x00t"]).unwrap();
        send_msg(&mut s, &mut pipes, &[b"\x00t"]).unwrap();
        for i in 0..2 {
            assert_eq!(
                sent(&pipes, i),
                vec![(true, b"t".to_vec()), (false, b"t".to_vec())]
            );
            pipes.pipes[i].outbound.clear();
        }
        send_msg(&mut s, &mut pipes, &[b"up", b"\x01not a subscription"]).unwrap();
        for i in 0..2 {
            assert_eq!(
                pipes.pipes[i].messages(),
                vec![vec![b"up".to_vec(), b"\x01not a subscription".to_vec()]]
            );
            assert!(pipes.pipes[i].outbound[1].subscription().is_none());
        }
        // A reconnect in the middle of an upstream message: the subscriptions wait for its
        // end.
        send_msg(&mut s, &mut pipes, &[b"\x01t"]).unwrap();
        for i in 0..2 {
            pipes.pipes[i].outbound.clear();
        }
        let mut first = Msg::from("part 1");
        first.set_more(true);
        Pattern::send(&mut s, &mut pipes, first).unwrap();
        Pattern::peer_ready(&mut s, &mut pipes, 0, &peer());
        assert_eq!(pipes.pipes[0].outbound.len(), 1);
        Pattern::send(&mut s, &mut pipes, Msg::from("part 2")).unwrap();
        assert_eq!(
            pipes.pipes[0].messages(),
            vec![
                vec![b"part 1".to_vec(), b"part 2".to_vec()],
                vec![b"\x01t".to_vec()]
            ]
        );
        // XSUB does not filter.
        deliver(&mut s, &mut pipes, 0, &[b"anything"]);
        assert_eq!(recv_all(&mut s, &mut pipes).len(), 1);
        assert!(Pattern::set_option(&mut s, &mut pipes, PatternOption::Subscribe(b"x")).is_err());
    }

    #[test]
    fn input_only_for_subscribed_messages_and_never_lost() {
        let mut pipes = FakePipes::with(1, 0);
        let mut s = Sub::new(true);
        Pattern::attach(&mut s, &mut pipes, 0, Some(&peer()), false);
        Pattern::set_option(&mut s, &mut pipes, PatternOption::Subscribe(b"a")).unwrap();
        assert!(!Pattern::has_out(&mut s, &mut pipes));
        deliver(&mut s, &mut pipes, 0, &[b"b", b"filtered"]);
        assert!(!Pattern::has_in(&mut s, &mut pipes));
        assert!(pipes.pipes[0].inbound.is_empty(), "dropped as recv would");
        deliver(&mut s, &mut pipes, 0, &[b"a", b"kept"]);
        assert!(Pattern::has_in(&mut s, &mut pipes) && Pattern::has_in(&mut s, &mut pipes));
        assert_eq!(
            recv_all(&mut s, &mut pipes),
            vec![vec![b"a".to_vec(), b"kept".to_vec()]]
        );
        assert!(!Pattern::has_in(&mut s, &mut pipes));
    }
}
