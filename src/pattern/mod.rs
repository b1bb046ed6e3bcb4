//! Socket-type logic: which pipe a message goes to, which pipe the next one comes from.
//! Patterns see pipes only through the small [`Pipes`] trait, so they are tested against
//! fake pipes, without threads or I/O.
//!
//! Building blocks: [`LoadBalancer`] (round robin out), [`FairQueue`] (round robin in),
//! [`Dist`] (fan-out to a matching set) and [`Trie`] (subscription prefixes). The socket
//! types compose them: `pipeline` (PUSH/PULL), `pair`, `req`, `rep`, `dealer`, `router`,
//! `xpub` (PUB/XPUB) and `sub` (SUB/XSUB).

mod dealer;
mod dist;
mod fq;
mod lb;
mod pair;
mod pending;
mod pipeline;
mod rep;
mod req;
mod router;
mod sub;
mod trie;
mod xpub;

pub(crate) use dist::Dist;
pub(crate) use fq::FairQueue;
pub(crate) use lb::LoadBalancer;
pub(crate) use pending::{make_pending, place_pending, send_made, Pending};
pub(crate) use trie::Trie;

use crate::error::Error;
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{Read, WriteError};
use crate::socket_type::SocketType;
use std::mem::MaybeUninit;

/// What a pattern may do with the socket's pipes, by index.
pub(crate) trait Pipes {
    /// Whether a new message may be written to pipe `idx` now (marks it waiting if not).
    fn writable(&mut self, idx: usize) -> bool;
    /// Whether the reader of pipe `idx` is gone. Only asked between messages (when no
    /// message to `idx` is half written).
    fn closed(&mut self, idx: usize) -> bool;
    /// Writes one frame.
    fn write(&mut self, idx: usize, msg: Msg) -> Result<(), WriteError<Msg>>;
    /// Writes the frame `place` makes in its slot (see `Writer::write_in_place`), calling it
    /// only if pipe `idx` takes a frame now.
    fn write_in_place(
        &mut self,
        idx: usize,
        place: impl FnOnce(&mut MaybeUninit<Msg>) -> &mut Msg,
    ) -> Result<(), WriteError<()>>
    where
        Self: Sized;
    /// Publishes what was written to pipe `idx`.
    fn flush(&mut self, idx: usize);
    /// Reads one frame into `dst` (dropping what it held); leaves it alone if there is none.
    fn read_into(&mut self, idx: usize, dst: &mut Msg) -> Read<()>;
    /// Reads one frame.
    fn read(&mut self, idx: usize) -> Read<Msg> {
        let mut msg = Msg::new();
        self.read_into(idx, &mut msg).map(|()| msg)
    }
    /// Reports pipe `idx` as dead; the socket removes it after the current call.
    fn dead(&mut self, idx: usize);
    /// A hint: pipe `idx` will be read soon, start loading what that read looks at.
    fn prefetch(&self, _idx: usize) {}
}

/// Why a pattern could not send or receive now.
#[derive(Debug)]
pub(crate) enum Blocked<T> {
    /// Nothing can be done until a pipe wakes (the value is handed back).
    Again(T),
    /// The call is wrong whatever happens.
    Fail(Error),
}

