//! Socket monitoring: what happens to a socket's connections, as events.
//!
//! [`crate::Socket::monitor`] returns a [`Monitor`] that receives [`Event`]s: connections made,
//! delayed and retried, listeners up, connections accepted, handshakes done or failed,
//! disconnections and closes, each with the endpoint it concerns. The I/O threads report
//! into a bounded queue; when the application does not keep up, the oldest events are
//! dropped and [`Monitor::dropped`] counts them (a monitor never blocks or slows the socket).

use crate::pipe::Wake;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Events a monitor queues before dropping the oldest.
const CAPACITY: usize = 4096;

/// What happened. Names follow libzmq's `ZMQ_EVENT_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A connect completed at the transport level (`ZMQ_EVENT_CONNECTED`).
    Connected,
    /// A connect could not complete at once and will be retried (`CONNECT_DELAYED`).
    ConnectDelayed,
    /// A reconnect is scheduled after this interval (`CONNECT_RETRIED`).
    ConnectRetried(Duration),
    /// A listener is up (`LISTENING`).
    Listening,
    /// `bind` failed (`BIND_FAILED`), with the OS error text.
    BindFailed(String),
    /// A connection was accepted (`ACCEPTED`).
    Accepted,
    /// Accepting failed (`ACCEPT_FAILED`), with the OS error text.
    AcceptFailed(String),
    /// A listener was closed (`CLOSED`).
    Closed,
    /// An established connection went away (`DISCONNECTED`).
    Disconnected,
    /// The ZMTP handshake completed (`HANDSHAKE_SUCCEEDED`).
    HandshakeSucceeded,
    /// The handshake failed for a protocol reason (`HANDSHAKE_FAILED_PROTOCOL`).
    HandshakeFailedProtocol(String),
    /// The handshake failed on authentication (`HANDSHAKE_FAILED_AUTH`), with the status.
    HandshakeFailedAuth(u32),
    /// The monitor was stopped (`MONITOR_STOPPED`); no events follow.
    MonitorStopped,
}

impl EventKind {
    /// The libzmq event number (`ZMQ_EVENT_*`).
    pub fn libzmq_id(&self) -> u16 {
        match self {
            EventKind::Connected => 0x0001,
            EventKind::ConnectDelayed => 0x0002,
            EventKind::ConnectRetried(_) => 0x0004,
            EventKind::Listening => 0x0008,
            EventKind::BindFailed(_) => 0x0010,
            EventKind::Accepted => 0x0020,
            EventKind::AcceptFailed(_) => 0x0040,
            EventKind::Closed => 0x0080,
            EventKind::Disconnected => 0x0200,
            EventKind::MonitorStopped => 0x0400,
            EventKind::HandshakeFailedProtocol(_) => 0x2000,
            EventKind::HandshakeSucceeded => 0x1000,
            EventKind::HandshakeFailedAuth(_) => 0x4000,
        }
    }
}

/// One monitor event: what happened and to which endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The endpoint concerned (`tcp://127.0.0.1:5555`, as bound or connected).
    pub endpoint: String,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    stopped: bool,
}

/// The shared queue between the reporting threads and the [`Monitor`].
#[derive(Default)]
pub(crate) struct Sink {
    queue: Mutex<Queue>,
    cv: Condvar,
    dropped: AtomicU64,
    /// Woken on every event (a `poll` waiting on this monitor among other items).
    watchers: Mutex<Vec<Arc<dyn Wake>>>,
}

impl Sink {
    fn push(&self, event: Event) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.stopped {
            return;
        }
        if q.events.len() == CAPACITY {
            q.events.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.events.push_back(event);
        drop(q);
        self.cv.notify_one();
        for watcher in self
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            watcher.wake();
        }
    }

    fn stop(&self) {
        self.push(Event {
            kind: EventKind::MonitorStopped,
            endpoint: String::new(),
        });
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
    }
}

/// Where a socket reports its events: shared by the socket and every listener and session
/// that works for it, so a monitor started later still hears from all of them.
#[derive(Default)]
pub(crate) struct MonitorSlot {
    sink: Mutex<Option<Arc<Sink>>>,
}

impl MonitorSlot {
    /// Reports an event if a monitor is attached.
    pub(crate) fn emit(&self, kind: EventKind, endpoint: &str) {
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(sink) = sink {
            sink.push(Event {
                kind,
                endpoint: endpoint.to_string(),
            });
        }
    }

    /// Attaches a new monitor, stopping the previous one.
    pub(crate) fn start(&self) -> Monitor {
        let sink = Arc::new(Sink::default());
        let old = self
            .sink
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(sink.clone());
        if let Some(old) = old {
            old.stop();
        }
        Monitor { sink }
    }

    /// Detaches the monitor (it receives `MonitorStopped`).
    pub(crate) fn stop(&self) {
        let old = self.sink.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(old) = old {
            old.stop();
        }
    }
}

/// Receives a socket's events. `Send`; can be moved to its own thread.
///
/// A bound socket reports its listener, then each connection accepted and its handshake:
///
/// ```
/// use std::time::Duration;
/// use zerosock::{Context, EventKind, SocketType};
///
/// let ctx = Context::new();
/// let pull = ctx.socket(SocketType::Pull)?;
/// let monitor = pull.monitor();
/// pull.bind("tcp://127.0.0.1:*")?;
/// let endpoint = pull.last_endpoint().unwrap();
///
/// let push = ctx.socket(SocketType::Push)?;
/// push.connect(&endpoint)?;
///
/// let mut events = Vec::new();
/// while let Some(event) = monitor.recv(Some(Duration::from_secs(5))) {
///     let done = event.kind == EventKind::HandshakeSucceeded;
///     events.push(event);
///     if done {
///         break;
///     }
/// }
/// let kinds: Vec<_> = events.iter().map(|e| e.kind.clone()).collect();
/// assert_eq!(
///     kinds,
///     [EventKind::Listening, EventKind::Accepted, EventKind::HandshakeSucceeded]
/// );
/// assert_eq!(events[0].endpoint, endpoint);
/// # Ok::<(), zerosock::Error>(())
/// ```
pub struct Monitor {
    sink: Arc<Sink>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

impl Monitor {
    /// Whether [`Monitor::recv`] would return at once: an event waits (or the monitor has
    /// stopped and `recv` would say so).
    pub(crate) fn is_ready(&self) -> bool {
        let q = self.sink.queue.lock().unwrap_or_else(|e| e.into_inner());
        !q.events.is_empty() || q.stopped
    }

    /// Has `watcher` woken on every event from now on (see `poll`).
    pub(crate) fn watch(&self, watcher: Arc<dyn Wake>) {
        self.sink
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(watcher);
    }

    /// Stops waking a watcher given to [`Monitor::watch`].
    pub(crate) fn unwatch(&self, watcher: &Arc<dyn Wake>) {
        self.sink
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| !Arc::ptr_eq(w, watcher));
    }

    /// The next event, waiting up to `timeout` (`None`: until one arrives or the monitor
    /// stops). Returns `None` on timeout, or once `MonitorStopped` has been received.
    pub fn recv(&self, timeout: Option<Duration>) -> Option<Event> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut q = self.sink.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(e) = q.events.pop_front() {
                return Some(e);
            }
            if q.stopped {
                return None;
            }
            match deadline {
                None => q = self.sink.cv.wait(q).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    q = self
                        .sink
                        .cv
                        .wait_timeout(q, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.sink
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .pop_front()
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.sink.dropped.load(Ordering::Relaxed)
    }
}
