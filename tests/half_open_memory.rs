//! What a connection costs before it has authenticated: an attacker who opens many
//! connections and stops in the middle of the greeting must not pin much memory, and the
//! memory must be given back when they go. One test in this file, so that the process's
//! resident size is this test's alone.
//!
//! "Given back" is checked as the allocator sees it: a second wave of the same size, after
//! the first has closed, costs next to nothing more. The resident size itself does not fall
//! back to where it started: glibc keeps freed small chunks in its arenas for reuse (about
//! 2.7 MB after 1000 peers here, the same after any number of waves).
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use zerosock::{Context, EventKind, SocketType};

const PEERS: usize = 1000;
/// Resident growth allowed per half-open connection.
const PER_PEER: usize = 8 * 1024;

/// The process's resident set, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Connects `n` clients that send the first 5 bytes of a greeting and stop, and waits until
/// each has received the server's greeting (so the server has accepted and read them all).
fn stalled_greetings(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut peers: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&[0xFF, 0, 0, 0, 0]).unwrap();
            s
        })
        .collect();
    for s in &mut peers {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut greeting = [0u8; 10];
        s.read_exact(&mut greeting).unwrap();
        assert_eq!(greeting[0], 0xFF);
    }
    peers
}

#[test]
fn half_open_connections_cost_little_and_give_it_back() {
    common::bounded(120, || {
        let ctx = Context::new();
        let server = ctx.socket(SocketType::Pull).unwrap();
        server.set_plain_server(true).unwrap();
        server.set_handshake_ivl(60_000).unwrap();
        server.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = server.last_endpoint().unwrap();
        let addr = endpoint.strip_prefix("tcp://").unwrap().to_string();
        let monitor = server.monitor();

        // Warm up the paths a connection takes (a few of them, opened and closed).
        drop(stalled_greetings(&addr, 10));
        let mut closed = 0;
        let mut wait_closed = |n: usize| {
            while closed < n {
                let event = monitor
                    .recv(Some(Duration::from_secs(20)))
                    .expect("the server did not notice the peers leaving");
                if matches!(
                    event.kind,
                    EventKind::Disconnected | EventKind::HandshakeFailedProtocol(_)
                ) {
                    closed += 1;
                }
            }
        };
        wait_closed(10);
        let baseline = rss();

        let peers = stalled_greetings(&addr, PEERS);
        let open = rss();
        let per_peer = open.saturating_sub(baseline) / PEERS;
        println!("baseline {baseline} B, with {PEERS} half-open peers {open} B: {per_peer} B each");
        assert!(
            per_peer <= PER_PEER,
            "a half-open connection costs {per_peer} B (at most {PER_PEER})"
        );

        drop(peers);
        wait_closed(10 + PEERS);
        let closed = rss();
        let grown = open - baseline;
        let again = stalled_greetings(&addr, PEERS);
        let reopened = rss();
        drop(again);
        wait_closed(10 + 2 * PEERS);
        let reclosed = rss();
        println!("closed {closed} B, a second wave {reopened} B, closed again {reclosed} B");
        assert!(
            reopened <= closed + grown / 10,
            "the first wave's memory did not serve the second: {closed} -> {reopened} B"
        );
        assert!(
            reclosed <= closed + grown / 10,
            "memory grew across waves: {closed} -> {reclosed} B"
        );
    });
}
