//! The context: I/O threads, the inproc registry, and termination.

use crate::command::{Done, InprocRegistry, IoCommand, IoMailbox, Registry, SocketMailbox};
use crate::error::{Error, Result};
use crate::io;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Owns the I/O threads and creates sockets. Cheap to clone. Every socket holds the context
/// too (a helper may make a context, return a socket and drop the context): the context
/// terminates when its last clone and its last socket are dropped, or when
/// [`Context::terminate`] is called.
///
/// Terminating makes every blocked call on the context's sockets return
/// [`Error::Terminated`], lets each connection deliver what is queued for at most its
/// socket's `LINGER`, and then stops the I/O threads. It never waits for the application to
/// close its sockets.
#[derive(Clone)]
pub struct Context {
    handle: Arc<Handle>,
}

/// Terminates the context when the last `Context` clone (a socket holds one) goes.
struct Handle(Arc<CtxInner>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.terminate();
    }
}

/// An I/O thread's mailbox, and its handle until it is joined.
type IoThreadHandle = (Arc<IoMailbox>, Mutex<Option<JoinHandle<()>>>);

pub(crate) struct CtxInner {
    io: Vec<IoThreadHandle>,
    terminated: AtomicBool,
    sockets: Mutex<HashMap<u64, Arc<SocketMailbox>>>,
    inproc: Arc<InprocRegistry>,
    next_id: AtomicU64,
}

/// Configures a [`Context`].
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    io_threads: usize,
    busy_poll: Duration,
}

/// Default of [`ContextBuilder::busy_poll`].
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(200);

impl ContextBuilder {
    /// Number of I/O threads (default 1). One per core is the useful maximum; inproc-only
    /// programs may use 0.
    pub fn io_threads(mut self, n: usize) -> Self {
        self.io_threads = n;
        self
    }

    /// How long an I/O thread keeps polling its connections without sleeping after it had
    /// work (default [`DEFAULT_BUSY_POLL`], 200 µs; zero turns it off). A message that
    /// arrives within that time is handled without the cost of waking a sleeping thread,
    /// which dominates request/reply latency on many machines. The window adapts: a thread
    /// whose traffic comes further apart than this stops spinning after a few misses, so an
    /// idle or lightly loaded context spends no CPU on it; a window as long as the quiet
    /// spells of a connection keeps its thread spinning through them (`Duration::MAX`: a
    /// thread that never sleeps, a core per I/O thread). libzmq has no such setting (it
    /// always sleeps at once).
    pub fn busy_poll(mut self, window: Duration) -> Self {
        self.busy_poll = window;
        self
    }

    /// Starts the I/O threads.
    ///
    /// # Errors
    /// [`Error::Io`] when the system refuses a thread or a descriptor (e.g. `EMFILE` at the
    /// process's file-descriptor limit; each I/O thread holds two). A failed build leaves
    /// nothing behind: the threads it had started are stopped and joined and their
    /// descriptors closed before it returns.
    pub fn build(self) -> Result<Context> {
        let mut inner = CtxInner {
            io: Vec::with_capacity(self.io_threads),
            terminated: AtomicBool::new(false),
            sockets: Mutex::new(HashMap::new()),
            inproc: Arc::default(),
            next_id: AtomicU64::new(1),
        };
        for index in 0..self.io_threads {
            match io::spawn(index, self.busy_poll) {
                Ok((mailbox, handle)) => inner.io.push((mailbox, Mutex::new(Some(handle)))),
                Err(e) => {
                    log::warn!(
                        "cannot start I/O thread {} of {}: {e}",
                        index + 1,
                        self.io_threads
                    );
                    inner.terminate();
                    return Err(Error::Io(e));
                }
            }
        }
        Ok(Context {
            handle: Arc::new(Handle(Arc::new(inner))),
        })
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl Context {
    /// A context with one I/O thread.
    ///
    /// # Panics
    /// If the system refuses the I/O thread or its two descriptors (the process is at its
    /// thread or file-descriptor limit). [`Context::try_new`] returns that as an error.
    pub fn new() -> Context {
        match Context::try_new() {
            Ok(ctx) => ctx,
            Err(e) => panic!("zerosock: {e}"),
        }
    }

    /// A context with one I/O thread, or the system's refusal as an error.
    ///
    /// # Errors
    /// [`Error::Io`] when the I/O thread or its descriptors cannot be had; see
    /// [`ContextBuilder::build`].
    pub fn try_new() -> Result<Context> {
        Context::builder().build()
    }

    /// A builder for a context with other settings.
    pub fn builder() -> ContextBuilder {
        ContextBuilder {
            io_threads: 1,
            busy_poll: DEFAULT_BUSY_POLL,
        }
    }

    /// Terminates the context now (see the type's documentation). Blocks until every
    /// connection has delivered its queued messages or run out of linger.
    pub fn terminate(&self) {
        self.handle.0.terminate();
    }

    /// What the context's sockets share.
    pub(crate) fn inner(&self) -> &Arc<CtxInner> {
        &self.handle.0
    }
}

impl CtxInner {
    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register_socket(&self, id: u64, mailbox: Arc<SocketMailbox>) -> Result<()> {
        let mut sockets = lock(&self.sockets);
        if self.is_terminated() {
            return Err(Error::Terminated);
        }
        sockets.insert(id, mailbox);
        Ok(())
    }

    pub(crate) fn unregister_socket(&self, id: u64) {
        lock(&self.sockets).remove(&id);
        self.inproc.lock().unbind_all(id);
    }

    pub(crate) fn inproc(&self) -> MutexGuard<'_, Registry> {
        self.inproc.lock()
    }

    /// The inproc names, shared with the I/O threads.
    pub(crate) fn inproc_registry(&self) -> &Arc<InprocRegistry> {
        &self.inproc
    }

    /// The least loaded I/O thread.
    pub(crate) fn choose_io(&self) -> Result<&Arc<IoMailbox>> {
        self.io
            .iter()
            .map(|(m, _)| m)
            .min_by_key(|m| m.load())
            .ok_or(Error::WrongState("context has no I/O threads"))
    }

    /// Sends a command to every I/O thread.
    pub(crate) fn broadcast(&self, command: impl Fn() -> IoCommand) {
        for (mailbox, _) in &self.io {
            mailbox.post(command());
        }
    }

    /// Sends a command to every I/O thread and waits (boundedly) until each has carried it
    /// out, so that e.g. a closed listener's address can be bound again right away.
    pub(crate) fn broadcast_and_wait(&self, command: impl Fn(Done) -> IoCommand) {
        let (tx, rx) = std::sync::mpsc::sync_channel(self.io.len());
        for (mailbox, _) in &self.io {
            mailbox.post(command(tx.clone()));
        }
        drop(tx);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for _ in 0..self.io.len() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if rx.recv_timeout(left).is_err() {
                break; // the thread is gone or stuck: do not hang the caller
            }
        }
    }

    fn terminate(&self) {
        {
            let sockets = lock(&self.sockets);
            self.terminated.store(true, Ordering::Release);
            for mailbox in sockets.values() {
                mailbox.terminate();
            }
        }
        self.broadcast(|| IoCommand::Stop);
        for (_, handle) in &self.io {
            let handle = lock(handle).take();
            if let Some(h) = handle {
                if h.join().is_err() {
                    log::error!("an I/O thread panicked");
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
