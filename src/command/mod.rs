//! What the threads say to each other, and how pipes are wired between them. Application
//! threads (sockets) and I/O threads never call into each other: a socket posts
//! [`IoCommand`]s to an I/O thread's [`IoMailbox`], an I/O thread or another socket posts
//! [`SocketCommand`]s to a socket's [`SocketMailbox`], and a pipe wakes its reader or
//! writer through a [`SocketWake`] or an [`IoWake`]. Every pipe with a socket at one end is
//! made by [`socket_pipe`]. The inproc registry, where sockets of one context find each
//! other by name, lives here too: it is wiring between sockets, not a byte stream.
//!
//! This module knows the pipe and the command types; it knows nothing of socket patterns,
//! the wire or the poll loop.

mod inproc;
mod io_mailbox;
mod socket_mailbox;
mod wiring;

pub(crate) use inproc::{Binder, InprocRegistry, LateSocketWake, Pending, Registry};
pub(crate) use io_mailbox::{Done, IoCommand, IoMailbox, IoWake, Key, SocketRef};
pub(crate) use socket_mailbox::{Observer, SocketCommand, SocketMailbox, SocketWake};
pub(crate) use wiring::socket_pipe;
