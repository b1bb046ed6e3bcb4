//! The public `Socket`: pattern logic over pipes, in the application thread.

mod endpoints;
mod options_api;
mod pipes;
#[cfg(unix)]
mod pollable;
#[cfg(unix)]
mod readiness;

use crate::command::{IoCommand, Observer, SocketCommand, SocketMailbox};
use crate::context::{Context, CtxInner};
use crate::error::{Error, Result, SendError};
use crate::monitor::{Monitor, MonitorSlot};
use crate::msg::Msg;
use crate::options::{millis, Options};
use crate::pattern::{make_pending, AnyPattern, Blocked, Pattern, PatternOption, Pending};
use crate::peer::PeerInfo;
use crate::pipe::{PipeEnds, Read};
use crate::socket_type::SocketType;
use pipes::{PipeSlot, PipeTable};
#[cfg(unix)]
use readiness::ReadinessFd;
use std::cell::RefCell;
use std::collections::VecDeque;
#[cfg(unix)]
use std::os::unix::io::RawFd;
use std::sync::Arc;
use std::time::Instant;

/// `send`/`recv` flag: fail with [`Error::WouldBlock`] instead of waiting.
pub const DONTWAIT: i32 = 1;
/// `send` flag: more frames of this message follow.
pub const SNDMORE: i32 = 2;

#[cfg(unix)]
pub use pollable::PollableSocket;

/// What a socket could do now without waiting, as [`Socket::events`] tells it (libzmq's
/// `ZMQ_EVENTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// A message can be received (`POLLIN`).
    pub readable: bool,
    /// A message can be sent (`POLLOUT`).
    pub writable: bool,
}

/// A zerosock socket of one [`SocketType`].
///
/// A socket is `Send` but not `Sync`: move it to the thread that uses it; the type system
/// stops two threads from sharing one. Dropping it closes it: its connections go on
/// delivering what was sent for at most `LINGER` in the background.
pub struct Socket {
    core: RefCell<Core>,
    /// Keeps the context alive while the socket is: the context terminates when its last
    /// clone and its last socket are gone (or at `Context::terminate`). Dropped after the
    /// socket has closed.
    _context: Context,
}

enum EndpointKind {
    Bound,
    Connected,
}

struct EndpointRecord {
    id: u64,
    kind: EndpointKind,
    /// As given by the user, and as resolved (`last_endpoint`).
    given: String,
    resolved: String,
    inproc: Option<String>,
}

struct Core {
    id: u64,
    socket_type: SocketType,
    ctx: Arc<CtxInner>,
    mailbox: Arc<SocketMailbox>,
    options: Options,
    pattern: AnyPattern,
    pipes: PipeTable,
    commands: VecDeque<SocketCommand>,
    endpoints: Vec<EndpointRecord>,
    last_endpoint: Option<String>,
    monitor: Arc<MonitorSlot>,
    /// Made on the first [`Socket::readiness_fd`] call.
    #[cfg(unix)]
    readiness: Option<ReadinessFd>,
}

impl Context {
    /// Creates a socket of the given type.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated.
    pub fn socket(&self, socket_type: SocketType) -> Result<Socket> {
        Socket::new(self, socket_type)
    }
}

impl Socket {
    fn new(context: &Context, socket_type: SocketType) -> Result<Socket> {
        let ctx = context.inner().clone();
        let pattern = AnyPattern::for_type(socket_type);
        let id = ctx.next_id();
        let mailbox = SocketMailbox::new();
        ctx.register_socket(id, mailbox.clone())?;
        Ok(Socket {
            core: RefCell::new(Core {
                id,
                socket_type,
                ctx,
                mailbox,
                options: Options::default(),
                pattern,
                pipes: PipeTable::default(),
                commands: VecDeque::new(),
                endpoints: Vec::new(),
                last_endpoint: None,
                monitor: Arc::default(),
                #[cfg(unix)]
                readiness: None,
            }),
            _context: context.clone(),
        })
    }

