//! Commands to an I/O thread, and the wake-up that makes its poll return.

use super::{InprocRegistry, SocketMailbox};
use crate::monitor::MonitorSlot;
use crate::msg::Msg;
use crate::options::Options;
use crate::pipe::{PipeEnds, Wake};
use crate::socket_type::SocketType;
use crate::transport::{Endpoint, Listener};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// An object of an I/O thread (a listener or a session): a slot index and the generation
/// the slot was filled in, so a stale token or timer never reaches an object that reused
/// the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) index: usize,
    pub(crate) generation: u32,
}

/// What an I/O thread knows of the socket a listener or session serves.
pub(crate) struct SocketRef {
    pub(crate) id: u64,
    pub(crate) mailbox: Arc<SocketMailbox>,
    pub(crate) socket_type: SocketType,
    /// The options in force when the endpoint was bound or connected.
    pub(crate) options: Options,
    /// Where events about this socket's connections go.
    pub(crate) monitor: Arc<MonitorSlot>,
    /// The endpoint as the user gave it (bound: as resolved), for events.
    pub(crate) endpoint: String,
    /// The context's inproc names, where its ZAP handler is bound.
    pub(crate) inproc: Arc<InprocRegistry>,
}

/// What an application thread (or a resolver thread) asks of an I/O thread. Commands are
/// rare (never per message), so their size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum IoCommand {
    /// Accept connections on `listener` for `socket`.
    Listen {
        listener: Listener,
        socket: Arc<SocketRef>,
        endpoint_id: u64,
    },
    /// Connect (and keep reconnecting) to `endpoint`. `pipe` is the session's side of a pipe
    /// the socket already attached (IMMEDIATE off), with its id and the waker to aim at the
    /// session once it exists.
    Connect {
        endpoint: Endpoint,
        socket: Arc<SocketRef>,
        endpoint_id: u64,
        pipe: Option<(u64, PipeEnds<Msg>, Arc<IoWake>)>,
    },
    /// A pipe or a name resolution of object `key` needs attention.
    Wake(Key),
    /// A name resolution for object `key` finished.
    Resolved(Key, std::io::Result<Vec<SocketAddr>>),
    /// Close listeners and connections that belong to `endpoint_id` of socket `socket_id`.
    /// `done` is signalled once the listeners are closed (so the address can be bound again).
    Unbind {
        socket_id: u64,
        endpoint_id: u64,
        done: Option<Done>,
    },
    /// The socket was closed: listeners go at once (then `done` is signalled), sessions finish
    /// within `linger`.
    SocketClosed {
        socket_id: u64,
        linger: Option<Duration>,
        done: Option<Done>,
    },
    /// The context is terminating: finish within each socket's linger, then exit.
    Stop,
}

/// Signalled by an I/O thread when it has carried out a command.
pub(crate) type Done = std::sync::mpsc::SyncSender<()>;

/// Makes an I/O thread's poll return (its poll's waker).
pub(crate) type Waker = Box<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// An I/O thread's command queue and poll waker.
pub(crate) struct IoMailbox {
    queue: Mutex<Vec<IoCommand>>,
    waker: Waker,
    /// Connections and listeners owned by the thread (to choose the least loaded).
    pub(crate) load: AtomicUsize,
}

impl IoMailbox {
    pub(crate) fn new(waker: Waker) -> IoMailbox {
        IoMailbox {
            queue: Mutex::new(Vec::new()),
            waker,
            load: AtomicUsize::new(0),
        }
    }

    /// Queues a command; the poll is woken only when the queue goes from empty to busy.
    pub(crate) fn post(&self, command: IoCommand) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = queue.is_empty();
        queue.push(command);
        drop(queue);
        if was_empty {
            if let Err(e) = (self.waker)() {
                log::error!("cannot wake I/O thread: {e}");
            }
        }
    }

    pub(crate) fn take(&self, into: &mut Vec<IoCommand>) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *queue, into);
    }

    pub(crate) fn load(&self) -> usize {
        self.load.load(Ordering::Relaxed)
    }
}

/// Wakes an I/O thread about one of its sessions. A pipe created before its session exists
/// gets the session's key when the session is made; no wake-up can be due before then,
/// because the session side has not read (and so cannot be asleep) yet.
pub(crate) struct IoWake {
    mailbox: Arc<IoMailbox>,
    key: OnceLock<Key>,
}

impl IoWake {
    pub(crate) fn new(mailbox: Arc<IoMailbox>) -> Arc<IoWake> {
        Arc::new(IoWake {
            mailbox,
            key: OnceLock::new(),
        })
    }

    pub(crate) fn aim(&self, key: Key) {
        let _ = self.key.set(key);
    }
}

impl Wake for IoWake {
    fn wake(&self) {
        if let Some(&key) = self.key.get() {
            self.mailbox.post(IoCommand::Wake(key));
        }
    }
}
