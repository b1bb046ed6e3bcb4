//! The I/O thread: a mio poll loop over listeners and sessions, a command mailbox and a
//! timer heap. It owns every connection it is given for that connection's whole life.

use super::busy_poll::BusyPoll;
use super::objects::{Key, Slab};
use super::session::{Ctx, Session, Status, EMFILE_BACKOFF};
use crate::command::{IoCommand, IoMailbox, SocketRef};
use crate::monitor::EventKind;
use crate::transport::{self, Listener};
use mio::{Events, Interest, Poll, Token};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const WAKER: Token = Token(usize::MAX);

enum Object {
    Listener(ListenerObj),
    Session(Box<Session>),
}

struct ListenerObj {
    listener: Listener,
    socket: Arc<SocketRef>,
    endpoint_id: u64,
    /// Accepting paused (out of file descriptors) until then.
    retry_at: Option<Instant>,
}

struct IoThread {
    poll: Poll,
    mailbox: Arc<IoMailbox>,
    objects: Slab<Object>,
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    stopping: bool,
    /// While stopping: when to say which connections the context still waits for.
    linger_report_at: Option<Instant>,
    busy_poll: BusyPoll,
}

/// How long a stopping context may wait on lingering connections before saying so.
const LINGER_REPORT_AFTER: Duration = Duration::from_secs(1);

/// Starts an I/O thread that polls without sleeping for up to `busy_poll` after work (see
/// [`BusyPoll`]); returns its mailbox and handle.
pub(crate) fn spawn(
    index: usize,
    busy_poll: Duration,
) -> io::Result<(Arc<IoMailbox>, JoinHandle<()>)> {
    let poll = Poll::new()?;
    let waker = mio::Waker::new(poll.registry(), WAKER)?;
    let mailbox = Arc::new(IoMailbox::new(Box::new(move || waker.wake())));
    let mut thread = IoThread {
        poll,
        mailbox: mailbox.clone(),
        objects: Slab::new(),
        timers: BinaryHeap::new(),
        stopping: false,
        linger_report_at: None,
        busy_poll: BusyPoll::new(busy_poll),
    };
    let handle = std::thread::Builder::new()
        .name(format!("zerosock-io-{index}"))
        .spawn(move || thread.run())?;
    Ok((mailbox, handle))
}

impl IoThread {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        let mut commands = Vec::new();
        loop {
            let before = Instant::now();
            let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
            let idle = match (next_timer, self.linger_report_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
            .map(|at| at.saturating_duration_since(before));
            let timeout = self.busy_poll.timeout(before, idle);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("I/O thread poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            self.busy_poll.after_poll(Instant::now, !events.is_empty());
            if events.is_empty() && timeout == Some(Duration::ZERO) && idle != timeout {
                // Spinning (not a timer that is due): let any other runnable thread on this
                // core go first.
                std::thread::yield_now();
            }
            for event in events.iter() {
                if event.token() == WAKER {
                    continue;
                }
                let Some(key) = self.objects.key_at(event.token().0) else {
                    continue;
                };
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                let writable = event.is_writable() || event.is_write_closed() || event.is_error();
                self.dispatch(
                    key,
                    |obj, ctx| match obj {
                        Object::Session(s) => s.on_ready(readable, writable, ctx),
                        Object::Listener(_) => unreachable!("listeners are dispatched separately"),
                    },
                    Some((readable, writable)),
                );
            }
            self.mailbox.take(&mut commands);
            for command in commands.drain(..) {
                self.handle(command);
            }
            self.fire_timers();
            self.report_lingering();
            if self.stopping && self.objects.len() == 0 {
                break;
            }
        }
    }

    fn ctx(&mut self, key: Key) -> Ctx<'_> {
        Ctx {
            registry: self.poll.registry(),
            timers: &mut self.timers,
            mailbox: &self.mailbox,
            now: Instant::now(),
            key,
            stopping: self.stopping,
        }
    }