    /// The socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.core.borrow().socket_type
    }

    /// Accepts connections on `endpoint` (`tcp://`, `ipc://`, `inproc://`). A socket may bind
    /// several endpoints. `tcp://host:*` binds an ephemeral port; see
    /// [`Socket::last_endpoint`].
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] for an endpoint that cannot be parsed or bound (`inproc`
    /// names included); [`Error::AddressInUse`] when another socket holds it;
    /// [`Error::Endpoint`] when the operating system refuses (a privileged port, an address
    /// this host does not have, a missing ipc directory); [`Error::Terminated`].
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        self.core.borrow_mut().bind(endpoint)
    }

    /// Connects to `endpoint`; the connection is made (and remade after losing the peer) in
    /// the background. With `IMMEDIATE` off (the default), messages queue for the peer at
    /// once, before it is connected.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] for an endpoint that cannot be parsed or connected to (a
    /// `*` host or port); [`Error::Protocol`] for an inproc peer of an incompatible socket
    /// type; [`Error::Terminated`]. A peer that cannot be reached is no error: the
    /// connection is retried in the background (see `RECONNECT_IVL`).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.core.borrow_mut().connect(endpoint)
    }

    /// Stops listening on an endpoint given to [`Socket::bind`] (as given, or as reported
    /// by [`Socket::last_endpoint`]) and closes the connections accepted through it.
    ///
    /// # Errors
    /// [`Error::EndpointNotFound`] for an endpoint this socket did not bind;
    /// [`Error::Terminated`].
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.core
            .borrow_mut()
            .remove_endpoint(endpoint, EndpointKind::Bound)
    }

    /// Stops connecting to an endpoint given to [`Socket::connect`]; messages queued for it
    /// are dropped.
    ///
    /// # Errors
    /// [`Error::EndpointNotFound`] for an endpoint this socket did not connect to;
    /// [`Error::Terminated`].
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.core
            .borrow_mut()
            .remove_endpoint(endpoint, EndpointKind::Connected)
    }

    /// Starts monitoring this socket's connections: the returned [`Monitor`] receives an
    /// [`crate::Event`] for every connect, retry, accept, handshake, disconnect and close.
    /// Starting a new monitor stops the previous one.
    pub fn monitor(&self) -> Monitor {
        self.core.borrow().monitor.start()
    }

    /// Stops the current monitor (it receives `MonitorStopped`).
    pub fn stop_monitor(&self) {
        self.core.borrow().monitor.stop();
    }

    /// The endpoint most recently bound or connected, with wildcards resolved
    /// (`tcp://127.0.0.1:49152` for `tcp://127.0.0.1:*`).
    pub fn last_endpoint(&self) -> Option<String> {
        self.core.borrow().last_endpoint.clone()
    }

    /// Sends one frame. With [`SNDMORE`] in `flags`, more frames of the same message follow;
    /// the message is delivered whole or not at all. With [`DONTWAIT`], returns
    /// [`Error::WouldBlock`] instead of waiting for a peer or for room under the high-water
    /// mark; otherwise waits up to `SNDTIMEO`.
    ///
    /// `msg` becomes a [`Msg`] inside the call, where it is queued (a body copied from a
    /// slice is copied straight into the queue), so its `Into<Msg>` conversion must not use
    /// this socket.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] with [`DONTWAIT`], [`Error::TimedOut`] after `SNDTIMEO` (both
    /// [`Error::is_again`]); [`Error::WrongState`] where the socket type cannot send now (a
    /// PULL, a REQ awaiting its reply); [`Error::HostUnreachable`] for a ROUTER with
    /// `ROUTER_MANDATORY` and no peer of that routing id; [`Error::Terminated`]. The frame
    /// is dropped; [`Socket::try_send`] gives it back instead.
    pub fn send(&self, msg: impl Into<Msg>, flags: i32) -> Result<()> {
        self.core.borrow_mut().send_from(
            &mut Some(Pending::Source(msg)),
            flags & SNDMORE != 0,
            flags & DONTWAIT != 0,
            &mut None,
        )
    }

    /// Sends one frame as [`Socket::send`] does, but a frame that could not be sent comes
    /// back in the error instead of being dropped: a send refused for back-pressure
    /// ([`DONTWAIT`] and no room, `SNDTIMEO` out) or because the context terminated can be
    /// retried with the same frame, with no copy kept beforehand.
    ///
    /// # Errors
    /// As [`Socket::send`], inside a [`SendError`] that holds the frame.
    // The frame comes back by value, as it was given: the error is as large as a frame.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, msg: Msg, flags: i32) -> std::result::Result<(), SendError> {
        let mut pending = Some(Pending::Source(msg));
        let mut unsent = None;
        let sent = self.core.borrow_mut().send_from(
            &mut pending,
            flags & SNDMORE != 0,
            flags & DONTWAIT != 0,
            &mut unsent,
        );
        sent.map_err(|error| {
            let msg = unsent.or_else(|| {
                // Refused outright: the frame is here unless the socket type took it.
                pending.take().map(|p| match p {
                    Pending::Source(msg) | Pending::Made(msg) => msg,
                })
            });
            SendError { error, msg }
        })
    }

    /// Sends a whole multipart message.
    ///
    /// # Errors
    /// As [`Socket::send`], for the first frame: the later frames of a message are always
    /// taken once the first was.
    pub fn send_multipart<I, T>(&self, parts: I, flags: i32) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<Msg>,
    {
        let mut iter = parts.into_iter().peekable();
        let mut core = self.core.borrow_mut();
        let mut first = true;
        while let Some(part) = iter.next() {
            let more = iter.peek().is_some() || flags & SNDMORE != 0;
            // Only the first frame can block; later ones are always accepted.
            core.send_from(
                &mut Some(Pending::Source(part)),
                more,
                first && flags & DONTWAIT != 0,
                &mut None,
            )?;
            first = false;
        }
        Ok(())
    }

    /// Receives one frame; [`Msg::more`] says whether more frames of its message follow.
    /// With [`DONTWAIT`], returns [`Error::WouldBlock`] if nothing is waiting; otherwise
    /// waits up to `RCVTIMEO`.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] with [`DONTWAIT`], [`Error::TimedOut`] after `RCVTIMEO` (both
    /// [`Error::is_again`]); [`Error::WrongState`] where the socket type cannot receive now
    /// (a PUSH, a REQ that has not sent its request); [`Error::Terminated`].
    pub fn recv(&self, flags: i32) -> Result<Msg> {
        self.core.borrow_mut().recv(flags & DONTWAIT != 0)
    }

    /// Receives one frame into `msg`, dropping what it held (libzmq's `zmq_msg_recv`): a
    /// loop that reuses one `Msg` saves moving each frame out through a return value. On an
    /// error, `msg` is left as it was.
    ///
    /// # Errors
    /// As [`Socket::recv`].
    pub fn recv_into(&self, msg: &mut Msg, flags: i32) -> Result<()> {
        self.core.borrow_mut().recv_into(msg, flags & DONTWAIT != 0)
    }

    /// Receives one frame as text.
    ///
    /// # Errors
    /// As [`Socket::recv`]; [`Error::NotUtf8`], holding the frame, when it is not UTF-8.
    pub fn recv_string(&self, flags: i32) -> Result<String> {
        let msg = self.recv(flags)?;
        match std::str::from_utf8(&msg) {
            Ok(text) => Ok(text.to_string()),
            Err(_) => Err(Error::NotUtf8(msg)),
        }
    }

    /// Receives a whole multipart message.
    ///
    /// # Errors
    /// As [`Socket::recv`], for the first frame: the rest of a message arrives with it.
    pub fn recv_multipart(&self, flags: i32) -> Result<Vec<Msg>> {
        let mut core = self.core.borrow_mut();
        let mut parts = vec![core.recv(flags & DONTWAIT != 0)?];
        while parts.last().is_some_and(|m| m.more()) {
            // The rest of a message is published with its first frame.
            parts.push(core.recv(false)?);
        }
        Ok(parts)
    }

    /// What the socket can do now, as `(readable, writable)`: readable if [`Socket::recv`]
    /// would return a frame without waiting, writable if [`Socket::send`] would accept a
    /// message without waiting (libzmq's `ZMQ_EVENTS`, `POLLIN` / `POLLOUT`). Socket-type
    /// rules apply: a REQ is readable only once its request is out and a reply has come, a
    /// REP writable only after it received a request, a SUB readable only for a subscribed
    /// message. Asking never consumes a message, and the answer holds until the socket is
    /// used: asking twice gives the same `readable`.
    ///
    /// Also clears the [`Socket::readiness_fd`], if there is one.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated.
    pub fn events(&self) -> Result<Readiness> {
        let mut core = self.core.borrow_mut();
        #[cfg(unix)]
        if let Some(fd) = &core.readiness {
            fd.clear();
        }
        let (readable, writable) = core.events()?;
        Ok(Readiness { readable, writable })
    }

    /// A file descriptor for an external event loop (mio, epoll, tokio's `AsyncFd`, ...): it
    /// becomes **readable** whenever the socket *may* have become readable or writable. It
    /// carries no data of its own and is never writable; register it for read readiness,
    /// edge- or level-triggered. It stays valid as long as the socket (do not close it), and
    /// is readable right after it is made.
    ///
    /// The protocol, which cannot lose a wake-up:
    ///
    /// 1. Wait until the descriptor is readable.
    /// 2. Call [`Socket::events`]: it empties the descriptor *first*, then looks at the
    ///    socket, so anything that happens from then on makes the descriptor readable again.
    /// 3. While `events()` reports what you wait for, act on it: receive with [`DONTWAIT`]
    ///    until [`Error::WouldBlock`] (or `events()` says not readable), send with
    ///    [`DONTWAIT`] until it would block. Then go back to 1.
    ///
    /// Never wait on the descriptor while `events()` last said readable (or writable, if you
    /// have something to send) and you did not act on it: the descriptor signals changes,
    /// not levels, and messages already waiting signal nothing more. A wake-up may be
    /// spurious (`events()` then reports nothing new): just wait again.
    ///
    /// ```no_run
    /// # use zerosock::{Context, SocketType, DONTWAIT, Error};
    /// # let ctx = Context::new();
    /// # let socket = ctx.socket(SocketType::Pull)?;
    /// use mio::{unix::SourceFd, Events, Interest, Poll, Token};
    /// let mut poll = Poll::new()?;
    /// let fd = socket.readiness_fd()?;
    /// poll.registry().register(&mut SourceFd(&fd), Token(0), Interest::READABLE)?;
    /// let mut events = Events::with_capacity(8);
    /// loop {
    ///     poll.poll(&mut events, None)?;
    ///     while socket.events()?.readable {
    ///         let msg = socket.recv(DONTWAIT)?;
    ///         // ... handle msg ...
    ///     }
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Terminated`]; [`Error::Io`] when the descriptor cannot be made (the
    /// process is at its descriptor limit).
    #[cfg(unix)]
    pub fn readiness_fd(&self) -> Result<RawFd> {
        let mut core = self.core.borrow_mut();
        core.check_alive()?;
        if core.readiness.is_none() {
            core.readiness = Some(ReadinessFd::new(&core.mailbox)?);
        }
        Ok(core.readiness.as_ref().map_or(-1, |r| r.fd()))
    }

    /// A duplicate of the readiness descriptor as a Unix stream of its own, for an event
    /// loop that takes ownership of what it watches (the async socket hands it to tokio).
    #[cfg(unix)]
    pub(crate) fn readiness_stream(&self) -> Result<std::os::unix::net::UnixStream> {
        let mut core = self.core.borrow_mut();
        core.check_alive()?;
        if core.readiness.is_none() {
            core.readiness = Some(ReadinessFd::new(&core.mailbox)?);
        }
        match &core.readiness {
            Some(readiness) => Ok(readiness.try_clone()?),
            None => Err(Error::WrongState("no readiness descriptor")),
        }
    }

    /// Readiness for `poll`: like [`Socket::events`], but leaves the readiness descriptor
    /// alone.
    pub(crate) fn poll_events(&self) -> Result<(bool, bool)> {
        self.core.borrow_mut().events()
    }

    /// Registers an observer of this socket's mailbox (see `poll`).
    pub(crate) fn observe(&self, observer: Arc<dyn Observer>) {
        self.core.borrow().mailbox.observe(observer);
    }

    /// Removes an observer registered with [`Socket::observe`].
    pub(crate) fn unobserve(&self, observer: &Arc<dyn Observer>) {
        self.core.borrow().mailbox.unobserve(observer);
    }

    /// Sends one frame; when it was not sent in time (would block, timed out), it is handed
    /// back in `unsent`, so a proxy can keep it for later.
    pub(crate) fn send_keeping(
        &self,
        msg: Msg,
        flags: i32,
        unsent: &mut Option<Msg>,
    ) -> Result<()> {
        self.core.borrow_mut().send_from(
            &mut Some(Pending::<Msg>::Made(msg)),
            flags & SNDMORE != 0,
            flags & DONTWAIT != 0,
            unsent,
        )
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.core.get_mut().close();
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.core.try_borrow() {
            Ok(core) => f
                .debug_struct("Socket")
                .field("type", &core.socket_type)
                .field("last_endpoint", &core.last_endpoint)
                .finish(),
            Err(_) => f.write_str("Socket { <in use> }"),
        }
    }
}

impl Core {
    fn check_alive(&self) -> Result<()> {
        if self.ctx.is_terminated() {
            Err(Error::Terminated)
        } else {
            Ok(())
        }
    }

    // ----- pipes and commands ---------------------------------------------------------

    /// Hands a new pipe to the pattern; `connected` says it comes from our own `connect`,
    /// `inproc` that its other end is a socket's.
    fn attach(
        &mut self,
        id: u64,
        mut ends: PipeEnds<Msg>,
        peer: Option<PeerInfo>,
        endpoint_id: u64,
        connected: bool,
        inproc: bool,
    ) {
        if !Pattern::<PipeTable>::reads(&self.pattern) {
            // Put the unused inbound side to sleep, so its close wakes us.
            let _ = ends.inb.read();
        }
        let idx = self.pipes.insert(PipeSlot {
            id,
            ends,
            peer: None,
            meta: None,
            endpoint_id,
            inproc,
        });
        let refused = !self
            .pattern
            .attach(&mut self.pipes, idx, peer.as_ref(), connected);
        if let (Some(slot), Some(peer)) = (self.pipes.get_mut(idx), peer) {
            slot.set_peer(peer);
        }
        if refused {
            // Refused (e.g. PAIR already has its peer): dropping the ends tells the other side.
            self.pipes.remove(idx);
        }
        if !self.pipes.dead.is_empty() {
            self.reap();
        }
    }

    /// Sets an option that belongs to the socket type's logic.
    fn set_pattern_option(&mut self, option: PatternOption<'_>) -> Result<()> {
        self.check_alive()?;
        if self.mailbox.has_pending() {
            self.process_commands();
        }
        let result = self.pattern.set_option(&mut self.pipes, option);
        if !self.pipes.dead.is_empty() {
            self.reap();
        }
        result
    }

    fn process_commands(&mut self) {
        self.mailbox.drain(&mut self.commands);
        while let Some(command) = self.commands.pop_front() {
            match command {
                SocketCommand::Attach {
                    id,
                    ends,
                    peer,
                    endpoint_id,
                    inproc,
                } => {
                    // Pipes from sessions of our connects (IMMEDIATE) are ours too.
                    let connected = self
                        .endpoints
                        .iter()
                        .any(|e| e.id == endpoint_id && matches!(e.kind, EndpointKind::Connected));
                    self.attach(id, ends, Some(peer), endpoint_id, connected, inproc)
                }
                SocketCommand::PeerReady { id, peer } => {
                    if let Some(idx) = self.pipes.index_of(id) {
                        self.pattern.peer_ready(&mut self.pipes, idx, &peer);
                        if let Some(slot) = self.pipes.get_mut(idx) {
                            slot.set_peer(peer);
                        }
                    }
                }
                SocketCommand::Wake(id) => {
                    let Some(idx) = self.pipes.index_of(id) else {
                        continue;
                    };
                    if !Pattern::<PipeTable>::reads(&self.pattern) {
                        self.watch_unread(idx);
                    }
                    self.pattern.activate(&mut self.pipes, idx);
                }
            }
        }
        self.reap();
    }

    /// For patterns that never read: discard anything a misbehaving peer sent, and notice
    /// the pipe closing.
    fn watch_unread(&mut self, idx: usize) {
        let Some(slot) = self.pipes.get_mut(idx) else {
            return;
        };
        loop {
            match slot.ends.inb.read() {
                Read::Item(_) => continue,
                Read::Empty => return,
                Read::Closed => {
                    self.pipes.dead.push(idx);
                    return;
                }
            }
        }
    }

    /// Removes the pipes the pattern found dead.
    fn reap(&mut self) {
        while let Some(idx) = self.pipes.dead.pop() {
            Pattern::<PipeTable>::detach(&mut self.pattern, idx);
            self.pipes.remove(idx);
        }
    }

    /// Waits for a command (a pipe woke, a peer arrived) until `deadline`.
    fn wait(&mut self, deadline: Option<Instant>, spin: bool) -> Result<()> {
        if !self.mailbox.wait(deadline, spin) {
            return Err(Error::TimedOut);
        }
        self.check_alive()?;
        self.process_commands();
        Ok(())
    }

    /// Readiness now, `(readable, writable)`, after taking in pending commands.
    fn events(&mut self) -> Result<(bool, bool)> {
        self.check_alive()?;
        if self.mailbox.has_pending() {
            self.process_commands();
        }
        let readable = self.pattern.has_in(&mut self.pipes);
        let writable = self.pattern.has_out(&mut self.pipes);
        if !self.pipes.dead.is_empty() {
            self.reap();
        }
        Ok((readable, writable))
    }

    /// Sends the frame `pending` holds, with the `more` flag `more`; when it could not be
    /// sent in time (would block, timed out, terminated while waiting), it is made and handed
    /// back in `unsent`. `pending` comes by reference, built where the caller stands: moved
    /// in by value, the whole enum would be copied right after the narrow stores that made
    /// it, and each load of that copy would stall on store forwarding.
    #[inline]
    fn send_from<T: Into<Msg>>(
        &mut self,
        pending: &mut Option<Pending<T>>,
        more: bool,
        dontwait: bool,
        unsent: &mut Option<Msg>,
    ) -> Result<()> {
        let mut give_back = |pending: &mut Option<Pending<T>>, e: Error| {
            *unsent = Some(make_pending(pending, more));
            Err(e)
        };
        if let Err(e) = self.check_alive() {
            return give_back(pending, e);
        }
        if self.mailbox.has_pending() {
            self.process_commands();
        }
        // The clock is read only if the call has to wait.
        let mut deadline = None;
        loop {
            let result = self.pattern.send_from(&mut self.pipes, pending, more);
            if !self.pipes.dead.is_empty() {
                self.reap();
            }
            match result {
                Ok(()) => return Ok(()),
                Err(Blocked::Fail(e)) => return Err(e),
                Err(Blocked::Again(())) => {}
            }
            if dontwait || self.options.sndtimeo == 0 {
                if self.mailbox.has_pending() {
                    self.process_commands();
                    match self.pattern.send_from(&mut self.pipes, pending, more) {
                        Ok(()) => return Ok(()),
                        Err(Blocked::Fail(e)) => return Err(e),
                        Err(Blocked::Again(())) => {}
                    }
                }
                return give_back(pending, Error::WouldBlock);
            }
            let timeout = self.options.sndtimeo;
            let spin = self.pipes.has_inproc();
            if let Err(e) = self.wait(
                *deadline.get_or_insert_with(|| millis(timeout).map(|t| Instant::now() + t)),
                spin,
            ) {
                return give_back(pending, e);
            }
        }
    }

    #[inline]
    fn recv(&mut self, dontwait: bool) -> Result<Msg> {
        let mut msg = Msg::new();
        self.recv_into(&mut msg, dontwait)?;
        Ok(msg)
    }

    /// Receives one frame into `dst`; leaves it alone on an error.
    fn recv_into(&mut self, dst: &mut Msg, dontwait: bool) -> Result<()> {
        self.check_alive()?;
        if self.mailbox.has_pending() {
            self.process_commands();
        }
        let mut deadline = None;
        loop {
            let result = self.pattern.recv_into(&mut self.pipes, dst);
            if !self.pipes.dead.is_empty() {
                self.reap();
            }
            match result {
                Ok(()) => return Ok(()),
                Err(Blocked::Fail(e)) => return Err(e),
                Err(Blocked::Again(())) => {}
            }
            if dontwait || self.options.rcvtimeo == 0 {
                if self.mailbox.has_pending() {
                    self.process_commands();
                    if let Ok(()) = self.pattern.recv_into(&mut self.pipes, dst) {
                        return Ok(());
                    }
                }
                return Err(Error::WouldBlock);
            }
            let timeout = self.options.rcvtimeo;
            let spin = self.pipes.has_inproc();
            self.wait(
                *deadline.get_or_insert_with(|| millis(timeout).map(|t| Instant::now() + t)),
                spin,
            )?;
        }
    }

    fn close(&mut self) {
        let socket_id = self.id;
        let linger = self.options.linger();
        // Our ends go first: their close tells every peer and session; sessions then have
        // `linger` to deliver what is queued.
        self.mailbox.close();
        self.commands.clear();
        self.pipes.clear();
        if !self.ctx.is_terminated() {
            let listens = self
                .endpoints
                .iter()
                .any(|e| matches!(e.kind, EndpointKind::Bound) && e.inproc.is_none());
            if listens {
                // Wait until the listeners are closed: the address is free when close returns.
                self.ctx.broadcast_and_wait(|done| IoCommand::SocketClosed {
                    socket_id,
                    linger,
                    done: Some(done),
                });
            } else {
                self.ctx.broadcast(|| IoCommand::SocketClosed {
                    socket_id,
                    linger,
                    done: None,
                });
            }
        }
        self.ctx.unregister_socket(socket_id);
    }
}
