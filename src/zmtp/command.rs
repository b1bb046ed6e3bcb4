//! ZMTP commands: `name-len(1) name data`. Every length is checked against what is left
//! before it is used; the metadata properties READY and INITIATE carry are parsed by
//! [`crate::peer::Properties`].

use super::ProtocolError;
use crate::peer::Properties;
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
    /// PLAIN (RFC 24): the client's credentials.
    Hello {
        username: Bytes,
        password: Bytes,
    },
    /// PLAIN: the server accepted the credentials.
    Welcome,
    /// PLAIN: the client's metadata, as READY carries it.
    Initiate(Properties),
    /// A command we do not know; RFC 37 says to ignore it.
    Unknown,
}

/// PING context longer than this is truncated in the PONG (RFC 37: at most 16 bytes).
pub(crate) const MAX_PING_CONTEXT: usize = 16;

impl Command {
    /// Parses a command frame's body.
    pub(crate) fn parse(mut body: Bytes) -> Result<Command, ProtocolError> {
        if body.starts_with(LIBZMQ_PLAIN_ERROR) {
            body.advance(LIBZMQ_PLAIN_ERROR.len());
            return parse_error(&body);
        }
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
            b"READY" => Command::Ready(
                Properties::parse(data).map_err(|_| ProtocolError::MalformedCommand("READY"))?,
            ),
            b"ERROR" => parse_error(&data)?,
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
            b"HELLO" => parse_hello(data)?,
            b"WELCOME" if data.is_empty() => Command::Welcome,
            b"WELCOME" => return Err(ProtocolError::MalformedCommand("WELCOME")),
            b"INITIATE" => Command::Initiate(
                Properties::parse(data).map_err(|_| ProtocolError::MalformedCommand("INITIATE"))?,
            ),
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

/// The start of the ERROR command libzmq 4.3's PLAIN mechanism sends and expects: its
/// source spells the name `"\x05ERROR"`, which C reads as the byte 0x5E followed by `RROR`
/// (the hex escape swallows the `E`). zerosock sends the correct `\x05ERROR` and also reads
/// this form, so a libzmq PLAIN server's refusal is understood as one.
const LIBZMQ_PLAIN_ERROR: &[u8] = b"\x5eRROR";

/// Whether `body` is one of PLAIN's handshake commands. Once a connection is up, these are
/// ignored like any command the connection has no use for (as libzmq does), whatever their
/// form.
pub(crate) fn is_mechanism_command(body: &[u8]) -> bool {
    [&b"\x05HELLO"[..], b"\x07WELCOME", b"\x08INITIATE"]
        .iter()
        .any(|name| body.starts_with(name))
}

/// ERROR's data: `reason-len(1) reason`.
fn parse_error(data: &[u8]) -> Result<Command, ProtocolError> {
    let Some(&len) = data.first() else {
        return Err(ProtocolError::MalformedCommand("ERROR"));
    };
    if data.len() < 1 + len as usize {
        return Err(ProtocolError::MalformedCommand("ERROR"));
    }
    Ok(Command::Error(
        String::from_utf8_lossy(&data[1..1 + len as usize]).into_owned(),
    ))
}

/// PLAIN's HELLO: `username-len(1) username password-len(1) password`, nothing after.
fn parse_hello(mut data: Bytes) -> Result<Command, ProtocolError> {
    const MALFORMED: ProtocolError = ProtocolError::MalformedCommand("HELLO");
    let field = |data: &mut Bytes| {
        let len = *data.first().ok_or(MALFORMED)? as usize;
        if data.len() < 1 + len {
            return Err(MALFORMED);
        }
        data.advance(1);
        Ok(data.split_to(len))
    };
    let username = field(&mut data)?;
    let password = field(&mut data)?;
    if !data.is_empty() {
        return Err(MALFORMED);
    }
    Ok(Command::Hello { username, password })
}

/// PLAIN's HELLO body for `username` and `password` (each at most 255 bytes, which the
/// option setters enforce).
pub(crate) fn encode_hello(username: &[u8], password: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(2 + username.len() + password.len());
    for field in [username, password] {
        data.push(field.len().min(255) as u8);
        data.extend_from_slice(&field[..field.len().min(255)]);
    }
    Command::encode("HELLO", &data)
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
    fn plain_commands_parse_strictly() {
        let hello = encode_hello(b"admin", b"secret");
        assert_eq!(
            Command::parse(Bytes::from(hello.clone())).unwrap(),
            Command::Hello {
                username: Bytes::from_static(b"admin"),
                password: Bytes::from_static(b"secret"),
            }
        );
        for cut in 7..hello.len() {
            assert!(Command::parse(Bytes::copy_from_slice(&hello[..cut])).is_err());
        }
        let mut extra = hello.clone();
        extra.push(0);
        assert!(Command::parse(Bytes::from(extra)).is_err());
        assert_eq!(
            Command::parse(Bytes::from(Command::encode("WELCOME", b""))).unwrap(),
            Command::Welcome
        );
        assert!(Command::parse(Bytes::from(Command::encode("WELCOME", b"x"))).is_err());
        let initiate = Command::encode("INITIATE", b"\x0bSocket-Type\x00\x00\x00\x03REQ");
        assert!(matches!(
            Command::parse(Bytes::from(initiate)).unwrap(),
            Command::Initiate(p) if p.get("Socket-Type").map(|v| &v[..]) == Some(&b"REQ"[..])
        ));
    }

    #[test]
    fn errors_parse_in_both_spellings() {
        let ours = Command::encode("ERROR", b"\x03400");
        assert_eq!(
            Command::parse(Bytes::from(ours)).unwrap(),
            Command::Error("400".into())
        );
        // What libzmq 4.3.4's PLAIN server sends when ZAP says 400 (seen on the wire).
        let libzmq = Bytes::from_static(&[0x5e, b'R', b'R', b'O', b'R', 3, b'4', b'0', b'0']);
        assert_eq!(
            Command::parse(libzmq).unwrap(),
            Command::Error("400".into())
        );
        assert!(Command::parse(Bytes::from_static(b"\x5eRROR\x09x")).is_err());
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
