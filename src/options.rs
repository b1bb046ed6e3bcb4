//! Socket options with libzmq's names, meanings and defaults.

use crate::error::{Error, Result};
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
    pub(crate) fn max_msg_size(&self) -> Option<u64> {
        (self.maxmsgsize >= 0).then_some(self.maxmsgsize as u64)
    }

    pub(crate) fn linger(&self) -> Option<Duration> {
        millis(self.linger)
    }

    pub(crate) fn handshake_ivl(&self) -> Option<Duration> {
        (self.handshake_ivl > 0).then(|| Duration::from_millis(self.handshake_ivl as u64))
    }
}
