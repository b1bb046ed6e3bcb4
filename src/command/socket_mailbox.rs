//! A socket's command queue: how the I/O threads and inproc peers reach a socket that lives
//! in an application thread. Posting happens only on sleep→busy edges (a pipe became readable
//! or writable again, a pipe was attached), never per message.

use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{PipeEnds, Wake};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A command for a socket (rare: attach, and wake-ups on sleep→busy edges).
#[allow(clippy::large_enum_variant)]
pub(crate) enum SocketCommand {
    /// A new peer: its pipe ends, what its handshake said, and which of our endpoints (bind or
    /// connect) it belongs to.
    Attach {
        id: u64,
        ends: PipeEnds<Msg>,
        peer: PeerInfo,
        endpoint_id: u64,
        /// The other end belongs to a socket (inproc), not to a session.
        inproc: bool,
    },
    /// Pipe `id` may have become readable or writable (or closed).
    Wake(u64),
    /// The pipe `id`, made before its connection, has completed a handshake with `peer`.
    PeerReady { id: u64, peer: PeerInfo },
}

/// How long a blocked receive or send spins, watching for a command, before it sleeps, when
/// a peer is inproc: a peer socket that answers (or returns credit) within this time is seen
/// without a futex sleep and wake-up on either side: a PUSH at its high-water mark with an
/// inproc PULL would otherwise go to sleep, and be woken, again and again. Peers behind an
/// I/O thread get no spin: that thread busy-polls already (`ContextBuilder::busy_poll`), and
/// a second spinning thread per side takes the core from the threads that do the work, which
/// makes round trips longer on a machine with few cores. Long enough for an inproc peer's
/// prompt answer, short enough that a wait for a slow one costs little CPU.
const SPIN: Duration = Duration::from_micros(20);

/// After the spin, how long (from the start of the wait) a blocked call with an inproc peer
/// keeps looking between `yield_now`s before it sleeps: its CPU goes to any other runnable
/// thread, yet it is not asleep when the peer's post comes. On a VM a sleeping thread is
/// woken late (the host must run its halted virtual CPU again); meanwhile a PUSH fills its
/// high-water mark and sleeps too, and the two then wake each other late in turn. Yielding
/// for a while longer than the spin keeps both sides out of that cycle whenever the peer
/// answers within it, at the price of a thread that stays runnable (though it gives its CPU
/// away) until then.
const YIELD_UNTIL: Duration = Duration::from_micros(200);

/// Told that a socket's mailbox got a post (or its context terminated): how `poll` and the
/// readiness descriptor learn that a socket may have changed.
pub(crate) trait Observer: Send + Sync {
    /// Something was posted; called outside the mailbox lock.
    fn notify(&self);
}

struct Queue {
    commands: VecDeque<SocketCommand>,
    /// Threads asleep on the condition variable: only then does a post pay for a wake-up.
    sleepers: u32,
    /// Observers registered by `poll` (for the length of one call) or by the readiness
    /// descriptor (for the socket's life). Empty almost always: then a post pays nothing
    /// for them.
    observers: Vec<Arc<dyn Observer>>,
}

/// The queue plus a condition variable for a socket blocked in `send`/`recv`.
pub(crate) struct SocketMailbox {
    queue: Mutex<Queue>,
    cv: Condvar,
    /// Set while the queue is non-empty, so the hot path checks it without the lock.
    pending: AtomicBool,
    terminated: AtomicBool,
    /// The socket is closed: commands are dropped on arrival (their pipe ends with them, so
    /// the other side sees the pipe close).
    closed: AtomicBool,
    next_pipe_id: AtomicU64,
}

