//! `proxy`: move whole messages between a frontend and a backend socket, both ways, as
//! libzmq's `zmq_proxy` and `zmq_proxy_steerable`, built on [`poll`](crate::poll).
//!
//! A message is received whole from one side and handed to the other; if the other side
//! cannot take it now (every peer at its high-water mark), the proxy keeps it and stops
//! reading that side until the other becomes writable, so it never busy-waits and never
//! drops. Works for ROUTER/DEALER (request-reply brokers: envelopes pass untouched),
//! XSUB/XPUB (forwarders: messages go down, subscriptions go up) and PULL/PUSH (streamers).

use crate::error::{Error, Result};
use crate::msg::Msg;
use crate::poll::{poll, PollEvents, PollItem, POLLIN, POLLOUT};
use crate::socket::{Socket, DONTWAIT, SNDMORE};
use crate::socket_type::SocketType;
use std::collections::VecDeque;

/// Messages moved in one direction before the proxy looks at the other one and at the
/// control socket again.
const BATCH: usize = 256;

/// Runs a proxy between `frontend` and `backend` until their context terminates, then
/// returns [`Error::Terminated`]. Every message received on one is sent whole to the other;
/// with a `capture` socket, a copy of each message goes there too (dropped if capture
/// cannot take it at once).
///
/// Typical pairs: ROUTER frontend with DEALER backend (a request-reply broker), XSUB
/// frontend with XPUB backend (a pub-sub forwarder), PULL frontend with PUSH backend.
///
/// A send the backend refuses for good (a ROUTER_MANDATORY socket with an unknown routing
/// id) drops that message and goes on; libzmq's proxy stops with the error instead.
///
/// A streamer between PUSH producers and PULL consumers, stopped by terminating its context:
///
/// ```
/// use zerosock::{proxy, Context, Error, SocketType};
///
/// let ctx = Context::new();
/// let frontend = ctx.socket(SocketType::Pull)?;
/// frontend.bind("tcp://127.0.0.1:*")?;
/// let backend = ctx.socket(SocketType::Push)?;
/// backend.bind("tcp://127.0.0.1:*")?;
/// let producers = frontend.last_endpoint().unwrap();
/// let consumers = backend.last_endpoint().unwrap();
/// let streamer = std::thread::spawn(move || proxy(&frontend, &backend, None));
///
/// let producer = ctx.socket(SocketType::Push)?;
/// producer.connect(&producers)?;
/// let consumer = ctx.socket(SocketType::Pull)?;
/// consumer.set_rcvtimeo(5000)?;
/// consumer.connect(&consumers)?;
/// producer.send("work", 0)?;
/// assert_eq!(consumer.recv(0)?, "work");
///
/// ctx.terminate();
/// assert!(matches!(streamer.join().unwrap(), Err(Error::Terminated)));
/// # Ok::<(), zerosock::Error>(())
/// ```
///
/// # Errors
/// [`Error::Terminated`] when the context terminates: the way a `proxy` ends. Any other
/// error a receive or send on `frontend` or `backend` reports ends it too, and is returned:
/// e.g. [`Error::WrongState`] when one side cannot send what the other received (a PULL
/// backend). [`Error::WouldBlock`] (the proxy waits) and [`Error::HostUnreachable`] (the
/// message is dropped) are not errors here, nor is anything the capture socket reports.
pub fn proxy(frontend: &Socket, backend: &Socket, capture: Option<&Socket>) -> Result<()> {
    Proxy::new(frontend, backend, capture, None).run()
}

/// A [`proxy`] that a `control` socket steers with one-frame commands, as libzmq's
/// `zmq_proxy_steerable`:
///
/// * `PAUSE`: stop moving messages (they queue up in the sockets, under their HWM);
/// * `RESUME`: move them again;
/// * `TERMINATE`: return `Ok(())`;
/// * `STATISTICS`: reply with eight 8-byte frames (native-endian `u64`): messages and bytes
///   received by the frontend, messages and bytes sent by the frontend, then the same four
///   for the backend.
///
/// When `control` is a REP socket, every other command gets an empty reply, so a REQ client
/// can steer it in lock-step. Unknown commands are ignored (libzmq aborts).
///
/// # Errors
/// As [`proxy`], and any error a receive on `control`, or the empty reply of a REP
/// `control`, reports (a `STATISTICS` reply that cannot be sent is only logged).
/// `TERMINATE` ends it with `Ok(())`; the context terminating, with [`Error::Terminated`].
pub fn proxy_steerable(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: &Socket,
) -> Result<()> {
    Proxy::new(frontend, backend, capture, Some(control)).run()
}