/// A socket option that belongs to the socket type's logic (libzmq names).
#[derive(Debug, Clone, Copy)]
pub(crate) enum PatternOption<'a> {
    Subscribe(&'a [u8]),
    Unsubscribe(&'a [u8]),
    ReqRelaxed(bool),
    ReqCorrelate(bool),
    RouterMandatory(bool),
    RouterHandover(bool),
    ProbeRouter(bool),
    ConnectRoutingId(&'a [u8]),
    XpubVerbose(bool),
    XpubVerboser(bool),
    XpubNodrop(bool),
    XpubManual(bool),
    XpubWelcomeMsg(&'a [u8]),
    InvertMatching(bool),
}

impl PatternOption<'_> {
    /// The libzmq name of the option.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            PatternOption::Subscribe(_) => "SUBSCRIBE",
            PatternOption::Unsubscribe(_) => "UNSUBSCRIBE",
            PatternOption::ReqRelaxed(_) => "REQ_RELAXED",
            PatternOption::ReqCorrelate(_) => "REQ_CORRELATE",
            PatternOption::RouterMandatory(_) => "ROUTER_MANDATORY",
            PatternOption::RouterHandover(_) => "ROUTER_HANDOVER",
            PatternOption::ProbeRouter(_) => "PROBE_ROUTER",
            PatternOption::ConnectRoutingId(_) => "CONNECT_ROUTING_ID",
            PatternOption::XpubVerbose(_) => "XPUB_VERBOSE",
            PatternOption::XpubVerboser(_) => "XPUB_VERBOSER",
            PatternOption::XpubNodrop(_) => "XPUB_NODROP",
            PatternOption::XpubManual(_) => "XPUB_MANUAL",
            PatternOption::XpubWelcomeMsg(_) => "XPUB_WELCOME_MSG",
            PatternOption::InvertMatching(_) => "INVERT_MATCHING",
        }
    }

    /// The error for an option this socket type does not have (libzmq's `EINVAL`).
    pub(crate) fn unsupported(&self) -> Error {
        unsupported(self.name())
    }
}

/// A yes/no option of the socket type's logic, to read back with [`AnyPattern::flag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagOption {
    ReqRelaxed,
    ReqCorrelate,
    RouterMandatory,
    RouterHandover,
    ProbeRouter,
    XpubVerbose,
    XpubVerboser,
    XpubNodrop,
    XpubManual,
    InvertMatching,
}

impl FlagOption {
    /// The libzmq name of the option.
    pub(crate) fn name(self) -> &'static str {
        match self {
            FlagOption::ReqRelaxed => "REQ_RELAXED",
            FlagOption::ReqCorrelate => "REQ_CORRELATE",
            FlagOption::RouterMandatory => "ROUTER_MANDATORY",
            FlagOption::RouterHandover => "ROUTER_HANDOVER",
            FlagOption::ProbeRouter => "PROBE_ROUTER",
            FlagOption::XpubVerbose => "XPUB_VERBOSE",
            FlagOption::XpubVerboser => "XPUB_VERBOSER",
            FlagOption::XpubNodrop => "XPUB_NODROP",
            FlagOption::XpubManual => "XPUB_MANUAL",
            FlagOption::InvertMatching => "INVERT_MATCHING",
        }
    }

    /// The error for an option this socket type does not have, as its setter gives.
    pub(crate) fn unsupported(self) -> Error {
        unsupported(self.name())
    }
}

/// A byte-string option of the socket type's logic, to read back with [`AnyPattern::bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BytesOption {
    ConnectRoutingId,
    XpubWelcomeMsg,
}

impl BytesOption {
    /// The libzmq name of the option.
    pub(crate) fn name(self) -> &'static str {
        match self {
            BytesOption::ConnectRoutingId => "CONNECT_ROUTING_ID",
            BytesOption::XpubWelcomeMsg => "XPUB_WELCOME_MSG",
        }
    }

    /// The error for an option this socket type does not have, as its setter gives.
    pub(crate) fn unsupported(self) -> Error {
        unsupported(self.name())
    }
}

fn unsupported(option: &'static str) -> Error {
    Error::InvalidOption {
        option,
        reason: "not supported by this socket type",
    }
}