impl SocketMailbox {
    pub(crate) fn new() -> Arc<SocketMailbox> {
        Arc::new(SocketMailbox {
            queue: Mutex::new(Queue {
                commands: VecDeque::new(),
                sleepers: 0,
                observers: Vec::new(),
            }),
            cv: Condvar::new(),
            pending: AtomicBool::new(false),
            terminated: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            next_pipe_id: AtomicU64::new(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh pipe id for this socket.
    pub(crate) fn next_pipe_id(&self) -> u64 {
        self.next_pipe_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn post(&self, command: SocketCommand) {
        let mut queue = self.lock();
        if self.closed.load(Ordering::Relaxed) {
            drop(queue);
            drop(command);
            return;
        }
        queue.commands.push_back(command);
        self.pending.store(true, Ordering::Release);
        let sleeping = queue.sleepers > 0;
        if queue.observers.is_empty() {
            drop(queue);
        } else {
            let observers: smallvec::SmallVec<[Arc<dyn Observer>; 2]> =
                queue.observers.iter().cloned().collect();
            drop(queue);
            for observer in observers {
                observer.notify();
            }
        }
        if sleeping {
            self.cv.notify_one();
        }
    }

    /// Registers `observer`; it is notified after every post from now on. Registration takes
    /// the queue lock, so a post either sees the observer or happened before the caller's
    /// next look at the queue: whoever registers, then checks for pending commands, cannot
    /// miss one.
    pub(crate) fn observe(&self, observer: Arc<dyn Observer>) {
        self.lock().observers.push(observer);
    }

    /// Removes an observer registered with [`SocketMailbox::observe`] (compared by pointer).
    pub(crate) fn unobserve(&self, observer: &Arc<dyn Observer>) {
        let mut queue = self.lock();
        if let Some(pos) = queue
            .observers
            .iter()
            .position(|o| Arc::as_ptr(o) as *const () == Arc::as_ptr(observer) as *const ())
        {
            queue.observers.swap_remove(pos);
        }
    }

    /// The socket is closing: drop what is queued and everything posted from now on.
    pub(crate) fn close(&self) {
        let (pending, observers) = {
            let mut queue = self.lock();
            self.closed.store(true, Ordering::Relaxed);
            (
                std::mem::take(&mut queue.commands),
                std::mem::take(&mut queue.observers),
            )
        };
        drop(pending);
        drop(observers);
    }

    /// Marks the socket's context terminated and wakes a blocked call.
    pub(crate) fn terminate(&self) {
        let queue = self.lock();
        self.terminated.store(true, Ordering::Release);
        self.cv.notify_all();
        let observers = queue.observers.clone();
        drop(queue);
        for observer in observers {
            observer.notify();
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    /// Whether commands are waiting (cheap, no lock).
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Moves every waiting command into `out`.
    pub(crate) fn drain(&self, out: &mut VecDeque<SocketCommand>) {
        let mut queue = self.lock();
        out.append(&mut queue.commands);
        self.pending.store(false, Ordering::Release);
    }

    /// Blocks until a command arrives, the context terminates, or `deadline` passes.
    /// Returns false on timeout.
    pub(crate) fn wait(&self, deadline: Option<Instant>, spin: bool) -> bool {
        let start = Instant::now();
        let within = |limit: Duration| {
            let until = start + if spin { limit } else { Duration::ZERO };
            deadline.map_or(until, |d| d.min(until))
        };
        let spin_until = within(SPIN);
        let mut spins = 0u32;
        while !self.has_pending() && !self.is_terminated() {
            std::hint::spin_loop();
            spins += 1;
            if spins % 64 == 0 && Instant::now() >= spin_until {
                break;
            }
        }
        if spin {
            let yield_until = within(YIELD_UNTIL);
            while !self.has_pending() && !self.is_terminated() && Instant::now() < yield_until {
                std::thread::yield_now();
            }
        }
        let mut queue = self.lock();
        loop {
            if !queue.commands.is_empty() || self.is_terminated() {
                return true;
            }
            queue.sleepers += 1;
            let timed_out = match deadline {
                None => {
                    queue = self.cv.wait(queue).unwrap_or_else(|e| e.into_inner());
                    false
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        true
                    } else {
                        queue = self
                            .cv
                            .wait_timeout(queue, d - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                        false
                    }
                }
            };
            queue.sleepers -= 1;
            if timed_out {
                return false;
            }
        }
    }
}

/// Wakes a socket about one of its pipes.
pub(crate) struct SocketWake {
    pub(crate) mailbox: Arc<SocketMailbox>,
    pub(crate) pipe: u64,
}

impl Wake for SocketWake {
    fn wake(&self) {
        self.mailbox.post(SocketCommand::Wake(self.pipe));
    }
}
