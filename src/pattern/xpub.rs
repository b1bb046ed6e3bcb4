//! PUB and XPUB: fan-out filtered on the publisher side by subscription prefix.
//!
//! Subscriptions (`0x01 topic` / `0x00 topic` messages, which is how SUBSCRIBE and CANCEL
//! commands reach the socket) are read from each pipe as soon as it wakes and kept in a
//! [`Trie`] of pipe sets: a pipe is subscribed to a topic or not, and a topic is dropped when
//! its last pipe leaves. A subscriber at its high-water mark misses messages while the others
//! do not; PUB never blocks (unless `XPUB_NODROP`).
//!
//! XPUB also hands the application the subscriptions (new topics only, or all of them with
//! `XPUB_VERBOSE`/`XPUB_VERBOSER`, or every one with `XPUB_MANUAL`, where the application
//! decides what the peer gets with `SUBSCRIBE`/`UNSUBSCRIBE`), the unsubscriptions of peers
//! that leave, and any other message a peer sends upstream.

use super::{slot, Blocked, BytesOption, Dist, FlagOption, Pattern, PatternOption, Pipes, Trie};
use crate::error::Error;
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::Read;
use std::collections::VecDeque;

#[derive(Debug)]
struct Pending {
    msg: Msg,
    /// For a subscription notification in `XPUB_MANUAL` mode: the pipe it came from.
    from: Option<usize>,
    notification: bool,
}

/// PUB / XPUB socket logic.
#[derive(Debug)]
pub(crate) struct XPub {
    /// XPUB (true) delivers subscriptions and upstream messages; PUB (false) never receives.
    xpub: bool,
    dist: Dist,
    subs: Trie<Vec<usize>>,
    /// `XPUB_MANUAL`: what each peer asked for (the application decides what it gets).
    manual_subs: Trie<Vec<usize>>,
    pending: VecDeque<Pending>,
    /// Per pipe: a handshake has completed on it (so the next one is a reconnect).
    known: Vec<bool>,
    verbose_subs: bool,
    verbose_unsubs: bool,
    nodrop: bool,
    manual: bool,
    invert: bool,
    welcome: Option<Msg>,
    /// `XPUB_MANUAL`: the pipe of the last subscription received by the application.
    last_pipe: Option<usize>,
}

impl XPub {
    pub(crate) fn new(xpub: bool) -> XPub {
        XPub {
            xpub,
            dist: Dist::default(),
            subs: Trie::default(),
            manual_subs: Trie::default(),
            pending: VecDeque::new(),
            known: Vec::new(),
            verbose_subs: false,
            verbose_unsubs: false,
            nodrop: false,
            manual: false,
            invert: false,
            welcome: None,
            last_pipe: None,
        }
    }

    /// The value of an option [`Pattern::set_option`] takes, `None` for the others.
    /// `XPUB_VERBOSER` reads as set only while both kinds of message are passed on (a later
    /// `XPUB_VERBOSE` turns the unsubscriptions off again).
    pub(crate) fn flag(&self, option: FlagOption) -> Option<bool> {
        match option {
            FlagOption::XpubVerbose => Some(self.verbose_subs),
            FlagOption::XpubVerboser => Some(self.verbose_subs && self.verbose_unsubs),
            FlagOption::XpubNodrop => Some(self.nodrop),
            FlagOption::XpubManual => Some(self.manual),
            FlagOption::InvertMatching => Some(self.invert),
            _ => None,
        }
    }

    /// The value of an option [`Pattern::set_option`] takes (empty when unset), `None` for
    /// the others.
    pub(crate) fn bytes(&self, option: BytesOption) -> Option<&[u8]> {
        match option {
            BytesOption::XpubWelcomeMsg => Some(self.welcome.as_deref().unwrap_or(&[])),
            BytesOption::ConnectRoutingId => None,
        }
    }

    fn notify(&mut self, subscribe: bool, topic: &[u8], from: Option<usize>) {
        self.pending.push_back(Pending {
            msg: Msg::prefixed(subscribe as u8, topic),
            from,
            notification: true,
        });
    }

