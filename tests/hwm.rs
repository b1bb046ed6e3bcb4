//! High-water marks: fill a pipe to its mark, drain half of it, and check that the sending
//! side blocks (or reports would-block / timed out) while full, resumes once room returns,
//! never loses or reorders a message, and never deadlocks; a PUB drops only for the
//! subscriber that stalls.
//!
//! Over inproc the pipe holds exactly SNDHWM + RCVHWM messages (as in libzmq). Over tcp and
//! ipc it holds at least that much, plus what the kernel buffers take; the socket buffers
//! are made small and the messages large so that this stays a few messages.
//!
//! ROUTER_MANDATORY at the mark and the slow-subscriber cases with ten subscribers are in
//! tests/patterns.rs, queueing up to SNDHWM with no peer in tests/reconnect.rs, and POLLOUT
//! at the mark in tests/poll.rs.

mod common;
use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zerosock::{Context, Error, Msg, Socket, SocketType, DONTWAIT};

const HWM: i32 = 10;
const TIMEOUT_MS: i32 = 10_000;

fn seq_msg(seq: u64, size: usize) -> Msg {
    let mut body = seq.to_le_bytes().to_vec();
    body.resize(size.max(8), 0xA5);
    Msg::from(body)
}

fn seq_of(m: &Msg) -> u64 {
    u64::from_le_bytes(m[..8].try_into().unwrap())
}

/// The two ends of a pattern whose sender blocks at the mark.
#[derive(Clone, Copy, Debug)]
enum Blocking {
    PushPull,
    DealerRouter,
    Pair,
}

impl Blocking {
    fn types(self) -> (SocketType, SocketType) {
        match self {
            Blocking::PushPull => (SocketType::Push, SocketType::Pull),
            Blocking::DealerRouter => (SocketType::Dealer, SocketType::Router),
            Blocking::Pair => (SocketType::Pair, SocketType::Pair),
        }
    }

    /// Receives one message and returns its body (without the ROUTER's routing id).
    fn recv(self, s: &Socket) -> Msg {
        let mut parts = s.recv_multipart(0).expect("a message under the mark");
        if let Blocking::DealerRouter = self {
            assert_eq!(parts.len(), 2, "{parts:?}");
            assert_eq!(parts[0], b"d", "routing id");
        }
        assert_eq!(
            parts.len(),
            1 + matches!(self, Blocking::DealerRouter) as usize
        );
        parts.pop().unwrap()
    }
}

fn expect_would_block(r: zerosock::Result<()>, what: &str) {
    assert!(
        matches!(r, Err(Error::WouldBlock)),
        "{what}: expected WouldBlock, got {r:?}"
    );
}

/// A blocking send at the mark waits SNDTIMEO and then fails with `TimedOut`.
fn expect_timed_out(sender: &Socket, what: &str) {
    sender.set_sndtimeo(100).unwrap();
    let start = Instant::now();
    let r = sender.send(seq_msg(u64::MAX, 8), 0);
    let waited = start.elapsed();
    assert!(matches!(r, Err(Error::TimedOut)), "{what}: {r:?}");
    assert!(
        waited >= Duration::from_millis(95) && waited < Duration::from_secs(5),
        "{what}: a send with SNDTIMEO 100 ms returned after {waited:?}"
    );
    sender.set_sndtimeo(-1).unwrap();
}

