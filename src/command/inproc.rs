//! The inproc registry: names bound in a context, and connects waiting for their binder.
//! Inproc peers share a pipe directly, socket to socket: no I/O thread, no copy.

use super::{SocketCommand, SocketMailbox};
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{PipeEnds, Wake};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A context's inproc names, shared by its sockets and by the I/O threads (which reach the
/// ZAP handler through it).
#[derive(Default)]
pub(crate) struct InprocRegistry(Mutex<Registry>);

impl InprocRegistry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A socket that bound an inproc name.
#[derive(Clone)]
pub(crate) struct Binder {
    pub(crate) socket_id: u64,
    pub(crate) mailbox: Arc<SocketMailbox>,
    pub(crate) peer: PeerInfo,
    /// The binder's options when it bound (high-water marks, conflation).
    pub(crate) options: crate::options::Options,
    pub(crate) endpoint_id: u64,
}

/// A connect made before the name was bound: the binder's ends wait here.
pub(crate) struct Pending {
    pub(crate) ends: PipeEnds<Msg>,
    pub(crate) peer: PeerInfo,
    pub(crate) wake: Arc<LateSocketWake>,
}

#[derive(Default)]
pub(crate) struct Registry {
    bound: HashMap<String, Binder>,
    pending: HashMap<String, Vec<Pending>>,
}

impl Registry {
    pub(crate) fn lookup(&self, name: &str) -> Option<&Binder> {
        self.bound.get(name)
    }

    /// Registers `binder` under `name`; returns false if the name is taken.
    pub(crate) fn bind(&mut self, name: &str, binder: Binder) -> bool {
        if self.bound.contains_key(name) {
            return false;
        }
        if let Some(waiting) = self.pending.remove(name) {
            for p in waiting {
                let id = binder.mailbox.next_pipe_id();
                p.wake.aim(binder.mailbox.clone(), id);
                binder.mailbox.post(SocketCommand::Attach {
                    id,
                    ends: p.ends,
                    peer: p.peer,
                    endpoint_id: binder.endpoint_id,
                    inproc: true,
                });
            }
        }
        self.bound.insert(name.to_string(), binder);
        true
    }

    pub(crate) fn unbind(&mut self, name: &str, socket_id: u64) -> bool {
        if self
            .bound
            .get(name)
            .is_some_and(|b| b.socket_id == socket_id)
        {
            self.bound.remove(name);
            true
        } else {
            false
        }
    }

    pub(crate) fn unbind_all(&mut self, socket_id: u64) {
        self.bound.retain(|_, b| b.socket_id != socket_id);
    }

    pub(crate) fn add_pending(&mut self, name: &str, pending: Pending) {
        self.pending
            .entry(name.to_string())
            .or_default()
            .push(pending);
    }
}

/// Wakes a socket that may not have bound yet (connect-before-bind). Until it binds, its
/// side of the pipe is unread, so no wake-up can be due.
pub(crate) struct LateSocketWake {
    target: OnceLock<(Arc<SocketMailbox>, u64)>,
}

impl LateSocketWake {
    pub(crate) fn new() -> Arc<LateSocketWake> {
        Arc::new(LateSocketWake {
            target: OnceLock::new(),
        })
    }

    pub(crate) fn aim(&self, mailbox: Arc<SocketMailbox>, pipe: u64) {
        let _ = self.target.set((mailbox, pipe));
    }
}

impl Wake for LateSocketWake {
    fn wake(&self) {
        if let Some((mailbox, pipe)) = self.target.get() {
            mailbox.post(SocketCommand::Wake(*pipe));
        }
    }
}
