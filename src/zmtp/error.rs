//! How a peer can break the protocol. Every variant closes the connection.

/// A violation of ZMTP by the peer. The connection is closed; other connections of the socket
/// are not affected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The greeting does not start with `0xFF ... 0x7F`.
    #[error("bad greeting signature")]
    BadSignature,
    /// The peer speaks a ZMTP major version below 3 (refused, as documented).
    #[error("unsupported ZMTP version {0}")]
    UnsupportedVersion(u8),
    /// The peer's security mechanism differs from ours, or is unknown.
    #[error("mechanism mismatch: we use {ours}, peer uses {theirs}")]
    MechanismMismatch {
        /// Our mechanism.
        ours: String,
        /// The peer's mechanism.
        theirs: String,
    },
    /// A frame has flag bits set that the RFC reserves.
    #[error("reserved frame flag bits set: {0:#04x}")]
    ReservedFlags(u8),
    /// A command frame has the MORE flag.
    #[error("command frame with MORE flag")]
    CommandWithMore,
    /// A frame is larger than `MAXMSGSIZE` (checked before anything is allocated).
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// The size the peer announced.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A command's body is not well formed (lengths run past the end, and so on).
    #[error("malformed {0} command")]
    MalformedCommand(&'static str),
    /// The READY command has no `Socket-Type`, or one we do not know.
    #[error("missing or unknown Socket-Type")]
    BadSocketType,
    /// The peer's socket type cannot talk to ours.
    #[error("incompatible socket type: {ours} cannot talk to {peer}")]
    IncompatibleSocketType {
        /// Our socket type.
        ours: &'static str,
        /// The peer's socket type.
        peer: String,
    },
    /// A command or frame arrived where the handshake does not allow it.
    #[error("unexpected {0} during the handshake")]
    Unexpected(&'static str),
    /// The peer sent an ERROR command.
    #[error("peer reported error: {0}")]
    PeerError(String),
    /// A READY arrived when the handshake was already done.
    #[error("duplicate READY")]
    DuplicateReady,
    /// The peer sent nothing within the heartbeat timeout (or the TTL it announced).
    #[error("heartbeat timeout: the peer went silent")]
    HeartbeatTimeout,
    /// Authentication is required (PLAIN server, or `ZAP_ENFORCE_DOMAIN`) but no ZAP handler
    /// is bound at `inproc://zeromq.zap.01`, or it went away before answering.
    #[error("no ZAP handler at inproc://zeromq.zap.01")]
    NoZapHandler,
    /// The ZAP handler's reply breaks RFC 27.
    #[error("malformed ZAP reply: {0}")]
    BadZapReply(&'static str),
    /// The ZAP handler refused the peer with this status (300, 400 or 500).
    #[error("authentication failed with ZAP status {0}")]
    AuthenticationFailed(u16),
}

impl ProtocolError {
    /// The ZAP status of an authentication failure, ours or the one the peer's `ERROR`
    /// reported (libzmq sends the status code as the reason), for monitor events.
    pub(crate) fn auth_status(&self) -> Option<u16> {
        match self {
            ProtocolError::AuthenticationFailed(status) => Some(*status),
            ProtocolError::PeerError(reason) => match reason.as_bytes() {
                [d @ b'3'..=b'5', b'0', b'0'] => Some(u16::from(d - b'0') * 100),
                _ => None,
            },
            _ => None,
        }
    }
}

impl From<crate::peer::Refused> for ProtocolError {
    fn from(refused: crate::peer::Refused) -> ProtocolError {
        match refused {
            crate::peer::Refused::BadSocketType => ProtocolError::BadSocketType,
            crate::peer::Refused::Incompatible { ours, peer } => {
                ProtocolError::IncompatibleSocketType {
                    ours: ours.as_str(),
                    peer: peer.as_str().to_string(),
                }
            }
        }
    }
}
