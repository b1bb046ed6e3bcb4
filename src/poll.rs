//! `poll`: wait until any of several sockets, or raw file descriptors, can make progress.
//!
//! Level triggered, as libzmq's `zmq_poll`: a socket with a message waiting is reported
//! readable by every call until the message is received. Readiness comes from the socket's
//! pattern ([`Socket::events`]), which reads a message ahead when it must and keeps it.
//!
//! Waiting cannot lose a wake-up: every polled socket's mailbox gets an observer *before*
//! the sockets are looked at, and whatever can change a socket's readiness (a pipe waking,
//! a peer attaching, the context terminating) is a mailbox post, which notifies the
//! observer. So a change either happened before the look (and the look sees it) or after
//! (and the observer fires, ending the wait). Raw descriptors are watched with a `mio::Poll`
//! made for the call, whose `Waker` is then the observer.

use crate::command::Observer;
use crate::error::{Error, Result};
use crate::monitor::Monitor;
use crate::pipe::Wake;
use crate::socket::Socket;
#[cfg(unix)]
use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A set of poll events: [`POLLIN`], [`POLLOUT`], [`POLLERR`], combined with `|`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PollEvents(u8);

impl PollEvents {
    /// No event.
    pub const NONE: PollEvents = PollEvents(0);
    /// Input: a socket has a message to receive, a descriptor is readable.
    pub const IN: PollEvents = PollEvents(1);
    /// Output: a socket would accept a message, a descriptor is writable.
    pub const OUT: PollEvents = PollEvents(2);
    /// Reported (never needs asking) for a descriptor in an error state.
    pub const ERR: PollEvents = PollEvents(4);

    /// Whether every event of `other` is in `self`.
    pub fn contains(self, other: PollEvents) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// libzmq's bits (`ZMQ_POLLIN` 1, `ZMQ_POLLOUT` 2, `ZMQ_POLLERR` 4).
    pub fn bits(self) -> i16 {
        i16::from(self.0)
    }

    /// The events of libzmq's bits; other bits are ignored.
    pub fn from_bits(bits: i16) -> PollEvents {
        PollEvents((bits & 7) as u8)
    }
}

impl std::ops::BitOr for PollEvents {
    type Output = PollEvents;
    fn bitor(self, other: PollEvents) -> PollEvents {
        PollEvents(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for PollEvents {
    fn bitor_assign(&mut self, other: PollEvents) {
        self.0 |= other.0;
    }
}

impl std::ops::BitAnd for PollEvents {
    type Output = PollEvents;
    fn bitand(self, other: PollEvents) -> PollEvents {
        PollEvents(self.0 & other.0)
    }
}

impl std::fmt::Debug for PollEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = [(Self::IN, "IN"), (Self::OUT, "OUT"), (Self::ERR, "ERR")]
            .into_iter()
            .filter(|(e, _)| self.contains(*e))
            .map(|(_, n)| n)
            .collect();
        if names.is_empty() {
            f.write_str("PollEvents(NONE)")
        } else {
            write!(f, "PollEvents({})", names.join(" | "))
        }
    }
}

/// Poll for input: a socket has a message to receive, a descriptor is readable.
pub const POLLIN: PollEvents = PollEvents::IN;
/// Poll for output: a socket would accept a message, a descriptor is writable.
pub const POLLOUT: PollEvents = PollEvents::OUT;
/// Reported (never needs asking) for a descriptor in an error state.
pub const POLLERR: PollEvents = PollEvents::ERR;

/// How long `poll` spins, watching for a post, before it sleeps (as blocking calls do).
const SPIN: Duration = Duration::from_micros(20);

#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Socket(&'a Socket),
    Monitor(&'a Monitor),
    #[cfg(unix)]
    Fd(RawFd),
}

/// One thing to [`poll`]: a socket or a raw file descriptor, the events asked for, and after
/// the call the events that occurred.
#[derive(Debug, Clone, Copy)]
pub struct PollItem<'a> {
    source: Source<'a>,
    events: PollEvents,
    revents: PollEvents,
}

