//! One ZMTP connection as a state machine: greeting, security handshake (NULL or PLAIN, with
//! ZAP where the server side asks for it), then frames. It takes received bytes and gives
//! back events and bytes to send; it never touches a socket.
//!
//! ```text
//!  Greeting ──peer greeting ok──► Handshake ──peer READY / INITIATE ok──► Active
//!      │                              │  ▲                                   │
//!      │                  Authenticate│  │zap_reply / zap_unavailable         │
//!      │                              ▼  │ (the session asks the handler)     │
//!      └──────── any violation ───────┴──────────────────────────────────────┴──► Failed
//! ```
//!
//! The handshake steps per mechanism (RFC 23 for NULL, RFC 24 for PLAIN):
//!
//! ```text
//!  NULL          both: READY ──────────────────────────────────► READY (each side)
//!  PLAIN client: HELLO ─► (WELCOME) ─► INITIATE ─► (READY)
//!  PLAIN server:        (HELLO) ─► ZAP ─► WELCOME ─► (INITIATE) ─► READY
//! ```

use super::command::{encode_hello, is_mechanism_command, Command, MAX_PING_CONTEXT};
use super::zap_wire::{ZapReply, ZapRequest};
use super::{Decoder, Greeting, Mechanism, OutQueue, ProtocolError, RawFrame, GREETING_LEN};
use crate::buf::Received;
use crate::msg::Msg;
use crate::peer::{PeerInfo, Properties};
use crate::socket_type::SocketType;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// The security mechanism our side uses, and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Security {
    Null,
    PlainClient { username: Bytes, password: Bytes },
    PlainServer,
}

impl Security {
    fn mechanism(&self) -> Mechanism {
        match self {
            Security::Null => Mechanism::Null,
            Security::PlainClient { .. } | Security::PlainServer => Mechanism::Plain,
        }
    }

    fn as_server(&self) -> bool {
        matches!(self, Security::PlainServer)
    }
}

/// What our side of a connection announces and enforces.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) socket_type: SocketType,
    /// Sent as `Identity` where the socket type sends one.
    pub(crate) identity: Bytes,
    pub(crate) max_msg_size: Option<u64>,
    /// Send a PING after this long without sending one (`HEARTBEAT_IVL`).
    pub(crate) heartbeat_ivl: Option<Duration>,
    /// TTL announced in our PINGs (`HEARTBEAT_TTL`), rounded down to deciseconds.
    pub(crate) heartbeat_ttl: Duration,
    /// Close when nothing arrives this long after a PING (`HEARTBEAT_TIMEOUT`).
    pub(crate) heartbeat_timeout: Option<Duration>,
    /// Application properties (`X-...`) announced in READY (`METADATA`).
    pub(crate) metadata: Vec<(String, Bytes)>,
    pub(crate) security: Security,
    /// `ZAP_DOMAIN`: with NULL, a non-empty domain asks the ZAP handler about every peer.
    pub(crate) zap_domain: Bytes,
    /// `ZAP_ENFORCE_DOMAIN`: with NULL and a domain, no handler means no connection.
    pub(crate) zap_enforce_domain: bool,
}

/// Liveness tracking (ZMTP 3.1 heartbeats). Any received byte counts as liveness.
#[derive(Debug, Default)]
struct Liveness {
    last_received: Option<Instant>,
    next_ping: Option<Instant>,
    /// A PING went out at this time and nothing has arrived since.
    ping_unanswered_since: Option<Instant>,
    /// The TTL the peer announced in its last PING: close if it goes silent that long.
    peer_ttl: Option<Duration>,
}

/// An event coming out of the received bytes.
#[derive(Debug)]
pub(crate) enum Input {
    /// The handshake completed; the connection may now carry messages.
    Ready(PeerInfo),
    /// A data frame.
    Frame(Msg),
    /// A SUBSCRIBE command (ZMTP 3.1).
    Subscribe(Bytes),
    /// A CANCEL command (ZMTP 3.1).
    Cancel(Bytes),
    /// The peer must be authenticated: send this to the ZAP handler, then call
    /// [`Connection::zap_reply`] (or [`Connection::zap_unavailable`] without a handler).
    Authenticate(ZapRequest),
}

#[derive(Debug)]
enum State {
    Greeting,
    Handshake { minor: u8, step: Step },
    Active { minor: u8 },
    Failed(ProtocolError),
}

