//! IPC where the platform has no Unix domain sockets: `ipc://` endpoints are refused when
//! they are parsed, so these are never reached; they fail the same way if they are.

use super::{Listener, Stream};
use crate::error::Result;
use std::io;
use std::path::{Path, PathBuf};

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "ipc:// needs Unix domain sockets, which this platform lacks",
    )
}

pub(crate) fn bind_ipc(_path: Option<&Path>) -> Result<(Listener, PathBuf)> {
    Err(unsupported().into())
}

pub(crate) fn connect_ipc(_path: &Path) -> io::Result<Stream> {
    Err(unsupported())
}