/// The behaviour of one socket type, over pipes of type `P` (the socket's table, or fakes in
/// tests); generic so the per-message calls inline.
pub(crate) trait Pattern<P: Pipes>: Send {
    /// A new pipe joined; `peer` is what its handshake said, or `None` for a connect whose
    /// connection is not made yet; `connected` says the pipe comes from our own `connect`.
    /// Returns false to refuse it (e.g. PAIR has its peer).
    fn attach(
        &mut self,
        pipes: &mut P,
        idx: usize,
        peer: Option<&PeerInfo>,
        connected: bool,
    ) -> bool;
    /// A pipe that outlives its connections completed a handshake with `peer` (the first
    /// one, or again after a reconnect: libzmq's "hiccup").
    fn peer_ready(&mut self, _pipes: &mut P, _idx: usize, _peer: &PeerInfo) {}
    /// A pipe left; its index may be reused by a later attach.
    fn detach(&mut self, idx: usize);
    /// Pipe `idx` may have become readable or writable (or closed).
    fn activate(&mut self, pipes: &mut P, idx: usize);
    /// Sends one frame (the `more` flag says whether the message goes on).
    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>>;
    /// Sends the frame in `pending` with the `more` flag `more`; leaves it there (made or
    /// not) when it cannot be sent now. Socket types that hand frames to a pipe without
    /// looking at them make each where it will lie in the pipe.
    #[inline(always)]
    fn send_from<T: Into<Msg>>(
        &mut self,
        pipes: &mut P,
        pending: &mut Option<Pending<T>>,
        more: bool,
    ) -> Result<(), Blocked<()>>
    where
        Self: Sized,
    {
        match self.send(pipes, make_pending(pending, more)) {
            Ok(()) => Ok(()),
            Err(Blocked::Again(msg)) => {
                *pending = Some(Pending::Made(msg));
                Err(Blocked::Again(()))
            }
            Err(Blocked::Fail(e)) => Err(Blocked::Fail(e)),
        }
    }
    /// Receives one frame.
    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>>;
    /// Receives one frame into `dst` (dropping what it held); leaves it alone on an error.
    /// Socket types that take frames straight from a pipe write them there without moving
    /// them through a return value.
    #[inline(always)]
    fn recv_into(&mut self, pipes: &mut P, dst: &mut Msg) -> Result<(), Blocked<()>> {
        *dst = self.recv(pipes)?;
        Ok(())
    }
    /// Whether `recv` would deliver a frame now (libzmq's `POLLIN`). Never loses a message:
    /// what it reads ahead is kept for `recv`; it may drop only what `recv` would drop
    /// (filtered, malformed or stale messages). When it says no, the pipes involved are
    /// asleep and wake the socket when that may change.
    fn has_in(&mut self, pipes: &mut P) -> bool;
    /// Whether `send` would accept a message now (libzmq's `POLLOUT`). When it says no, the
    /// pipes involved are marked waiting and wake the socket when credit returns.
    fn has_out(&mut self, pipes: &mut P) -> bool;
    /// Whether this pattern ever reads its pipes (if not, the socket watches them for close).
    fn reads(&self) -> bool {
        true
    }
    /// Sets an option of the socket type's logic.
    fn set_option(&mut self, _pipes: &mut P, option: PatternOption<'_>) -> Result<(), Error> {
        Err(option.unsupported())
    }
}

/// Every socket type's pattern in one enum, so that the socket's per-message calls dispatch
/// with a `match` the compiler inlines through (a message then moves from the caller into
/// the pipe, and back out, without being copied at each layer behind a virtual call).
pub(crate) enum AnyPattern {
    Push(pipeline::Push),
    Pull(pipeline::Pull),
    Pair(pair::Pair),
    Req(req::Req),
    Rep(rep::Rep),
    Dealer(dealer::Dealer),
    Router(router::Router),
    XPub(xpub::XPub),
    Sub(sub::Sub),
}

/// `$body` with `$p` bound to the pattern inside whichever variant `$any` is.
macro_rules! dispatch {
    ($any:expr, $p:ident => $body:expr) => {
        match $any {
            AnyPattern::Push($p) => $body,
            AnyPattern::Pull($p) => $body,
            AnyPattern::Pair($p) => $body,
            AnyPattern::Req($p) => $body,
            AnyPattern::Rep($p) => $body,
            AnyPattern::Dealer($p) => $body,
            AnyPattern::Router($p) => $body,
            AnyPattern::XPub($p) => $body,
            AnyPattern::Sub($p) => $body,
        }
    };
}