/// Where the security handshake stands (what we wait for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// NULL: the peer's READY (ours is out, or waits for the ZAP verdict).
    NullReady,
    /// PLAIN client: WELCOME, after our HELLO.
    PlainWelcome,
    /// PLAIN client: READY, after our INITIATE.
    PlainReady,
    /// PLAIN server: HELLO (then the ZAP verdict).
    PlainHello,
    /// PLAIN server: INITIATE, after our WELCOME.
    PlainInitiate,
}

/// The ZAP exchange of this connection.
#[derive(Debug)]
enum Zap {
    /// Not asked (yet), or not needed.
    Idle,
    /// The request is out; the verdict decides the next step.
    Pending,
    /// The handler said 200: what it told us about the peer (`User-Id`, its metadata).
    Allowed(Properties),
}

/// A sans-IO ZMTP 3.1 connection (NULL or PLAIN mechanism).
#[derive(Debug)]
pub(crate) struct Connection {
    config: Config,
    state: State,
    decoder: Decoder,
    out: OutQueue,
    liveness: Liveness,
    zap: Zap,
    /// NULL with ZAP: the peer's READY when it came before the verdict.
    early_ready: Option<Properties>,
}

impl Connection {
    /// A new connection; our greeting is queued for sending at once.
    pub(crate) fn new(config: Config) -> Connection {
        let mut out = OutQueue::default();
        let security = &config.security;
        out.push_raw(&Greeting::ours(security.mechanism(), security.as_server()).encode());
        Connection {
            decoder: Decoder::new(config.max_msg_size),
            config,
            state: State::Greeting,
            out,
            liveness: Liveness::default(),
            zap: Zap::Idle,
            early_ready: None,
        }
    }

    /// The ZAP handler's verdict on the peer. On 200 the handshake goes on; otherwise the
    /// connection fails (after an `ERROR` carrying the status, except for 300, which RFC 27
    /// wants answered by a silent close).
    pub(crate) fn zap_reply(&mut self, reply: ZapReply) -> Result<(), ProtocolError> {
        if !matches!(self.zap, Zap::Pending) {
            return Ok(());
        }
        if reply.status != 200 {
            if reply.status != 300 {
                let reason = reply.status.to_string();
                let mut data = vec![reason.len() as u8];
                data.extend_from_slice(reason.as_bytes());
                self.out.push_command(&Command::encode("ERROR", &data));
            }
            return self.fail(ProtocolError::AuthenticationFailed(reply.status));
        }
        let mut user_id = Properties::new();
        user_id.push("User-Id", reply.user_id);
        let mut learned = reply.metadata;
        learned.prepend(user_id);
        self.zap = Zap::Allowed(learned);
        self.after_verdict();
        Ok(())
    }

    /// No ZAP handler is bound. A PLAIN server, or NULL with `ZAP_ENFORCE_DOMAIN`, refuses
    /// the peer (as libzmq does); plain NULL goes on unauthenticated.
    pub(crate) fn zap_unavailable(&mut self) -> Result<(), ProtocolError> {
        if !matches!(self.zap, Zap::Pending) {
            return Ok(());
        }
        if self.config.security != Security::Null || self.config.zap_enforce_domain {
            return self.fail(ProtocolError::NoZapHandler);
        }
        self.zap = Zap::Idle;
        self.after_verdict();
        Ok(())
    }

    fn after_verdict(&mut self) {
        match self.state {
            State::Handshake {
                step: Step::NullReady,
                ..
            } => self.send_properties("READY"),
            State::Handshake {
                minor,
                step: Step::PlainHello,
            } => {
                self.out.push_command(&Command::encode("WELCOME", b""));
                self.state = State::Handshake {
                    minor,
                    step: Step::PlainInitiate,
                };
            }
            _ => {}
        }
    }

    fn fail(&mut self, e: ProtocolError) -> Result<(), ProtocolError> {
        self.state = State::Failed(e.clone());
        Err(e)
    }

    /// Bytes waiting to be sent.
    pub(crate) fn out(&mut self) -> &mut OutQueue {
        &mut self.out
    }

    /// Bytes waiting to be sent (read-only view).
    pub(crate) fn out_ref(&self) -> &OutQueue {
        &self.out
    }

    /// Whether the handshake has completed.
    pub(crate) fn is_active(&self) -> bool {
        matches!(self.state, State::Active { .. })
    }

    /// Queues a subscription change: a SUBSCRIBE / CANCEL command to a ZMTP 3.1 peer, a
    /// `0x01 topic` / `0x00 topic` message to a 3.0 peer (RFC 29 / RFC 37).
    pub(crate) fn send_subscription(&mut self, subscribe: bool, msg: &Msg) {
        match self.state {
            State::Active { minor } if minor >= 1 => {
                let name = if subscribe { "SUBSCRIBE" } else { "CANCEL" };
                let topic = msg.get(1..).unwrap_or_default();
                self.out.push_command(&Command::encode(name, topic));
            }
            _ => self.out.push_frame(msg),
        }
    }

