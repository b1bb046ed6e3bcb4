//! The socket's monitor events: each printed as it arrives, and the ones the checks use
//! counted.

use crate::report::{now_ms, report};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use zerosock::{EventKind, Monitor};

/// What the monitor thread counted, read by the main thread.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) disconnects: AtomicU64,
    pub(crate) handshakes: AtomicU64,
    pub(crate) stop: AtomicBool,
}

fn kind_name(kind: &EventKind) -> (&'static str, Option<String>) {
    match kind {
        EventKind::Connected => ("connected", None),
        EventKind::ConnectDelayed => ("connect_delayed", None),
        EventKind::ConnectRetried(d) => ("connect_retried", Some(d.as_millis().to_string())),
        EventKind::Listening => ("listening", None),
        EventKind::BindFailed(e) => ("bind_failed", Some(format!("{e:?}"))),
        EventKind::Accepted => ("accepted", None),
        EventKind::AcceptFailed(e) => ("accept_failed", Some(format!("{e:?}"))),
        EventKind::Closed => ("closed", None),
        EventKind::Disconnected => ("disconnected", None),
        EventKind::HandshakeSucceeded => ("handshake_succeeded", None),
        EventKind::HandshakeFailedProtocol(e) => {
            ("handshake_failed_protocol", Some(format!("{e:?}")))
        }
        EventKind::HandshakeFailedAuth(s) => ("handshake_failed_auth", Some(s.to_string())),
        EventKind::MonitorStopped => ("monitor_stopped", None),
        other => ("other", Some(format!("{other:?}"))),
    }
}

/// Prints every monitor event with the time it arrived, and counts the ones the checks use,
/// until `counters.stop` is set.
pub(crate) fn watch(monitor: Monitor, counters: Arc<Counters>) -> thread::JoinHandle<()> {
    thread::spawn(move || loop {
        let Some(event) = monitor.recv(Some(Duration::from_millis(50))) else {
            if counters.stop.load(Ordering::Acquire) {
                if monitor.dropped() > 0 {
                    report!("events_dropped n={}", monitor.dropped());
                }
                return;
            }
            continue;
        };
        let t = now_ms();
        match event.kind {
            EventKind::Disconnected => {
                counters.disconnects.fetch_add(1, Ordering::AcqRel);
            }
            EventKind::HandshakeSucceeded => {
                counters.handshakes.fetch_add(1, Ordering::AcqRel);
            }
            _ => {}
        }
        let (kind, detail) = kind_name(&event.kind);
        match detail {
            Some(d) => report!(
                "event t={t} kind={kind} endpoint={} detail={d}",
                event.endpoint
            ),
            None => report!("event t={t} kind={kind} endpoint={}", event.endpoint),
        }
    })
}
