//! A session: the I/O-thread side of one peer. It owns the pipe to the socket and, while
//! connected, the stream and the ZMTP connection. A connecting session outlives its
//! connections: it reconnects with backoff and keeps its pipe, so messages queued while the
//! peer was away are delivered after the reconnect.
//!
//! Data path: `read` fills the buffer in large chunks, decodes every frame in it into the
//! inbound pipe and flushes once per batch; `write` pulls whole messages from the outbound
//! pipe while the batch has room and writes them with one (vectored) syscall.

use super::objects::Key;
use super::zap_client::ZapClient;
use crate::buf::ReadBuf;
use crate::buf::Received;
use crate::command::{socket_pipe, IoCommand, IoMailbox, IoWake, SocketCommand, SocketRef};
use crate::monitor::EventKind;
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{PipeEnds, Read, WriteError};
use crate::transport::{self, Endpoint, Host, Stream};
use crate::zmtp::{Connection, Input, ProtocolError, ZapRequest, LONG_HEADER};
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

impl Ctx<'_> {
    fn timer(&mut self, at: Instant) {
        self.timers.push(Reverse((at, self.key)));
    }
}

/// Whether the session lives on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Alive,
    Done,
}

enum Role {
    Accepted,
    Connecter { endpoint: Endpoint },
}

enum Link {
    /// Not connected; a connecter retries at `retry_at`.
    Idle { retry_at: Option<Instant> },
    /// Waiting for a name resolution.
    Resolving,
    /// A non-blocking connect is in progress.
    Connecting { stream: Stream },
    /// Connected: handshaking or active.
    Up(Box<Up>),
}

struct Up {
    stream: Stream,
    conn: Connection,
    /// The last write did not hit `WouldBlock`.
    writable: bool,
    /// The last read did not hit `WouldBlock` (edge-triggered: only a new event resets it).
    readable: bool,
    handshake_deadline: Option<Instant>,
    /// The connection's next timeout (heartbeats) for which a timer is set.
    timer_at: Option<Instant>,
    /// The ZAP handler is deciding about the peer.
    zap: Option<ZapClient>,
}

impl Up {
    /// Hands the ZAP handler's verdict to the connection once it has come.
    fn take_zap_verdict(&mut self) -> Result<(), Down> {
        if let Some(verdict) = self.zap.as_mut().and_then(ZapClient::poll) {
            self.zap = None;
            verdict
                .and_then(|reply| self.conn.zap_reply(reply))
                .map_err(Down::Protocol)?;
        }
        Ok(())
    }
}

/// Why a connection went down.
#[derive(Debug)]
enum Down {
    Eof,
    Io(io::Error),
    Protocol(ProtocolError),
    HandshakeTimeout,
}

/// The pipe side of a session and the state of the message streams through it.
struct Flow {
    pipe: Option<(u64, PipeEnds<Msg>)>,
    /// A decoded frame waiting for inbound credit (reading is paused meanwhile).
    pending_in: Option<Msg>,
    /// The last frame taken from the outbound pipe said more frames follow.
    out_in_message: bool,
    /// A connection died in the middle of an outbound message: drop the rest of it.
    out_torn: bool,
    /// The socket closed its side and everything it sent was taken.
    out_finished: bool,
}

pub(crate) struct Session {
    socket: Arc<SocketRef>,
    endpoint_id: u64,
    role: Role,
    link: Link,
    flow: Flow,
    rbuf: ReadBuf,
    reconnect_ivl: Duration,
    closing: bool,
    linger_deadline: Option<Instant>,
    rng: u64,
}

impl Session {
    /// A session for a connection a listener accepted.
    pub(crate) fn accepted(
        socket: Arc<SocketRef>,
        endpoint_id: u64,
        stream: Stream,
        ctx: &mut Ctx<'_>,
    ) -> Session {
        let mut session = Session::new(socket, endpoint_id, Role::Accepted, None);
        session.link_up(stream, ctx);
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
        let mut session = Session::new(socket, endpoint_id, Role::Connecter { endpoint }, pipe);
        session.start_connect(ctx);
        session
    }

