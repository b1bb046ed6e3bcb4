//! A session: the I/O-thread side of one peer, the thin driver of an [`Engine`]. It owns
//! the stream and its poll registration, does the syscalls (connect, read, write) and the
//! timers, and tells the engine what happened; the engine decides everything else. A
//! connecting session outlives its connections: the engine reconnects with backoff and keeps
//! its pipe, so messages queued while the peer was away are delivered after the reconnect.
//!
//! Data path: reads fill the engine's buffer in large chunks (at most `READ_BUDGET` per
//! readiness event, then the session lets other connections run), the engine decodes every
//! frame into the socket's pipe; writes take the engine's output queue with one (vectored)
//! syscall each.

use super::engine::{AfterDown, Down, Due, Engine, Host, Reading};
use super::objects::Key;
use super::zap_client::ZapClient;
use crate::command::{IoCommand, IoMailbox, IoWake, SocketRef};
use crate::monitor::EventKind;
use crate::msg::Msg;
use crate::pipe::{PipeEnds, Wake};
use crate::transport::{self, Dial, Endpoint, Stream};
use mio::{Interest, Registry, Token};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, IoSlice, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes read per readiness event before yielding to other connections.
const READ_BUDGET: usize = 4 * 1024 * 1024;
/// Retry delay after the process ran out of file descriptors.
pub(crate) const EMFILE_BACKOFF: Duration = Duration::from_millis(100);

/// What the session methods need from their I/O thread.
pub(crate) struct Ctx<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) timers: &'a mut BinaryHeap<Reverse<(Instant, Key)>>,
    pub(crate) mailbox: &'a Arc<IoMailbox>,
    pub(crate) now: Instant,
    pub(crate) key: Key,
    pub(crate) stopping: bool,
}

/// The engine's way back to its I/O thread: wake-ups for its pipes, its ZAP requests.
struct ThreadHost<'a> {
    mailbox: &'a Arc<IoMailbox>,
    key: Key,
    socket: &'a SocketRef,
}

impl Host for ThreadHost<'_> {
    fn pipe_wake(&self) -> Arc<dyn Wake> {
        let wake = IoWake::new(self.mailbox.clone());
        wake.aim(self.key);
        wake
    }

    fn ask_zap(&self, request: Vec<Msg>) -> Option<ZapClient> {
        ZapClient::send(&self.socket.inproc, request, self.mailbox, self.key)
    }
}

/// Whether the session lives on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Alive,
    Done,
}

enum Link {
    /// No stream (the engine knows whether and when to connect again).
    Idle,
    /// Waiting for a name resolution.
    Resolving,
    /// A non-blocking connect is in progress.
    Connecting(Stream),
    /// Connected: the engine handshakes or carries messages.
    Up(Up),
}

struct Up {
    stream: Stream,
    /// The last write did not hit `WouldBlock`.
    writable: bool,
    /// The last read did not hit `WouldBlock` (edge-triggered: only a new event resets it).
    readable: bool,
}

pub(crate) struct Session {
    engine: Engine,
    socket: Arc<SocketRef>,
    /// Where a connecter connects; `None` for an accepted peer.
    endpoint: Option<Endpoint>,
    link: Link,
    /// The earliest time a timer is set for (the engine's next deadline).
    timer_at: Option<Instant>,
}

impl Session {
    /// A session for a connection a listener accepted.
    pub(crate) fn accepted(
        socket: Arc<SocketRef>,
        endpoint_id: u64,
        stream: Stream,
        ctx: &mut Ctx<'_>,
    ) -> Session {
        let label = format!(
            "socket {}'s peer accepted on {}",
            socket.id, socket.endpoint
        );
        let engine = Engine::new(socket.clone(), endpoint_id, label, false, None);
        let mut session = Session {
            engine,
            socket,
            endpoint: None,
            link: Link::Idle,
            timer_at: None,
        };
        session.stream_up(stream, ctx);
        session.set_timer(ctx);
        session
    }

    /// A session that connects to `endpoint` and reconnects after losing the peer.
    pub(crate) fn connecter(
        socket: Arc<SocketRef>,
        endpoint_id: u64,
        endpoint: Endpoint,
        pipe: Option<(u64, PipeEnds<Msg>, Arc<IoWake>)>,
        ctx: &mut Ctx<'_>,
    ) -> Session {
        let pipe = pipe.map(|(id, ends, wake)| {
            wake.aim(ctx.key);
            (id, ends)
        });
        let label = format!("socket {}'s connection to {endpoint}", socket.id);
        let engine = Engine::new(socket.clone(), endpoint_id, label, true, pipe);
        let mut session = Session {
            engine,
            socket,
            endpoint: Some(endpoint),
            link: Link::Idle,
            timer_at: None,
        };
        session.start_connect(ctx);
        session.set_timer(ctx);
        session
    }

