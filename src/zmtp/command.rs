//! ZMTP commands: `name-len(1) name data`, and the metadata properties READY carries
//! (`name-len(1) name value-len(4, BE) value`). Every length is checked against what is
//! left before it is used.

use super::ProtocolError;
use bytes::{Buf, Bytes};

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Ready(Properties),
    Error(String),
    Ping {
        ttl_ds: u16,
        context: Bytes,
    },
    Pong {
        context: Bytes,
    },
    Subscribe(Bytes),
    Cancel(Bytes),
    /// A command we do not know; RFC 37 says to ignore it.
    Unknown,
}

/// PING context longer than this is truncated in the PONG (RFC 37: at most 16 bytes).
pub(crate) const MAX_PING_CONTEXT: usize = 16;

impl Command {
    /// Parses a command frame's body.
    pub(crate) fn parse(mut body: Bytes) -> Result<Command, ProtocolError> {
        let Some(&name_len) = body.first() else {
            return Err(ProtocolError::MalformedCommand("empty"));
        };
        let name_len = name_len as usize;
        if body.len() < 1 + name_len {
            return Err(ProtocolError::MalformedCommand("truncated name"));
        }
        body.advance(1);
        let name = body.split_to(name_len);
        let data = body;
        Ok(match &name[..] {
            b"READY" => Command::Ready(Properties::parse(data)?),
            b"ERROR" => {
                let Some(&len) = data.first() else {
                    return Err(ProtocolError::MalformedCommand("ERROR"));
                };
                if data.len() < 1 + len as usize {
                    return Err(ProtocolError::MalformedCommand("ERROR"));
                }
                Command::Error(String::from_utf8_lossy(&data[1..1 + len as usize]).into_owned())
            }
            b"PING" => {
                if data.len() < 2 {
                    return Err(ProtocolError::MalformedCommand("PING"));
                }
                let ttl_ds = u16::from_be_bytes([data[0], data[1]]);
                let context = data.slice(2..data.len().min(2 + MAX_PING_CONTEXT));
                Command::Ping { ttl_ds, context }
            }
            b"PONG" => Command::Pong { context: data },
            b"SUBSCRIBE" => Command::Subscribe(data),
            b"CANCEL" => Command::Cancel(data),
            _ => Command::Unknown,
        })
    }

    /// Encodes a command body (`name-len name data`).
    pub(crate) fn encode(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + name.len() + data.len());
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        out
    }
}

/// Metadata properties, in the order received. Names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Properties(Vec<(String, Bytes)>);

impl Properties {
    pub(crate) fn new() -> Properties {
        Properties(Vec::new())
    }

    pub(crate) fn push(&mut self, name: &str, value: impl Into<Bytes>) {
        self.0.push((name.to_string(), value.into()));
    }

    /// The value of property `name` (case-insensitive).
    pub(crate) fn get(&self, name: &str) -> Option<&Bytes> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Parses properties; any length running past the end is an error, never a panic.
    pub(crate) fn parse(mut data: Bytes) -> Result<Properties, ProtocolError> {
        let mut props = Vec::new();
        while !data.is_empty() {
            let name_len = data[0] as usize;
            if name_len == 0 || data.len() < 1 + name_len + 4 {
                return Err(ProtocolError::MalformedCommand("READY"));
            }
            data.advance(1);
            let name = data.split_to(name_len);
            let value_len = data.get_u32() as usize;
            if value_len > data.len() {
                return Err(ProtocolError::MalformedCommand("READY"));
            }
            let value = data.split_to(value_len);
            let name = std::str::from_utf8(&name)
                .map_err(|_| ProtocolError::MalformedCommand("READY"))?
                .to_string();
            props.push((name, value));
        }
        Ok(Properties(props))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for (name, value) in &self.0 {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value);
        }
    }
}

/// A peer's metadata: the properties of its READY command plus what the connection knows
/// (`Peer-Address`). Shared by every message received from that peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(Properties);

impl Metadata {
    pub(crate) fn new(properties: Properties) -> Metadata {
        Metadata(properties)
    }

    /// The value of property `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(|v| &v[..])
    }

    /// The value of property `name` as text, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every property, in the order the peer sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0 .0.iter().map(|(n, v)| (n.as_str(), &v[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_round_trip_and_case_insensitive_lookup() {
        let mut p = Properties::new();
        p.push("Socket-Type", &b"PUSH"[..]);
        p.push("Identity", Bytes::new());
        let mut data = Vec::new();
        p.encode(&mut data);
        let body = Command::encode("READY", &data);
        let Command::Ready(parsed) = Command::parse(Bytes::from(body)).unwrap() else {
            panic!("not READY")
        };
        assert_eq!(parsed, p);
        assert_eq!(
            parsed.get("socket-type").map(|v| &v[..]),
            Some(&b"PUSH"[..])
        );
    }

    #[test]
    fn truncations_are_errors() {
        let full = Command::encode("READY", b"\x0bSocket-Type\x00\x00\x00\x04PUSH");
        for cut in 1..full.len() - 1 {
            let r = Command::parse(Bytes::copy_from_slice(&full[..cut]));
            // A cut inside the name is still a name we don't know (ignored); any cut inside the
            // properties must be an error.
            if cut > 6 {
                assert!(r.is_err(), "cut at {cut}");
            }
        }
        let huge_value = Command::encode("READY", b"\x01a\xff\xff\xff\xff");
        assert!(Command::parse(Bytes::from(huge_value)).is_err());
        assert!(Command::parse(Bytes::from_static(b"\x09SUB")).is_err());
        assert!(Command::parse(Bytes::new()).is_err());
        assert!(Command::parse(Bytes::from_static(b"\x04PING\x00")).is_err());
    }

    #[test]
    fn ping_context_is_capped() {
        let mut data = vec![0, 10];
        data.extend_from_slice(&[7u8; 40]);
        let Command::Ping { ttl_ds, context } =
            Command::parse(Bytes::from(Command::encode("PING", &data))).unwrap()
        else {
            panic!()
        };
        assert_eq!(ttl_ds, 10);
        assert_eq!(context.len(), MAX_PING_CONTEXT);
    }
}
