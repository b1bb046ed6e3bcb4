//! Socket monitor events, as libzmq names them.
mod common;
use common::*;
use std::time::Duration;
use zerosock::{Context, EventKind, Monitor, SocketType};

/// Collects events until `want` has been seen (in order, others allowed between) or fails.
fn expect_in_order(monitor: &Monitor, want: &[fn(&EventKind) -> bool], what: &str) {
    let mut next = 0;
    let mut seen = Vec::new();
    while next < want.len() {
        match monitor.recv(Some(Duration::from_secs(5))) {
            Some(event) => {
                if want[next](&event.kind) {
                    next += 1;
                }
                seen.push(event);
            }
            None => panic!("{what}: missing event #{next}; saw {seen:?}"),
        }
    }
}

#[test]
fn lifecycle_events_on_both_sides() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        let pull_events = pull.monitor();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_reconnect_ivl(50).unwrap();
        push.set_linger(0).unwrap();
        let push_events = push.monitor();
        push.connect(&ep).unwrap();
        expect_in_order(
            &pull_events,
            &[
                |k| *k == EventKind::Listening,
                |k| *k == EventKind::Accepted,
                |k| *k == EventKind::HandshakeSucceeded,
            ],
            "binder",
        );
        expect_in_order(
            &push_events,
            &[
                |k| *k == EventKind::Connected,
                |k| *k == EventKind::HandshakeSucceeded,
            ],
            "connecter",
        );
        drop(pull);
        expect_in_order(&pull_events, &[|k| *k == EventKind::Closed], "binder close");
        expect_in_order(
            &push_events,
            &[
                |k| *k == EventKind::Disconnected,
                |k| matches!(k, EventKind::ConnectRetried(_)),
            ],
            "connecter after the peer left",
        );
        push.stop_monitor();
        expect_in_order(&push_events, &[|k| *k == EventKind::MonitorStopped], "stop");
        assert!(push_events.recv(Some(Duration::from_millis(10))).is_none());
    });
}

#[test]
fn failed_handshake_and_failed_bind_are_reported() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        let events = pull.monitor();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let other = ctx.socket(SocketType::Pull).unwrap();
        let other_events = other.monitor();
        assert!(other.bind(&ep).is_err());
        expect_in_order(
            &other_events,
            &[|k| matches!(k, EventKind::BindFailed(_))],
            "bind",
        );
        // An incompatible peer: PULL to PULL.
        let bad = ctx.socket(SocketType::Pull).unwrap();
        bad.set_linger(0).unwrap();
        bad.connect(&ep).unwrap();
        expect_in_order(
            &events,
            &[|k| matches!(k, EventKind::HandshakeFailedProtocol(_))],
            "incompatible peer",
        );
    });
}
