//! The engine: everything about one peer that is not a syscall. It owns the ZMTP connection
//! while there is one (handshake, mechanism, ZAP verdict, heartbeats), the receive buffer,
//! the pipe to the socket with the state of the message streams through it (credit,
//! torn-message rollback), the deadlines (handshake, linger, reconnect) and the decision
//! to reconnect. The driver (`io::session`) owns the stream and the poll registration and
//! feeds the engine:
//!
//! * [`Engine::connected`] when a stream is up, [`Engine::handle_down`] when it is gone
//!   (after one try at [`Engine::last_words`]);
//! * [`Engine::handle_read`] to decode what is buffered, [`Engine::fill_from`] to read more
//!   into the buffer (from anything that implements `Read`);
//! * [`Engine::poll_transmit`] for the bytes to write;
//! * [`Engine::poll_timeout`] / [`Engine::handle_timeout`] for time, which is always passed
//!   in as `now`;
//! * [`Engine::close`] when the socket closes, [`Engine::is_finished`] to know when to go.
//!
//! Tests run two engines back to back in memory (`tests.rs`), with no socket and no sleep.

mod flow;

use super::zap_client::ZapClient;
use crate::buf::{ReadBuf, Received};
use crate::command::SocketRef;
use crate::monitor::EventKind;
use crate::msg::Msg;
use crate::peer::Properties;
use crate::pipe::{PipeEnds, Wake};
use crate::transport::Backoff;
use crate::zmtp::{Connection, Input, OutQueue, ProtocolError, LONG_HEADER};
use flow::{Flow, Outbound};
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an engine needs from the thread that drives it.
pub(crate) trait Host {
    /// The wake-up for this engine's side of a new pipe to its socket.
    fn pipe_wake(&self) -> Arc<dyn Wake>;
    /// Sends a ZAP request to the context's handler; `None` when no handler is bound.
    fn ask_zap(&self, request: Vec<Msg>) -> Option<ZapClient>;
}

/// Why a connection went down.
#[derive(Debug)]
pub(crate) enum Down {
    /// The peer closed the stream.
    Eof,
    /// The stream failed (or the connect did).
    Io(io::Error),
    /// The peer broke the protocol, was refused, or went silent (heartbeats).
    Protocol(ProtocolError),
    /// The handshake did not complete within `HANDSHAKE_IVL`.
    HandshakeTimeout,
}

/// What becomes of an engine whose connection went down.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterDown {
    /// It is done (an accepted peer, a connecter that does not reconnect, or a closing one
    /// with nothing left to deliver).
    Done,
    /// It connects again when [`Engine::handle_timeout`] says [`Due::Connect`].
    Reconnect,
}

/// What decoding the buffered bytes came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Everything buffered was taken: more bytes are wanted.
    WantsBytes,
    /// The socket's pipe is full: reading waits until it returns credit (a pipe wake-up).
    Paused,
}

/// What a timeout came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing that changes the engine's life (perhaps a PING to transmit).
    Nothing,
    /// Time to connect again.
    Connect,
    /// The linger ran out: the engine is done, whatever it still holds.
    Done,
}

/// The connection of an engine that has one.
struct Up {
    conn: Connection,
    /// The peer's address (the `Peer-Address` property; empty for ipc).
    peer_address: String,
    handshake_deadline: Option<Instant>,
    /// The ZAP handler is deciding about the peer.
    zap: Option<ZapClient>,
}

pub(crate) struct Engine {
    socket: Arc<SocketRef>,
    endpoint_id: u64,
    /// How logs name this peer.
    label: String,
    /// It connects (and reconnects); else it was accepted and ends with its connection.
    connecter: bool,
    up: Option<Box<Up>>,
    flow: Flow,
    rbuf: ReadBuf,
    backoff: Backoff,
    retry_at: Option<Instant>,
    closing: bool,
    linger_deadline: Option<Instant>,
}

impl Engine {
    /// An engine for a peer of `socket`'s endpoint `endpoint_id`, named `label` in logs. A
    /// connecter may start with the pipe its socket already holds (IMMEDIATE off).
    pub(crate) fn new(
        socket: Arc<SocketRef>,
        endpoint_id: u64,
        label: String,
        connecter: bool,
        pipe: Option<(u64, PipeEnds<Msg>)>,
    ) -> Engine {
        let backoff = Backoff::new(
            socket.options.reconnect_ivl,
            socket.options.reconnect_ivl_max,
        );
        Engine {
            socket,
            endpoint_id,
            label,
            connecter,
            up: None,
            flow: Flow::new(pipe),
            rbuf: ReadBuf::new(LONG_HEADER),
            backoff,
            retry_at: None,
            closing: false,
            linger_deadline: None,
        }
    }

