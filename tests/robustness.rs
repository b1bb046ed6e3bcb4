//! Robustness: a peer that dies mid-message never delivers a torn message, and a thousand
//! peers on one socket all get through.
mod common;
use common::*;
use std::io::Write;
use std::time::Duration;
use zerosock::{Context, Error, SocketType, DONTWAIT};

/// The soft limit on open files, from /proc/self/limits.
fn fd_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

#[test]
fn a_peer_dying_mid_message_never_delivers_a_torn_message() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let mut raw = raw_null_peer(&ep, "PUSH");
        // One whole message, then two frames of a three-frame message, then death.
        raw.write_all(b"\x00\x05whole\x01\x05part1\x01\x05part2")
            .unwrap();
        drop(raw);
        assert_eq!(pull.recv_multipart(0).unwrap(), vec!["whole"]);
        // A good peer's message is next: the torn frames were dropped.
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect(&ep).unwrap();
        push.send_multipart(["good", "message"], 0).unwrap();
        let got = pull.recv_multipart(0).unwrap();
        assert_eq!(got, vec![&b"good"[..], &b"message"[..]], "{got:?}");
        pull.set_rcvtimeo(100).unwrap();
        assert!(matches!(pull.recv(0), Err(Error::TimedOut)));
    });
}

#[test]
fn a_thousand_dealers_on_one_router() {
    bounded(120, || {
        let ctx = Context::new();
        let router = ctx.socket(SocketType::Router).unwrap();
        router.set_rcvtimeo(10_000).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let ep = router.last_endpoint().unwrap();
        // Two descriptors per connection inside one process: as many as the limit allows.
        let n = (fd_limit().saturating_sub(300) / 2).min(1000);
        assert!(n >= 100, "descriptor limit too low for this test");
        let dealers: Vec<_> = (0..n)
            .map(|i| {
                let d = ctx.socket(SocketType::Dealer).unwrap();
                d.set_routing_id(format!("dealer-{i}").as_bytes()).unwrap();
                d.set_rcvtimeo(10_000).unwrap();
                d.set_linger(0).unwrap();
                d.connect(&ep).unwrap();
                d
            })
            .collect();
        for (i, d) in dealers.iter().enumerate() {
            d.send(format!("hello {i}"), 0).unwrap();
        }
        let mut seen = vec![false; n];
        for _ in 0..n {
            let parts = router.recv_multipart(0).unwrap();
            let id = parts[0].as_str().unwrap().to_string();
            let i: usize = id.strip_prefix("dealer-").unwrap().parse().unwrap();
            assert_eq!(parts[1], &format!("hello {i}")[..]);
            assert!(!seen[i], "duplicate from {id}");
            seen[i] = true;
            router.send_multipart([id.as_bytes(), b"reply"], 0).unwrap();
        }
        for d in &dealers {
            assert_eq!(d.recv(0).unwrap(), "reply");
            assert!(matches!(d.recv(DONTWAIT), Err(Error::WouldBlock)));
        }
        drop(dealers);
        drop(router);
        let start = std::time::Instant::now();
        drop(ctx);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "teardown took {:?}",
            start.elapsed()
        );
    });
}