impl<'a> PollItem<'a> {
    /// Polls `socket` for `events` ([`POLLIN`] and/or [`POLLOUT`]).
    pub fn from_socket(socket: &'a Socket, events: PollEvents) -> PollItem<'a> {
        PollItem {
            source: Source::Socket(socket),
            events,
            revents: PollEvents::NONE,
        }
    }

    /// Polls `monitor` for an event to receive ([`POLLIN`]; `recv` would return at once).
    pub fn from_monitor(monitor: &'a Monitor) -> PollItem<'a> {
        PollItem {
            source: Source::Monitor(monitor),
            events: POLLIN,
            revents: PollEvents::NONE,
        }
    }

    #[cfg(unix)]
    /// Polls the file descriptor `fd` (any pollable one: a TCP socket, a pipe, stdin) for
    /// `events`. The descriptor must stay open during the call.
    pub fn from_fd(fd: RawFd, events: PollEvents) -> PollItem<'static> {
        PollItem {
            source: Source::Fd(fd),
            events,
            revents: PollEvents::NONE,
        }
    }

    /// The events asked for.
    pub fn events(&self) -> PollEvents {
        self.events
    }

    /// Changes the events asked for (the item can then be polled again).
    pub fn set_events(&mut self, events: PollEvents) {
        self.events = events;
    }

    /// The events that occurred in the last [`poll`] (a subset of those asked for, plus
    /// [`POLLERR`] for a descriptor).
    pub fn revents(&self) -> PollEvents {
        self.revents
    }

    /// [`POLLIN`] occurred.
    pub fn is_readable(&self) -> bool {
        self.revents.contains(POLLIN)
    }

    /// [`POLLOUT`] occurred.
    pub fn is_writable(&self) -> bool {
        self.revents.contains(POLLOUT)
    }

    /// [`POLLERR`] occurred (descriptors only).
    pub fn is_error(&self) -> bool {
        self.revents.contains(POLLERR)
    }

    /// The socket polled, if this item is one.
    pub fn socket(&self) -> Option<&'a Socket> {
        match self.source {
            Source::Socket(s) => Some(s),
            Source::Monitor(_) => None,
            #[cfg(unix)]
            Source::Fd(_) => None,
        }
    }
}

/// Waits until at least one item has an event asked for, or `timeout_ms` passes (`-1`: no
/// limit, `0`: look without waiting), and returns how many items have events; each item's
/// [`PollItem::revents`] says which.
///
/// Level triggered: a socket is readable while its pattern could deliver a message now (a
/// SUB only for a subscribed one, a REQ only for the reply it awaits), writable while a send
/// would not block. Polling never consumes a message.
///
/// ```
/// use zerosock::{poll, Context, PollItem, SocketType, POLLIN};
///
/// let ctx = Context::new();
/// let quiet = ctx.socket(SocketType::Pull)?;
/// quiet.bind("tcp://127.0.0.1:*")?;
/// let busy = ctx.socket(SocketType::Pull)?;
/// busy.bind("tcp://127.0.0.1:*")?;
///
/// let push = ctx.socket(SocketType::Push)?;
/// push.connect(&busy.last_endpoint().unwrap())?;
/// push.send("hello", 0)?;
///
/// let mut items = [
///     PollItem::from_socket(&quiet, POLLIN),
///     PollItem::from_socket(&busy, POLLIN),
/// ];
/// // Waits until the message has arrived, or 5 s at most.
/// assert_eq!(poll(&mut items, 5000)?, 1);
/// assert!(!items[0].is_readable());
/// assert!(items[1].is_readable());
/// assert_eq!(busy.recv(0)?, "hello");
/// # Ok::<(), zerosock::Error>(())
/// ```
///
/// # Errors
/// [`Error::Terminated`] when a polled socket's context is terminated, before the call or
/// while it waits. [`Error::Io`] when the operating system refuses to watch the raw
/// descriptors among the items (only a call with descriptor items asks it).
/// [`Error::WrongState`] for an empty `items` with no time limit (a negative `timeout_ms`),
/// which would wait forever.
pub fn poll(items: &mut [PollItem<'_>], timeout_ms: i64) -> Result<usize> {
    let deadline = deadline_after(timeout_ms);
    #[cfg(unix)]
    if items.iter().any(|i| matches!(i.source, Source::Fd(_))) {
        return poll_with_fds(items, timeout_ms, deadline);
    }
    let ready = scan_sockets(items)?;
    if ready > 0 || timeout_ms == 0 {
        return Ok(ready);
    }
    if items.is_empty() {
        return match deadline {
            Some(d) => {
                std::thread::sleep(d.saturating_duration_since(Instant::now()));
                Ok(0)
            }
            None => Err(Error::WrongState(
                "poll with no items and no timeout would wait forever",
            )),
        };
    }
    let signal = Arc::new(Signal::default());
    let _observing = Observing::start(items, signal.clone());
    loop {
        // Observed from here on: a change after this look ends the wait below.
        let ready = scan_sockets(items)?;
        if ready > 0 {
            return Ok(ready);
        }
        if !signal.wait(deadline) {
            return Ok(0);
        }
    }
}

fn deadline_after(timeout_ms: i64) -> Option<Instant> {
    (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64))
}

