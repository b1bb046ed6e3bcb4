//! What a connection learns about its peer and tells it about us: the metadata properties
//! of a handshake (READY, INITIATE, a ZAP reply), the peer's socket type, identity and
//! version, and the message-level view of them ([`Metadata`]). Patterns and sockets read
//! peers from here; only `zmtp` knows how the properties travel inside commands.

use crate::socket_type::SocketType;
use bytes::{Buf, Bytes};

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

    /// Puts `others` in front, so that where both have a name, theirs is the one found.
    pub(crate) fn prepend(&mut self, others: Properties) {
        let mine = std::mem::replace(&mut self.0, others.0);
        self.0.extend(mine);
    }

    /// The value of property `name` (case-insensitive).
    pub(crate) fn get(&self, name: &str) -> Option<&Bytes> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Parses properties in their wire form (`name-len(1) name value-len(4, BE) value`,
    /// repeated); any length running past the end is an error, never a panic.
    pub(crate) fn parse(mut data: Bytes) -> Result<Properties, Malformed> {
        let mut props = Vec::new();
        while !data.is_empty() {
            let name_len = data[0] as usize;
            if name_len == 0 || data.len() < 1 + name_len + 4 {
                return Err(Malformed);
            }
            data.advance(1);
            let name = data.split_to(name_len);
            let value_len = data.get_u32() as usize;
            if value_len > data.len() {
                return Err(Malformed);
            }
            let value = data.split_to(value_len);
            let name = std::str::from_utf8(&name)
                .map_err(|_| Malformed)?
                .to_string();
            props.push((name, value));
        }
        Ok(Properties(props))
    }

    /// Appends the properties in their wire form.
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

/// Properties whose lengths run past their end (or a name that is empty or not UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// What the handshake told us about the peer. Identity, version and properties are kept for
/// the routing patterns and message properties built on top.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    pub(crate) socket_type: SocketType,
    pub(crate) identity: Bytes,
    pub(crate) properties: Properties,
}

/// A peer whose socket type cannot talk to ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No `Socket-Type` property, or one naming no socket type.
    BadSocketType,
    /// The two types are not a legal pair (e.g. PUSH with PUSH).
    Incompatible { ours: SocketType, peer: SocketType },
}

impl PeerInfo {
    /// The peer that sent `properties` in its handshake, if a socket of type `ours` may
    /// talk to it.
    pub(crate) fn from_properties(
        properties: Properties,
        ours: SocketType,
    ) -> Result<PeerInfo, Refused> {
        let socket_type = properties
            .get("Socket-Type")
            .and_then(|name| SocketType::from_wire(name))
            .ok_or(Refused::BadSocketType)?;
        check_compatible(ours, socket_type)?;
        let identity = properties.get("Identity").cloned().unwrap_or_default();
        Ok(PeerInfo {
            socket_type,
            identity,
            properties,
        })
    }

    /// What a socket of type `ours` says of itself in its handshake (a READY, or what an
    /// inproc peer is told instead): its type, its routing id where the type sends one, and
    /// the application's metadata.
    pub(crate) fn ours(
        socket_type: SocketType,
        routing_id: &Bytes,
        metadata: &[(String, Bytes)],
    ) -> PeerInfo {
        let mut properties = Properties::new();
        properties.push("Socket-Type", socket_type.as_str().as_bytes());
        if socket_type.sends_identity() {
            properties.push("Identity", routing_id.clone());
        }
        for (name, value) in metadata {
            properties.push(name, value.clone());
        }
        PeerInfo {
            socket_type,
            identity: routing_id.clone(),
            properties,
        }
    }
}

/// Whether a socket of type `ours` may talk to a `peer` (RFC 37's compatibility table).
pub(crate) fn check_compatible(ours: SocketType, peer: SocketType) -> Result<(), Refused> {
    if ours.is_compatible(peer) {
        Ok(())
    } else {
        Err(Refused::Incompatible { ours, peer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_and_names_compare_case_insensitively() {
        let mut p = Properties::new();
        p.push("Socket-Type", &b"PUSH"[..]);
        p.push("X-Empty", Bytes::new());
        let mut data = Vec::new();
        p.encode(&mut data);
        let parsed = Properties::parse(Bytes::from(data)).unwrap();
        assert_eq!(parsed, p);
        assert_eq!(
            parsed.get("socket-type").map(|v| &v[..]),
            Some(&b"PUSH"[..])
        );
    }

    #[test]
    fn truncated_or_overrunning_properties_are_refused() {
        let full = b"\x0bSocket-Type\x00\x00\x00\x04PUSH";
        for cut in 1..full.len() {
            assert_eq!(
                Properties::parse(Bytes::copy_from_slice(&full[..cut])),
                Err(Malformed),
                "cut at {cut}"
            );
        }
        assert_eq!(
            Properties::parse(Bytes::from_static(b"\x01a\xff\xff\xff\xff")),
            Err(Malformed)
        );
        assert_eq!(
            Properties::parse(Bytes::from_static(b"\x00")),
            Err(Malformed)
        );
    }

    #[test]
    fn our_properties_are_what_a_peer_checks() {
        let id = Bytes::from_static(b"me");
        let metadata = vec![("X-App".to_string(), Bytes::from_static(b"zs"))];
        let dealer = PeerInfo::ours(SocketType::Dealer, &id, &metadata);
        assert_eq!(
            dealer.properties.get("Identity").map(|v| &v[..]),
            Some(&b"me"[..])
        );
        assert_eq!(
            dealer.properties.get("X-App").map(|v| &v[..]),
            Some(&b"zs"[..])
        );
        let push = PeerInfo::ours(SocketType::Push, &id, &[]);
        assert!(push.properties.get("Identity").is_none());
        let seen =
            PeerInfo::from_properties(dealer.properties.clone(), SocketType::Router).unwrap();
        assert_eq!(seen.socket_type, SocketType::Dealer);
        assert_eq!(seen.identity, id);
        assert_eq!(
            PeerInfo::from_properties(push.properties, SocketType::Push).unwrap_err(),
            Refused::Incompatible {
                ours: SocketType::Push,
                peer: SocketType::Push
            }
        );
        assert_eq!(
            PeerInfo::from_properties(Properties::new(), SocketType::Pull).unwrap_err(),
            Refused::BadSocketType
        );
    }
}
