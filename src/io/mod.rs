//! The I/O threads: one mio poll loop each, driving listeners and sessions (one per
//! connection or connect endpoint). The application threads reach them only through
//! [`IoMailbox`] commands; data moves through pipes.

mod busy_poll;
mod mailbox;
mod objects;
mod session;
mod thread;
mod zap;

pub(crate) use mailbox::{Done, IoCommand, IoMailbox, IoWake};
pub(crate) use thread::spawn;

use crate::monitor::MonitorSlot;
use crate::options::Options;
use crate::socket::SocketMailbox;
use crate::socket_type::SocketType;
use std::sync::Arc;

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
    /// The socket's context, to reach its ZAP handler.
    pub(crate) ctx: std::sync::Weak<crate::context::CtxInner>,
}