    fn new(
        socket: Arc<SocketRef>,
        endpoint_id: u64,
        role: Role,
        pipe: Option<(u64, PipeEnds<Msg>)>,
    ) -> Session {
        let reconnect_ivl = Duration::from_millis(socket.options.reconnect_ivl.max(0) as u64);
        let rng =
            endpoint_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ socket.id ^ 0x2545_F491_4F6C_DD1D;
        Session {
            socket,
            endpoint_id,
            role,
            link: Link::Idle { retry_at: None },
            flow: Flow {
                pipe,
                pending_in: None,
                out_in_message: false,
                out_torn: false,
                out_finished: false,
            },
            rbuf: ReadBuf::new(LONG_HEADER),
            reconnect_ivl,
            closing: false,
            linger_deadline: None,
            rng: rng | 1,
        }
    }

    pub(crate) fn socket_id(&self) -> u64 {
        self.socket.id
    }

    pub(crate) fn endpoint_id(&self) -> u64 {
        self.endpoint_id
    }

    /// The socket's linger, as configured when this endpoint was set up.
    pub(crate) fn linger(&self) -> Option<Duration> {
        self.socket.options.linger()
    }

    // ----- connection lifecycle -------------------------------------------------------

    fn link_up(&mut self, mut stream: Stream, ctx: &mut Ctx<'_>) {
        let token = Token(ctx.key.index);
        if let Err(e) =
            ctx.registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        {
            log::warn!("cannot register connection: {e}");
            self.link = Link::Idle { retry_at: None };
            return;
        }
        let options = &self.socket.options;
        let conn = Connection::new(options.zmtp_config(self.socket.socket_type));
        let handshake_deadline = options.handshake_ivl().map(|ivl| ctx.now + ivl);
        if let Some(at) = handshake_deadline {
            ctx.timer(at);
        }
        self.rbuf.clear();
        self.link = Link::Up(Box::new(Up {
            stream,
            conn,
            writable: true,
            readable: true,
            handshake_deadline,
            timer_at: None,
            zap: None,
        }));
    }

