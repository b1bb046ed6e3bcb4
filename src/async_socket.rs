//! [`AsyncSocket`]: a socket for tokio tasks (feature `tokio`, Unix).
//!
//! It waits on the socket's readiness descriptor ([`Socket::readiness_fd`]), registered
//! with tokio as a Unix stream of its own (a duplicate of the descriptor, so tokio owns what
//! it watches and no raw descriptor changes hands), following the
//! descriptor's protocol: clear it and look at the socket ([`Socket::events`]), act while
//! the socket is ready, and wait only once it is not. Tokio forgets a readiness only when a
//! read of the descriptor finds nothing, so a mark made after the look is never lost.
//!
//! Every operation is cancel-safe: nothing happens to the socket at an `.await` point. A
//! send gives its frames to the socket all in one go or not at all (the first frame is the
//! only one that can be refused; the rest of a message is always taken), and a receive takes
//! a message off the socket only when it returns it.

use crate::error::{Error, Result};
use crate::msg::Msg;
use crate::socket::{Socket, DONTWAIT, SNDMORE};
use std::collections::VecDeque;
use std::io;

/// A [`Socket`] for tokio tasks: `send`, `recv` and their multipart forms as futures.
///
/// The methods take `&mut self`, so their futures are `Send` (a `Socket` may move between
/// threads but not be shared), and work in `select!` on the multi-thread and the
/// current-thread runtime. Options and other calls go through [`AsyncSocket::get_ref`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> zerosock::Result<()> {
/// use zerosock::{AsyncSocket, Context, SocketType};
///
/// let ctx = Context::new();
/// let rep = ctx.socket(SocketType::Rep)?;
/// rep.bind("tcp://127.0.0.1:*")?;
/// let endpoint = rep.last_endpoint().unwrap();
/// let mut rep = AsyncSocket::new(rep)?;
/// let server = tokio::spawn(async move {
///     let request = rep.recv().await?;
///     rep.send(format!("echo {}", String::from_utf8_lossy(&request))).await
/// });
///
/// let req = ctx.socket(SocketType::Req)?;
/// req.connect(&endpoint)?;
/// let mut req = AsyncSocket::new(req)?;
/// req.send("hello").await?;
/// assert_eq!(req.recv().await?, "echo hello");
/// server.await.unwrap()?;
/// # Ok(())
/// # }
/// ```
pub struct AsyncSocket {
    socket: Socket,
    /// The readiness descriptor, as tokio watches it.
    ready: tokio::net::UnixStream,
}

