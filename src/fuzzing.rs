//! Entry points for the fuzz targets in `fuzz/` and for replaying their corpus in
//! `cargo test`. Each takes arbitrary bytes and must never panic, hang, or allocate in
//! proportion to a length the input merely announces. Not part of the supported API.

use crate::peer::Properties;
use crate::socket_type::SocketType;
use crate::transport::Endpoint;
use crate::zmtp::{Config, Connection, Decoder, Input, Security, ZapReply};
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

/// Feeds `data` to a connection as the peer's bytes, whole and split in two, for several
/// socket types under NULL (with and without ZAP), as PLAIN client and as PLAIN server. A
/// ZAP request gets a verdict picked by the input (allowed, denied, or no handler).
pub fn handshake(data: &[u8]) {
    let plain_client = Security::PlainClient {
        username: Bytes::from_static(b"user"),
        password: Bytes::from_static(b"secret"),
    };
    let setups = [
        (SocketType::Pull, Security::Null, false),
        (SocketType::Push, Security::Null, true),
        (SocketType::Router, Security::Null, false),
        (SocketType::Sub, Security::Null, true),
        (SocketType::Req, plain_client, false),
        (SocketType::Rep, Security::PlainServer, false),
    ];
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let verdict = data.last().map_or(0, |b| b % 3);
    for (socket_type, security, zap_domain) in setups {
        for parts in [&[data][..], &[&data[..split], &data[split..]][..]] {
            let mut conn = Connection::new(Config {
                security: security.clone(),
                zap_domain: Bytes::from_static(if zap_domain { b"fuzz" } else { b"" }),
                ..config(socket_type)
            });
            let mut buf = BytesMut::new();
            let now = Instant::now();
            'feed: for part in parts {
                buf.extend_from_slice(part);
                conn.note_received(now);
                loop {
                    let answered = match conn.handle_input(&mut buf) {
                        Ok(Some(Input::Authenticate(_))) => match verdict {
                            0 => conn.zap_reply(zap_reply(200)),
                            1 => conn.zap_reply(zap_reply(400)),
                            _ => conn.zap_unavailable(),
                        },
                        Ok(Some(_)) => Ok(()),
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    };
                    if answered.is_err() {
                        break 'feed;
                    }
                }
                let _ = conn.handle_timeout(now + Duration::from_secs(1));
            }
        }
    }
}

fn zap_reply(status: u16) -> ZapReply {
    ZapReply {
        status,
        user_id: Bytes::from_static(b"fuzz-user"),
        metadata: Properties::new(),
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
        security: Security::Null,
        zap_domain: Bytes::new(),
        zap_enforce_domain: false,
    }
}