    /// Runs `f` on the session at `key`; removes it when it reports `Done`. Listener events
    /// are handled here directly (`ready` set).
    fn dispatch(
        &mut self,
        key: Key,
        f: impl FnOnce(&mut Object, &mut Ctx<'_>) -> Status,
        ready: Option<(bool, bool)>,
    ) {
        if let Some(Object::Listener(_)) = self.objects.get_mut(key) {
            if ready.is_some() {
                self.accept(key);
            }
            return;
        }
        let registry = self.poll.registry();
        let mut ctx = Ctx {
            registry,
            timers: &mut self.timers,
            mailbox: &self.mailbox,
            now: Instant::now(),
            key,
            stopping: self.stopping,
        };
        let Some(obj) = self.objects.get_mut(key) else {
            return;
        };
        if f(obj, &mut ctx) == Status::Done {
            self.remove(key);
        }
    }

    fn insert(&mut self, object: Object) -> Key {
        self.mailbox.load.fetch_add(1, Ordering::Relaxed);
        self.objects.insert(object)
    }

    fn remove(&mut self, key: Key) {
        if let Some(object) = self.objects.remove(key) {
            self.mailbox.load.fetch_sub(1, Ordering::Relaxed);
            if self.timers.len() > 64 && self.timers.len() > 4 * self.objects.len() {
                // Most timers are for objects that are gone (a handshake deadline outlives
                // its connection): forget them rather than keep them until they expire.
                let objects = &mut self.objects;
                self.timers
                    .retain(|Reverse((_, k))| objects.get_mut(*k).is_some());
                self.timers.shrink_to(2 * self.timers.len());
            }
            if let Object::Listener(mut l) = object {
                let _ = self.poll.registry().deregister(&mut l.listener);
                l.socket.monitor.emit(EventKind::Closed, &l.socket.endpoint);
            }
            // Sessions deregister by dropping their stream.
        }
    }

    fn accept(&mut self, key: Key) {
        loop {
            let Some(Object::Listener(l)) = self.objects.get_mut(key) else {
                return;
            };
            if l.retry_at.is_some() {
                return;
            }
            match l.listener.accept() {
                Ok(stream) => {
                    let socket = l.socket.clone();
                    socket.monitor.emit(EventKind::Accepted, &socket.endpoint);
                    let endpoint_id = l.endpoint_id;
                    if let Err(e) = transport::configure_accepted(&stream, &socket.options) {
                        log::debug!("cannot configure accepted connection: {e}");
                    }
                    let session_key = self.objects.vacant_key();
                    let mut ctx = self.ctx(session_key);
                    let session = Session::accepted(socket, endpoint_id, stream, &mut ctx);
                    let inserted = self.insert(Object::Session(Box::new(session)));
                    debug_assert_eq!(inserted, session_key);
                    // The peer may have sent its greeting already; edge-triggered polling
                    // would not tell us again.
                    self.dispatch(
                        inserted,
                        |obj, ctx| match obj {
                            Object::Session(s) => s.on_wake(ctx),
                            Object::Listener(_) => Status::Alive,
                        },
                        None,
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if transport::is_resource_exhaustion(&e) => {
                    l.socket
                        .monitor
                        .emit(EventKind::AcceptFailed(e.to_string()), &l.socket.endpoint);
                    // Leave the connection in the backlog and retry later: no busy loop.
                    log::warn!("accept failed ({e}); retrying in {EMFILE_BACKOFF:?}");
                    let at = Instant::now() + EMFILE_BACKOFF;
                    l.retry_at = Some(at);
                    self.timers.push(Reverse((at, key)));
                    return;
                }
                Err(e) => log::debug!("accept failed: {e}"),
            }
        }
    }

    fn handle(&mut self, command: IoCommand) {
        match command {
            IoCommand::Listen {
                mut listener,
                socket,
                endpoint_id,
            } => {
                if self.stopping {
                    // A bind that raced with termination: nobody will ever close it.
                    return;
                }
                let key = self.objects.vacant_key();
                if let Err(e) = self.poll.registry().register(
                    &mut listener,
                    Token(key.index),
                    Interest::READABLE,
                ) {
                    log::error!("cannot register listener: {e}");
                    return;
                }
                let inserted = self.insert(Object::Listener(ListenerObj {
                    listener,
                    socket,
                    endpoint_id,
                    retry_at: None,
                }));
                self.accept(inserted);
            }
            IoCommand::Connect {
                endpoint,
                socket,
                endpoint_id,
                pipe,
            } => {
                let key = self.objects.vacant_key();
                let mut ctx = self.ctx(key);
                let session = Session::connecter(socket, endpoint_id, endpoint, pipe, &mut ctx);
                let linger = session.linger();
                let key = self.insert(Object::Session(Box::new(session)));
                if self.stopping {
                    // A connect that raced with termination finishes like every other
                    // session: within its linger.
                    self.close_session(key, linger);
                }
            }
            IoCommand::Wake(key) => self.dispatch(
                key,
                |obj, ctx| match obj {
                    Object::Session(s) => s.on_wake(ctx),
                    Object::Listener(_) => Status::Alive,
                },
                None,
            ),
            IoCommand::Resolved(key, result) => self.dispatch(
                key,
                |obj, ctx| match obj {
                    Object::Session(s) => s.on_resolved(result, ctx),
                    Object::Listener(_) => Status::Alive,
                },
                None,
            ),
            IoCommand::Unbind {
                socket_id,
                endpoint_id,
                done,
            } => {
                for key in self.objects.keys() {
                    let matches = match self.objects.get_mut(key) {
                        Some(Object::Listener(l)) => {
                            l.socket.id == socket_id && l.endpoint_id == endpoint_id
                        }
                        Some(Object::Session(s)) => {
                            s.socket_id() == socket_id && s.endpoint_id() == endpoint_id
                        }
                        None => false,
                    };
                    if matches {
                        self.remove(key);
                    }
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            IoCommand::SocketClosed {
                socket_id,
                linger,
                done,
            } => {
                for key in self.objects.keys() {
                    match self.objects.get_mut(key) {
                        Some(Object::Listener(l)) if l.socket.id == socket_id => self.remove(key),
                        Some(Object::Session(s)) if s.socket_id() == socket_id => {
                            self.close_session(key, linger)
                        }
                        _ => {}
                    }
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            IoCommand::Stop => {
                self.stopping = true;
                self.linger_report_at = Some(Instant::now() + LINGER_REPORT_AFTER);
                for key in self.objects.keys() {
                    match self.objects.get_mut(key) {
                        Some(Object::Listener(_)) => self.remove(key),
                        Some(Object::Session(s)) => {
                            let linger = s.linger();
                            self.close_session(key, linger)
                        }
                        None => {}
                    }
                }
            }
        }
    }

    /// Tells session `key` its socket is gone: it finishes within `linger`.
    fn close_session(&mut self, key: Key, linger: Option<Duration>) {
        self.dispatch(
            key,
            |obj, ctx| match obj {
                Object::Session(s) => s.on_close(linger, ctx),
                Object::Listener(_) => Status::Alive,
            },
            None,
        )
    }

    /// Once a stopping context has waited `LINGER_REPORT_AFTER`, names every connection it
    /// still waits for: a context whose drop blocks should say why.
    fn report_lingering(&mut self) {
        if !self.linger_report_at.is_some_and(|at| Instant::now() >= at) {
            return;
        }
        self.linger_report_at = None;
        for key in self.objects.keys() {
            if let Some(Object::Session(s)) = self.objects.get_mut(key) {
                log::warn!(
                    "context terminating: still waiting (LINGER {}) for {} to deliver its \
                     queued messages; set a shorter LINGER on the socket to wait less",
                    match s.linger() {
                        Some(l) => format!("{} ms", l.as_millis()),
                        None => "infinite".to_string(),
                    },
                    s.describe()
                );
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match self.objects.get_mut(key) {
                Some(Object::Listener(l)) if l.retry_at.is_some_and(|t| t <= now) => {
                    l.retry_at = None;
                    self.accept(key);
                }
                Some(Object::Listener(_)) => {}
                Some(Object::Session(_)) => self.dispatch(
                    key,
                    |obj, ctx| match obj {
                        Object::Session(s) => s.on_timer(ctx),
                        Object::Listener(_) => Status::Alive,
                    },
                    None,
                ),
                None => {}
            }
        }
    }
}