    pub(crate) fn socket_id(&self) -> u64 {
        self.engine.socket_id()
    }

    pub(crate) fn endpoint_id(&self) -> u64 {
        self.engine.endpoint_id()
    }

    /// The socket's linger, as configured when this endpoint was set up.
    pub(crate) fn linger(&self) -> Option<Duration> {
        self.engine.linger()
    }

    /// The connection, for logs: which socket, and the endpoint it connects to or accepted
    /// on.
    pub(crate) fn describe(&self) -> &str {
        self.engine.label()
    }

    fn emit(&self, kind: EventKind) {
        self.socket.monitor.emit(kind, &self.socket.endpoint);
    }

    /// Keeps a timer set for the engine's next deadline (timers that fire early or for a
    /// deadline that moved are harmless: the engine checks the time itself).
    fn set_timer(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(at) = self.engine.poll_timeout() {
            if self.timer_at.map_or(true, |t| at < t || t <= ctx.now) {
                self.timer_at = Some(at);
                ctx.timers.push(Reverse((at, ctx.key)));
            }
        }
    }

    // ----- the stream's life ----------------------------------------------------------

    /// A stream is connected (or accepted): registers it and starts the handshake.
    fn stream_up(&mut self, mut stream: Stream, ctx: &mut Ctx<'_>) {
        let token = Token(ctx.key.index);
        if let Err(e) =
            ctx.registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        {
            log::warn!("cannot register connection: {e}");
            self.link = Link::Idle;
            return;
        }
        self.engine.connected(ctx.now, stream.peer_address());
        self.link = Link::Up(Up {
            stream,
            writable: true,
            readable: true,
        });
    }

    fn start_connect(&mut self, ctx: &mut Ctx<'_>) -> Status {
        let Some(endpoint) = &self.endpoint else {
            return Status::Alive;
        };
        let (mailbox, key) = (ctx.mailbox.clone(), ctx.key);
        let dialed = transport::dial(endpoint, &self.socket.options, move |result| {
            mailbox.post(IoCommand::Resolved(key, result))
        });
        match dialed {
            Ok(Dial::Resolving) => {
                self.link = Link::Resolving;
                Status::Alive
            }
            Ok(Dial::Connecting(stream)) => self.connect_started(Ok(stream), ctx),
            Err(e) => self.connect_started(Err(e), ctx),
        }
    }

    fn connect_started(&mut self, result: io::Result<Stream>, ctx: &mut Ctx<'_>) -> Status {
        let registered = result.and_then(|mut stream| {
            let interest = Interest::READABLE | Interest::WRITABLE;
            ctx.registry
                .register(&mut stream, Token(ctx.key.index), interest)
                .map(|()| stream)
        });
        match registered {
            Ok(stream) => {
                self.link = Link::Connecting(stream);
                self.emit(EventKind::ConnectDelayed);
                Status::Alive
            }
            Err(e) => {
                self.link = Link::Idle;
                self.down(Down::Io(e), ctx)
            }
        }
    }

    /// A name resolution finished.
    pub(crate) fn on_resolved(
        &mut self,
        result: io::Result<Vec<SocketAddr>>,
        ctx: &mut Ctx<'_>,
    ) -> Status {
        if !matches!(self.link, Link::Resolving) {
            return Status::Alive;
        }
        let stream = transport::connect_resolved(result, &self.socket.options);
        let status = self.connect_started(stream, ctx);
        self.finish(status, ctx)
    }

    /// The connection (or the connect) is gone: the engine decides what comes next.
    fn down(&mut self, why: Down, ctx: &mut Ctx<'_>) -> Status {
        if let Link::Up(mut up) = std::mem::replace(&mut self.link, Link::Idle) {
            // Last words (an ERROR refusing the peer): one try, never waiting.
            if let Some(out) = self.engine.last_words() {
                let mut slices = [IoSlice::new(&[]); 8];
                let n = out.io_slices(&mut slices);
                let _ = up.stream.write_vectored(&slices[..n]);
            }
            let _ = ctx.registry.deregister(&mut up.stream);
        }
        match self.engine.handle_down(ctx.now, why, ctx.stopping) {
            AfterDown::Done => Status::Done,
            AfterDown::Reconnect => Status::Alive,
        }
    }

    // ----- events ---------------------------------------------------------------------

