//! ROUTER: every received message is prefixed with its peer's routing id; every sent
//! message is routed by its first frame.
//!
//! A peer's routing id is, in order: `CONNECT_ROUTING_ID` for the next `connect`, the
//! `Identity` its handshake announced when that is not empty and not taken, or a generated
//! 5-byte id (`0x00` and a big-endian counter from a random start). With `ROUTER_HANDOVER`
//! a new peer announcing a taken identity takes it over and the old connection is closed.
//! A pipe made by `connect` whose handshake has not happened yet has no routing id: it is
//! neither read nor routable until [`Pattern::peer_ready`].
//!
//! Unroutable messages are dropped silently, or refused with `ROUTER_MANDATORY`
//! ([`Error::HostUnreachable`], or would-block when the peer is at its high-water mark).

use super::dealer::probe;
use super::{slot, Blocked, BytesOption, FairQueue, FlagOption, Pattern, PatternOption, Pipes};
use crate::error::Error;
use crate::msg::{Msg, INLINE_CAPACITY};
use crate::peer::PeerInfo;
use bytes::Bytes;
use std::collections::HashMap;

#[derive(Debug)]
enum RecvState {
    Idle,
    /// `has_in` read a message ahead: its routing id frame and first frame come next.
    Ready {
        id: Msg,
        first: Msg,
        pipe: usize,
    },
    /// The routing id was handed out; this first frame of the message comes next.
    Prefetched {
        first: Msg,
        pipe: usize,
    },
    /// Handing out the rest of a message from `pipe`.
    InMessage {
        pipe: usize,
    },
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    Idle,
    /// The message goes to this pipe.
    To(usize),
    /// Unroutable (or the pipe died): the rest of the message is dropped.
    Dropping,
}

#[derive(Debug, Default)]
struct Peer {
    /// `None` while the peer is anonymous (connect made, handshake not yet done).
    id: Option<Bytes>,
    /// The id was given by `CONNECT_ROUTING_ID`: a reconnect keeps it.
    fixed: bool,
    attached: bool,
}

/// ROUTER socket logic.
#[derive(Debug)]
pub(crate) struct Router {
    fq: FairQueue,
    /// Per pipe index.
    peers: Vec<Peer>,
    by_id: HashMap<Bytes, usize>,
    next_id: u32,
    recv: RecvState,
    send: SendState,
    mandatory: bool,
    handover: bool,
    probe: bool,
    connect_routing_id: Option<Bytes>,
    /// Taken over (ROUTER_HANDOVER) while its message was being read: closed after it.
    close_after_message: Option<usize>,
}

impl Router {
    pub(crate) fn new() -> Router {
        Router {
            fq: FairQueue::default(),
            peers: Vec::new(),
            by_id: HashMap::new(),
            next_id: crate::random::random_u64() as u32,
            recv: RecvState::Idle,
            send: SendState::Idle,
            mandatory: false,
            handover: false,
            probe: false,
            connect_routing_id: None,
            close_after_message: None,
        }
    }

    /// The value of an option [`Pattern::set_option`] takes, `None` for the others.
    pub(crate) fn flag(&self, option: FlagOption) -> Option<bool> {
        match option {
            FlagOption::RouterMandatory => Some(self.mandatory),
            FlagOption::RouterHandover => Some(self.handover),
            FlagOption::ProbeRouter => Some(self.probe),
            _ => None,
        }
    }

    /// The value of an option [`Pattern::set_option`] takes, `None` for the others. The
    /// `CONNECT_ROUTING_ID` is empty once the `connect` it was for has used it.
    pub(crate) fn bytes(&self, option: BytesOption) -> Option<&[u8]> {
        match option {
            BytesOption::ConnectRoutingId => {
                Some(self.connect_routing_id.as_deref().unwrap_or(&[]))
            }
            BytesOption::XpubWelcomeMsg => None,
        }
    }

    fn generate_id(&mut self) -> Bytes {
        loop {
            let n = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let mut id = [0u8; 5];
            id[1..].copy_from_slice(&n.to_be_bytes());
            if !self.by_id.contains_key(&id[..]) {
                return Bytes::copy_from_slice(&id);
            }
        }
    }

    /// The pipe currently being read by `recv`, if any.
    fn reading(&self) -> Option<usize> {
        match self.recv {
            RecvState::Idle => None,
            RecvState::Ready { pipe, .. }
            | RecvState::Prefetched { pipe, .. }
            | RecvState::InMessage { pipe } => Some(pipe),
        }
    }