    pub(crate) fn socket_id(&self) -> u64 {
        self.socket.id
    }

    pub(crate) fn endpoint_id(&self) -> u64 {
        self.endpoint_id
    }

    /// How logs name this peer.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The socket's linger, as configured when this endpoint was set up.
    pub(crate) fn linger(&self) -> Option<Duration> {
        self.socket.options.linger()
    }

    fn emit(&self, kind: EventKind) {
        self.socket.monitor.emit(kind, &self.socket.endpoint);
    }

    // ----- the connection's life --------------------------------------------------------

    /// A stream to the peer is up at `now`: the handshake starts (our greeting is queued).
    pub(crate) fn connected(&mut self, now: Instant, peer_address: String) {
        let options = &self.socket.options;
        let conn = Connection::new(options.zmtp_config(self.socket.socket_type));
        let handshake_deadline = options.handshake_ivl().map(|ivl| now + ivl);
        self.rbuf.clear();
        self.retry_at = None;
        self.up = Some(Box::new(Up {
            conn,
            peer_address,
            handshake_deadline,
            zap: None,
        }));
    }

    /// What is queued for the peer when its connection is about to be dropped (an ERROR
    /// refusing it, say): the driver gives it one try, never waiting.
    pub(crate) fn last_words(&mut self) -> Option<&mut OutQueue> {
        let out = self.up.as_mut()?.conn.out();
        (!out.is_empty()).then_some(out)
    }

