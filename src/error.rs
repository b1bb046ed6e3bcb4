//! The one error type of the public API.

use std::io;

/// Everything that can go wrong in a zerosock call.
///
/// Each variant says what happened; the usual cause is in its documentation. The enum is
/// `#[non_exhaustive]`: match the variants you handle and keep a catch-all arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A non-blocking call (`DONTWAIT`) could not complete now: nothing to receive, or every
    /// peer's pipe is at its high-water mark. Libzmq calls this `EAGAIN`.
    #[error("operation would block")]
    WouldBlock,
    /// A blocking call ran out of `SNDTIMEO` / `RCVTIMEO` before it could complete.
    #[error("operation timed out")]
    TimedOut,
    /// The context was terminated (explicitly or by dropping it); every call on its sockets
    /// returns this from then on. Libzmq calls this `ETERM`.
    #[error("context was terminated")]
    Terminated,
    /// The call is not allowed in the socket's current state or for its type, e.g. `recv` on
    /// a PUSH socket. Libzmq calls this `EFSM` / `ENOTSUP`.
    #[error("operation not allowed in this state: {0}")]
    WrongState(&'static str),
    /// The endpoint string could not be parsed or names an unsupported transport.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `bind` on an address that is already bound (by this or another process). Libzmq calls
    /// this `EADDRINUSE`.
    #[error("address already in use: {0}")]
    AddressInUse(String),
    /// `unbind` / `disconnect` of an endpoint this socket never bound or connected.
    #[error("endpoint not found: {0}")]
    EndpointNotFound(String),
    /// A socket option value is out of its range.
    #[error("invalid value for option {option}: {reason}")]
    InvalidOption {
        /// The libzmq name of the option.
        option: &'static str,
        /// What range the value must be in.
        reason: &'static str,
    },
    /// The message cannot be routed: no peer can take it (e.g. ROUTER_MANDATORY with an
    /// unknown routing id). Libzmq calls this `EHOSTUNREACH`.
    #[error("host unreachable")]
    HostUnreachable,
    /// A peer broke the protocol. Only reported where a call is about one connection (the
    /// socket itself closes the offending connection and goes on with the others).
    #[error("protocol violation by peer: {0}")]
    Protocol(#[from] crate::zmtp::ProtocolError),
    /// The operating system refused an operation (bind on a privileged port, fd limits, ...).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A `Result` with zerosock's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
