//! Entry points for the fuzz targets in `fuzz/` and for replaying their corpus in
//! `cargo test`. Each takes arbitrary bytes and must never panic, hang, or allocate in
//! proportion to a length the input merely announces. Not part of the supported API.

use crate::socket_type::SocketType;
use crate::transport::Endpoint;
use crate::zmtp::{Config, Connection, Decoder, Properties};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, Instant};

/// Decodes frames from `data` (with and without a `MAXMSGSIZE`) until it errs or runs dry.
pub fn frames(data: &[u8]) {
    for limit in [None, Some(1024)] {
        let mut decoder = Decoder::new(limit);
        let mut buf = BytesMut::from(data);
        while let Ok(Some(_)) = decoder.decode(&mut buf) {}
    }
}

/// Feeds `data` to a connection as the peer's bytes, in both client and server roles of
/// every socket type of the NULL mechanism, whole and split in two.
pub fn handshake(data: &[u8]) {
    let types = [
        SocketType::Pull,
        SocketType::Push,
        SocketType::Router,
        SocketType::Sub,
    ];
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    for socket_type in types {
        for parts in [&[data][..], &[&data[..split], &data[split..]][..]] {
            let mut conn = Connection::new(config(socket_type));
            let mut buf = BytesMut::new();
            let now = Instant::now();
            'feed: for part in parts {
                buf.extend_from_slice(part);
                conn.note_received(now);
                loop {
                    match conn.handle_input(&mut buf) {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
                let _ = conn.handle_timeout(now + Duration::from_secs(1));
            }
        }
    }
}

/// Parses `data` as READY metadata properties.
pub fn properties(data: &[u8]) {
    if let Ok(props) = Properties::parse(Bytes::copy_from_slice(data)) {
        let _ = props.get("Socket-Type");
    }
}

/// Parses `data` (lossily as UTF-8) as an endpoint.
pub fn endpoint(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(endpoint) = Endpoint::parse(&text) {
        let _ = endpoint.to_string();
    }
}

fn config(socket_type: SocketType) -> Config {
    Config {
        socket_type,
        identity: Bytes::from_static(b"fuzz"),
        max_msg_size: Some(1 << 20),
        heartbeat_ivl: Some(Duration::from_millis(100)),
        heartbeat_ttl: Duration::from_secs(1),
        heartbeat_timeout: Some(Duration::from_millis(300)),
        metadata: vec![("X-Fuzz".into(), Bytes::from_static(b"1"))],
    }
}
