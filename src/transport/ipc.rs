//! IPC: Unix domain stream sockets. A socket file left behind by a dead process is detected
//! (nobody accepts on it) and replaced; a live one is `AddressInUse`.

use super::{Listener, Stream};
use crate::error::{Error, Result};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Binds a Unix listener at `path`, or at a fresh temporary path for `ipc://*`.
pub(crate) fn bind_ipc(path: Option<&Path>) -> Result<(Listener, PathBuf)> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => fresh_path(),
    };
    if path.exists() {
        match std::os::unix::net::UnixStream::connect(&path) {
            Ok(_) => return Err(Error::AddressInUse(path.display().to_string())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                log::debug!("removing stale ipc socket file {}", path.display());
                std::fs::remove_file(&path)?;
            }
            Err(_) => {}
        }
    }
    let listener = match mio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            return Err(Error::AddressInUse(path.display().to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    Ok((Listener::Unix(listener, path.clone()), path))
}

fn fresh_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("zerosock-{}-{nanos:x}-{n}.ipc", std::process::id()))
}

/// Starts a connect to a Unix socket (local connects complete or fail at once).
pub(crate) fn connect_ipc(path: &Path) -> io::Result<Stream> {
    let stream = mio::net::UnixStream::connect(path)?;
    super::no_sigpipe(socket2::SockRef::from(&stream))?;
    Ok(Stream::Unix(stream))
}