/// Over inproc: exactly SNDHWM + RCVHWM messages fit; then DONTWAIT fails with WouldBlock
/// and a blocking send times out; draining half lets sending resume without ever queueing
/// more than the mark; everything arrives in order; a blocked sender is woken by a reader
/// in another thread (no deadlock).
fn inproc_fill_drain(pattern: Blocking) {
    let what = format!("{pattern:?} over inproc");
    let ctx = Context::new();
    let (sender_type, receiver_type) = pattern.types();
    let receiver = ctx.socket(receiver_type).unwrap();
    receiver.set_rcvhwm(HWM).unwrap();
    receiver.set_rcvtimeo(TIMEOUT_MS).unwrap();
    let ep = format!("inproc://hwm-{pattern:?}");
    receiver.bind(&ep).unwrap();
    let sender = ctx.socket(sender_type).unwrap();
    sender.set_sndhwm(HWM).unwrap();
    sender.set_routing_id(b"d").ok();
    sender.connect(&ep).unwrap();

    let capacity = 2 * HWM as u64;
    let mut next_send = 0u64;
    while sender.send(seq_msg(next_send, 8), DONTWAIT).is_ok() {
        next_send += 1;
        assert!(
            next_send <= capacity,
            "{what}: more than SNDHWM + RCVHWM queued"
        );
    }
    assert_eq!(
        next_send, capacity,
        "{what}: the pipe must hold SNDHWM + RCVHWM"
    );
    expect_would_block(sender.send(seq_msg(next_send, 8), DONTWAIT), &what);
    expect_timed_out(&sender, &what);

    let mut next_recv = 0u64;
    for _ in 0..capacity / 2 {
        assert_eq!(seq_of(&pattern.recv(&receiver)), next_recv, "{what}");
        next_recv += 1;
    }
    // Half drained: sending resumes, but the queue never holds more than the mark.
    let mut resumed = 0;
    while sender.send(seq_msg(next_send, 8), DONTWAIT).is_ok() {
        next_send += 1;
        resumed += 1;
        assert!(
            next_send - next_recv <= capacity,
            "{what}: more than the mark queued"
        );
    }
    assert!(
        resumed > 0,
        "{what}: still full after half the queue was read"
    );
    while next_recv < next_send {
        assert_eq!(seq_of(&pattern.recv(&receiver)), next_recv, "{what}");
        next_recv += 1;
    }
    receiver.set_rcvtimeo(0).unwrap();
    assert!(
        matches!(receiver.recv(0), Err(Error::WouldBlock | Error::TimedOut)),
        "{what}: a message beyond those sent"
    );
    receiver.set_rcvtimeo(TIMEOUT_MS).unwrap();

    // A sender blocked at the mark is woken by a reader in another thread, again and again.
    const STREAM: u64 = 20_000;
    let first = next_send;
    let sending = std::thread::spawn(move || {
        for seq in first..first + STREAM {
            sender.send(seq_msg(seq, 8), 0).unwrap();
        }
        sender
    });
    for seq in first..first + STREAM {
        assert_eq!(seq_of(&pattern.recv(&receiver)), seq, "{what}: stream");
    }
    drop(sending.join().unwrap());
}

#[test]
fn push_pull_at_the_mark_inproc() {
    bounded(30, || inproc_fill_drain(Blocking::PushPull));
}

#[test]
fn dealer_router_at_the_mark_inproc() {
    bounded(30, || inproc_fill_drain(Blocking::DealerRouter));
}

#[test]
fn pair_at_the_mark_inproc() {
    bounded(30, || inproc_fill_drain(Blocking::Pair));
}

/// Over tcp or ipc, PUSH→PULL with both marks at 10, small socket buffers and 16 KiB
/// messages: the sender fills up (at least both marks, and a bounded number beyond them in
/// the kernel), then DONTWAIT fails and a blocking send times out; after the receiver drains
/// half, a blocking send goes through; everything arrives in order; a stream through the
/// full pipe never deadlocks.
fn stream_fill_drain(endpoint: &str) {
    const SIZE: usize = 16 * 1024;
    let what = endpoint.split(':').next().unwrap().to_string();
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_rcvhwm(HWM).unwrap();
    pull.set_rcvbuf(8192).unwrap();
    pull.set_rcvtimeo(TIMEOUT_MS).unwrap();
    pull.set_linger(0).unwrap();
    pull.bind(endpoint).unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_sndhwm(HWM).unwrap();
    push.set_sndbuf(8192).unwrap();
    push.set_linger(0).unwrap();
    push.connect(&pull.last_endpoint().unwrap()).unwrap();

    // Fill: send until a send has waited 300 ms without room, i.e. the pipe, the I/O
    // threads' batches and the kernel buffers between them are all full.
    let mut next_send = 0u64;
    push.set_sndtimeo(300).unwrap();
    loop {
        match push.send(seq_msg(next_send, SIZE), 0) {
            Ok(()) => next_send += 1,
            Err(Error::TimedOut) => break,
            Err(e) => panic!("{what}: filling: {e}"),
        }
        // Beyond both marks only the kernel buffers and the I/O threads' write batches
        // hold messages: a few hundred KiB (about 20 messages measured), never megabytes.
        assert!(
            next_send <= 2 * HWM as u64 + 128,
            "{what}: {next_send} messages of 16 KiB queued: the marks did not stop the sender"
        );
    }
    push.set_sndtimeo(-1).unwrap();
    assert!(
        next_send >= 2 * HWM as u64,
        "{what}: blocked after {next_send}, before both marks were full"
    );
    expect_would_block(push.send(seq_msg(next_send, SIZE), DONTWAIT), &what);
    expect_timed_out(&push, &what);

    // Drain half: the sender gets room again.
    let mut next_recv = 0u64;
    for _ in 0..next_send / 2 {
        assert_eq!(seq_of(&pull.recv(0).unwrap()), next_recv, "{what}");
        next_recv += 1;
    }
    push.set_sndtimeo(TIMEOUT_MS).unwrap();
    push.send(seq_msg(next_send, SIZE), 0)
        .unwrap_or_else(|e| panic!("{what}: no room after half the queue was read: {e}"));
    next_send += 1;
    while next_recv < next_send {
        let m = pull.recv(0).unwrap();
        assert_eq!(m.len(), SIZE);
        assert_eq!(seq_of(&m), next_recv, "{what}");
        next_recv += 1;
    }

    // A stream through the full pipe: the sender blocks and is woken, again and again.
    const STREAM: u64 = 2000;
    let first = next_send;
    push.set_sndtimeo(-1).unwrap();
    let sending = std::thread::spawn(move || {
        for seq in first..first + STREAM {
            push.send(seq_msg(seq, SIZE), 0).unwrap();
        }
        push
    });
    for seq in first..first + STREAM {
        assert_eq!(seq_of(&pull.recv(0).unwrap()), seq, "{what}: stream");
    }
    drop(sending.join().unwrap());
}

