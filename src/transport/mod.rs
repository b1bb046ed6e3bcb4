//! Transports: endpoint parsing, TCP and IPC listeners and streams (mio). Nothing here knows
//! about socket patterns or pipes. (Inproc, a pipe between two sockets with no stream in
//! between, is wired in `command`.)

mod backoff;
mod dial;
mod endpoint;
#[cfg(unix)]
mod ipc;
#[cfg(not(unix))]
#[path = "no_ipc.rs"]
mod ipc;
mod platform;
mod tcp;

pub(crate) use backoff::Backoff;
pub(crate) use dial::{connect_resolved, dial, Dial};
pub(crate) use endpoint::{Endpoint, Host};
pub(crate) use ipc::{bind_ipc, connect_ipc};
pub(crate) use platform::{is_resource_exhaustion, no_sigpipe, SEND_FLAGS};
pub(crate) use tcp::{bind_tcp, configure_accepted, connect_tcp, resolve};

use mio::event::Source;
use mio::{Interest, Registry, Token};
use std::io::{self, IoSlice, Read, Write};

/// A connected byte stream of either kind.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(mio::net::TcpStream),
    #[cfg(unix)]
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
            #[cfg(unix)]
            Stream::Unix(_) => String::new(),
        }
    }

    /// For a connect in progress: `Ok(true)` once connected, `Ok(false)` while pending.
    pub(crate) fn finish_connect(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Stream::Tcp(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
            #[cfg(unix)]
            Stream::Unix(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
        };
        if let Some(e) = err {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if platform::connect_in_progress(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The stream as a socket2 socket, for sends with flags.
    fn socket(&self) -> socket2::SockRef<'_> {
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(s),
            #[cfg(unix)]
            Stream::Unix(s) => socket2::SockRef::from(s),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
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
            #[cfg(unix)]
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
            #[cfg(unix)]
            Stream::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            #[cfg(unix)]
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}

/// A listening socket of either kind.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(mio::net::TcpListener),
    /// The path is removed when the listener is dropped, as libzmq does.
    #[cfg(unix)]
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
            #[cfg(unix)]
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
        #[cfg(unix)]
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
            #[cfg(unix)]
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
            #[cfg(unix)]
            Listener::Unix(l, _) => l.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(registry),
            #[cfg(unix)]
            Listener::Unix(l, _) => l.deregister(registry),
        }
    }
}