    fn start_connect(&mut self, ctx: &mut Ctx<'_>) {
        let Role::Connecter { endpoint } = &self.role else {
            return;
        };
        let result = match endpoint {
            Endpoint::Tcp {
                host: Host::Ip(ip),
                port: Some(port),
            } => transport::connect_tcp(SocketAddr::new(*ip, *port), &self.socket.options),
            Endpoint::Tcp {
                host: host @ Host::Name(_),
                port: Some(port),
            } => {
                // Resolve off the I/O thread so a slow resolver stalls nobody else.
                let (host, port, mailbox, key) =
                    (host.clone(), *port, ctx.mailbox.clone(), ctx.key);
                let spawned = std::thread::Builder::new()
                    .name("zerosock-resolve".into())
                    .spawn(move || {
                        let result = transport::resolve(&host, port);
                        mailbox.post(IoCommand::Resolved(key, result));
                    });
                match spawned {
                    Ok(_) => {
                        self.link = Link::Resolving;
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
            Endpoint::Ipc(Some(path)) => transport::connect_ipc(path),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "endpoint cannot be connected",
            )),
        };
        self.connect_started(result, ctx);
    }

    fn connect_started(&mut self, result: io::Result<Stream>, ctx: &mut Ctx<'_>) {
        match result {
            Ok(mut stream) => {
                let token = Token(ctx.key.index);
                match ctx.registry.register(
                    &mut stream,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    Ok(()) => {
                        self.link = Link::Connecting { stream };
                        self.emit(EventKind::ConnectDelayed);
                    }
                    Err(e) => self.schedule_reconnect(Down::Io(e), ctx),
                }
            }
            Err(e) => self.schedule_reconnect(Down::Io(e), ctx),
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
        let result = result.and_then(|addrs| {
            let addr = addrs.into_iter().next().ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "name resolved to no address")
            })?;
            transport::connect_tcp(addr, &self.socket.options)
        });
        self.connect_started(result, ctx);
        self.check_finished()
    }

    fn schedule_reconnect(&mut self, why: Down, ctx: &mut Ctx<'_>) {
        log::debug!("{} down: {why:?}", self.describe());
        let options = &self.socket.options;
        if options.reconnect_ivl < 0 {
            self.link = Link::Idle { retry_at: None };
            return;
        }
        let base = self.reconnect_ivl;
        // Up to one interval of jitter, as libzmq does, so that many peers do not reconnect in
        // lock step.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let jitter_ms = if base.as_millis() > 0 {
            self.rng % base.as_millis() as u64
        } else {
            0
        };
        let delay = base + Duration::from_millis(jitter_ms);
        let at = ctx.now + delay;
        self.emit(EventKind::ConnectRetried(delay));
        let max = options.reconnect_ivl_max;
        if max > 0 && (max as u128) > base.as_millis() {
            self.reconnect_ivl = (base * 2).min(Duration::from_millis(max as u64));
        }
        self.link = Link::Idle { retry_at: Some(at) };
        ctx.timer(at);
    }

    fn emit(&self, kind: EventKind) {
        self.socket.monitor.emit(kind, &self.socket.endpoint);
    }

    /// The connection, for logs: which socket, and the endpoint it connects to or accepted
    /// on.
    pub(crate) fn describe(&self) -> String {
        match &self.role {
            Role::Accepted => format!(
                "socket {}'s peer accepted on {}",
                self.socket.id, self.socket.endpoint
            ),
            Role::Connecter { endpoint } => {
                format!("socket {}'s connection to {endpoint}", self.socket.id)
            }
        }
    }

    /// The connection is gone: clean up the message streams and decide what happens next.
    fn link_down(&mut self, why: Down, ctx: &mut Ctx<'_>) -> Status {
        match &why {
            Down::Protocol(e) => log::info!("closing {}: {e}", self.describe()),
            Down::Io(e) => log::debug!("{} failed: {e}", self.describe()),
            Down::HandshakeTimeout => log::info!("the handshake of {} timed out", self.describe()),
            _ => {}
        }
        if let Link::Up(mut up) = std::mem::replace(&mut self.link, Link::Idle { retry_at: None }) {
            // Last words (an ERROR refusing the peer): one try, never waiting.
            let out = up.conn.out();
            if !out.is_empty() {
                let mut slices = [IoSlice::new(&[]); 8];
                let n = out.io_slices(&mut slices);
                let _ = up.stream.write_vectored(&slices[..n]);
            }
            let _ = ctx.registry.deregister(&mut up.stream);
            let event = match &why {
                _ if up.conn.is_active() => EventKind::Disconnected,
                Down::Protocol(e) => match e.auth_status() {
                    Some(status) => EventKind::HandshakeFailedAuth(u32::from(status)),
                    None => EventKind::HandshakeFailedProtocol(e.to_string()),
                },
                Down::HandshakeTimeout => {
                    EventKind::HandshakeFailedProtocol("handshake timed out".into())
                }
                _ => EventKind::Disconnected,
            };
            self.emit(event);
        }
        self.rbuf.release();
        if let Some((_, ends)) = &mut self.flow.pipe {
            // Frames of a message that will never be completed are dropped, never delivered.
            ends.out.rollback();
            if self.flow.pending_in.as_ref().is_some_and(|m| m.more()) {
                self.flow.pending_in = None;
            }
            let _ = ends.out.flush();
        }
        if self.flow.out_in_message {
            self.flow.out_torn = true;
            self.flow.out_in_message = false;
        }
        match self.role {
            Role::Accepted => Status::Done,
            Role::Connecter { .. } => {
                if self.socket.options.immediate {
                    self.flow.pipe = None;
                    self.flow.pending_in = None;
                }
                if self.closing {
                    self.flow.check_out_finished(ctx.stopping);
                    if self.flow.pipe.is_none() || self.flow.out_finished {
                        return Status::Done;
                    }
                }
                self.schedule_reconnect(why, ctx);
                if self.socket.options.reconnect_ivl < 0 {
                    return Status::Done;
                }
                Status::Alive
            }
        }
    }

    // ----- events ---------------------------------------------------------------------

    /// A readiness event on the session's stream.
    pub(crate) fn on_ready(&mut self, readable: bool, writable: bool, ctx: &mut Ctx<'_>) -> Status {
        if let Link::Connecting { stream } = &self.link {
            match stream.finish_connect() {
                Ok(true) => {
                    self.emit(EventKind::Connected);
                    let Link::Connecting { stream } =
                        std::mem::replace(&mut self.link, Link::Resolving)
                    else {
                        unreachable!()
                    };
                    self.link = Link::Up(Box::new(Up {
                        stream,
                        conn: Connection::new(
                            self.socket.options.zmtp_config(self.socket.socket_type),
                        ),
                        writable: true,
                        readable: true,
                        handshake_deadline: None,
                        timer_at: None,
                        zap: None,
                    }));
                    if let Some(ivl) = self.socket.options.handshake_ivl() {
                        let at = ctx.now + ivl;
                        if let Link::Up(up) = &mut self.link {
                            up.handshake_deadline = Some(at);
                        }
                        ctx.timer(at);
                    }
                    self.rbuf.clear();
                }
                Ok(false) => return Status::Alive,
                Err(e) => {
                    if let Link::Connecting { mut stream } =
                        std::mem::replace(&mut self.link, Link::Resolving)
                    {
                        let _ = ctx.registry.deregister(&mut stream);
                    }
                    return self.link_down(Down::Io(e), ctx);
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
        if self.linger_deadline.is_some_and(|d| ctx.now >= d) {
            return Status::Done;
        }
        match &mut self.link {
            Link::Up(up)
                if up.handshake_deadline.is_some_and(|d| ctx.now >= d) && !up.conn.is_active() =>
            {
                self.link_down(Down::HandshakeTimeout, ctx)
            }
            Link::Up(up) if up.conn.is_active() => {
                if up.timer_at.is_some_and(|t| t <= ctx.now) {
                    up.timer_at = None;
                }
                match up.conn.handle_timeout(ctx.now) {
                    Ok(()) => self.pump(ctx),
                    Err(e) => self.link_down(Down::Protocol(e), ctx),
                }
            }
            Link::Idle { retry_at: Some(at) } if ctx.now >= *at => {
                self.start_connect(ctx);
                self.check_finished()
            }
            _ => Status::Alive,
        }
    }

    /// The socket was closed (or the context is stopping).
    pub(crate) fn on_close(&mut self, linger: Option<Duration>, ctx: &mut Ctx<'_>) -> Status {
        if linger == Some(Duration::ZERO) {
            return Status::Done;
        }
        self.closing = true;
        if let Some(l) = linger {
            let at = ctx.now + l;
            self.linger_deadline = Some(self.linger_deadline.map_or(at, |d| d.min(at)));
            ctx.timer(at);
        }
        self.pump(ctx)
    }

    /// Reads and writes until neither can make progress.
    fn pump(&mut self, ctx: &mut Ctx<'_>) -> Status {
        if let Err(why) = self.read(ctx) {
            return self.link_down(why, ctx);
        }
        if let Err(why) = self.write(ctx) {
            return self.link_down(why, ctx);
        }
        if let Link::Up(up) = &mut self.link {
            // Keep a timer set for the connection's next heartbeat duty.
            if let Some(at) = up.conn.next_timeout() {
                if up.timer_at.map_or(true, |t| at < t || t <= ctx.now) {
                    up.timer_at = Some(at);
                    ctx.timer(at);
                }
            }
        }
        self.check_finished()
    }

    fn check_finished(&mut self) -> Status {
        if !self.closing {
            return Status::Alive;
        }
        if self.flow.pipe.is_none() {
            return Status::Done;
        }
        if !self.flow.out_finished {
            return Status::Alive;
        }
        // Everything the socket sent has been taken; done once it is on the wire.
        match &self.link {
            Link::Up(up) if up.conn.is_active() && !up.conn.out_ref().is_empty() => Status::Alive,
            _ => Status::Done,
        }
    }

    // ----- data path ------------------------------------------------------------------

    fn read(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Down> {
        let Link::Up(up) = &mut self.link else {
            return Ok(());
        };
        up.take_zap_verdict()?;
        let mut budget = READ_BUDGET;
        loop {
            // Frames decoded earlier may wait for credit even when the socket has no new bytes.
            if !self.flow.deliver_pending() {
                return Ok(()); // paused until the socket returns credit
            }
            loop {
                // The common case first: small data frames, straight into the pipe, the
                // buffer advanced once for the whole run of them.
                let bytes = self.rbuf.bytes();
                let mut taken = 0;
                let mut paused = false;
                while up.conn.has_small_frame(&bytes[taken..]) {
                    match self.flow.deliver_small(&bytes[taken..]) {
                        Some(len) => taken += len,
                        None => {
                            paused = true;
                            break;
                        }
                    }
                }
                if taken > 0 {
                    self.rbuf.skip(taken);
                    self.rbuf.note_frame(0);
                }
                if paused {
                    self.flow.flush_in();
                    return Ok(());
                }
                match up.conn.handle_input(&mut self.rbuf) {
                    Ok(None) => break,
                    Ok(Some(Input::Frame(msg))) => {
                        self.rbuf.note_frame(msg.len());
                        if !self.flow.deliver(msg) {
                            self.flow.flush_in();
                            return Ok(());
                        }
                    }
                    Ok(Some(Input::Authenticate(request))) => {
                        up.zap = ask_zap_handler(&self.socket, &request, &up.stream, ctx);
                        if up.zap.is_none() {
                            up.conn.zap_unavailable().map_err(Down::Protocol)?;
                        }
                        // Looking now also arms the pipe's wake-up for the reply.
                        up.take_zap_verdict()?;
                    }
                    Ok(Some(Input::Ready(mut peer))) => {
                        // What the connection knows of its peer beats what the peer says.
                        let mut known = crate::peer::Properties::new();
                        known.push("Peer-Address", up.stream.peer_address());
                        peer.properties.prepend(known);
                        self.socket
                            .monitor
                            .emit(EventKind::HandshakeSucceeded, &self.socket.endpoint);
                        up.handshake_deadline = None;
                        self.reconnect_ivl =
                            Duration::from_millis(self.socket.options.reconnect_ivl.max(0) as u64);
                        self.flow.attach(
                            &self.socket,
                            self.endpoint_id,
                            peer,
                            ctx.mailbox,
                            ctx.key,
                        );
                    }
                    Ok(Some(Input::Subscribe(topic))) => {
                        if !self.flow.deliver(subscription_msg(1, &topic)) {
                            self.flow.flush_in();
                            return Ok(());
                        }
                    }
                    Ok(Some(Input::Cancel(topic))) => {
                        if !self.flow.deliver(subscription_msg(0, &topic)) {
                            self.flow.flush_in();
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(Down::Protocol(e)),
                }
            }
            self.flow.flush_in();
            if !up.readable {
                return Ok(());
            }
            if budget == 0 {
                // Let other connections run; come back through the mailbox.
                ctx.mailbox.post(IoCommand::Wake(ctx.key));
                return Ok(());
            }
            let wants = up.conn.wants();
            match self
                .rbuf
                .read_from(&mut up.stream, wants, !up.conn.is_active())
            {
                Ok(0) => return Err(Down::Eof),
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    up.conn.note_received(ctx.now);
                }
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
        let stopping = ctx.stopping;
        let Link::Up(up) = &mut self.link else {
            // Not connected: still notice a socket that closed with nothing left to send (or,
            // when the context is stopping, a socket that has nothing queued now: it can send
            // no more).
            if self.closing {
                self.flow.check_out_finished(stopping);
            }
            return Ok(());
        };
        loop {
            if !up.writable {
                // Messages stay in the pipe (under its high-water mark) until the stream takes
                // bytes again. Not reading it also leaves the pipe's reader awake, so the
                // socket does not wake this thread for every message it queues meanwhile.
                return Ok(());
            }
            if up.conn.is_active() {
                self.flow.fill(&mut up.conn, stopping);
            }
            let out = up.conn.out();
            if out.is_empty() {
                return Ok(());
            }
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

/// Sends the handshake's ZAP request to the handler bound in the socket's context, as
/// libzmq frames it: our `ZAP_DOMAIN`, the peer's IP address, our routing id, the mechanism
/// and the peer's credentials. `None` when no handler is bound.
fn ask_zap_handler(
    socket: &SocketRef,
    request: &ZapRequest,
    stream: &Stream,
    ctx: &Ctx<'_>,
) -> Option<ZapClient> {
    let options = &socket.options;
    let frames = request.frames(
        &options.zap_domain,
        &stream.peer_address(),
        &options.routing_id,
    );
    ZapClient::send(&socket.inproc, frames, ctx.mailbox, ctx.key)
}

/// A subscription command in the message form of RFC 29 (`0x01 topic` / `0x00 topic`), as
/// the publishing patterns read it.
fn subscription_msg(kind: u8, topic: &[u8]) -> Msg {
    let mut body = Vec::with_capacity(1 + topic.len());
    body.push(kind);
    body.extend_from_slice(topic);
    Msg::from(body)
}

impl Flow {
    /// Creates the pipe once the handshake is done (accepted peers, or IMMEDIATE connecters)
    /// and hands the socket its ends.
    fn attach(
        &mut self,
        socket: &SocketRef,
        endpoint_id: u64,
        peer: PeerInfo,
        mailbox: &Arc<IoMailbox>,
        key: Key,
    ) {
        if let Some((id, _)) = &self.pipe {
            // The pipe outlives connections: tell the socket who is on the other end now.
            socket
                .mailbox
                .post(SocketCommand::PeerReady { id: *id, peer });
            return;
        }
        let wake_io = IoWake::new(mailbox.clone());
        wake_io.aim(key);
        let pipe = socket_pipe(
            &socket.mailbox,
            socket.options.send_capacity(socket.socket_type),
            socket.options.recv_capacity(socket.socket_type),
            wake_io,
        );
        self.pipe = Some(pipe.post_to_socket(peer, endpoint_id, false));
    }

    /// Retries the frame that waited for credit. Returns false if it still waits.
    fn deliver_pending(&mut self) -> bool {
        match self.pending_in.take() {
            None => true,
            Some(msg) => self.deliver(msg),
        }
    }

    /// Hands one received frame to the socket. Returns false when the pipe is full (the
    /// frame is kept and reading pauses).
    fn deliver(&mut self, msg: Msg) -> bool {
        let Some((_, ends)) = &mut self.pipe else {
            return true; // no pipe (yet): nothing can use it
        };
        match ends.out.write(msg) {
            Ok(()) => true,
            Err(WriteError::Full(msg)) => {
                self.pending_in = Some(msg);
                false
            }
            Err(WriteError::Closed(_)) => true,
        }
    }

    /// Hands the small frame at the front of `frame` to the socket, made where it will lie
    /// in the pipe, and returns its length (the caller skips it); `None` when the pipe is
    /// full: the frame stays and reading pauses.
    #[inline]
    fn deliver_small(&mut self, frame: &[u8]) -> Option<usize> {
        if let Some((_, ends)) = &mut self.pipe {
            match ends.out.write_with(|| Connection::take_small_frame(frame)) {
                Ok(()) => {}
                Err(WriteError::Full(())) => return None,
                // The socket is gone: nothing can use the frame.
                Err(WriteError::Closed(())) => {}
            }
        }
        // Delivered, or skipped: no pipe (yet) or the socket is gone.
        Some(Connection::small_frame_len(frame))
    }

    fn flush_in(&mut self) {
        if let Some((_, ends)) = &mut self.pipe {
            let _ = ends.out.flush();
        }
    }

    /// Moves whole messages from the socket into the output batch while it has room.
    fn fill(&mut self, conn: &mut Connection, stopping: bool) {
        let Some((_, ends)) = &mut self.pipe else {
            return;
        };
        while conn.out_ref().has_room() {
            let (out_torn, out_in_message) = (&mut self.out_torn, &mut self.out_in_message);
            let outcome = ends.inb.read_in_place(|msg| {
                if *out_torn {
                    *out_torn = msg.more();
                    return;
                }
                *out_in_message = msg.more();
                match msg.subscription() {
                    Some(subscribe) => conn.send_subscription(subscribe, msg),
                    None => conn.send(msg),
                }
            });
            match outcome {
                Read::Item(()) => {}
                Read::Empty => {
                    if stopping && !self.out_in_message {
                        self.out_finished = true;
                    }
                    return;
                }
                Read::Closed => {
                    self.out_finished = true;
                    return;
                }
            }
        }
    }

    /// Without a connection: has the socket closed with nothing left to deliver? While the
    /// context stops, an empty pipe is enough (the socket can send nothing more).
    fn check_out_finished(&mut self, stopping: bool) {
        if let Some((_, ends)) = &mut self.pipe {
            let drained =
                stopping && !self.out_in_message && !self.out_torn && ends.inb.is_drained();
            if drained || ends.inb.is_finished() {
                self.out_finished = true;
            }
        }
    }
}
