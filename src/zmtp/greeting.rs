//! The 64-byte ZMTP greeting: signature, version, mechanism, as-server, filler.

use super::ProtocolError;

/// Length of a ZMTP 3.x greeting.
pub(crate) const GREETING_LEN: usize = 64;

/// A ZMTP security mechanism, as named in the greeting (`MECHANISM` in libzmq).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// No security (RFC 23); the default.
    Null,
    /// Clear-text username and password (RFC 24), checked by a ZAP handler.
    Plain,
    /// CurveZMQ (RFC 25/26); zerosock recognises it in greetings but does not speak it.
    Curve,
}

impl Mechanism {
    /// The name as it appears in the greeting.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::Plain => "PLAIN",
            Mechanism::Curve => "CURVE",
        }
    }
}

/// Our side of the greeting, and the parsed peer greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Greeting {
    pub(crate) major: u8,
    pub(crate) minor: u8,
    pub(crate) mechanism: Mechanism,
    pub(crate) as_server: bool,
}

impl Greeting {
    /// Our greeting: ZMTP 3.1.
    pub(crate) fn ours(mechanism: Mechanism, as_server: bool) -> Greeting {
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    pub(crate) fn encode(&self) -> [u8; GREETING_LEN] {
        let mut out = [0u8; GREETING_LEN];
        out[0] = 0xFF;
        out[9] = 0x7F;
        out[10] = self.major;
        out[11] = self.minor;
        let name = self.mechanism.name().as_bytes();
        out[12..12 + name.len()].copy_from_slice(name);
        out[32] = self.as_server as u8;
        out
    }

    /// Checks what can be checked from the first bytes, so a peer that is not ZMTP 3 is
    /// refused without waiting for the full greeting.
    pub(crate) fn check_prefix(bytes: &[u8]) -> Result<(), ProtocolError> {
        if !bytes.is_empty() && bytes[0] != 0xFF {
            return Err(ProtocolError::BadSignature);
        }
        if bytes.len() > 9 && bytes[9] & 0x01 != 0x01 {
            return Err(ProtocolError::BadSignature);
        }
        if bytes.len() > 10 && bytes[10] < 3 {
            return Err(ProtocolError::UnsupportedVersion(bytes[10]));
        }
        Ok(())
    }

    /// Parses a full greeting. Padding and filler are not validated (RFC 23).
    pub(crate) fn decode(bytes: &[u8; GREETING_LEN]) -> Result<Greeting, ProtocolError> {
        Self::check_prefix(bytes)?;
        let name = &bytes[12..32];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        let mechanism = match &name[..end] {
            b"NULL" => Mechanism::Null,
            b"PLAIN" => Mechanism::Plain,
            b"CURVE" => Mechanism::Curve,
            other => {
                return Err(ProtocolError::MechanismMismatch {
                    ours: String::new(),
                    theirs: String::from_utf8_lossy(other).into_owned(),
                })
            }
        };
        Ok(Greeting {
            major: bytes[10],
            minor: bytes[11],
            mechanism,
            as_server: bytes[32] == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let g = Greeting::ours(Mechanism::Null, false);
        let bytes = g.encode();
        assert_eq!(&bytes[..12], b"\xff\0\0\0\0\0\0\0\0\x7f\x03\x01");
        assert_eq!(Greeting::decode(&bytes).unwrap(), g);
        let mut bad = bytes;
        bad[0] = 0;
        assert_eq!(Greeting::decode(&bad), Err(ProtocolError::BadSignature));
        let mut v2 = bytes;
        v2[10] = 2;
        assert_eq!(
            Greeting::check_prefix(&v2[..11]),
            Err(ProtocolError::UnsupportedVersion(2))
        );
        let mut unknown = bytes;
        unknown[12..16].copy_from_slice(b"ABCD");
        assert!(Greeting::decode(&unknown).is_err());
        // A 3.0 peer and a future 3.x peer are fine.
        let mut v30 = bytes;
        v30[11] = 0;
        assert_eq!(Greeting::decode(&v30).unwrap().minor, 0);
    }
}
