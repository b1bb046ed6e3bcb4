//! What differs between platforms for streams, named from the platform's own constants: the
//! send flags that keep SIGPIPE away from the host, how a non-blocking connect says it is
//! under way, and which accept errors mean the process ran out of resources.

use std::io;

/// Flags for every send: a peer that went away must fail the write with `EPIPE`, never raise
/// SIGPIPE, whose default action kills the host process (every C program, and any Rust
/// program that restored the default). Where the platform has no `MSG_NOSIGNAL`, sockets get
/// `SO_NOSIGPIPE` when they are made instead (see [`no_sigpipe`]); Windows has no SIGPIPE.
#[cfg(all(unix, not(target_vendor = "apple")))]
pub(crate) const SEND_FLAGS: std::os::raw::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(all(unix, not(target_vendor = "apple"))))]
pub(crate) const SEND_FLAGS: std::os::raw::c_int = 0;

/// Marks a new socket so that writing to it after its peer left does not raise SIGPIPE, on
/// platforms that say so per socket (Apple's) rather than per send.
pub(crate) fn no_sigpipe(socket: socket2::SockRef<'_>) -> io::Result<()> {
    #[cfg(target_vendor = "apple")]
    socket.set_nosigpipe(true)?;
    let _ = socket;
    Ok(())
}

/// Whether a non-blocking connect's error only says that it is under way.
pub(crate) fn connect_in_progress(e: &io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    e.kind() == io::ErrorKind::WouldBlock
}

/// Whether an accept failed because the process or the system ran out of descriptors or
/// memory: the connection waits in the backlog and accepting is retried later.
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    #[cfg(unix)]
    let exhausted = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
    #[cfg(windows)]
    let exhausted = [
        windows_sys::Win32::Networking::WinSock::WSAEMFILE,
        windows_sys::Win32::Networking::WinSock::WSAENOBUFS,
    ];
    #[cfg(not(any(unix, windows)))]
    let exhausted: [i32; 0] = [];
    e.raw_os_error()
        .is_some_and(|code| exhausted.contains(&code))
}