    /// Closes a pipe now, or after the message being read from it.
    fn close_pipe<P: Pipes>(&mut self, pipes: &mut P, idx: usize) {
        if self.reading() == Some(idx) {
            self.close_after_message = Some(idx);
        } else {
            pipes.dead(idx);
        }
    }

    /// The routing id for a peer that announced `identity`.
    fn identify<P: Pipes>(&mut self, pipes: &mut P, identity: &Bytes) -> Bytes {
        if identity.is_empty() {
            return self.generate_id();
        }
        let Some(&old) = self.by_id.get(identity) else {
            return identity.clone();
        };
        if !self.handover {
            // Taken: the newcomer gets a generated id.
            return self.generate_id();
        }
        // Handover: the old pipe gets a generated id until it is gone.
        let temp = self.generate_id();
        self.by_id.remove(identity);
        self.by_id.insert(temp.clone(), old);
        self.peers[old].id = Some(temp);
        self.close_pipe(pipes, old);
        identity.clone()
    }

    fn set_id(&mut self, idx: usize, id: Bytes) {
        let peer = slot(&mut self.peers, idx);
        if let Some(old) = peer.id.replace(id.clone()) {
            self.by_id.remove(&old);
        }
        self.by_id.insert(id, idx);
    }

    /// Reads the next message of an identified peer: its id frame, first frame and pipe.
    /// Changes no state, so `has_in` may call it.
    fn next_message<P: Pipes>(&mut self, pipes: &mut P) -> Result<(Msg, Msg, usize), Blocked<()>> {
        loop {
            let (first, pipe) = self.fq.recv(pipes)?;
            if let Some(id) = self.peers.get(pipe).and_then(|p| p.id.as_ref()) {
                return Ok((id_frame(id), first, pipe));
            }
            // Only identified pipes are fair-queued; should one slip through, its
            // message is dropped rather than delivered without an id.
            let mut more = first.more();
            while more {
                match self.fq.recv(pipes) {
                    Ok((m, _)) => more = m.more(),
                    Err(_) => break,
                }
            }
        }
    }

    fn finish_message(&mut self, pipes: &mut impl Pipes) {
        self.recv = RecvState::Idle;
        if let Some(idx) = self.close_after_message.take() {
            pipes.dead(idx);
        }
    }
}

/// The routing-id frame handed to the application.
fn id_frame(id: &Bytes) -> Msg {
    let mut m = if id.len() <= INLINE_CAPACITY {
        Msg::copy_from_slice(id)
    } else {
        Msg::from_bytes(id.clone())
    };
    m.set_more(true);
    m
}

impl<P: Pipes> Pattern<P> for Router {
    fn attach(
        &mut self,
        pipes: &mut P,
        idx: usize,
        peer: Option<&PeerInfo>,
        connected: bool,
    ) -> bool {
        if self.probe {
            probe(pipes, idx);
        }
        *slot(&mut self.peers, idx) = Peer {
            attached: true,
            ..Peer::default()
        };
        let given = if connected {
            self.connect_routing_id
                .take()
                .filter(|id| !self.by_id.contains_key(id))
        } else {
            None
        };
        let id = match (given, peer) {
            (Some(id), _) => {
                self.peers[idx].fixed = true;
                id
            }
            (None, Some(peer)) => self.identify(pipes, &peer.identity),
            (None, None) => return true, // anonymous until its handshake
        };
        self.set_id(idx, id);
        self.fq.attach(idx);
        true
    }

    fn peer_ready(&mut self, pipes: &mut P, idx: usize, peer: &PeerInfo) {
        let Some(state) = self.peers.get(idx).filter(|p| p.attached) else {
            return;
        };
        match &state.id {
            None => {
                let id = self.identify(pipes, &peer.identity);
                self.set_id(idx, id);
                self.fq.attach(idx);
            }
            Some(current) => {
                // A reconnect: keep the id unless the peer now announces another one.
                if state.fixed || peer.identity.is_empty() || *current == peer.identity {
                    return;
                }
                if self.by_id.contains_key(&peer.identity) && !self.handover {
                    return;
                }
                let id = self.identify(pipes, &peer.identity);
                self.set_id(idx, id);
            }
        }
    }

    fn detach(&mut self, idx: usize) {
        self.fq.detach(idx);
        if let Some(peer) = self.peers.get_mut(idx) {
            if let Some(id) = peer.id.take() {
                self.by_id.remove(&id);
                super::shrink_after_removal(&mut self.by_id);
            }
            *peer = Peer::default();
        }
        if matches!(self.send, SendState::To(i) if i == idx) {
            self.send = SendState::Dropping;
        }
        if self.close_after_message == Some(idx) {
            self.close_after_message = None;
        }
        // A message being read from `idx` still ends properly: a prefetched first frame is
        // handed out, and the fair queue ends a torn message with an empty frame.
    }

