//! Peers that connect and never finish the handshake cost bounded memory, never receive or
//! delay other peers' traffic, and are closed at the handshake timeout.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use zerosock::{Context, SocketType};

#[test]
fn fifty_silent_connections_do_not_disturb_a_good_peer() {
    bounded(60, || {
        let ctx = Context::new();
        let router_like = ctx.socket(SocketType::Pair).unwrap();
        router_like.set_handshake_ivl(1000).unwrap();
        router_like.set_rcvtimeo(5000).unwrap();
        router_like.set_sndtimeo(5000).unwrap();
        router_like.bind("tcp://127.0.0.1:*").unwrap();
        let ep = router_like.last_endpoint().unwrap();
        let addr = ep.strip_prefix("tcp://").unwrap().to_string();

        // 50 connections that say nothing, and a few that stop half way through a greeting.
        let mut silent: Vec<TcpStream> = (0..50)
            .map(|_| TcpStream::connect(&addr).unwrap())
            .collect();
        for s in silent.iter_mut().take(5) {
            s.write_all(&[0xFF, 0, 0, 0]).unwrap();
        }
        let opened = Instant::now();

        // The good peer connects after them and exchanges traffic both ways at once.
        let good = ctx.socket(SocketType::Pair).unwrap();
        good.set_rcvtimeo(5000).unwrap();
        good.connect(&ep).unwrap();
        for i in 0..100u32 {
            good.send(i.to_be_bytes().to_vec(), 0).unwrap();
            assert_eq!(&router_like.recv(0).unwrap()[..], &i.to_be_bytes());
            router_like.send(i.to_le_bytes().to_vec(), 0).unwrap();
            assert_eq!(&good.recv(0).unwrap()[..], &i.to_le_bytes());
        }
        assert!(
            opened.elapsed() < Duration::from_millis(900),
            "traffic was delayed"
        );

        // Every silent connection is closed at the handshake timeout, and none received a
        // byte of the good peer's traffic (only our greeting, at most 64 bytes, then EOF).
        for s in &mut silent {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = Vec::new();
            match s.read_to_end(&mut got) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => panic!("silent connection not closed: {e}"),
            }
            assert!(
                got.len() <= 64,
                "a half-open peer received {} bytes",
                got.len()
            );
        }
        let closed_after = opened.elapsed();
        assert!(
            closed_after >= Duration::from_millis(900),
            "closed before the timeout: {closed_after:?}"
        );
    });
}

#[test]
fn slow_drip_of_a_huge_frame_is_refused_by_maxmsgsize_or_costs_what_arrived() {
    bounded(60, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let mut raw = raw_null_peer(&ep, "PUSH");
        // A 1 GiB frame, then 64 KiB of it, a byte-ish at a time.
        let mut header = vec![0x02];
        header.extend((1u64 << 30).to_be_bytes());
        raw.write_all(&header).unwrap();
        let rss_before = rss_kib();
        for _ in 0..64 {
            raw.write_all(&[7u8; 1024]).unwrap();
        }
        // Meanwhile a good peer is served.
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect(&ep).unwrap();
        push.send("still served", 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "still served");
        let grown = rss_kib().saturating_sub(rss_before);
        // Memory follows bytes received (64 KiB) plus a bounded pre-allocation (1 MiB),
        // never the 1 GiB announced.
        assert!(
            grown < 16 * 1024,
            "RSS grew by {grown} KiB for 64 KiB received"
        );
    });
}

/// Resident set size of this process in KiB (Linux).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}