impl AnyPattern {
    /// The pattern for a socket type.
    pub(crate) fn for_type(socket_type: SocketType) -> AnyPattern {
        match socket_type {
            SocketType::Push => AnyPattern::Push(pipeline::Push::default()),
            SocketType::Pull => AnyPattern::Pull(pipeline::Pull::default()),
            SocketType::Pair => AnyPattern::Pair(pair::Pair::default()),
            SocketType::Req => AnyPattern::Req(req::Req::new()),
            SocketType::Rep => AnyPattern::Rep(rep::Rep::default()),
            SocketType::Dealer => AnyPattern::Dealer(dealer::Dealer::default()),
            SocketType::Router => AnyPattern::Router(router::Router::new()),
            SocketType::Pub => AnyPattern::XPub(xpub::XPub::new(false)),
            SocketType::XPub => AnyPattern::XPub(xpub::XPub::new(true)),
            SocketType::Sub => AnyPattern::Sub(sub::Sub::new(true)),
            SocketType::XSub => AnyPattern::Sub(sub::Sub::new(false)),
        }
    }

    /// The value of a yes/no option, or `None` when this socket type does not have it: the
    /// types that answer are exactly those whose [`Pattern::set_option`] takes it.
    pub(crate) fn flag(&self, option: FlagOption) -> Option<bool> {
        match self {
            AnyPattern::Req(p) => p.flag(option),
            AnyPattern::Dealer(p) => p.flag(option),
            AnyPattern::Router(p) => p.flag(option),
            AnyPattern::XPub(p) => p.flag(option),
            AnyPattern::Sub(p) => p.flag(option),
            AnyPattern::Push(_)
            | AnyPattern::Pull(_)
            | AnyPattern::Pair(_)
            | AnyPattern::Rep(_) => None,
        }
    }

    /// The value of a byte-string option (empty when unset), or `None` when this socket type
    /// does not have it.
    pub(crate) fn bytes(&self, option: BytesOption) -> Option<&[u8]> {
        match self {
            AnyPattern::Router(p) => p.bytes(option),
            AnyPattern::XPub(p) => p.bytes(option),
            AnyPattern::Push(_)
            | AnyPattern::Pull(_)
            | AnyPattern::Pair(_)
            | AnyPattern::Req(_)
            | AnyPattern::Rep(_)
            | AnyPattern::Dealer(_)
            | AnyPattern::Sub(_) => None,
        }
    }
}

impl<P: Pipes> Pattern<P> for AnyPattern {
    fn attach(
        &mut self,
        pipes: &mut P,
        idx: usize,
        peer: Option<&PeerInfo>,
        connected: bool,
    ) -> bool {
        dispatch!(self, p => p.attach(pipes, idx, peer, connected))
    }
    fn peer_ready(&mut self, pipes: &mut P, idx: usize, peer: &PeerInfo) {
        dispatch!(self, p => p.peer_ready(pipes, idx, peer))
    }
    fn detach(&mut self, idx: usize) {
        dispatch!(self, p => Pattern::<P>::detach(p, idx))
    }
    fn activate(&mut self, pipes: &mut P, idx: usize) {
        dispatch!(self, p => p.activate(pipes, idx))
    }
    #[inline(always)]
    fn send(&mut self, pipes: &mut P, msg: Msg) -> Result<(), Blocked<Msg>> {
        dispatch!(self, p => p.send(pipes, msg))
    }
    #[inline(always)]
    fn send_from<T: Into<Msg>>(
        &mut self,
        pipes: &mut P,
        pending: &mut Option<Pending<T>>,
        more: bool,
    ) -> Result<(), Blocked<()>> {
        dispatch!(self, p => p.send_from(pipes, pending, more))
    }
    #[inline(always)]
    fn recv(&mut self, pipes: &mut P) -> Result<Msg, Blocked<()>> {
        dispatch!(self, p => p.recv(pipes))
    }
    #[inline(always)]
    fn recv_into(&mut self, pipes: &mut P, dst: &mut Msg) -> Result<(), Blocked<()>> {
        dispatch!(self, p => p.recv_into(pipes, dst))
    }
    fn has_in(&mut self, pipes: &mut P) -> bool {
        dispatch!(self, p => p.has_in(pipes))
    }
    fn has_out(&mut self, pipes: &mut P) -> bool {
        dispatch!(self, p => p.has_out(pipes))
    }
    fn reads(&self) -> bool {
        dispatch!(self, p => Pattern::<P>::reads(p))
    }
    fn set_option(&mut self, pipes: &mut P, option: PatternOption<'_>) -> Result<(), Error> {
        dispatch!(self, p => p.set_option(pipes, option))
    }
}

