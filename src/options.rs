//! Socket options with libzmq's names, meanings and defaults.

use crate::error::{Error, Result};
use crate::pipe::Capacity;
use crate::socket_type::SocketType;
use crate::zmtp::Security;
use bytes::Bytes;
use std::time::Duration;

/// Default `LINGER`: libzmq waits forever; zerosock waits at most this long so that closing a
/// socket or terminating a context never hangs forever. Set `-1` explicitly for libzmq's
/// behaviour.
pub const DEFAULT_LINGER_MS: i32 = 30_000;

/// A snapshot of a socket's options. Connections take a copy when they are created.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) sndhwm: i32,
    pub(crate) rcvhwm: i32,
    pub(crate) sndtimeo: i32,
    pub(crate) rcvtimeo: i32,
    pub(crate) linger: i32,
    pub(crate) reconnect_ivl: i32,
    pub(crate) reconnect_ivl_max: i32,
    pub(crate) backlog: i32,
    pub(crate) maxmsgsize: i64,
    pub(crate) sndbuf: i32,
    pub(crate) rcvbuf: i32,
    pub(crate) immediate: bool,
    pub(crate) routing_id: Bytes,
    pub(crate) tcp_keepalive: i32,
    pub(crate) tcp_keepalive_cnt: i32,
    pub(crate) tcp_keepalive_idle: i32,
    pub(crate) tcp_keepalive_intvl: i32,
    pub(crate) handshake_ivl: i32,
    pub(crate) heartbeat_ivl: i32,
    pub(crate) heartbeat_ttl: i32,
    pub(crate) heartbeat_timeout: i32,
    pub(crate) conflate: bool,
    pub(crate) metadata: Vec<(String, Bytes)>,
    /// `PLAIN_SERVER`, `PLAIN_USERNAME`, `PLAIN_PASSWORD`: the mechanism and its role.
    pub(crate) security: Security,
    /// Kept across mechanism changes, as libzmq keeps them.
    pub(crate) plain_username: Bytes,
    pub(crate) plain_password: Bytes,
    pub(crate) zap_domain: Bytes,
    pub(crate) zap_enforce_domain: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sndhwm: 1000,
            rcvhwm: 1000,
            sndtimeo: -1,
            rcvtimeo: -1,
            linger: DEFAULT_LINGER_MS,
            reconnect_ivl: 100,
            reconnect_ivl_max: 0,
            backlog: 100,
            maxmsgsize: -1,
            sndbuf: -1,
            rcvbuf: -1,
            immediate: false,
            routing_id: Bytes::new(),
            tcp_keepalive: -1,
            tcp_keepalive_cnt: -1,
            tcp_keepalive_idle: -1,
            tcp_keepalive_intvl: -1,
            handshake_ivl: 30_000,
            heartbeat_ivl: 0,
            heartbeat_ttl: 0,
            heartbeat_timeout: -1,
            conflate: false,
            metadata: Vec::new(),
            security: Security::Null,
            plain_username: Bytes::new(),
            plain_password: Bytes::new(),
            zap_domain: Bytes::new(),
            zap_enforce_domain: false,
        }
    }
}

/// A duration in milliseconds where `-1` means "forever".
pub(crate) fn millis(ms: i32) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

pub(crate) fn at_least(
    option: &'static str,
    value: i32,
    min: i32,
    reason: &'static str,
) -> Result<i32> {
    if value < min {
        Err(Error::InvalidOption { option, reason })
    } else {
        Ok(value)
    }
}

impl Options {
    /// What the pipe toward a peer may hold: `SNDHWM` messages, or only the newest with
    /// `CONFLATE` on a type that sends data (PUSH, PUB, DEALER). Subscriptions going the
    /// other way are never conflated.
    pub(crate) fn send_capacity(&self, socket_type: SocketType) -> Capacity {
        use SocketType::*;
        if self.conflate && matches!(socket_type, Push | Pub | Dealer) {
            Capacity::LatestOnly
        } else {
            Capacity::Messages(self.sndhwm.max(0) as u64)
        }
    }

    /// What the pipe from a peer may hold: `RCVHWM` messages, or only the newest with
    /// `CONFLATE` on a type that receives data (PULL, SUB, DEALER).
    pub(crate) fn recv_capacity(&self, socket_type: SocketType) -> Capacity {
        use SocketType::*;
        if self.conflate && matches!(socket_type, Pull | Sub | Dealer) {
            Capacity::LatestOnly
        } else {
            Capacity::Messages(self.rcvhwm.max(0) as u64)
        }
    }

    pub(crate) fn max_msg_size(&self) -> Option<u64> {
        (self.maxmsgsize >= 0).then_some(self.maxmsgsize as u64)
    }

    pub(crate) fn linger(&self) -> Option<Duration> {
        millis(self.linger)
    }

    /// The ZMTP connection settings these options ask for.
    pub(crate) fn zmtp_config(&self, socket_type: crate::SocketType) -> crate::zmtp::Config {
        let ivl =
            (self.heartbeat_ivl > 0).then(|| Duration::from_millis(self.heartbeat_ivl as u64));
        // libzmq: the timeout defaults to the interval.
        let timeout = match self.heartbeat_timeout {
            t if t > 0 => Some(Duration::from_millis(t as u64)),
            _ => ivl,
        };
        crate::zmtp::Config {
            socket_type,
            identity: self.routing_id.clone(),
            max_msg_size: self.max_msg_size(),
            heartbeat_ivl: ivl,
            heartbeat_ttl: Duration::from_millis(self.heartbeat_ttl.max(0) as u64),
            heartbeat_timeout: timeout,
            metadata: self.metadata.clone(),
            security: self.security.clone(),
            zap_domain: self.zap_domain.clone(),
            zap_enforce_domain: self.zap_enforce_domain,
        }
    }

    pub(crate) fn handshake_ivl(&self) -> Option<Duration> {
        (self.handshake_ivl > 0).then(|| Duration::from_millis(self.handshake_ivl as u64))
    }
}
