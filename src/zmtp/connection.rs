//! One ZMTP connection as a state machine: greeting, NULL handshake, then frames. It takes
//! received bytes and gives back events and bytes to send; it never touches a socket.
//!
//! ```text
//!  Greeting ──peer greeting ok──► Handshake ──peer READY ok──► Active
//!      │                              │                          │
//!      └──────── any violation ───────┴──────────────────────────┴──► Failed (sticky)
//! ```

use super::command::{Command, Properties, MAX_PING_CONTEXT};
use super::{Decoder, Greeting, Mechanism, OutQueue, ProtocolError, RawFrame, GREETING_LEN};
use crate::msg::Msg;
use crate::socket_type::SocketType;
use bytes::{Buf, Bytes, BytesMut};
use std::time::{Duration, Instant};

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

/// What the handshake told us about the peer. Identity, version and properties are kept for
/// the routing patterns and message properties built on top.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub(crate) struct PeerInfo {
    pub(crate) socket_type: SocketType,
    pub(crate) identity: Bytes,
    /// ZMTP minor version: 0 for a 3.0 peer (subscriptions travel as messages then).
    pub(crate) minor: u8,
    pub(crate) properties: Properties,
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
}

#[derive(Debug)]
enum State {
    Greeting,
    Handshake { minor: u8 },
    Active { minor: u8 },
    Failed(ProtocolError),
}

/// A sans-IO ZMTP 3.1 connection (NULL mechanism).
#[derive(Debug)]
pub(crate) struct Connection {
    config: Config,
    state: State,
    decoder: Decoder,
    out: OutQueue,
    liveness: Liveness,
}

impl Connection {
    /// A new connection; our greeting is queued for sending at once.
    pub(crate) fn new(config: Config) -> Connection {
        let mut out = OutQueue::default();
        out.push_raw(&Greeting::ours(Mechanism::Null, false).encode());
        Connection {
            decoder: Decoder::new(config.max_msg_size),
            config,
            state: State::Greeting,
            out,
            liveness: Liveness::default(),
        }
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
        buf: &mut BytesMut,
    ) -> Result<Option<Input>, ProtocolError> {
        let result = self.step(buf);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Input>, ProtocolError> {
        loop {
            match self.state {
                State::Failed(ref e) => return Err(e.clone()),
                State::Active { .. } => {
                    let Some(frame) = self.decoder.decode(buf)? else {
                        return Ok(None);
                    };
                    match frame {
                        RawFrame::Data(msg) => return Ok(Some(Input::Frame(msg))),
                        RawFrame::Command(body) => {
                            if let Some(input) = self.handle_command(Command::parse(body)?)? {
                                return Ok(Some(input));
                            }
                        }
                    }
                }
                State::Greeting => {
                    Greeting::check_prefix(&buf[..buf.len().min(11)])?;
                    if buf.len() < GREETING_LEN {
                        return Ok(None);
                    }
                    let mut raw = [0u8; GREETING_LEN];
                    raw.copy_from_slice(&buf[..GREETING_LEN]);
                    buf.advance(GREETING_LEN);
                    let peer = Greeting::decode(&raw)?;
                    if peer.mechanism != Mechanism::Null {
                        return Err(ProtocolError::MechanismMismatch {
                            ours: Mechanism::Null.name().into(),
                            theirs: peer.mechanism.name().into(),
                        });
                    }
                    self.send_ready();
                    self.state = State::Handshake { minor: peer.minor };
                }
                State::Handshake { minor } => {
                    let Some(frame) = self.decoder.decode(buf)? else {
                        return Ok(None);
                    };
                    let body = match frame {
                        RawFrame::Command(body) => body,
                        RawFrame::Data(_) => return Err(ProtocolError::Unexpected("data frame")),
                    };
                    match Command::parse(body)? {
                        Command::Ready(properties) => {
                            let peer = self.check_peer(properties, minor)?;
                            self.state = State::Active { minor };
                            // Heartbeats start with the connection; `now` is close enough
                            // to the last received byte (the READY just arrived).
                            if let (Some(ivl), Some(at)) =
                                (self.config.heartbeat_ivl, self.liveness.last_received)
                            {
                                self.liveness.next_ping = Some(at + ivl);
                            }
                            return Ok(Some(Input::Ready(peer)));
                        }
                        Command::Error(reason) => return Err(ProtocolError::PeerError(reason)),
                        _ => return Err(ProtocolError::Unexpected("command")),
                    }
                }
            }
        }
    }

    fn send_ready(&mut self) {
        let mut props = Properties::new();
        props.push("Socket-Type", self.config.socket_type.as_str().as_bytes());
        if self.config.socket_type.sends_identity() {
            props.push("Identity", self.config.identity.clone());
        }
        for (name, value) in &self.config.metadata {
            props.push(name, value.clone());
        }
        let mut data = Vec::new();
        props.encode(&mut data);
        self.out.push_command(&Command::encode("READY", &data));
    }

    fn check_peer(&self, properties: Properties, minor: u8) -> Result<PeerInfo, ProtocolError> {
        let socket_type = properties
            .get("Socket-Type")
            .and_then(|name| SocketType::from_wire(name))
            .ok_or(ProtocolError::BadSocketType)?;
        if !self.config.socket_type.is_compatible(socket_type) {
            return Err(ProtocolError::IncompatibleSocketType {
                ours: self.config.socket_type.as_str(),
                peer: socket_type.as_str().to_string(),
            });
        }
        let identity = properties.get("Identity").cloned().unwrap_or_default();
        Ok(PeerInfo {
            socket_type,
            identity,
            minor,
            properties,
        })
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(socket_type: SocketType) -> Config {
        Config {
            socket_type,
            identity: Bytes::new(),
            max_msg_size: None,
            heartbeat_ivl: None,
            heartbeat_ttl: Duration::ZERO,
            heartbeat_timeout: None,
            metadata: Vec::new(),
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
        for chunk in wire.chunks(step) {
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
}