    /// The connection is gone (or a connect failed): cleans up the message streams and
    /// decides what happens next.
    pub(crate) fn handle_down(&mut self, now: Instant, why: Down, stopping: bool) -> AfterDown {
        match &why {
            Down::Protocol(e) => log::info!("closing {}: {e}", self.label),
            Down::Io(e) => log::debug!("{} failed: {e}", self.label),
            Down::HandshakeTimeout => log::info!("the handshake of {} timed out", self.label),
            Down::Eof => log::debug!("{} closed by the peer", self.label),
        }
        if let Some(up) = self.up.take() {
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
        self.flow.connection_lost();
        if !self.connecter {
            return AfterDown::Done;
        }
        if self.socket.options.immediate {
            self.flow.detach();
        }
        if self.closing {
            self.flow.check_out_finished(stopping);
            if self.flow.pipe.is_none() || self.flow.outbound == Outbound::Finished {
                return AfterDown::Done;
            }
        }
        match self.backoff.next_delay(crate::random::random_u64()) {
            Some(delay) => {
                self.emit(EventKind::ConnectRetried(delay));
                self.retry_at = Some(now + delay);
                AfterDown::Reconnect
            }
            None => AfterDown::Done,
        }
    }

    /// The socket was closed (or the context is stopping) at `now`. Returns true when the
    /// engine is done at once (`LINGER` 0); otherwise it delivers what is queued for at
    /// most `linger` (forever for `None`).
    pub(crate) fn close(&mut self, now: Instant, linger: Option<Duration>) -> bool {
        if linger == Some(Duration::ZERO) {
            return true;
        }
        self.closing = true;
        if let Some(l) = linger {
            let at = now + l;
            self.linger_deadline = Some(self.linger_deadline.map_or(at, |d| d.min(at)));
        }
        false
    }

    /// Whether the engine has nothing left to do: it is closing, and everything the socket
    /// sent has been taken and is on the wire (or there is nobody to send it to).
    pub(crate) fn is_finished(&self) -> bool {
        if !self.closing {
            return false;
        }
        if self.flow.pipe.is_none() {
            return true;
        }
        if self.flow.outbound != Outbound::Finished {
            return false;
        }
        match &self.up {
            Some(up) => !up.conn.is_active() || up.conn.out_ref().is_empty(),
            None => true,
        }
    }

    // ----- time ---------------------------------------------------------------------------

    /// The next moment [`Engine::handle_timeout`] has something to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let connection = self.up.as_ref().and_then(|up| {
            if up.conn.is_active() {
                up.conn.next_timeout()
            } else {
                up.handshake_deadline
            }
        });
        [self.linger_deadline, connection, self.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Does what is due at `now`: the linger ends the engine, a handshake that ran out of
    /// time or a silent peer ends the connection, a PING is queued, a reconnect is due.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<Due, Down> {
        if self.linger_deadline.is_some_and(|d| now >= d) {
            return Ok(Due::Done);
        }
        if let Some(up) = &mut self.up {
            if up.conn.is_active() {
                up.conn.handle_timeout(now).map_err(Down::Protocol)?;
            } else if up.handshake_deadline.is_some_and(|d| now >= d) {
                return Err(Down::HandshakeTimeout);
            }
            return Ok(Due::Nothing);
        }
        if self.retry_at.is_some_and(|at| now >= at) {
            self.retry_at = None;
            return Ok(Due::Connect);
        }
        Ok(Due::Nothing)
    }

    // ----- the data path --------------------------------------------------------------------

    /// Reads once from `source` into the receive buffer, as much as the decoder can use
    /// (little while the handshake is under way). Returns what `read` returned.
    pub(crate) fn fill_from(&mut self, source: &mut impl Read, now: Instant) -> io::Result<usize> {
        let Some(up) = &mut self.up else {
            return Ok(0);
        };
        let n = self
            .rbuf
            .read_from(source, up.conn.wants(), !up.conn.is_active())?;
        if n > 0 {
            up.conn.note_received(now);
        }
        Ok(n)
    }

    /// Decodes the buffered bytes: frames go into the socket's pipe (flushed once for the
    /// whole batch), handshake steps advance, ZAP is asked. Stops when the bytes run out or
    /// the pipe is full.
    pub(crate) fn handle_read(&mut self, host: &impl Host) -> Result<Reading, Down> {
        let Some(up) = &mut self.up else {
            return Ok(Reading::WantsBytes);
        };
        take_zap_verdict(up)?;
        // Frames decoded earlier may wait for credit even when no new bytes came.
        if !self.flow.deliver_pending() {
            return Ok(Reading::Paused);
        }
        loop {
            // The common case first: small data frames, straight into the pipe, the buffer
            // advanced once for the whole run of them.
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
                return Ok(Reading::Paused);
            }
            let delivered = match up.conn.handle_input(&mut self.rbuf) {
                Ok(None) => break,
                Ok(Some(Input::Frame(msg))) => {
                    self.rbuf.note_frame(msg.len());
                    self.flow.deliver(msg)
                }
                Ok(Some(Input::Authenticate(request))) => {
                    let options = &self.socket.options;
                    let frames =
                        request.frames(&options.zap_domain, &up.peer_address, &options.routing_id);
                    up.zap = host.ask_zap(frames);
                    if up.zap.is_none() {
                        up.conn.zap_unavailable().map_err(Down::Protocol)?;
                    }
                    // Looking now also arms the pipe's wake-up for the reply.
                    take_zap_verdict(up)?;
                    true
                }
                Ok(Some(Input::Ready(mut peer))) => {
                    // What the connection knows of its peer beats what the peer says.
                    let mut known = Properties::new();
                    known.push("Peer-Address", up.peer_address.clone());
                    peer.properties.prepend(known);
                    self.socket
                        .monitor
                        .emit(EventKind::HandshakeSucceeded, &self.socket.endpoint);
                    up.handshake_deadline = None;
                    self.backoff.reset();
                    self.flow
                        .attach(&self.socket, self.endpoint_id, peer, host.pipe_wake());
                    true
                }
                Ok(Some(Input::Subscribe(topic))) => self.flow.deliver(Msg::prefixed(1, &topic)),
                Ok(Some(Input::Cancel(topic))) => self.flow.deliver(Msg::prefixed(0, &topic)),
                Err(e) => return Err(Down::Protocol(e)),
            };
            if !delivered {
                self.flow.flush_in();
                return Ok(Reading::Paused);
            }
        }
        self.flow.flush_in();
        Ok(Reading::WantsBytes)
    }

    /// The bytes to write next, after taking whole messages from the socket's pipe while
    /// the batch has room; `None` when there is nothing to write (or no connection). The
    /// driver writes what it can and advances the queue past it.
    pub(crate) fn poll_transmit(&mut self, stopping: bool) -> Option<&mut OutQueue> {
        let Some(up) = &mut self.up else {
            // Not connected: still notice a socket that closed with nothing left to send
            // (or, when the context is stopping, one that has nothing queued now: it can
            // send no more).
            if self.closing {
                self.flow.check_out_finished(stopping);
            }
            return None;
        };
        if up.conn.is_active() {
            self.flow.fill(&mut up.conn, stopping);
        }
        let out = up.conn.out();
        (!out.is_empty()).then_some(out)
    }
}

/// Hands the ZAP handler's verdict to the connection once it has come.
fn take_zap_verdict(up: &mut Up) -> Result<(), Down> {
    if let Some(verdict) = up.zap.as_mut().and_then(ZapClient::poll) {
        up.zap = None;
        verdict
            .and_then(|reply| up.conn.zap_reply(reply))
            .map_err(Down::Protocol)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