#[test]
fn push_pull_at_the_mark_tcp() {
    bounded(60, || stream_fill_drain("tcp://127.0.0.1:*"));
}

#[test]
fn push_pull_at_the_mark_ipc() {
    bounded(60, || stream_fill_drain(&ipc_endpoint("hwm")));
}

/// A PUB with SNDHWM 10 over tcp, one SUB that never reads (RCVHWM 10, small buffer) and one
/// that keeps up. The publisher never blocks; the live subscriber gets every message (the
/// sender stays within a few messages of it, so its pipe never reaches the mark); the
/// stalled one gets a part, in order, without duplicates; once drained it receives again.
#[test]
fn pub_drops_only_for_the_stalled_subscriber_tcp() {
    bounded(60, || {
        const N: u64 = 3000;
        const SIZE: usize = 1024;
        let ctx = Context::new();
        let publisher = ctx.socket(SocketType::Pub).unwrap();
        publisher.set_sndhwm(HWM).unwrap();
        publisher.set_sndbuf(16 * 1024).unwrap();
        publisher.set_linger(0).unwrap();
        publisher.bind("tcp://127.0.0.1:*").unwrap();
        let ep = publisher.last_endpoint().unwrap();
        let sub = |rcvhwm: i32| {
            let s = ctx.socket(SocketType::Sub).unwrap();
            s.set_rcvhwm(rcvhwm).unwrap();
            s.set_rcvbuf(8192).unwrap();
            s.set_rcvtimeo(TIMEOUT_MS).unwrap();
            s.set_linger(0).unwrap();
            s.set_subscribe(b"").unwrap();
            s.connect(&ep).unwrap();
            s
        };
        let stalled = sub(HWM);
        let live = sub(HWM);
        // Both subscriptions are in place once a probe reaches each.
        for s in [&stalled, &live] {
            s.set_rcvtimeo(20).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                assert!(Instant::now() < deadline, "subscription never took");
                publisher.send("probe", DONTWAIT).unwrap();
                if s.recv(0).is_ok() {
                    break;
                }
            }
            s.set_rcvtimeo(TIMEOUT_MS).unwrap();
        }

        let received = Arc::new(AtomicU64::new(0));
        let reader = {
            let received = received.clone();
            std::thread::spawn(move || {
                let mut next = 0;
                while next < N {
                    let m = live.recv(0).expect("the live subscriber lost the stream");
                    if m.len() != SIZE {
                        continue; // a late probe
                    }
                    assert_eq!(seq_of(&m), next, "the live subscriber lost or reordered");
                    next += 1;
                    received.store(next, Ordering::Release);
                }
                live
            })
        };
        for seq in 0..N {
            // Keep within 5 messages of the live subscriber: its pipe (mark 10) never fills.
            if seq >= received.load(Ordering::Acquire) + 5 {
                assert!(
                    wait_for(30, || seq < received.load(Ordering::Acquire) + 5),
                    "the live subscriber stopped at {}",
                    received.load(Ordering::Acquire)
                );
            }
            publisher
                .send(seq_msg(seq, SIZE), DONTWAIT)
                .expect("a PUB never blocks");
        }
        let live = reader.join().unwrap();

        // The stalled subscriber: what it holds, in order, without duplicates.
        let mut got = Vec::new();
        stalled.set_rcvtimeo(300).unwrap();
        loop {
            match stalled.recv(0) {
                Ok(m) if m.len() == SIZE => got.push(seq_of(&m)),
                Ok(_) => {} // a probe
                Err(Error::TimedOut) => break,
                Err(e) => panic!("stalled subscriber: {e}"),
            }
        }
        assert!(
            !got.is_empty() && got[0] == 0,
            "the stalled subscriber must hold the start of the stream: {:?}",
            &got[..got.len().min(5)]
        );
        assert!(
            (got.len() as u64) < N,
            "the stalled subscriber lost nothing: its mark did not apply"
        );
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "stalled subscriber: out of order or duplicated"
        );

        // Drained, it receives again, and so does the live one.
        stalled.set_rcvtimeo(TIMEOUT_MS).unwrap();
        publisher
            .send(seq_msg(N, SIZE), DONTWAIT)
            .expect("a PUB never blocks");
        assert_eq!(seq_of(&stalled.recv(0).unwrap()), N, "stalled, drained");
        assert_eq!(seq_of(&live.recv(0).unwrap()), N, "live");
    });
}