    /// A readiness event on the session's stream.
    pub(crate) fn on_ready(&mut self, readable: bool, writable: bool, ctx: &mut Ctx<'_>) -> Status {
        if let Link::Connecting(stream) = &self.link {
            match stream.finish_connect() {
                Ok(true) => {
                    self.emit(EventKind::Connected);
                    let Link::Connecting(stream) = std::mem::replace(&mut self.link, Link::Idle)
                    else {
                        unreachable!("matched above")
                    };
                    // Already registered: only the engine learns of it.
                    self.engine.connected(ctx.now, stream.peer_address());
                    self.link = Link::Up(Up {
                        stream,
                        writable: true,
                        readable: true,
                    });
                }
                Ok(false) => return Status::Alive,
                Err(e) => {
                    if let Link::Connecting(mut stream) =
                        std::mem::replace(&mut self.link, Link::Idle)
                    {
                        let _ = ctx.registry.deregister(&mut stream);
                    }
                    let status = self.down(Down::Io(e), ctx);
                    return self.finish(status, ctx);
                }
            }
        }
        if let Link::Up(up) = &mut self.link {
            up.writable |= writable;
            up.readable |= readable;
        }
        self.pump(ctx)
    }

    /// A pipe woke us: data to send, credit to deliver, or the socket closed its side.
    pub(crate) fn on_wake(&mut self, ctx: &mut Ctx<'_>) -> Status {
        self.pump(ctx)
    }

    /// A timer may have expired.
    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>) -> Status {
        if self.timer_at.is_some_and(|t| t <= ctx.now) {
            self.timer_at = None;
        }
        match self.engine.handle_timeout(ctx.now) {
            Ok(Due::Done) => Status::Done,
            Ok(Due::Nothing) => self.pump(ctx),
            Ok(Due::Connect) => {
                let status = self.start_connect(ctx);
                self.finish(status, ctx)
            }
            Err(why) => {
                let status = self.down(why, ctx);
                self.finish(status, ctx)
            }
        }
    }

    /// The socket was closed (or the context is stopping).
    pub(crate) fn on_close(&mut self, linger: Option<Duration>, ctx: &mut Ctx<'_>) -> Status {
        if self.engine.close(ctx.now, linger) {
            return Status::Done;
        }
        self.pump(ctx)
    }

    /// Reads and writes until neither can make progress.
    fn pump(&mut self, ctx: &mut Ctx<'_>) -> Status {
        let moved = self.read(ctx).and_then(|()| self.write(ctx));
        let status = match moved {
            Ok(()) => Status::Alive,
            Err(why) => self.down(why, ctx),
        };
        self.finish(status, ctx)
    }

    /// Sets the timer for what the engine waits for next, and ends the session if the
    /// engine is finished.
    fn finish(&mut self, status: Status, ctx: &mut Ctx<'_>) -> Status {
        // An accepted peer whose stream could not be registered has nothing to wait for.
        let orphan = self.endpoint.is_none() && matches!(self.link, Link::Idle);
        if status == Status::Done || orphan || self.engine.is_finished() {
            return Status::Done;
        }
        self.set_timer(ctx);
        Status::Alive
    }

    // ----- data path ------------------------------------------------------------------

    fn read(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Down> {
        let Link::Up(up) = &mut self.link else {
            return Ok(());
        };
        let host = ThreadHost {
            mailbox: ctx.mailbox,
            key: ctx.key,
            socket: &self.socket,
        };
        let mut budget = READ_BUDGET;
        loop {
            if self.engine.handle_read(&host)? == Reading::Paused {
                return Ok(()); // until the socket returns credit
            }
            if !up.readable {
                return Ok(());
            }
            if budget == 0 {
                // Let other connections run; come back through the mailbox.
                ctx.mailbox.post(IoCommand::Wake(ctx.key));
                return Ok(());
            }
            match self.engine.fill_from(&mut up.stream, ctx.now) {
                Ok(0) => return Err(Down::Eof),
                Ok(n) => budget = budget.saturating_sub(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    up.readable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Down::Io(e)),
            }
        }
    }

    fn write(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Down> {
        let Link::Up(up) = &mut self.link else {
            // Not connected: the engine still notices a socket that closed with nothing
            // left to send.
            let _ = self.engine.poll_transmit(ctx.stopping);
            return Ok(());
        };
        loop {
            if !up.writable {
                // Messages stay in the pipe (under its high-water mark) until the stream takes
                // bytes again. Not reading it also leaves the pipe's reader awake, so the
                // socket does not wake this thread for every message it queues meanwhile.
                return Ok(());
            }
            let Some(out) = self.engine.poll_transmit(ctx.stopping) else {
                return Ok(());
            };
            let result = match out.contiguous() {
                Some(bytes) => up.stream.write(bytes),
                None => {
                    let mut slices = [IoSlice::new(&[]); crate::zmtp::MAX_SEGMENTS];
                    let n = out.io_slices(&mut slices);
                    up.stream.write_vectored(&slices[..n])
                }
            };
            match result {
                Ok(0) => return Err(Down::Eof),
                Ok(n) => out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    up.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Down::Io(e)),
            }
        }
    }
}
