//! Transports: endpoint parsing, TCP and IPC listeners and streams (mio). Nothing here knows
//! about socket patterns or pipes. (Inproc, a pipe between two sockets with no stream in
//! between, is wired in `command`.)

mod backoff;
mod dial;
mod endpoint;
mod ipc;
mod tcp;

pub(crate) use backoff::Backoff;
pub(crate) use dial::{connect_resolved, dial, Dial};
pub(crate) use endpoint::{Endpoint, Host};
pub(crate) use ipc::{bind_ipc, connect_ipc};
pub(crate) use tcp::{bind_tcp, configure_accepted, connect_tcp, resolve};

use mio::event::Source;
use mio::{Interest, Registry, Token};
use std::io::{self, IoSlice, Read, Write};

/// A connected byte stream of either kind.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Stream {
    /// The peer's address as text (`Peer-Address` property): the IP for TCP, empty for IPC.
    pub(crate) fn peer_address(&self) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            Stream::Unix(_) => String::new(),
        }
    }

    /// For a connect in progress: `Ok(true)` once connected, `Ok(false)` while pending.
    pub(crate) fn finish_connect(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Stream::Tcp(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
            Stream::Unix(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
        };
        if let Some(e) = err {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The stream as a socket2 socket, for sends with flags.
    fn socket(&self) -> socket2::SockRef<'_> {
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(s),
            Stream::Unix(s) => socket2::SockRef::from(s),
        }
    }
}

/// Flags for every send: a peer that went away must fail the write with `EPIPE`, never raise
/// SIGPIPE, whose default action kills the host process (every C program, and any Rust
/// program that restored the default). Where the platform has no `MSG_NOSIGNAL`, sockets get
/// `SO_NOSIGPIPE` when they are made instead (see [`no_sigpipe`]).
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
)))]
pub(crate) const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
))]
pub(crate) const SEND_FLAGS: libc::c_int = 0;

/// Marks a new socket so that writing to it after its peer left does not raise SIGPIPE, on
/// platforms that say so per socket (Apple's) rather than per send.
pub(crate) fn no_sigpipe(socket: socket2::SockRef<'_>) -> io::Result<()> {
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos"
    ))]
    socket.set_nosigpipe(true)?;
    let _ = socket;
    Ok(())
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

/// Writes go through `send`/`sendmsg` with [`SEND_FLAGS`], never `write`/`writev`.
impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket().send_with_flags(buf, SEND_FLAGS)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.socket().send_vectored_with_flags(bufs, SEND_FLAGS)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interests),
            Stream::Unix(s) => s.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interests),
            Stream::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}

/// A listening socket of either kind.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(mio::net::TcpListener),
    /// The path is removed when the listener is dropped, as libzmq does.
    Unix(mio::net::UnixListener, std::path::PathBuf),
}

impl Listener {
    /// Accepts one pending connection.
    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept()?;
                s.set_nodelay(true)?;
                no_sigpipe(socket2::SockRef::from(&s))?;
                Ok(Stream::Tcp(s))
            }
            Listener::Unix(l, _) => {
                let (s, _) = l.accept()?;
                no_sigpipe(socket2::SockRef::from(&s))?;
                Ok(Stream::Unix(s))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Source for Listener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(registry, token, interests),
            Listener::Unix(l, _) => l.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(registry, token, interests),
            Listener::Unix(l, _) => l.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(registry),
            Listener::Unix(l, _) => l.deregister(registry),
        }
    }
}
