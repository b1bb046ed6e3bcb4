//! The readiness descriptor: a file descriptor that becomes readable whenever a socket may
//! have become readable or writable, so the socket can sit in someone else's event loop.
//!
//! It is one end of a Unix stream pair; the other end is written (one byte) by the socket's
//! mailbox observer on the first post after the descriptor was last cleared. Clearing reads
//! the descriptor empty and only then re-arms the observer, with an acquire-release swap, so
//! a post is never lost between the two: either the swap sees the observer's mark (and the
//! caller's next look at the socket sees what was posted), or the observer sees the re-armed
//! flag and writes a fresh byte.

use crate::command::{Observer, SocketMailbox};
use std::io::{self, Read};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The writing side, registered as an observer of the socket's mailbox.
struct FdSignal {
    writer: UnixStream,
    /// A byte was written (or is being written) and not yet cleared.
    signalled: AtomicBool,
}

impl Observer for FdSignal {
    fn notify(&self) {
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // Non-blocking; a full buffer means the descriptor is readable anyway. A reader
            // already closed fails the send quietly instead of raising SIGPIPE.
            let _ = socket2::SockRef::from(&self.writer)
                .send_with_flags(&[1], crate::transport::SEND_FLAGS);
        }
    }
}

/// The reading side, owned by the socket.
pub(crate) struct ReadinessFd {
    reader: UnixStream,
    signal: Arc<FdSignal>,
}

impl ReadinessFd {
    /// Creates the descriptor, readable at once (so a first wait never misses the state the
    /// socket is already in), and registers it with `mailbox`.
    pub(crate) fn new(mailbox: &SocketMailbox) -> io::Result<ReadinessFd> {
        let (reader, writer) = UnixStream::pair()?;
        crate::transport::no_sigpipe(socket2::SockRef::from(&writer))?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let signal = Arc::new(FdSignal {
            writer,
            signalled: AtomicBool::new(false),
        });
        signal.notify();
        mailbox.observe(signal.clone());
        Ok(ReadinessFd { reader, signal })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.reader.as_raw_fd()
    }

    /// The reading side again, as a stream of its own (the same open description).
    pub(crate) fn try_clone(&self) -> std::io::Result<UnixStream> {
        self.reader.try_clone()
    }

    /// Empties the descriptor and re-arms it. Call before looking at the socket.
    pub(crate) fn clear(&self) {
        let mut buf = [0u8; 64];
        loop {
            match (&self.reader).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break, // WouldBlock: empty
            }
        }
        // Acquire: if an observer marked the flag before this swap, what it was told about
        // (a post) is visible to our next look at the mailbox.
        self.signal.signalled.swap(false, Ordering::AcqRel);
    }
}