    /// Applies one subscription change from pipe `idx`.
    fn subscription(&mut self, idx: usize, subscribe: bool, topic: &[u8]) {
        if self.manual {
            if subscribe {
                self.manual_subs.add_pipe(topic, idx);
            } else {
                self.manual_subs.rm_pipe(topic, idx);
            }
            if self.xpub {
                self.notify(subscribe, topic, Some(idx));
            }
            return;
        }
        let notify = if subscribe {
            self.subs.add_pipe(topic, idx) || self.verbose_subs
        } else {
            // As libzmq: also when the pipe was not subscribed at all.
            self.subs.rm_pipe(topic, idx) != super::trie::Removed::Remain || self.verbose_unsubs
        };
        if notify && self.xpub {
            self.notify(subscribe, topic, None);
        }
    }

    /// Reads everything pipe `idx` sent: subscriptions, and for XPUB upstream messages.
    fn read_pipe<P: Pipes>(&mut self, pipes: &mut P, idx: usize) {
        // Messages are published whole, so none spans two calls. `Some(deliver)` while
        // inside a multipart message.
        let mut rest: Option<bool> = None;
        loop {
            let msg = match pipes.read(idx) {
                Read::Item(m) => m,
                Read::Empty => return,
                Read::Closed => {
                    pipes.dead(idx);
                    return;
                }
            };
            let more = msg.more();
            if let Some(deliver) = rest {
                if !more {
                    rest = None;
                }
                if deliver {
                    self.pending.push_back(Pending {
                        msg,
                        from: None,
                        notification: false,
                    });
                }
                continue;
            }
            match msg.first() {
                Some(&kind @ (0 | 1)) => {
                    self.subscription(idx, kind == 1, &msg[1..]);
                    if more {
                        rest = Some(false);
                    }
                }
                _ => {
                    if more {
                        rest = Some(self.xpub);
                    }
                    if self.xpub {
                        self.pending.push_back(Pending {
                            msg,
                            from: None,
                            notification: false,
                        });
                    }
                }
            }
        }
    }

    /// Drops every subscription of pipe `idx`, telling the application what no peer wants
    /// any more.
    fn forget(&mut self, idx: usize) {
        let pending = &mut self.pending;
        let xpub = self.xpub;
        if self.manual {
            self.manual_subs.rm_pipe_everywhere(idx, |topic, _| {
                if xpub {
                    pending.push_back(Pending {
                        msg: Msg::prefixed(0, topic),
                        from: None,
                        notification: true,
                    });
                }
            });
            self.subs.rm_pipe_everywhere(idx, |_, _| {});
        } else {
            let verbose = self.verbose_unsubs;
            self.subs.rm_pipe_everywhere(idx, |topic, last| {
                if xpub && (last || verbose) {
                    pending.push_back(Pending {
                        msg: Msg::prefixed(0, topic),
                        from: None,
                        notification: true,
                    });
                }
            });
        }
        if self.last_pipe == Some(idx) {
            self.last_pipe = None;
        }
        for p in self.pending.iter_mut() {
            if p.from == Some(idx) {
                p.from = None;
            }
        }
    }
}

impl<P: Pipes> Pattern<P> for XPub {
    fn attach(
        &mut self,
        pipes: &mut P,
        idx: usize,
        peer: Option<&PeerInfo>,
        _connected: bool,
    ) -> bool {
        self.dist.attach(idx);
        *slot(&mut self.known, idx) = peer.is_some();
        if let Some(welcome) = &self.welcome {
            if pipes.write(idx, welcome.clone()).is_ok() {
                pipes.flush(idx);
            }
        }
        self.read_pipe(pipes, idx);
        true
    }

    fn peer_ready(&mut self, pipes: &mut P, idx: usize, _peer: &PeerInfo) {
        let known = slot(&mut self.known, idx);
        if std::mem::replace(known, true) {
            // Our connect reached a new subscriber: the old one's subscriptions are void
            // (the new one sends its own).
            self.forget(idx);
        }
        self.read_pipe(pipes, idx);
    }

    fn detach(&mut self, idx: usize) {
        self.dist.detach(idx);
        self.forget(idx);
        if let Some(k) = self.known.get_mut(idx) {
            *k = false;
        }
    }

