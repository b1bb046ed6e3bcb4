//! CONFLATE: a receiver that falls behind gets the newest message, not a backlog.
mod common;
use common::*;
use zerosock::{Context, Error, SocketType, DONTWAIT};

/// Receives until `last` arrives; returns every sequence number seen.
fn drain_until(sock: &zerosock::Socket, last: u32) -> Vec<u32> {
    let mut seen = Vec::new();
    loop {
        let m = sock.recv(0).expect("the newest message must arrive");
        let n = u32::from_be_bytes(m[..4].try_into().unwrap());
        seen.push(n);
        if n == last {
            return seen;
        }
    }
}

#[test]
fn pull_keeps_only_the_newest_over_tcp_and_inproc() {
    bounded(30, || {
        let ctx = Context::new();
        for ep in ["tcp://127.0.0.1:*", "inproc://conflate"] {
            let pull = ctx.socket(SocketType::Pull).unwrap();
            pull.set_conflate(true).unwrap();
            pull.set_rcvtimeo(5000).unwrap();
            pull.bind(ep).unwrap();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.connect(&pull.last_endpoint().unwrap()).unwrap();
            // The receiver does not read while all of it is sent: its connection keeps
            // draining into the one-message slot, so the sender never waits for long.
            for i in 1..=5000u32 {
                push.send(i.to_be_bytes().to_vec(), 0).unwrap();
            }
            let seen = drain_until(&pull, 5000);
            assert!(
                seen.len() < 100,
                "{ep}: a backlog of {} came through",
                seen.len()
            );
            assert!(
                seen.windows(2).all(|w| w[0] < w[1]),
                "{ep}: out of order {seen:?}"
            );
            assert!(matches!(pull.recv(DONTWAIT), Err(Error::WouldBlock)));
        }
    });
}

#[test]
fn sub_with_conflate_still_filters_and_keeps_every_subscription() {
    bounded(30, || {
        let ctx = Context::new();
        let publisher = ctx.socket(SocketType::Pub).unwrap();
        publisher.bind("tcp://127.0.0.1:*").unwrap();
        let sub = ctx.socket(SocketType::Sub).unwrap();
        sub.set_conflate(true).unwrap();
        sub.set_rcvtimeo(100).unwrap();
        // Several subscriptions: none may be conflated away.
        for topic in [&b"a"[..], b"b", b"c"] {
            sub.set_subscribe(topic).unwrap();
        }
        sub.connect(&publisher.last_endpoint().unwrap()).unwrap();
        // Wait until each topic is subscribed: publish it until it arrives.
        for topic in ["a", "b", "c"] {
            assert!(
                wait_for(10, || {
                    publisher.send(format!("{topic}-probe"), 0).unwrap();
                    publisher.send("x-filtered", 0).unwrap();
                    matches!(sub.recv(0), Ok(m) if m.starts_with(topic.as_bytes()))
                }),
                "topic {topic} never arrived"
            );
        }
        while sub.recv(DONTWAIT).is_ok() {}
        for i in 0..1000u32 {
            publisher.send(format!("b{i:04}"), 0).unwrap();
        }
        sub.set_rcvtimeo(5000).unwrap();
        let mut count = 0;
        loop {
            let m = sub.recv(0).unwrap();
            assert!(m.starts_with(b"b"), "{m:?}");
            count += 1;
            if m == "b0999" {
                break;
            }
        }
        assert!(count < 100, "{count} messages: not conflated");
    });
}

#[test]
fn libzmq_sender_to_conflating_pull() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_conflate(true).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let zctx = zmq::Context::new();
        let push = zctx.socket(zmq::PUSH).unwrap();
        push.set_linger(1000).unwrap();
        push.connect(&pull.last_endpoint().unwrap()).unwrap();
        for i in 1..=2000u32 {
            push.send(&i.to_be_bytes()[..], 0).unwrap();
        }
        let seen = drain_until(&pull, 2000);
        assert!(seen.len() < 2000, "nothing was conflated");
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
    });
}

#[test]
fn conflate_is_refused_where_libzmq_refuses_it() {
    let ctx = Context::new();
    for t in [
        SocketType::Req,
        SocketType::Rep,
        SocketType::Router,
        SocketType::Pair,
    ] {
        let s = ctx.socket(t).unwrap();
        assert!(matches!(
            s.set_conflate(true),
            Err(Error::InvalidOption {
                option: "CONFLATE",
                ..
            })
        ));
    }
}
