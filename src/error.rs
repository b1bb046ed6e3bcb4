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
    /// A blocking call ran out of `SNDTIMEO` / `RCVTIMEO` before it could complete. Libzmq
    /// reports this as `EAGAIN` too: [`Error::is_again`] is true for both.
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
    /// The operating system refused an operation on an endpoint: `bind` on a privileged port
    /// or an address this host does not have, an ipc path in a directory that does not
    /// exist, ...
    #[error("{endpoint}: {source}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A received message is not the UTF-8 text [`crate::Socket::recv_string`] was asked for;
    /// the frame is given back whole.
    #[error("message is not valid UTF-8")]
    NotUtf8(crate::Msg),
    /// The operating system refused an operation (fd limits, a thread that cannot start, ...).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Whether the call may succeed if tried again later: [`Error::WouldBlock`] (nothing to
    /// receive or no room to send now) and [`Error::TimedOut`] (the same, after waiting
    /// `RCVTIMEO` / `SNDTIMEO`). Both are libzmq's `EAGAIN`; match on this to treat them
    /// alike.
    pub fn is_again(&self) -> bool {
        matches!(self, Error::WouldBlock | Error::TimedOut)
    }
}

/// For code that speaks `std::io`: each error keeps its meaning as an [`io::ErrorKind`]
/// (would block, timed out, address in use, invalid input, ...), with this error as its
/// source; errors from the operating system come back as they were.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        use io::ErrorKind as K;
        let e = match e {
            Error::Io(inner) => return inner,
            other => other,
        };
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::WouldBlock => K::WouldBlock,
            Error::TimedOut => K::TimedOut,
            Error::Terminated => K::NotConnected,
            Error::WrongState(_) => K::Unsupported,
            Error::InvalidEndpoint { .. } | Error::InvalidOption { .. } => K::InvalidInput,
            Error::AddressInUse(_) => K::AddrInUse,
            Error::EndpointNotFound(_) => K::NotFound,
            Error::HostUnreachable => K::NotConnected,
            Error::Protocol(_) | Error::NotUtf8(_) => K::InvalidData,
            Error::Endpoint { source, .. } => source.kind(),
        };
        io::Error::new(kind, e)
    }
}

/// A frame [`crate::Socket::try_send`] could not send, and why.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SendError {
    /// Why it was not sent ([`Error::is_again`] when it may be sent later).
    pub error: Error,
    /// The frame, unsent. Always there when the send may pass later ([`Error::is_again`])
    /// or the context terminated; `None` when the socket type refused the frame outright (a
    /// PULL, a REQ out of turn, a ROUTER with `ROUTER_MANDATORY` and no peer for it), where
    /// sending it again cannot help.
    pub msg: Option<crate::Msg>,
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        e.error
    }
}

/// A `Result` with zerosock's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
