//! A socket with its readiness descriptor made, for event loops that take what they watch
//! as [`AsFd`] (smol's `Async`, glib, `mio::unix::SourceFd`): the descriptor lives as long
//! as the value, so no raw descriptor changes hands.

use super::Socket;
use crate::error::Result;
use std::ops::Deref;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// A [`Socket`] that can be registered with an event loop through [`AsFd`]: the descriptor
/// is the socket's readiness descriptor (see [`Socket::readiness_fd`] for the protocol:
/// wait until it is readable, then call [`Socket::events`] and act while the socket is
/// ready). Dereferences to the socket.
///
/// ```
/// use std::os::fd::AsFd;
/// use zerosock::{Context, SocketType};
///
/// let ctx = Context::new();
/// let pull = ctx.socket(SocketType::Pull)?.into_pollable()?;
/// pull.bind("inproc://pollable")?;
/// let _fd = pull.as_fd(); // register it with the event loop
/// assert!(!pull.events()?.readable);
/// # Ok::<(), zerosock::Error>(())
/// ```
pub struct PollableSocket {
    socket: Socket,
    fd: OwnedFd,
}

impl Socket {
    /// Makes the readiness descriptor and returns the socket with it, for event loops that
    /// take an [`AsFd`].
    ///
    /// # Errors
    /// [`crate::Error::Terminated`]; [`crate::Error::Io`] when the descriptor cannot be
    /// made (the process is at its descriptor limit).
    pub fn into_pollable(self) -> Result<PollableSocket> {
        let fd = OwnedFd::from(self.readiness_stream()?);
        Ok(PollableSocket { socket: self, fd })
    }
}

impl PollableSocket {
    /// The socket back.
    pub fn into_inner(self) -> Socket {
        self.socket
    }
}

impl AsFd for PollableSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Deref for PollableSocket {
    type Target = Socket;

    fn deref(&self) -> &Socket {
        &self.socket
    }
}

impl std::fmt::Debug for PollableSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollableSocket")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}
