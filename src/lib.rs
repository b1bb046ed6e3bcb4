#![doc = include_str!("../README.md")]
//!
//! # Cargo features
//!
//! * `tokio` (off by default): `AsyncSocket`, a socket for tokio tasks (Unix only).
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(all(unix, feature = "tokio"))]
mod async_socket;
mod buf;
mod command;
mod context;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod io;
mod monitor;
mod msg;
mod options;
mod pattern;
mod peer;
mod pipe;
mod poll;
mod proxy;
mod random;
mod socket;
mod socket_type;
mod sync;
mod transport;
pub mod zap;
mod zmtp;

#[cfg(all(unix, feature = "tokio"))]
pub use async_socket::AsyncSocket;
/// The `bytes` crate, whose `Bytes` and `BytesMut` message bodies are made of
/// ([`Msg::buffer`] returns a `BytesMut`).
pub use bytes;
pub use context::{Context, ContextBuilder, DEFAULT_BUSY_POLL};
pub use error::{Error, Result, SendError};
pub use monitor::{Event, EventKind, Monitor};
pub use msg::Msg;
pub use options::DEFAULT_LINGER_MS;
pub use peer::Metadata;
pub use poll::{poll, PollEvents, PollItem, POLLERR, POLLIN, POLLOUT};
pub use proxy::{proxy, proxy_steerable};
#[cfg(unix)]
pub use socket::PollableSocket;
pub use socket::{Readiness, Socket, DONTWAIT, SNDMORE};
pub use socket_type::{SocketType, UnknownSocketType};
pub use zmtp::{Mechanism, ProtocolError};

/// A socket may move to another thread but never be shared between two:
///
/// ```
/// fn assert_send<T: Send>() {}
/// assert_send::<zerosock::Socket>();
/// assert_send::<zerosock::Context>();
/// ```
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<zerosock::Socket>();
/// ```
#[doc(hidden)]
pub mod thread_safety {}
