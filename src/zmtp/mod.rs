//! ZMTP 3.1 (RFC 37, accepting 3.0 peers per RFC 23) as a sans-IO protocol core: bytes and
//! events in, bytes and events out. No sockets, threads or pipes here.

mod codec;
mod command;
mod connection;
mod error;
mod greeting;
mod zap_wire;

pub(crate) use codec::{Decoder, OutQueue, RawFrame, LONG_HEADER, MAX_SEGMENTS};
pub(crate) use connection::{Config, Connection, Input, Security};
pub use error::ProtocolError;
pub use greeting::Mechanism;
pub(crate) use greeting::{Greeting, GREETING_LEN};
pub(crate) use zap_wire::{ZapReply, ZAP_ENDPOINT, ZAP_VERSION};

/// Frame flag bits (RFC 37 §"Framing").
pub(crate) mod frame_flags {
    /// More frames follow in this message.
    pub const MORE: u8 = 0x01;
    /// The size is 8 bytes (big-endian) instead of 1.
    pub const LONG: u8 = 0x02;
    /// The frame is a command.
    pub const COMMAND: u8 = 0x04;
}