    fn activate(&mut self, pipes: &mut P, idx: usize) {
        self.dist.activate(idx);
        self.read_pipe(pipes, idx);
    }

    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        if !self.dist.in_message() {
            let dist = &mut self.dist;
            self.subs.for_each_prefix(&msg, |subscribed| {
                for &idx in subscribed {
                    dist.mark(idx);
                }
            });
            if self.invert {
                dist.reverse_match();
            }
            if self.nodrop && !dist.matching_writable(pipes) {
                dist.unmatch();
                return Err(Blocked::Again(msg));
            }
        }
        self.dist.send_to_matching(pipes, msg);
        Ok(())
    }

    fn recv(&mut self, _pipes: &mut P) -> Result<Msg, Blocked<()>> {
        if !self.xpub {
            return Err(Blocked::Fail(Error::WrongState(
                "PUB sockets cannot receive",
            )));
        }
        let Some(p) = self.pending.pop_front() else {
            return Err(Blocked::Again(()));
        };
        if self.manual && p.notification {
            self.last_pipe = p.from;
        }
        Ok(p.msg)
    }

    fn has_in(&mut self, _pipes: &mut P) -> bool {
        self.xpub && !self.pending.is_empty()
    }

    fn has_out(&mut self, pipes: &mut P) -> bool {
        // libzmq says always; with XPUB_NODROP zerosock says whether every subscriber has
        // room, so a poll loop waits instead of spinning on a send that would block.
        if !self.nodrop || self.dist.in_message() {
            return true;
        }
        self.dist
            .pipes()
            .iter()
            .all(|&idx| pipes.writable(idx) || pipes.closed(idx))
    }

    fn set_option(&mut self, _pipes: &mut P, option: PatternOption<'_>) -> Result<(), Error> {
        match option {
            PatternOption::XpubVerbose(on) => {
                self.verbose_subs = on;
                self.verbose_unsubs = false;
            }
            PatternOption::XpubVerboser(on) => {
                self.verbose_subs = on;
                self.verbose_unsubs = on;
            }
            PatternOption::XpubNodrop(on) => self.nodrop = on,
            PatternOption::XpubManual(on) => self.manual = on,
            PatternOption::XpubWelcomeMsg(body) => {
                self.welcome = (!body.is_empty()).then(|| Msg::copy_from_slice(body));
            }
            PatternOption::InvertMatching(on) => self.invert = on,
            PatternOption::Subscribe(topic) if self.manual => {
                if let Some(idx) = self.last_pipe {
                    self.subs.add_pipe(topic, idx);
                }
            }
            PatternOption::Unsubscribe(topic) if self.manual => {
                if let Some(idx) = self.last_pipe {
                    self.subs.rm_pipe(topic, idx);
                }
            }
            _ => return Err(option.unsupported()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::fake::{recv_all, send_msg, FakePipes};

    fn publisher(xpub: bool, pipes: &mut FakePipes, n: usize) -> XPub {
        let mut p = XPub::new(xpub);
        for i in 0..n {
            Pattern::attach(&mut p, pipes, i, None, false);
        }
        p
    }

    fn subscribe(pipes: &mut FakePipes, p: &mut XPub, idx: usize, topic: &[u8]) {
        pipes.pipes[idx].inbound.push_back(Msg::prefixed(1, topic));
        Pattern::activate(p, pipes, idx);
    }

    fn cancel(pipes: &mut FakePipes, p: &mut XPub, idx: usize, topic: &[u8]) {
        pipes.pipes[idx].inbound.push_back(Msg::prefixed(0, topic));
        Pattern::activate(p, pipes, idx);
    }

    fn publish(pipes: &mut FakePipes, p: &mut XPub, frames: &[&[u8]]) {
        send_msg(p, pipes, frames).unwrap();
    }

    fn got(pipes: &FakePipes, idx: usize) -> Vec<Vec<u8>> {
        pipes.pipes[idx]
            .messages()
            .into_iter()
            .map(|m| m[0].clone())
            .collect()
    }

    #[test]
    fn prefix_filtering_and_the_empty_topic() {
        let mut pipes = FakePipes::with(3, 0);
        let mut p = publisher(false, &mut pipes, 3);
        publish(&mut pipes, &mut p, &[b"nobody listens"]);
        subscribe(&mut pipes, &mut p, 0, b"weather");
        subscribe(&mut pipes, &mut p, 1, b"");
        subscribe(&mut pipes, &mut p, 2, b"weather.paris");
        for t in [
            &b"weather.paris 20C"[..],
            b"weather.oslo",
            b"news",
            b"",
            b"weath",
        ] {
            publish(&mut pipes, &mut p, &[t, b"body"]);
        }
        assert_eq!(
            got(&pipes, 0),
            vec![b"weather.paris 20C".to_vec(), b"weather.oslo".to_vec()]
        );
        assert_eq!(got(&pipes, 1).len(), 5);
        assert_eq!(got(&pipes, 2), vec![b"weather.paris 20C".to_vec()]);
        // Every frame of a matching message goes out.
        assert_eq!(pipes.pipes[2].messages()[0][1], b"body");
        // PUB cannot receive.
        assert!(matches!(
            Pattern::recv(&mut p, &mut pipes),
            Err(Blocked::Fail(Error::WrongState(_)))
        ));
    }

    #[test]
    fn per_pipe_sets_and_unsubscribe() {
        let mut pipes = FakePipes::with(1, 0);
        let mut p = publisher(false, &mut pipes, 1);
        // A SUB sends every subscribe but only the last cancel: the pipe's set is a set.
        subscribe(&mut pipes, &mut p, 0, b"a");
        subscribe(&mut pipes, &mut p, 0, b"a");
        cancel(&mut pipes, &mut p, 0, b"a");
        publish(&mut pipes, &mut p, &[b"a1"]);
        assert!(pipes.pipes[0].outbound.is_empty());
    }

    #[test]
    fn slow_subscriber_misses_messages_others_do_not() {
        let mut pipes = FakePipes::with(3, 5);
        let mut p = publisher(false, &mut pipes, 3);
        for i in 0..3 {
            subscribe(&mut pipes, &mut p, i, b"");
        }
        for n in 0..20u8 {
            publish(&mut pipes, &mut p, &[&[n]]);
            // Pipes 0 and 1 are drained as they go; pipe 2 is stalled.
            pipes.pipes[0].outbound.clear();
            pipes.pipes[1].outbound.clear();
        }
        assert_eq!(
            got(&pipes, 2),
            (0..5u8).map(|n| vec![n]).collect::<Vec<_>>()
        );
        publish(&mut pipes, &mut p, &[b"last"]);
        assert_eq!(got(&pipes, 0), vec![b"last".to_vec()]);
        assert_eq!(got(&pipes, 1), vec![b"last".to_vec()]);
        // Once it drains and wakes, the slow one gets new messages again.
        pipes.pipes[2].outbound.clear();
        Pattern::activate(&mut p, &mut pipes, 2);
        publish(&mut pipes, &mut p, &[b"again"]);
        assert_eq!(got(&pipes, 2), vec![b"again".to_vec()]);
    }

    #[test]
    fn nodrop_blocks_instead_of_dropping() {
        let mut pipes = FakePipes::with(2, 1);
        let mut p = publisher(true, &mut pipes, 2);
        Pattern::set_option(&mut p, &mut pipes, PatternOption::XpubNodrop(true)).unwrap();
        subscribe(&mut pipes, &mut p, 0, b"");
        publish(&mut pipes, &mut p, &[b"1"]);
        assert!(matches!(
            send_msg(&mut p, &mut pipes, &[b"2"]),
            Err(Blocked::Again(_))
        ));
        // Pipe 1 is not subscribed: it does not hold anything up.
        pipes.pipes[0].outbound.clear();
        publish(&mut pipes, &mut p, &[b"2"]);
        assert_eq!(got(&pipes, 0), vec![b"2".to_vec()]);
    }

    #[test]
    fn xpub_notifications_unique_verbose_and_on_departure() {
        let mut pipes = FakePipes::with(2, 0);
        let mut p = publisher(true, &mut pipes, 2);
        subscribe(&mut pipes, &mut p, 0, b"a");
        subscribe(&mut pipes, &mut p, 1, b"a");
        subscribe(&mut pipes, &mut p, 1, b"b");
        cancel(&mut pipes, &mut p, 0, b"a");
        assert_eq!(
            recv_all(&mut p, &mut pipes),
            vec![vec![b"\x01a".to_vec()], vec![b"\x01b".to_vec()]]
        );
        // The last subscriber of "a" and "b" leaves: both are unsubscribed.
        Pattern::<FakePipes>::detach(&mut p, 1);
        let mut gone = recv_all(&mut p, &mut pipes);
        gone.sort();
        assert_eq!(gone, vec![vec![b"\x00a".to_vec()], vec![b"\x00b".to_vec()]]);
        // Verbose: every subscribe; verboser: every unsubscribe too.
        Pattern::set_option(&mut p, &mut pipes, PatternOption::XpubVerboser(true)).unwrap();
        Pattern::attach(&mut p, &mut pipes, 1, None, false);
        subscribe(&mut pipes, &mut p, 0, b"c");
        subscribe(&mut pipes, &mut p, 1, b"c");
        cancel(&mut pipes, &mut p, 1, b"c");
        assert_eq!(recv_all(&mut p, &mut pipes).len(), 3);
        // Upstream messages are delivered whole.
        pipes.push_in(0, &[b"up", b"stream"]);
        Pattern::activate(&mut p, &mut pipes, 0);
        assert_eq!(
            recv_all(&mut p, &mut pipes),
            vec![vec![b"up".to_vec(), b"stream".to_vec()]]
        );
    }

    #[test]
    fn manual_mode_and_welcome_message() {
        let mut pipes = FakePipes::with(2, 0);
        let mut p = XPub::new(true);
        Pattern::set_option(&mut p, &mut pipes, PatternOption::XpubManual(true)).unwrap();
        Pattern::set_option(&mut p, &mut pipes, PatternOption::XpubWelcomeMsg(b"hi")).unwrap();
        Pattern::attach(&mut p, &mut pipes, 0, None, false);
        Pattern::attach(&mut p, &mut pipes, 1, None, false);
        assert_eq!(got(&pipes, 0), vec![b"hi".to_vec()]);
        pipes.pipes[0].outbound.clear();
        pipes.pipes[1].outbound.clear();
        subscribe(&mut pipes, &mut p, 0, b"x");
        // Nothing is subscribed until the application says so.
        publish(&mut pipes, &mut p, &[b"x1"]);
        assert!(pipes.pipes[0].outbound.is_empty());
        assert_eq!(Pattern::recv(&mut p, &mut pipes).unwrap(), &b"\x01x"[..]);
        Pattern::set_option(&mut p, &mut pipes, PatternOption::Subscribe(b"y")).unwrap();
        publish(&mut pipes, &mut p, &[b"x2"]);
        publish(&mut pipes, &mut p, &[b"y1"]);
        assert_eq!(got(&pipes, 0), vec![b"y1".to_vec()]);
        assert!(pipes.pipes[1].outbound.is_empty());
        // Departure: the peer's own requests are reported as unsubscribed.
        Pattern::<FakePipes>::detach(&mut p, 0);
        assert_eq!(Pattern::recv(&mut p, &mut pipes).unwrap(), &b"\x00x"[..]);
        // Without XPUB_MANUAL, SUBSCRIBE is not an XPUB option.
        Pattern::set_option(&mut p, &mut pipes, PatternOption::XpubManual(false)).unwrap();
        assert!(Pattern::set_option(&mut p, &mut pipes, PatternOption::Subscribe(b"z")).is_err());
    }

    #[test]
    fn invert_matching_sends_to_the_others() {
        let mut pipes = FakePipes::with(2, 0);
        let mut p = publisher(false, &mut pipes, 2);
        Pattern::set_option(&mut p, &mut pipes, PatternOption::InvertMatching(true)).unwrap();
        subscribe(&mut pipes, &mut p, 0, b"a");
        subscribe(&mut pipes, &mut p, 1, b"b");
        publish(&mut pipes, &mut p, &[b"a1"]);
        assert_eq!(got(&pipes, 0), Vec::<Vec<u8>>::new());
        assert_eq!(got(&pipes, 1), vec![b"a1".to_vec()]);
    }

    #[test]
    fn reconnect_of_our_connect_forgets_old_subscriptions() {
        let mut pipes = FakePipes::with(1, 0);
        let mut p = XPub::new(false);
        Pattern::attach(&mut p, &mut pipes, 0, None, true);
        let peer = PeerInfo {
            socket_type: crate::socket_type::SocketType::Sub,
            identity: Default::default(),
            properties: crate::peer::Properties::new(),
        };
        Pattern::peer_ready(&mut p, &mut pipes, 0, &peer);
        subscribe(&mut pipes, &mut p, 0, b"old");
        Pattern::peer_ready(&mut p, &mut pipes, 0, &peer);
        publish(&mut pipes, &mut p, &[b"old news"]);
        assert!(pipes.pipes[0].outbound.is_empty());
    }
}