    fn activate(&mut self, _pipes: &mut P, idx: usize) {
        if self.peers.get(idx).is_some_and(|p| p.id.is_some()) {
            self.fq.activate(idx);
        }
    }

    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        match self.send {
            SendState::Idle => {
                if !msg.more() {
                    // A routing id with no message after it: nothing to send.
                    return Ok(());
                }
                let Some(&idx) = self.by_id.get(msg.as_bytes()) else {
                    if self.mandatory {
                        return Err(Blocked::Fail(Error::HostUnreachable));
                    }
                    self.send = SendState::Dropping;
                    return Ok(());
                };
                if pipes.writable(idx) {
                    self.send = SendState::To(idx);
                    return Ok(());
                }
                let closed = pipes.closed(idx);
                if closed {
                    self.close_pipe(pipes, idx);
                }
                if self.mandatory {
                    return Err(if closed {
                        Blocked::Fail(Error::HostUnreachable)
                    } else {
                        Blocked::Again(msg)
                    });
                }
                self.send = SendState::Dropping;
                Ok(())
            }
            SendState::To(idx) => {
                let more = msg.more();
                match pipes.write(idx, msg) {
                    Ok(()) => {
                        if !more {
                            pipes.flush(idx);
                            self.send = SendState::Idle;
                        }
                    }
                    Err(_) => {
                        self.close_pipe(pipes, idx);
                        self.send = if more {
                            SendState::Dropping
                        } else {
                            SendState::Idle
                        };
                    }
                }
                Ok(())
            }
            SendState::Dropping => {
                if !msg.more() {
                    self.send = SendState::Idle;
                }
                Ok(())
            }
        }
    }

    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        match std::mem::replace(&mut self.recv, RecvState::Idle) {
            RecvState::Prefetched { first, pipe } => {
                if first.more() {
                    self.recv = RecvState::InMessage { pipe };
                } else {
                    self.finish_message(pipes);
                }
                Ok(first)
            }
            RecvState::InMessage { pipe } => {
                self.recv = RecvState::InMessage { pipe };
                let (m, _) = self.fq.recv(pipes)?;
                if !m.more() {
                    self.finish_message(pipes);
                }
                Ok(m)
            }
            RecvState::Ready { id, first, pipe } => {
                self.recv = RecvState::Prefetched { first, pipe };
                Ok(id)
            }
            RecvState::Idle => {
                let (id, first, pipe) = self.next_message(pipes)?;
                self.recv = RecvState::Prefetched { first, pipe };
                Ok(id)
            }
        }
    }

    fn has_in(&mut self, pipes: &mut P) -> bool {
        if !matches!(self.recv, RecvState::Idle) {
            return true;
        }
        match self.next_message(pipes) {
            Ok((id, first, pipe)) => {
                self.recv = RecvState::Ready { id, first, pipe };
                true
            }
            Err(_) => false,
        }
    }

    fn has_out(&mut self, pipes: &mut P) -> bool {
        // As libzmq: without ROUTER_MANDATORY a message is always accepted (dropped if
        // unroutable); with it, some identified peer must have room.
        if !self.mandatory || !matches!(self.send, SendState::Idle) {
            return true;
        }
        let mut any = false;
        for (idx, peer) in self.peers.iter().enumerate() {
            if peer.attached && peer.id.is_some() && pipes.writable(idx) {
                any = true;
                break;
            }
        }
        any
    }

    fn set_option(&mut self, _pipes: &mut P, option: PatternOption<'_>) -> Result<(), Error> {
        match option {
            PatternOption::RouterMandatory(on) => self.mandatory = on,
            PatternOption::RouterHandover(on) => self.handover = on,
            PatternOption::ProbeRouter(on) => self.probe = on,
            PatternOption::ConnectRoutingId(id) => {
                if id.is_empty() || id.len() > 255 {
                    return Err(Error::InvalidOption {
                        option: "CONNECT_ROUTING_ID",
                        reason: "must be 1 to 255 bytes",
                    });
                }
                self.connect_routing_id = Some(Bytes::copy_from_slice(id));
            }
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

    fn peer(identity: &[u8]) -> PeerInfo {
        PeerInfo {
            socket_type: SocketType::Dealer,
            identity: Bytes::copy_from_slice(identity),
            properties: Properties::new(),
        }
    }

    fn router() -> Router {
        Router::new()
    }

    #[test]
    fn prefixes_ids_and_routes_by_first_frame() {
        let mut pipes = FakePipes::with(3, 0);
        let mut r = router();
        Pattern::attach(&mut r, &mut pipes, 0, Some(&peer(b"alice")), false);
        Pattern::attach(&mut r, &mut pipes, 1, Some(&peer(b"")), false);
        deliver(&mut r, &mut pipes, 0, &[b"", b"from alice"]);
        deliver(&mut r, &mut pipes, 1, &[b"anon"]);
        let got = recv_all(&mut r, &mut pipes);
        assert_eq!(
            got[0],
            vec![b"alice".to_vec(), vec![], b"from alice".to_vec()]
        );
        let generated = got[1][0].clone();
        assert_eq!(generated.len(), 5);
        assert_eq!(generated[0], 0);
        assert_eq!(got[1][1], b"anon");
        send_msg(&mut r, &mut pipes, &[&generated, b"back"]).unwrap();
        send_msg(&mut r, &mut pipes, &[b"alice", b"", b"hi"]).unwrap();
        send_msg(&mut r, &mut pipes, &[b"nobody", b"lost"]).unwrap();
        send_msg(&mut r, &mut pipes, &[b"alice"]).unwrap();
        assert_eq!(pipes.pipes[1].messages(), vec![vec![b"back".to_vec()]]);
        assert_eq!(
            pipes.pipes[0].messages(),
            vec![vec![vec![], b"hi".to_vec()]]
        );
        // Generated ids count up.
        Pattern::attach(&mut r, &mut pipes, 2, Some(&peer(b"")), false);
        deliver(&mut r, &mut pipes, 2, &[b"x"]);
        let next = recv_all(&mut r, &mut pipes)[0][0].clone();
        let n = |id: &[u8]| u32::from_be_bytes(id[1..].try_into().unwrap());
        assert_eq!(n(&next), n(&generated).wrapping_add(1));
    }

    #[test]
    fn the_identity_table_gives_memory_back_when_peers_leave() {
        const PEERS: usize = 10_000;
        let mut pipes = FakePipes::with(PEERS, 0);
        let mut r = router();
        for idx in 0..PEERS {
            let id = format!("peer-{idx}");
            Pattern::attach(&mut r, &mut pipes, idx, Some(&peer(id.as_bytes())), false);
        }
        assert_eq!(r.by_id.len(), PEERS);
        let grown = r.by_id.capacity();
        for idx in 1..PEERS {
            Pattern::<FakePipes>::detach(&mut r, idx);
        }
        assert_eq!(r.by_id.len(), 1);
        assert!(
            r.by_id.capacity() <= 64,
            "{} of {grown} entries kept for one peer",
            r.by_id.capacity()
        );
        // The one left is still routed to.
        send_msg(&mut r, &mut pipes, &[b"peer-0", b"still here"]).unwrap();
        assert_eq!(pipes.pipes[0].outbound.len(), 1);
    }

    #[test]
    fn mandatory_reports_unroutable_and_full() {
        let mut pipes = FakePipes::with(1, 1);
        let mut r = router();
        Pattern::set_option(&mut r, &mut pipes, PatternOption::RouterMandatory(true)).unwrap();
        Pattern::attach(&mut r, &mut pipes, 0, Some(&peer(b"p")), false);
        assert!(matches!(
            send_msg(&mut r, &mut pipes, &[b"nobody", b"x"]),
            Err(Blocked::Fail(Error::HostUnreachable))
        ));
        send_msg(&mut r, &mut pipes, &[b"p", b"1"]).unwrap();
        // At the high-water mark: would block, the id frame is handed back.
        match send_msg(&mut r, &mut pipes, &[b"p", b"2"]) {
            Err(Blocked::Again(m)) => assert_eq!(m, &b"p"[..]),
            other => panic!("{other:?}"),
        }
        // The reader went away: unreachable, and the pipe is reported dead.
        pipes.pipes[0].closed = true;
        assert!(matches!(
            send_msg(&mut r, &mut pipes, &[b"p", b"3"]),
            Err(Blocked::Fail(Error::HostUnreachable))
        ));
        assert_eq!(pipes.dead, vec![0]);
        // Without ROUTER_MANDATORY the same sends are silently dropped.
        Pattern::set_option(&mut r, &mut pipes, PatternOption::RouterMandatory(false)).unwrap();
        send_msg(&mut r, &mut pipes, &[b"nobody", b"x"]).unwrap();
        send_msg(&mut r, &mut pipes, &[b"p", b"4"]).unwrap();
        assert_eq!(pipes.pipes[0].outbound.len(), 1);
    }

    #[test]
    fn duplicate_identity_generated_or_handed_over() {
        let mut pipes = FakePipes::with(4, 0);
        let mut r = router();
        Pattern::attach(&mut r, &mut pipes, 0, Some(&peer(b"same")), false);
        Pattern::attach(&mut r, &mut pipes, 1, Some(&peer(b"same")), false);
        deliver(&mut r, &mut pipes, 1, &[b"second"]);
        let got = recv_all(&mut r, &mut pipes);
        assert_eq!(got[0][0].len(), 5, "the duplicate got a generated id");
        assert!(pipes.dead.is_empty());

        Pattern::set_option(&mut r, &mut pipes, PatternOption::RouterHandover(true)).unwrap();
        // The old peer is in the middle of a message when the new one takes over.
        deliver(&mut r, &mut pipes, 0, &[b"old", b"tail"]);
        let id = Pattern::recv(&mut r, &mut pipes).unwrap();
        assert_eq!(id, &b"same"[..]);
        Pattern::attach(&mut r, &mut pipes, 2, Some(&peer(b"same")), false);
        assert!(pipes.dead.is_empty(), "closed only after its message");
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "old");
        assert_eq!(Pattern::recv(&mut r, &mut pipes).unwrap(), "tail");
        assert_eq!(pipes.dead, vec![0]);
        Pattern::<FakePipes>::detach(&mut r, 0);
        send_msg(&mut r, &mut pipes, &[b"same", b"to new"]).unwrap();
        assert_eq!(pipes.pipes[2].messages(), vec![vec![b"to new".to_vec()]]);
    }

    #[test]
    fn connect_routing_id_and_late_handshake() {
        let mut pipes = FakePipes::with(3, 0);
        let mut r = router();
        Pattern::set_option(&mut r, &mut pipes, PatternOption::ConnectRoutingId(b"srv")).unwrap();
        // A connect: routable at once under the given id, which is used up.
        Pattern::attach(&mut r, &mut pipes, 0, None, true);
        send_msg(&mut r, &mut pipes, &[b"srv", b"queued"]).unwrap();
        assert_eq!(pipes.pipes[0].outbound.len(), 1);
        Pattern::peer_ready(&mut r, &mut pipes, 0, &peer(b"other"));
        send_msg(&mut r, &mut pipes, &[b"srv", b"still"]).unwrap();
        assert_eq!(pipes.pipes[0].outbound.len(), 2);
        // A second connect has no id until its handshake; it is not read meanwhile.
        Pattern::attach(&mut r, &mut pipes, 1, None, true);
        deliver(&mut r, &mut pipes, 1, &[b"early"]);
        assert!(recv_all(&mut r, &mut pipes).is_empty());
        Pattern::peer_ready(&mut r, &mut pipes, 1, &peer(b"late"));
        assert_eq!(
            recv_all(&mut r, &mut pipes),
            vec![vec![b"late".to_vec(), b"early".to_vec()]]
        );
    }

    #[test]
    fn input_is_read_ahead_with_its_routing_id() {
        let mut pipes = FakePipes::with(2, 0);
        let mut r = router();
        Pattern::attach(&mut r, &mut pipes, 0, Some(&peer(b"a")), false);
        Pattern::attach(&mut r, &mut pipes, 1, None, true);
        assert!(!Pattern::has_in(&mut r, &mut pipes));
        deliver(&mut r, &mut pipes, 1, &[b"anonymous: not yet readable"]);
        assert!(!Pattern::has_in(&mut r, &mut pipes));
        deliver(&mut r, &mut pipes, 0, &[b"x", b"y"]);
        assert!(Pattern::has_in(&mut r, &mut pipes) && Pattern::has_in(&mut r, &mut pipes));
        assert_eq!(
            recv_all(&mut r, &mut pipes),
            vec![vec![b"a".to_vec(), b"x".to_vec(), b"y".to_vec()]]
        );
        assert!(!Pattern::has_in(&mut r, &mut pipes));
        assert!(Pattern::has_out(&mut r, &mut pipes));
    }

    #[test]
    fn probe_router_greets_new_peers() {
        let mut pipes = FakePipes::with(1, 0);
        let mut r = router();
        Pattern::set_option(&mut r, &mut pipes, PatternOption::ProbeRouter(true)).unwrap();
        Pattern::attach(&mut r, &mut pipes, 0, None, true);
        assert_eq!(pipes.pipes[0].messages(), vec![vec![Vec::<u8>::new()]]);
    }
}