/// Gives a lookup table's memory back once most of its entries are gone (a hash map keeps
/// its capacity after removals): a burst of peers that has left does not keep its table.
pub(crate) fn shrink_after_removal<K: Eq + std::hash::Hash, V>(
    map: &mut std::collections::HashMap<K, V>,
) {
    if map.capacity() > 64 && map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

/// Grows a per-pipe table so that `idx` is a valid index.
pub(crate) fn slot<T: Default>(table: &mut Vec<T>, idx: usize) -> &mut T {
    if table.len() <= idx {
        table.resize_with(idx + 1, T::default);
    }
    &mut table[idx]
}

#[cfg(test)]
pub(crate) mod fake {
    //! In-memory pipes for pattern tests.
    use super::*;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub(crate) struct FakePipe {
        pub(crate) inbound: VecDeque<Msg>,
        pub(crate) outbound: Vec<Msg>,
        /// Whole messages the pipe holds before it is full (0: no limit).
        pub(crate) capacity: usize,
        pub(crate) closed: bool,
        pub(crate) flushes: usize,
    }

    impl FakePipe {
        fn complete(&self) -> usize {
            self.outbound.iter().filter(|m| !m.more()).count()
        }

        fn in_message(&self) -> bool {
            self.outbound.last().is_some_and(|m| m.more())
        }

        /// The whole messages written so far, as frames of bytes.
        pub(crate) fn messages(&self) -> Vec<Vec<Vec<u8>>> {
            let mut out = Vec::new();
            let mut cur = Vec::new();
            for m in &self.outbound {
                cur.push(m.to_vec());
                if !m.more() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            out
        }
    }

    #[derive(Default)]
    pub(crate) struct FakePipes {
        pub(crate) pipes: Vec<FakePipe>,
        pub(crate) dead: Vec<usize>,
    }

    impl FakePipes {
        /// Whether pipe `idx` takes a frame now, as a real pipe decides it.
        fn room(&self, idx: usize) -> Result<(), WriteError<()>> {
            let p = &self.pipes[idx];
            if p.closed {
                return Err(WriteError::Closed(()));
            }
            if !p.in_message() && p.capacity != 0 && p.complete() >= p.capacity {
                return Err(WriteError::Full(()));
            }
            Ok(())
        }

        pub(crate) fn with(n: usize, capacity: usize) -> FakePipes {
            FakePipes {
                pipes: (0..n)
                    .map(|_| FakePipe {
                        capacity,
                        ..FakePipe::default()
                    })
                    .collect(),
                dead: Vec::new(),
            }
        }

        /// Queues a whole message for the pattern to read from pipe `idx`.
        pub(crate) fn push_in(&mut self, idx: usize, frames: &[&[u8]]) {
            for (i, f) in frames.iter().enumerate() {
                let mut m = Msg::copy_from_slice(f);
                m.set_more(i + 1 < frames.len());
                self.pipes[idx].inbound.push_back(m);
            }
        }
    }

    impl Pipes for FakePipes {
        fn writable(&mut self, idx: usize) -> bool {
            let p = &self.pipes[idx];
            !p.closed && (p.capacity == 0 || p.complete() < p.capacity)
        }
        fn closed(&mut self, idx: usize) -> bool {
            self.pipes[idx].closed
        }
        fn write(&mut self, idx: usize, msg: Msg) -> Result<(), WriteError<Msg>> {
            if let Err(e) = self.room(idx) {
                return Err(e.carrying(msg));
            }
            self.pipes[idx].outbound.push(msg);
            Ok(())
        }
        fn write_in_place(
            &mut self,
            idx: usize,
            place: impl FnOnce(&mut MaybeUninit<Msg>) -> &mut Msg,
        ) -> Result<(), WriteError<()>> {
            self.room(idx)?;
            let mut made = MaybeUninit::uninit();
            let msg = std::mem::take(place(&mut made));
            self.pipes[idx].outbound.push(msg);
            Ok(())
        }
        fn flush(&mut self, idx: usize) {
            self.pipes[idx].flushes += 1;
        }
        fn read_into(&mut self, idx: usize, dst: &mut Msg) -> Read<()> {
            let p = &mut self.pipes[idx];
            match p.inbound.pop_front() {
                Some(m) => {
                    *dst = m;
                    Read::Item(())
                }
                None if p.closed => Read::Closed,
                None => Read::Empty,
            }
        }
        fn dead(&mut self, idx: usize) {
            if !self.dead.contains(&idx) {
                self.dead.push(idx);
            }
        }
    }

    /// Queues a whole message on pipe `idx` and wakes the pattern for it, as a real pipe
    /// does when its reader slept.
    pub(crate) fn deliver<P: Pattern<FakePipes> + ?Sized>(
        pattern: &mut P,
        pipes: &mut FakePipes,
        idx: usize,
        frames: &[&[u8]],
    ) {
        pipes.push_in(idx, frames);
        pattern.activate(pipes, idx);
    }

    /// Reads whole messages from a pattern until it has none.
    pub(crate) fn recv_all<P: Pattern<FakePipes> + ?Sized>(
        pattern: &mut P,
        pipes: &mut FakePipes,
    ) -> Vec<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        while let Ok(first) = pattern.recv(pipes) {
            let mut msg = vec![first.to_vec()];
            let mut more = first.more();
            while more {
                let m = pattern.recv(pipes).expect("rest of a message");
                more = m.more();
                msg.push(m.to_vec());
            }
            out.push(msg);
        }
        out
    }

    /// Sends a whole message through a pattern.
    pub(crate) fn send_msg<P: Pattern<FakePipes> + ?Sized>(
        pattern: &mut P,
        pipes: &mut FakePipes,
        frames: &[&[u8]],
    ) -> Result<(), Blocked<Msg>> {
        for (i, f) in frames.iter().enumerate() {
            let mut m = Msg::copy_from_slice(f);
            m.set_more(i + 1 < frames.len());
            pattern.send(pipes, m)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakePipes;
    use super::*;

    const FLAGS: [FlagOption; 10] = [
        FlagOption::ReqRelaxed,
        FlagOption::ReqCorrelate,
        FlagOption::RouterMandatory,
        FlagOption::RouterHandover,
        FlagOption::ProbeRouter,
        FlagOption::XpubVerbose,
        FlagOption::XpubVerboser,
        FlagOption::XpubNodrop,
        FlagOption::XpubManual,
        FlagOption::InvertMatching,
    ];

    /// The setter's form of a yes/no option.
    fn set_flag(option: FlagOption, on: bool) -> PatternOption<'static> {
        match option {
            FlagOption::ReqRelaxed => PatternOption::ReqRelaxed(on),
            FlagOption::ReqCorrelate => PatternOption::ReqCorrelate(on),
            FlagOption::RouterMandatory => PatternOption::RouterMandatory(on),
            FlagOption::RouterHandover => PatternOption::RouterHandover(on),
            FlagOption::ProbeRouter => PatternOption::ProbeRouter(on),
            FlagOption::XpubVerbose => PatternOption::XpubVerbose(on),
            FlagOption::XpubVerboser => PatternOption::XpubVerboser(on),
            FlagOption::XpubNodrop => PatternOption::XpubNodrop(on),
            FlagOption::XpubManual => PatternOption::XpubManual(on),
            FlagOption::InvertMatching => PatternOption::InvertMatching(on),
        }
    }

    fn set_bytes(option: BytesOption, value: &[u8]) -> PatternOption<'_> {
        match option {
            BytesOption::ConnectRoutingId => PatternOption::ConnectRoutingId(value),
            BytesOption::XpubWelcomeMsg => PatternOption::XpubWelcomeMsg(value),
        }
    }

    #[test]
    fn flags_read_back_exactly_where_they_can_be_set() {
        for &socket_type in SocketType::all() {
            for option in FLAGS {
                let what = format!("{} on {socket_type:?}", option.name());
                let mut p = AnyPattern::for_type(socket_type);
                let mut pipes = FakePipes::default();
                match p.flag(option) {
                    Some(default) => {
                        assert!(!default, "{what}: default");
                        for on in [true, false, true] {
                            p.set_option(&mut pipes, set_flag(option, on)).unwrap();
                            assert_eq!(p.flag(option), Some(on), "{what}");
                        }
                    }
                    None => {
                        let err = p.set_option(&mut pipes, set_flag(option, true));
                        let refused = matches!(
                            err,
                            Err(Error::InvalidOption { option: o, .. }) if o == option.name()
                        );
                        assert!(refused, "{what}: the setter must fail too: {err:?}");
                        assert_eq!(p.flag(option), None, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn byte_options_read_back_exactly_where_they_can_be_set() {
        for &socket_type in SocketType::all() {
            for option in [BytesOption::ConnectRoutingId, BytesOption::XpubWelcomeMsg] {
                let what = format!("{} on {socket_type:?}", option.name());
                let mut p = AnyPattern::for_type(socket_type);
                let mut pipes = FakePipes::default();
                match p.bytes(option) {
                    Some(default) => {
                        assert!(default.is_empty(), "{what}: default");
                        p.set_option(&mut pipes, set_bytes(option, b"abc")).unwrap();
                        assert_eq!(p.bytes(option), Some(&b"abc"[..]), "{what}");
                    }
                    None => {
                        assert!(p.set_option(&mut pipes, set_bytes(option, b"abc")).is_err());
                        assert_eq!(p.bytes(option), None, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn which_types_have_which_options() {
        let has = |t, o| AnyPattern::for_type(t).flag(o).is_some();
        assert!(has(SocketType::Req, FlagOption::ReqCorrelate));
        assert!(!has(SocketType::Dealer, FlagOption::ReqRelaxed));
        for t in [SocketType::Req, SocketType::Dealer, SocketType::Router] {
            assert!(has(t, FlagOption::ProbeRouter), "{t:?}");
        }
        for t in [
            SocketType::Pub,
            SocketType::XPub,
            SocketType::Sub,
            SocketType::XSub,
        ] {
            assert!(has(t, FlagOption::InvertMatching), "{t:?}");
        }
        for t in [
            SocketType::Push,
            SocketType::Pull,
            SocketType::Pair,
            SocketType::Rep,
        ] {
            assert!(FLAGS.iter().all(|&o| !has(t, o)), "{t:?}");
        }
    }

    #[test]
    fn xpub_verbose_after_verboser_drops_the_unsubscriptions() {
        let mut p = AnyPattern::for_type(SocketType::XPub);
        let mut pipes = FakePipes::default();
        p.set_option(&mut pipes, PatternOption::XpubVerboser(true))
            .unwrap();
        assert_eq!(p.flag(FlagOption::XpubVerbose), Some(true));
        p.set_option(&mut pipes, PatternOption::XpubVerbose(true))
            .unwrap();
        assert_eq!(p.flag(FlagOption::XpubVerbose), Some(true));
        assert_eq!(p.flag(FlagOption::XpubVerboser), Some(false));
    }

    #[test]
    fn connect_routing_id_is_used_up_by_the_next_connect() {
        let mut p = AnyPattern::for_type(SocketType::Router);
        let mut pipes = FakePipes::with(1, 0);
        p.set_option(&mut pipes, PatternOption::ConnectRoutingId(b"peer"))
            .unwrap();
        assert_eq!(p.bytes(BytesOption::ConnectRoutingId), Some(&b"peer"[..]));
        assert!(p.attach(&mut pipes, 0, None, true));
        assert_eq!(p.bytes(BytesOption::ConnectRoutingId), Some(&b""[..]));
    }
}