impl AsyncSocket {
    /// Wraps `socket` for async use. Call it inside a tokio runtime with its I/O driver
    /// enabled.
    ///
    /// # Errors
    /// [`Error::WrongState`] outside a tokio runtime; [`Error::Terminated`] if the socket's
    /// context is terminated; [`Error::Io`] if the readiness descriptor cannot be made or
    /// registered (the descriptor limit, a runtime without I/O).
    pub fn new(socket: Socket) -> Result<AsyncSocket> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::WrongState("AsyncSocket::new needs a tokio runtime"));
        }
        let watched = socket.readiness_stream()?;
        watched.set_nonblocking(true)?;
        let ready = tokio::net::UnixStream::from_std(watched)?;
        Ok(AsyncSocket { socket, ready })
    }

    /// The socket, for options, `bind`, `connect` and the other calls.
    pub fn get_ref(&self) -> &Socket {
        &self.socket
    }

    /// The socket back, for blocking use.
    pub fn into_inner(self) -> Socket {
        self.socket
    }

    /// Sends a one-frame message, waiting while the socket cannot take it (no peer, or every
    /// peer at its high-water mark). Cancel-safe: dropped before it completes, it has sent
    /// nothing.
    ///
    /// # Errors
    /// As [`Socket::send`], except that it waits instead of failing with
    /// [`Error::WouldBlock`] (`SNDTIMEO` does not apply).
    pub async fn send(&mut self, msg: impl Into<Msg>) -> Result<()> {
        self.send_multipart([msg.into()]).await
    }

    /// Sends a multipart message, all of it or (dropped before it completes) none of it.
    ///
    /// # Errors
    /// As [`AsyncSocket::send`].
    pub async fn send_multipart<I, T>(&mut self, parts: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<Msg>,
    {
        let mut rest: VecDeque<Msg> = parts.into_iter().map(Into::into).collect();
        let Some(first) = rest.pop_front() else {
            return Ok(());
        };
        let mut first = Some(first);
        self.when(Wait::Writable, |socket| {
            let Some(msg) = first.take() else {
                return Ok(Some(()));
            };
            let more = if rest.is_empty() { 0 } else { SNDMORE };
            match socket.try_send(msg, DONTWAIT | more) {
                Ok(()) => {}
                Err(refused) if refused.error.is_again() => {
                    first = refused.msg;
                    return Ok(None);
                }
                Err(refused) => return Err(refused.error),
            }
            // Taken: the rest of the message is always taken too, at once.
            while let Some(msg) = rest.pop_front() {
                let more = if rest.is_empty() { 0 } else { SNDMORE };
                socket.send(msg, more)?;
            }
            Ok(Some(()))
        })
        .await
    }

    /// Receives one frame ([`Msg::more`] says whether more of its message follow), waiting
    /// until there is one. Cancel-safe: dropped before it completes, it has taken nothing.
    ///
    /// # Errors
    /// As [`Socket::recv`], except that it waits instead of failing with
    /// [`Error::WouldBlock`] (`RCVTIMEO` does not apply).
    pub async fn recv(&mut self) -> Result<Msg> {
        self.when(Wait::Readable, |socket| match socket.recv(DONTWAIT) {
            Ok(msg) => Ok(Some(msg)),
            Err(Error::WouldBlock) => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    /// Receives a whole multipart message. Cancel-safe: the message is taken off the socket
    /// whole when the future completes, and not at all before.
    ///
    /// # Errors
    /// As [`AsyncSocket::recv`].
    pub async fn recv_multipart(&mut self) -> Result<Vec<Msg>> {
        self.when(Wait::Readable, |socket| {
            let first = match socket.recv(DONTWAIT) {
                Ok(msg) => msg,
                Err(Error::WouldBlock) => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut parts = vec![first];
            while parts.last().is_some_and(Msg::more) {
                // The rest of a message arrives with its first frame.
                parts.push(socket.recv(0)?);
            }
            Ok(Some(parts))
        })
        .await
    }

    /// Runs `op` whenever the socket may be ready for what it waits for, until `op` gives a
    /// value (`None`: it would block after all). `op` must leave nothing half done when it
    /// returns `None`.
    async fn when<R>(
        &mut self,
        wait: Wait,
        mut op: impl FnMut(&Socket) -> Result<Option<R>>,
    ) -> Result<R> {
        loop {
            // Look first: a socket may be ready without any change to signal (a DEALER that
            // was writable all along, after an earlier wait was cancelled).
            // Clears the descriptor first: whatever happens from here on marks it again.
            let now = self.socket.events()?;
            let ready = match wait {
                Wait::Readable => now.readable,
                Wait::Writable => now.writable,
            };
            if ready {
                if let Some(value) = op(&self.socket)? {
                    return Ok(value);
                }
            }
            // Not ready (or no longer, by the time `op` looked): let tokio forget the
            // readiness it saw, by a read that finds the descriptor empty. A mark made since
            // the look is read here instead, tokio stays ready, and the next look sees what
            // made it.
            let mut drain = [0u8; 64];
            match self.ready.try_read(&mut drain) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
            self.ready.readable().await?;
        }
    }
}

#[derive(Clone, Copy)]
enum Wait {
    Readable,
    Writable,
}

impl std::fmt::Debug for AsyncSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSocket")
            .field("socket_type", &self.socket.socket_type())
            .finish()
    }
}