/// Messages and bytes through one socket, both ways (libzmq's order).
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    msgs_in: u64,
    bytes_in: u64,
    msgs_out: u64,
    bytes_out: u64,
}

/// One direction: a message received from `from` that `to` has not taken yet.
#[derive(Default)]
struct Held {
    frames: VecDeque<Msg>,
    bytes: u64,
}

struct Proxy<'a> {
    frontend: &'a Socket,
    backend: &'a Socket,
    /// Frontend and backend are the same socket: one direction only.
    same: bool,
    capture: Option<&'a Socket>,
    control: Option<&'a Socket>,
    paused: bool,
    /// Frontend → backend, backend → frontend.
    held: [Held; 2],
    stats: [Stats; 2],
}

enum Steer {
    Go,
    Terminate,
}

impl<'a> Proxy<'a> {
    fn new(
        frontend: &'a Socket,
        backend: &'a Socket,
        capture: Option<&'a Socket>,
        control: Option<&'a Socket>,
    ) -> Proxy<'a> {
        Proxy {
            frontend,
            backend,
            same: std::ptr::eq(frontend, backend),
            capture,
            control,
            paused: false,
            held: Default::default(),
            stats: Default::default(),
        }
    }

    fn run(mut self) -> Result<()> {
        loop {
            // Read a side only when its message can go on; watch the other side's output
            // while a message waits for it.
            let mut events = [PollEvents::NONE; 2];
            if !self.paused {
                for dir in 0..self.directions() {
                    if self.held[dir].frames.is_empty() {
                        events[dir] |= POLLIN;
                    } else {
                        events[1 - dir] |= POLLOUT;
                    }
                }
            }
            let mut items = [PollItem::from_socket(self.frontend, PollEvents::NONE); 3];
            let mut n = 1;
            if self.same {
                items[0].set_events(events[0] | events[1]);
            } else {
                items[0].set_events(events[0]);
                items[1] = PollItem::from_socket(self.backend, events[1]);
                n = 2;
            }
            if let Some(control) = self.control {
                items[n] = PollItem::from_socket(control, POLLIN);
                n += 1;
            }
            poll(&mut items[..n], -1)?;
            if self.control.is_some() && items[n - 1].is_readable() {
                if let Steer::Terminate = self.steer()? {
                    return Ok(());
                }
            }
            if !self.paused {
                for dir in 0..self.directions() {
                    // Item 0 is the frontend; item 1 the backend unless it is the same.
                    let (from, to) = match (self.same, dir) {
                        (true, _) => (0, 0),
                        (false, 0) => (0, 1),
                        (false, _) => (1, 0),
                    };
                    let go = if self.held[dir].frames.is_empty() {
                        items[from].is_readable()
                    } else {
                        items[to].is_writable()
                    };
                    if go {
                        self.pump(dir)?;
                    }
                }
            }
        }
    }

    fn directions(&self) -> usize {
        if self.same {
            1
        } else {
            2
        }
    }

    /// The sockets of direction `dir`: (from, to).
    fn ends(&self, dir: usize) -> (&'a Socket, &'a Socket) {
        if dir == 0 {
            (self.frontend, self.backend)
        } else {
            (self.backend, self.frontend)
        }
    }

    /// Moves up to `BATCH` messages in direction `dir`.
    fn pump(&mut self, dir: usize) -> Result<()> {
        let (from, to) = self.ends(dir);
        let to_stats = if self.same { dir } else { 1 - dir };
        for _ in 0..BATCH {
            if self.held[dir].frames.is_empty() && !self.take(from, dir)? {
                return Ok(());
            }
            let held = &mut self.held[dir];
            let Some(first) = held.frames.pop_front() else {
                return Ok(());
            };
            let flags = if held.frames.is_empty() { 0 } else { SNDMORE };
            let mut unsent = None;
            match to.send_keeping(first, flags | DONTWAIT, &mut unsent) {
                Ok(()) => {}
                Err(Error::WouldBlock) => {
                    if let Some(first) = unsent {
                        held.frames.push_front(first);
                    }
                    return Ok(());
                }
                Err(Error::HostUnreachable) => {
                    log::debug!("proxy: dropped an unroutable message");
                    held.frames.clear();
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Later frames of a started message are always accepted.
            while let Some(frame) = held.frames.pop_front() {
                let flags = if held.frames.is_empty() { 0 } else { SNDMORE };
                to.send(frame, flags)?;
            }
            let stats = &mut self.stats[to_stats];
            stats.msgs_out += 1;
            stats.bytes_out += held.bytes;
        }
        Ok(())
    }

    /// Receives one whole message from `from` into `held[dir]`; false if none is waiting.
    fn take(&mut self, from: &Socket, dir: usize) -> Result<bool> {
        let first = match from.recv(DONTWAIT) {
            Ok(m) => m,
            Err(Error::WouldBlock) => return Ok(false),
            Err(e) => return Err(e),
        };
        let held = &mut self.held[dir];
        let mut more = first.more();
        held.bytes = first.len() as u64;
        held.frames.push_back(first);
        while more {
            // The rest of a message is published with its first frame.
            let m = from.recv(0)?;
            more = m.more();
            held.bytes += m.len() as u64;
            held.frames.push_back(m);
        }
        let stats = &mut self.stats[dir];
        stats.msgs_in += 1;
        stats.bytes_in += held.bytes;
        if let Some(capture) = self.capture {
            capture_copy(capture, &held.frames);
        }
        Ok(true)
    }

    /// Handles every command waiting on the control socket.
    fn steer(&mut self) -> Result<Steer> {
        let Some(control) = self.control else {
            return Ok(Steer::Go);
        };
        loop {
            let command = match control.recv_multipart(DONTWAIT) {
                Ok(parts) => parts,
                Err(Error::WouldBlock) => return Ok(Steer::Go),
                Err(e) => return Err(e),
            };
            let name = command.first().map(|m| m.as_bytes()).unwrap_or_default();
            let mut replied = false;
            let mut steer = Steer::Go;
            match name {
                b"PAUSE" => self.paused = true,
                b"RESUME" => self.paused = false,
                b"TERMINATE" => steer = Steer::Terminate,
                b"STATISTICS" => {
                    let s = &self.stats;
                    let values = [
                        s[0].msgs_in,
                        s[0].bytes_in,
                        s[0].msgs_out,
                        s[0].bytes_out,
                        s[1].msgs_in,
                        s[1].bytes_in,
                        s[1].msgs_out,
                        s[1].bytes_out,
                    ];
                    let frames = values.map(|v| Msg::copy_from_slice(&v.to_ne_bytes()));
                    if let Err(e) = control.send_multipart(frames, DONTWAIT) {
                        log::warn!("proxy: cannot send statistics: {e}");
                    }
                    replied = true;
                }
                other => log::warn!(
                    "proxy: unknown control command {:?}",
                    String::from_utf8_lossy(other)
                ),
            }
            if !replied && control.socket_type() == SocketType::Rep {
                // A REP must answer before it can receive the next command.
                control.send(Msg::new(), DONTWAIT)?;
            }
            if let Steer::Terminate = steer {
                return Ok(steer);
            }
        }
    }
}

/// Sends a copy of a message to the capture socket, or nothing if it cannot take it now.
fn capture_copy(capture: &Socket, frames: &VecDeque<Msg>) {
    let last = frames.len().saturating_sub(1);
    for (i, frame) in frames.iter().enumerate() {
        let flags = if i < last { SNDMORE } else { 0 };
        let flags = if i == 0 { flags | DONTWAIT } else { flags };
        if let Err(e) = capture.send(frame.clone(), flags) {
            if i == 0 {
                log::trace!("proxy: capture skipped a message: {e}");
            } else {
                log::warn!("proxy: capture failed mid-message: {e}");
            }
            return;
        }
    }
}