    /// Queues one data frame for sending. Only valid once active.
    #[inline]
    pub(crate) fn send(&mut self, msg: &Msg) {
        debug_assert!(self.is_active());
        self.out.push_frame(msg);
    }

    /// Bytes arrived at `now` (any byte counts as liveness).
    pub(crate) fn note_received(&mut self, now: Instant) {
        self.liveness.last_received = Some(now);
        self.liveness.ping_unanswered_since = None;
    }

    /// The next time [`Connection::handle_timeout`] has something to do, if any.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if !self.is_active() {
            return None;
        }
        let live = &self.liveness;
        let ping_due = live.next_ping;
        let silence = live
            .ping_unanswered_since
            .zip(self.config.heartbeat_timeout)
            .map(|(since, t)| since + t);
        let peer_ttl = live
            .last_received
            .zip(live.peer_ttl)
            .map(|(at, ttl)| at + ttl);
        [ping_due, silence, peer_ttl].into_iter().flatten().min()
    }

    /// Sends a PING when one is due, and fails with [`ProtocolError::HeartbeatTimeout`] when
    /// the peer has been silent for too long.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), ProtocolError> {
        if !self.is_active() {
            return Ok(());
        }
        let live = &mut self.liveness;
        if let (Some(since), Some(timeout)) =
            (live.ping_unanswered_since, self.config.heartbeat_timeout)
        {
            if now >= since + timeout {
                return Err(ProtocolError::HeartbeatTimeout);
            }
        }
        if let (Some(at), Some(ttl)) = (live.last_received, live.peer_ttl) {
            if now >= at + ttl {
                return Err(ProtocolError::HeartbeatTimeout);
            }
        }
        if let (Some(due), Some(ivl)) = (live.next_ping, self.config.heartbeat_ivl) {
            if now >= due {
                let ttl_ds =
                    (self.config.heartbeat_ttl.as_millis() / 100).min(u16::MAX as u128) as u16;
                self.out
                    .push_command(&Command::encode("PING", &ttl_ds.to_be_bytes()));
                live.next_ping = Some(now + ivl);
                live.ping_unanswered_since.get_or_insert(now);
            }
        }
        Ok(())
    }

    /// Whether `buf` starts with a data frame that is small and whole, with the connection
    /// up: the common case, taken by [`Connection::take_small_frame`] without the event
    /// machinery of [`Connection::handle_input`]. `false` sends the caller to `handle_input`.
    #[inline]
    pub(crate) fn has_small_frame(&self, buf: &[u8]) -> bool {
        matches!(self.state, State::Active { .. }) && self.decoder.has_small(buf)
    }

    /// The frame [`Connection::has_small_frame`] found at the front of `buf`, left there:
    /// the caller skips [`Connection::small_frame_len`] bytes.
    #[inline]
    pub(crate) fn take_small_frame(buf: &[u8]) -> Msg {
        Decoder::take_small(buf)
    }

    /// The length of the small frame at the front of `buf`, header included.
    #[inline]
    pub(crate) fn small_frame_len(buf: &[u8]) -> usize {
        Decoder::small_len(buf)
    }

    /// How many bytes the decoder needs in the buffer to make progress.
    pub(crate) fn wants(&self) -> usize {
        match self.state {
            State::Greeting => GREETING_LEN,
            _ => self.decoder.wants(),
        }
    }

    /// Consumes bytes from the front of `buf` and returns the next event, or `None` when more
    /// bytes are needed. An error is final: every later call returns it again.
    pub(crate) fn handle_input(
        &mut self,
        buf: &mut impl Received,
    ) -> Result<Option<Input>, ProtocolError> {
        let result = self.step(buf);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    fn step(&mut self, input: &mut impl Received) -> Result<Option<Input>, ProtocolError> {
        loop {
            match self.state {
                State::Failed(ref e) => return Err(e.clone()),
                State::Active { .. } => {
                    let Some(frame) = self.decoder.decode(input)? else {
                        return Ok(None);
                    };
                    match frame {
                        RawFrame::Data(msg) => return Ok(Some(Input::Frame(msg))),
                        RawFrame::Command(body) if is_mechanism_command(&body) => {}
                        RawFrame::Command(body) => {
                            if let Some(input) = self.handle_command(Command::parse(body)?)? {
                                return Ok(Some(input));
                            }
                        }
                    }
                }
                State::Greeting => {
                    let buf = input.bytes();
                    Greeting::check_prefix(&buf[..buf.len().min(11)])?;
                    if buf.len() < GREETING_LEN {
                        return Ok(None);
                    }
                    let mut raw = [0u8; GREETING_LEN];
                    raw.copy_from_slice(&buf[..GREETING_LEN]);
                    input.skip(GREETING_LEN);
                    let peer = Greeting::decode(&raw)?;
                    if let Some(input) = self.start_handshake(&peer)? {
                        return Ok(Some(input));
                    }
                }
                State::Handshake { minor, step } => {
                    if !matches!(self.zap, Zap::Pending) {
                        // NULL with ZAP: the peer's READY came before the verdict.
                        if let Some(properties) = self.early_ready.take() {
                            return self.activate(properties, minor).map(Some);
                        }
                    }
                    let Some(frame) = self.decoder.decode(input)? else {
                        return Ok(None);
                    };
                    let body = match frame {
                        RawFrame::Command(body) => body,
                        RawFrame::Data(_) => return Err(ProtocolError::Unexpected("data frame")),
                    };
                    if let Some(input) =
                        self.handshake_command(Command::parse(body)?, minor, step)?
                    {
                        return Ok(Some(input));
                    }
                }
            }
        }
    }

    /// The peer's greeting arrived: check that the mechanisms (and PLAIN roles) match and
    /// make the first handshake move.
    fn start_handshake(&mut self, peer: &Greeting) -> Result<Option<Input>, ProtocolError> {
        let ours = self.config.security.mechanism();
        if peer.mechanism != ours {
            return Err(ProtocolError::MechanismMismatch {
                ours: ours.name().into(),
                theirs: peer.mechanism.name().into(),
            });
        }
        let minor = peer.minor;
        let (step, input) = match &self.config.security {
            Security::Null if !self.config.zap_domain.is_empty() => {
                self.zap = Zap::Pending;
                let request = ZapRequest {
                    mechanism: "NULL",
                    credentials: Vec::new(),
                };
                (Step::NullReady, Some(Input::Authenticate(request)))
            }
            Security::Null => {
                self.send_properties("READY");
                (Step::NullReady, None)
            }
            // The roles come from our own options: libzmq never sets the greeting's
            // as-server byte, so the peer's is not checked. Two clients fail on each other's
            // HELLO; two servers wait until the handshake timeout, as with libzmq.
            Security::PlainClient { username, password } => {
                self.out.push_command(&encode_hello(username, password));
                (Step::PlainWelcome, None)
            }
            Security::PlainServer => (Step::PlainHello, None),
        };
        self.state = State::Handshake { minor, step };
        Ok(input)
    }

    /// One command during the handshake.
    fn handshake_command(
        &mut self,
        command: Command,
        minor: u8,
        step: Step,
    ) -> Result<Option<Input>, ProtocolError> {
        let pending = matches!(self.zap, Zap::Pending);
        match (command, step) {
            (Command::Error(reason), _) => Err(ProtocolError::PeerError(reason)),
            (Command::Ready(properties), Step::NullReady) if pending => {
                if self.early_ready.replace(properties).is_some() {
                    return Err(ProtocolError::DuplicateReady);
                }
                Ok(None)
            }
            (Command::Ready(properties), Step::NullReady | Step::PlainReady) => {
                self.activate(properties, minor).map(Some)
            }
            (Command::Welcome, Step::PlainWelcome) => {
                self.send_properties("INITIATE");
                self.state = State::Handshake {
                    minor,
                    step: Step::PlainReady,
                };
                Ok(None)
            }
            (Command::Hello { username, password }, Step::PlainHello) if !pending => {
                self.zap = Zap::Pending;
                Ok(Some(Input::Authenticate(ZapRequest {
                    mechanism: "PLAIN",
                    credentials: vec![username, password],
                })))
            }
            (Command::Initiate(properties), Step::PlainInitiate) => {
                let input = self.activate(properties, minor)?;
                self.send_properties("READY");
                Ok(Some(input))
            }
            _ => Err(ProtocolError::Unexpected("command")),
        }
    }

    /// The peer's properties arrived and the handshake is complete.
    fn activate(&mut self, properties: Properties, minor: u8) -> Result<Input, ProtocolError> {
        let mut peer = PeerInfo::from_properties(properties, self.config.socket_type)?;
        if let Zap::Allowed(learned) = std::mem::replace(&mut self.zap, Zap::Idle) {
            // What the handler says about the peer takes precedence over what it says itself.
            peer.properties.prepend(learned);
        }
        self.state = State::Active { minor };
        // Heartbeats start with the connection; the last received byte is close enough to
        // now (the peer's properties just arrived).
        if let (Some(ivl), Some(at)) = (self.config.heartbeat_ivl, self.liveness.last_received) {
            self.liveness.next_ping = Some(at + ivl);
        }
        Ok(Input::Ready(peer))
    }

    /// Queues READY or INITIATE with our properties.
    fn send_properties(&mut self, command: &str) {
        let config = &self.config;
        let ours = PeerInfo::ours(config.socket_type, &config.identity, &config.metadata);
        let mut data = Vec::new();
        ours.properties.encode(&mut data);
        self.out.push_command(&Command::encode(command, &data));
    }

    fn handle_command(&mut self, command: Command) -> Result<Option<Input>, ProtocolError> {
        match command {
            Command::Ping { ttl_ds, context } => {
                self.liveness.peer_ttl =
                    (ttl_ds > 0).then(|| Duration::from_millis(u64::from(ttl_ds) * 100));
                let mut data = Vec::with_capacity(MAX_PING_CONTEXT);
                data.extend_from_slice(&context);
                self.out.push_command(&Command::encode("PONG", &data));
                Ok(None)
            }
            Command::Pong { .. } | Command::Unknown => Ok(None),
            Command::Subscribe(topic) => Ok(Some(Input::Subscribe(topic))),
            Command::Cancel(topic) => Ok(Some(Input::Cancel(topic))),
            Command::Error(reason) => Err(ProtocolError::PeerError(reason)),
            Command::Ready(_) => Err(ProtocolError::DuplicateReady),
            Command::Hello { .. } | Command::Welcome | Command::Initiate(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn config(socket_type: SocketType) -> Config {
        Config {
            socket_type,
            identity: Bytes::new(),
            max_msg_size: None,
            heartbeat_ivl: None,
            heartbeat_ttl: Duration::ZERO,
            heartbeat_timeout: None,
            metadata: Vec::new(),
            security: Security::Null,
            zap_domain: Bytes::new(),
            zap_enforce_domain: false,
        }
    }

    /// Moves everything `from` has queued into `to`'s input buffer, optionally one byte at a
    /// time, and collects `to`'s events.
    fn pump(
        from: &mut Connection,
        to: &mut Connection,
        buf: &mut BytesMut,
        drip: bool,
    ) -> Result<Vec<Input>, ProtocolError> {
        let mut wire = Vec::new();
        while !from.out().is_empty() {
            let mut slices = [std::io::IoSlice::new(&[]); 8];
            let n = from.out().io_slices(&mut slices);
            let bytes: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
            let len = bytes.len();
            wire.extend_from_slice(&bytes);
            from.out().advance(len);
        }
        let mut events = Vec::new();
        let step = if drip { 1 } else { wire.len().max(1) };
        // No bytes still gives `to` a turn, as the session's every wake-up does.
        for chunk in wire.chunks(step).chain(wire.is_empty().then_some(&[][..])) {
            buf.extend_from_slice(chunk);
            while let Some(ev) = to.handle_input(buf)? {
                events.push(ev);
            }
        }
        Ok(events)
    }

    fn handshake(
        a_type: SocketType,
        b_type: SocketType,
        drip: bool,
    ) -> Result<(Connection, Connection), ProtocolError> {
        let mut a = Connection::new(config(a_type));
        let mut b = Connection::new(config(b_type));
        let (mut abuf, mut bbuf) = (BytesMut::new(), BytesMut::new());
        for _ in 0..3 {
            let ev_b = pump(&mut a, &mut b, &mut bbuf, drip)?;
            let ev_a = pump(&mut b, &mut a, &mut abuf, drip)?;
            for ev in ev_a.iter().chain(ev_b.iter()) {
                assert!(matches!(ev, Input::Ready(_)), "{ev:?}");
            }
        }
        Ok((a, b))
    }

    #[test]
    fn null_handshake_in_memory_then_frames_and_ping() {
        for drip in [false, true] {
            let (mut a, mut b) = handshake(SocketType::Push, SocketType::Pull, drip).unwrap();
            assert!(a.is_active() && b.is_active());
            let mut m = Msg::from("part1");
            m.set_more(true);
            a.send(&m);
            a.send(&Msg::from("part2"));
            a.out()
                .push_command(&Command::encode("PING", b"\x00\x0aabc"));
            let mut buf = BytesMut::new();
            let ev = pump(&mut a, &mut b, &mut buf, drip).unwrap();
            assert!(matches!(&ev[0], Input::Frame(f) if f.more() && f == &"part1"));
            assert!(matches!(&ev[1], Input::Frame(f) if !f.more() && f == &"part2"));
            // b answered the PING with a PONG echoing the context.
            let mut wire = BytesMut::new();
            let mut slices = [std::io::IoSlice::new(&[]); 4];
            let n = b.out().io_slices(&mut slices);
            for s in &slices[..n] {
                wire.extend_from_slice(s);
            }
            assert_eq!(&wire[..], b"\x04\x08\x04PONGabc");
        }
    }

    #[test]
    fn incompatible_types_fail_and_failure_sticks() {
        let err = handshake(SocketType::Push, SocketType::Push, false).unwrap_err();
        assert!(matches!(err, ProtocolError::IncompatibleSocketType { .. }));
        let mut c = Connection::new(config(SocketType::Pull));
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        assert_eq!(
            c.handle_input(&mut buf).unwrap_err(),
            ProtocolError::BadSignature
        );
        assert_eq!(
            c.handle_input(&mut BytesMut::new()).unwrap_err(),
            ProtocolError::BadSignature
        );
    }

    #[test]
    fn data_before_ready_and_duplicate_ready_are_refused() {
        let mut c = Connection::new(config(SocketType::Pull));
        let mut buf = BytesMut::from(&Greeting::ours(Mechanism::Null, false).encode()[..]);
        buf.extend_from_slice(b"\x00\x01x");
        assert!(matches!(
            c.handle_input(&mut buf),
            Err(ProtocolError::Unexpected(_))
        ));

        let (_, mut b) = handshake(SocketType::Push, SocketType::Pull, false).unwrap();
        let mut ready = BytesMut::new();
        ready.extend_from_slice(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH");
        assert_eq!(
            b.handle_input(&mut ready).unwrap_err(),
            ProtocolError::DuplicateReady
        );
    }

    #[test]
    fn mechanism_mismatch_is_refused() {
        let mut c = Connection::new(config(SocketType::Pull));
        let mut buf = BytesMut::from(&Greeting::ours(Mechanism::Plain, false).encode()[..]);
        assert!(matches!(
            c.handle_input(&mut buf),
            Err(ProtocolError::MechanismMismatch { .. })
        ));
    }

    #[test]
    fn heartbeats_ping_on_time_and_a_silent_peer_times_out() {
        let ms = Duration::from_millis;
        let mut a = Connection::new(Config {
            heartbeat_ivl: Some(ms(100)),
            heartbeat_timeout: Some(ms(300)),
            heartbeat_ttl: ms(2000),
            ..config(SocketType::Push)
        });
        let mut b = Connection::new(config(SocketType::Pull));
        let t0 = Instant::now();
        a.note_received(t0);
        let (mut abuf, mut bbuf) = (BytesMut::new(), BytesMut::new());
        for _ in 0..3 {
            pump(&mut a, &mut b, &mut bbuf, false).unwrap();
            pump(&mut b, &mut a, &mut abuf, false).unwrap();
        }
        assert!(a.is_active() && b.is_active());
        assert_eq!(a.next_timeout(), Some(t0 + ms(100)));
        assert_eq!(b.next_timeout(), None, "b does not heartbeat");
        // First PING at +100 ms, carrying the TTL (20 deciseconds).
        a.handle_timeout(t0 + ms(100)).unwrap();
        let wire = a.out_ref().to_vec();
        assert_eq!(wire, b"\x04\x07\x04PING\x00\x14");
        pump(&mut a, &mut b, &mut bbuf, false).unwrap();
        // b now expects traffic within the TTL.
        b.note_received(t0 + ms(100));
        assert_eq!(b.next_timeout(), Some(t0 + ms(2100)));
        assert_eq!(
            b.handle_timeout(t0 + ms(2100)),
            Err(ProtocolError::HeartbeatTimeout)
        );
        // a hears nothing back: PINGs keep going, then the timeout closes it.
        a.handle_timeout(t0 + ms(200)).unwrap();
        a.handle_timeout(t0 + ms(300)).unwrap();
        assert_eq!(
            a.handle_timeout(t0 + ms(400)),
            Err(ProtocolError::HeartbeatTimeout)
        );
    }

    #[test]
    fn any_received_byte_counts_as_liveness() {
        let ms = Duration::from_millis;
        let mut a = Connection::new(Config {
            heartbeat_ivl: Some(ms(100)),
            heartbeat_timeout: Some(ms(300)),
            ..config(SocketType::Push)
        });
        let mut b = Connection::new(config(SocketType::Pull));
        let t0 = Instant::now();
        a.note_received(t0);
        let (mut abuf, mut bbuf) = (BytesMut::new(), BytesMut::new());
        for _ in 0..3 {
            pump(&mut a, &mut b, &mut bbuf, false).unwrap();
            pump(&mut b, &mut a, &mut abuf, false).unwrap();
        }
        a.handle_timeout(t0 + ms(100)).unwrap();
        // A long transfer: bytes keep arriving (no PONG needed), so it never times out.
        for step in 1..20 {
            a.note_received(t0 + ms(100 + step * 90));
            a.handle_timeout(t0 + ms(100 + step * 90)).unwrap();
        }
    }

    fn plain_client(user: &str, pass: &str) -> Config {
        Config {
            security: Security::PlainClient {
                username: Bytes::copy_from_slice(user.as_bytes()),
                password: Bytes::copy_from_slice(pass.as_bytes()),
            },
            ..config(SocketType::Req)
        }
    }

    fn plain_server() -> Config {
        Config {
            security: Security::PlainServer,
            ..config(SocketType::Rep)
        }
    }

    fn zap_reply(status: u16, user_id: &str) -> ZapReply {
        let mut metadata = Properties::new();
        metadata.push("X-Role", &b"admin"[..]);
        // A handler cannot override what the connection learned itself.
        metadata.push("User-Id", &b"forged"[..]);
        ZapReply {
            status,
            user_id: Bytes::copy_from_slice(user_id.as_bytes()),
            metadata,
        }
    }

    /// Runs both sides until neither has anything to say; returns their events.
    fn exchange(
        a: &mut Connection,
        b: &mut Connection,
        drip: bool,
    ) -> Result<(Vec<Input>, Vec<Input>), ProtocolError> {
        let (mut abuf, mut bbuf) = (BytesMut::new(), BytesMut::new());
        let (mut ev_a, mut ev_b) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            ev_b.extend(pump(a, b, &mut bbuf, drip)?);
            ev_a.extend(pump(b, a, &mut abuf, drip)?);
        }
        Ok((ev_a, ev_b))
    }

    #[test]
    fn plain_handshake_asks_zap_and_carries_user_id() {
        for drip in [false, true] {
            let mut client = Connection::new(plain_client("admin", "secret"));
            let mut server = Connection::new(plain_server());
            let (ev_c, ev_s) = exchange(&mut client, &mut server, drip).unwrap();
            assert!(ev_c.is_empty(), "{ev_c:?}");
            let [Input::Authenticate(request)] = &ev_s[..] else {
                panic!("{ev_s:?}")
            };
            assert_eq!(request.mechanism, "PLAIN");
            assert_eq!(request.credentials, [&b"admin"[..], &b"secret"[..]]);
            server.zap_reply(zap_reply(200, "alice")).unwrap();
            let (ev_c, ev_s) = exchange(&mut client, &mut server, drip).unwrap();
            let [Input::Ready(to_client)] = &ev_c[..] else {
                panic!("{ev_c:?}")
            };
            let [Input::Ready(to_server)] = &ev_s[..] else {
                panic!("{ev_s:?}")
            };
            assert_eq!(to_client.socket_type, SocketType::Rep);
            assert_eq!(to_server.socket_type, SocketType::Req);
            let prop = |name| to_server.properties.get(name).map(|v| v.to_vec());
            assert_eq!(prop("User-Id"), Some(b"alice".to_vec()));
            assert_eq!(prop("X-Role"), Some(b"admin".to_vec()));
            assert!(client.is_active() && server.is_active());
        }
    }

    #[test]
    fn plain_denied_sends_error_with_the_status_and_300_closes_silently() {
        for (status, wire_error) in [(400, true), (500, true), (300, false)] {
            let mut client = Connection::new(plain_client("admin", "wrong"));
            let mut server = Connection::new(plain_server());
            exchange(&mut client, &mut server, false).unwrap();
            assert_eq!(
                server.zap_reply(zap_reply(status, "")),
                Err(ProtocolError::AuthenticationFailed(status))
            );
            let mut buf = BytesMut::new();
            let result = pump(&mut server, &mut client, &mut buf, false);
            if wire_error {
                let err = result.unwrap_err();
                assert_eq!(err, ProtocolError::PeerError(status.to_string()));
                assert_eq!(err.auth_status(), Some(status));
            } else {
                assert!(result.unwrap().is_empty());
                assert!(!client.is_active());
            }
        }
    }

    #[test]
    fn plain_server_without_handler_refuses_and_roles_come_from_our_options() {
        let mut client = Connection::new(plain_client("u", "p"));
        let mut server = Connection::new(plain_server());
        exchange(&mut client, &mut server, false).unwrap();
        assert_eq!(server.zap_unavailable(), Err(ProtocolError::NoZapHandler));

        // Two clients: each refuses the other's HELLO.
        let mut a = Connection::new(plain_client("u", "p"));
        let mut b = Connection::new(plain_client("u", "p"));
        assert_eq!(
            exchange(&mut a, &mut b, false).unwrap_err(),
            ProtocolError::Unexpected("command")
        );
        // Two servers: both wait for a HELLO (the handshake timeout ends it).
        let mut a = Connection::new(plain_server());
        let mut b = Connection::new(plain_server());
        let (ev_a, ev_b) = exchange(&mut a, &mut b, false).unwrap();
        assert!(ev_a.is_empty() && ev_b.is_empty() && !a.is_active() && !b.is_active());
    }

    #[test]
    fn plain_never_accepts_a_null_peer_either_way() {
        for ours in [plain_server(), plain_client("u", "p")] {
            let mut null = Connection::new(config(SocketType::Req));
            let mut plain = Connection::new(ours);
            let err = exchange(&mut plain, &mut null, false).unwrap_err();
            assert!(
                matches!(err, ProtocolError::MechanismMismatch { .. }),
                "{err:?}"
            );
            assert!(!plain.is_active() && !null.is_active());
        }
    }

    #[test]
    fn plain_server_refuses_commands_out_of_order() {
        // INITIATE before HELLO, a second HELLO while ZAP is pending, data before the end.
        let mut server = Connection::new(plain_server());
        let mut buf = BytesMut::from(&Greeting::ours(Mechanism::Plain, false).encode()[..]);
        let initiate = Command::encode("INITIATE", b"\x0bSocket-Type\x00\x00\x00\x03REQ");
        buf.extend_from_slice(&[0x04, initiate.len() as u8]);
        buf.extend_from_slice(&initiate);
        assert_eq!(
            server.handle_input(&mut buf).unwrap_err(),
            ProtocolError::Unexpected("command")
        );

        let mut server = Connection::new(plain_server());
        let mut buf = BytesMut::from(&Greeting::ours(Mechanism::Plain, false).encode()[..]);
        let hello = encode_hello(b"u", b"p");
        for _ in 0..2 {
            buf.extend_from_slice(&[0x04, hello.len() as u8]);
            buf.extend_from_slice(&hello);
        }
        assert!(matches!(
            server.handle_input(&mut buf),
            Ok(Some(Input::Authenticate(_)))
        ));
        assert!(server.handle_input(&mut buf).is_err());
    }

    #[test]
    fn null_with_a_zap_domain_waits_for_the_verdict() {
        let zap_config = || Config {
            zap_domain: Bytes::from_static(b"global"),
            ..config(SocketType::Pull)
        };
        // Allowed: the peer's READY may come first; ours goes out only after the verdict.
        let mut server = Connection::new(zap_config());
        let mut client = Connection::new(config(SocketType::Push));
        let (ev_c, ev_s) = exchange(&mut client, &mut server, false).unwrap();
        assert!(ev_c.is_empty());
        assert!(matches!(&ev_s[..], [Input::Authenticate(r)] if r.mechanism == "NULL"));
        server.zap_reply(zap_reply(200, "anon")).unwrap();
        let (ev_c, ev_s) = exchange(&mut client, &mut server, false).unwrap();
        assert!(matches!(&ev_c[..], [Input::Ready(_)]));
        assert!(
            matches!(&ev_s[..], [Input::Ready(p)] if p.properties.get("User-Id").map(|v| &v[..]) == Some(&b"anon"[..]))
        );

        // No handler: NULL goes on without ZAP, unless the domain is enforced.
        let mut server = Connection::new(zap_config());
        let mut client = Connection::new(config(SocketType::Push));
        exchange(&mut client, &mut server, false).unwrap();
        server.zap_unavailable().unwrap();
        let (_, ev_s) = exchange(&mut client, &mut server, false).unwrap();
        assert!(matches!(&ev_s[..], [Input::Ready(p)] if p.properties.get("User-Id").is_none()));

        let mut server = Connection::new(Config {
            zap_enforce_domain: true,
            ..zap_config()
        });
        let mut client = Connection::new(config(SocketType::Push));
        exchange(&mut client, &mut server, false).unwrap();
        assert_eq!(server.zap_unavailable(), Err(ProtocolError::NoZapHandler));
    }
}