/// Sets `revents` of every socket item; returns how many items have events (descriptor
/// items keep what they have).
#[cfg_attr(not(unix), allow(irrefutable_let_patterns))]
fn scan_sockets(items: &mut [PollItem<'_>]) -> Result<usize> {
    let mut ready = 0;
    for item in items.iter_mut() {
        if let Source::Monitor(monitor) = item.source {
            item.revents = PollEvents::NONE;
            if item.events.contains(POLLIN) && monitor.is_ready() {
                item.revents = POLLIN;
                ready += 1;
            }
            continue;
        }
        if let Source::Socket(socket) = item.source {
            item.revents = PollEvents::NONE;
            if !(item.events & (POLLIN | POLLOUT)).is_empty() {
                let (readable, writable) = socket.poll_events()?;
                if readable {
                    item.revents |= item.events & POLLIN;
                }
                if writable {
                    item.revents |= item.events & POLLOUT;
                }
            }
        }
        if !item.revents.is_empty() {
            ready += 1;
        }
    }
    Ok(ready)
}

/// The observer of the sockets-only wait: a flag, and a condition variable for sleeping.
#[derive(Default)]
struct Signal {
    fired: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Observer for Signal {
    fn notify(&self) {
        self.fired.store(true, Ordering::Release);
        // Taking the lock orders this with a waiter between its check and its sleep.
        drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        self.cv.notify_all();
    }
}

impl Signal {
    /// Waits until notified (consuming the notification) or `deadline`; false on timeout.
    fn wait(&self, deadline: Option<Instant>) -> bool {
        let spin_until = Instant::now() + SPIN;
        let spin_until = deadline.map_or(spin_until, |d| d.min(spin_until));
        let mut spins = 0u32;
        while !self.fired.load(Ordering::Acquire) {
            std::hint::spin_loop();
            spins += 1;
            if spins % 64 == 0 && Instant::now() >= spin_until {
                break;
            }
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.fired.swap(false, Ordering::AcqRel) {
                return true;
            }
            guard = match deadline {
                None => self.cv.wait(guard).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.cv
                        .wait_timeout(guard, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

/// An observer registered on every polled socket, removed when dropped.
struct Observing<'a> {
    sockets: smallvec::SmallVec<[&'a Socket; 4]>,
    monitors: smallvec::SmallVec<[&'a Monitor; 2]>,
    observer: Arc<dyn Observer>,
    /// The observer as a monitor's watcher.
    watcher: Arc<dyn Wake>,
}

/// An observer, woken by a monitor's events.
struct Watcher(Arc<dyn Observer>);

impl Wake for Watcher {
    fn wake(&self) {
        self.0.notify();
    }
}

impl<'a> Observing<'a> {
    #[cfg_attr(not(unix), allow(irrefutable_let_patterns))]
    fn start(items: &[PollItem<'a>], observer: Arc<dyn Observer>) -> Observing<'a> {
        let mut sockets: smallvec::SmallVec<[&'a Socket; 4]> = smallvec::SmallVec::new();
        let mut monitors: smallvec::SmallVec<[&'a Monitor; 2]> = smallvec::SmallVec::new();
        let watcher: Arc<dyn Wake> = Arc::new(Watcher(observer.clone()));
        for item in items {
            match item.source {
                // The same socket twice needs one observer.
                Source::Socket(s) if !sockets.iter().any(|o| std::ptr::eq(*o, s)) => {
                    s.observe(observer.clone());
                    sockets.push(s);
                }
                Source::Monitor(m) if !monitors.iter().any(|o| std::ptr::eq(*o, m)) => {
                    m.watch(watcher.clone());
                    monitors.push(m);
                }
                _ => {}
            }
        }
        Observing {
            sockets,
            monitors,
            observer,
            watcher,
        }
    }
}

impl Drop for Observing<'_> {
    fn drop(&mut self) {
        for s in &self.sockets {
            s.unobserve(&self.observer);
        }
        for m in &self.monitors {
            m.unwatch(&self.watcher);
        }
    }
}

/// Wakes a `mio::Poll` when a socket's mailbox gets a post.
#[cfg(unix)]
struct WakerObserver(mio::Waker);

#[cfg(unix)]
impl Observer for WakerObserver {
    fn notify(&self) {
        let _ = self.0.wake();
    }
}

#[cfg(unix)]
const WAKER: mio::Token = mio::Token(usize::MAX);

/// `poll` with raw descriptors among the items (Unix: descriptors are what `mio` watches).
#[cfg(unix)]
fn poll_with_fds(
    items: &mut [PollItem<'_>],
    timeout_ms: i64,
    deadline: Option<Instant>,
) -> Result<usize> {
    use mio::unix::SourceFd;
    use mio::{Interest, Token};

    let mut os = mio::Poll::new()?;
    // Each descriptor once (epoll refuses duplicates), with the union of what is asked.
    let mut fds: Vec<(RawFd, Interest)> = Vec::new();
    for item in items.iter_mut() {
        if let Source::Fd(fd) = item.source {
            item.revents = PollEvents::NONE;
            let wanted = match (item.events.contains(POLLIN), item.events.contains(POLLOUT)) {
                (_, false) => Interest::READABLE,
                (false, true) => Interest::WRITABLE,
                (true, true) => Interest::READABLE | Interest::WRITABLE,
            };
            match fds.iter_mut().find(|(f, _)| *f == fd) {
                Some((_, interest)) => *interest = interest.add(wanted),
                None => fds.push((fd, wanted)),
            }
        }
    }
    for (token, (fd, interest)) in fds.iter().enumerate() {
        // Edge triggered, but registering reports the state the descriptor is already in.
        os.registry()
            .register(&mut SourceFd(fd), Token(token), *interest)?;
    }
    let waker: Arc<dyn Observer> = Arc::new(WakerObserver(mio::Waker::new(os.registry(), WAKER)?));
    let _observing = Observing::start(items, waker);
    let mut events = mio::Events::with_capacity(fds.len() + 1);
    // What each descriptor reported so far in this call.
    let mut seen: Vec<PollEvents> = vec![PollEvents::NONE; fds.len()];
    loop {
        let sockets_ready = scan_sockets(items)?;
        let fds_ready = seen.iter().any(|r| !r.is_empty());
        let timeout = if sockets_ready > 0 || fds_ready || timeout_ms == 0 {
            Some(Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_duration_since(Instant::now()))
        };
        match os.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        for event in events.iter() {
            if event.token() == WAKER {
                continue;
            }
            let Some(r) = seen.get_mut(event.token().0) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() {
                *r |= POLLIN;
            }
            if event.is_writable() || event.is_write_closed() {
                *r |= POLLOUT;
            }
            if event.is_error() {
                *r |= POLLERR;
            }
        }
        let mut ready = 0;
        for item in items.iter_mut() {
            if let Source::Fd(fd) = item.source {
                let token = fds.iter().position(|(f, _)| *f == fd).unwrap_or(0);
                item.revents = seen[token] & (item.events | POLLERR);
            }
            if !item.revents.is_empty() {
                ready += 1;
            }
        }
        let timed_out =
            timeout == Some(Duration::ZERO) || deadline.is_some_and(|d| Instant::now() >= d);
        if ready > 0 || timed_out {
            return Ok(ready);
        }
    }
}
