//! Delivery semantics, with a sequence number in every message.
//!
//! **Order, no duplicates.** PUSH→PULL, DEALER→ROUTER, PAIR→PAIR and PUB→SUB, each over tcp,
//! ipc and inproc: the receiver checks that message `i` carries sequence number `i`, so a
//! gap, a duplicate or a reordering fails at the first message where it shows, and nothing
//! may follow the last one.
//!
//! Each pattern and transport sends 1 000 000 messages, as the TESTS.md row asks (the whole
//! file takes 10 to 30 s in debug on the 2 shared cores of the development machine).
//!
//! PUB→SUB is checked strictly (no gap at all): the subscription is in place before the
//! first numbered message (probes are published until one arrives), and both high-water
//! marks are 0 (unlimited), so the publisher has no legitimate reason to drop anything.
//!
//! **Round robin / fair queueing.** N PUSH × M PULL: with every pipe in place before the
//! first send and below its high-water mark, each PUSH deals its messages to the PULLs in
//! strict turn; a PULL with several PUSHes takes from each in turn.

mod common;
use common::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zerosock::{Context, Error, Msg, Socket, SocketType, DONTWAIT};

/// How long a receiver waits for the next message before the test fails (not hangs).
const RECV_TIMEOUT_MS: i32 = 10_000;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

/// Binds `s` on a fresh endpoint of transport `t`; returns the endpoint to connect to.
fn bind(t: Transport, s: &Socket, tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let ep = match t {
        Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
        Transport::Ipc => ipc_endpoint(tag),
        Transport::Inproc => format!(
            "inproc://delivery-{tag}-{}",
            N.fetch_add(1, Ordering::Relaxed)
        ),
    };
    s.bind(&ep).unwrap();
    s.last_endpoint().unwrap()
}

fn seq_msg(seq: u64) -> Msg {
    Msg::from(&seq.to_le_bytes())
}

fn seq_of(m: &Msg, what: &str) -> u64 {
    let bytes: [u8; 8] = m[..]
        .try_into()
        .unwrap_or_else(|_| panic!("{what}: a message of {} B, not a sequence number", m.len()));
    u64::from_le_bytes(bytes)
}

/// Fails at the first message out of sequence, naming what went wrong.
fn expect_seq(got: u64, expected: u64, what: &str) {
    if got != expected {
        let kind = if got < expected {
            "a duplicate or a reordering"
        } else {
            "a gap (lost messages) or a reordering"
        };
        panic!("{what}: expected #{expected}, received #{got}: {kind}");
    }
}

/// After the last message nothing more may arrive (no late duplicate).
fn expect_nothing_more(s: &Socket, what: &str) {
    s.set_rcvtimeo(100).unwrap();
    match s.recv(0) {
        Err(Error::TimedOut) => {}
        other => panic!("{what}: something arrived after the last message: {other:?}"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Pattern {
    PushPull,
    DealerRouter,
    Pair,
    PubSub,
}

/// Sends `n` numbered messages from one socket to another over `t` and checks each on
/// arrival.
fn order_no_duplicates(pattern: Pattern, t: Transport, n: u64) {
    let what = format!("{pattern:?} over {t:?}");
    let ctx = Context::new();
    let (sender_type, receiver_type) = match pattern {
        Pattern::PushPull => (SocketType::Push, SocketType::Pull),
        Pattern::DealerRouter => (SocketType::Dealer, SocketType::Router),
        Pattern::Pair => (SocketType::Pair, SocketType::Pair),
        Pattern::PubSub => (SocketType::Pub, SocketType::Sub),
    };
    let receiver = ctx.socket(receiver_type).unwrap();
    let sender = ctx.socket(sender_type).unwrap();
    for s in [&receiver, &sender] {
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(RECV_TIMEOUT_MS).unwrap();
    }
    if let Pattern::PubSub = pattern {
        sender.set_sndhwm(0).unwrap();
        receiver.set_rcvhwm(0).unwrap();
        receiver.set_subscribe(b"").unwrap();
    }
    if let Pattern::DealerRouter = pattern {
        sender.set_routing_id(b"dealer").unwrap();
    }
    let ep = bind(t, &receiver, "order");
    sender.connect(&ep).unwrap();

    if let Pattern::PubSub = pattern {
        // Probes (1 byte, never a sequence number) until the subscription has reached the
        // publisher: from then on every published message is delivered.
        let deadline = Instant::now() + Duration::from_secs(10);
        receiver.set_rcvtimeo(20).unwrap();
        loop {
            assert!(Instant::now() < deadline, "{what}: subscription never took");
            sender.send("p", DONTWAIT).unwrap();
            if receiver.recv(0).is_ok() {
                break;
            }
        }
        receiver.set_rcvtimeo(RECV_TIMEOUT_MS).unwrap();
    }

    let sending = std::thread::spawn(move || {
        for seq in 0..n {
            sender.send(seq_msg(seq), 0).unwrap();
        }
        sender // kept open until the receiver has everything
    });

    let mut expected = 0;
    while expected < n {
        let m = match pattern {
            Pattern::DealerRouter => {
                let mut parts = receiver
                    .recv_multipart(0)
                    .unwrap_or_else(|e| panic!("{what}: waiting for #{expected}: {e}"));
                assert_eq!(parts.len(), 2, "{what}: {parts:?}");
                assert_eq!(parts[0], b"dealer", "{what}: routing id");
                parts.pop().unwrap()
            }
            _ => receiver
                .recv(0)
                .unwrap_or_else(|e| panic!("{what}: waiting for #{expected}: {e}")),
        };
        assert!(!m.more(), "{what}: single-frame message with MORE");
        if let (Pattern::PubSub, 0, 1) = (pattern, expected, m.len()) {
            continue; // a probe published before the first numbered message
        }
        expect_seq(seq_of(&m, &what), expected, &what);
        expected += 1;
    }
    let sender = sending.join().unwrap();
    expect_nothing_more(&receiver, &what);
    drop(sender);
}

/// Messages per pattern and transport, as the TESTS.md row asks.
const COUNT: u64 = 1_000_000;

macro_rules! order_tests {
    ($($name:ident: $pattern:ident over $transport:ident;)*) => {$(
        #[test]
        fn $name() {
            bounded(120, || order_no_duplicates(Pattern::$pattern, Transport::$transport, COUNT));
        }
    )*};
}

order_tests! {
    push_pull_tcp_in_order_without_duplicates: PushPull over Tcp;
    push_pull_ipc_in_order_without_duplicates: PushPull over Ipc;
    push_pull_inproc_in_order_without_duplicates: PushPull over Inproc;
    dealer_router_tcp_in_order_without_duplicates: DealerRouter over Tcp;
    dealer_router_ipc_in_order_without_duplicates: DealerRouter over Ipc;
    dealer_router_inproc_in_order_without_duplicates: DealerRouter over Inproc;
    pair_tcp_in_order_without_duplicates: Pair over Tcp;
    pair_ipc_in_order_without_duplicates: Pair over Ipc;
    pair_inproc_in_order_without_duplicates: Pair over Inproc;
    pub_sub_tcp_in_order_without_gaps_or_duplicates: PubSub over Tcp;
    pub_sub_ipc_in_order_without_gaps_or_duplicates: PubSub over Ipc;
    pub_sub_inproc_in_order_without_gaps_or_duplicates: PubSub over Inproc;
}

// ----- round robin and fair queueing ---------------------------------------------------------

const PUSHES: usize = 3;
const PULLS: usize = 4;

/// A message from PUSH `from` with sequence number `seq`.
fn tagged(from: usize, seq: u64) -> Msg {
    let mut body = vec![from as u8];
    body.extend_from_slice(&seq.to_le_bytes());
    Msg::from(body)
}

fn untag(m: &Msg) -> (usize, u64) {
    assert_eq!(m.len(), 9, "not a tagged message: {m:?}");
    (
        m[0] as usize,
        u64::from_le_bytes(m[1..].try_into().unwrap()),
    )
}

/// 3 PUSH × 4 PULL: every PUSH is connected to every PULL before it sends, and sends 250
/// messages per PULL (below the high-water mark of 1000), so it deals them in strict
/// turn: each PULL gets exactly a quarter of each PUSH's messages, every fourth one, in
/// order.
fn round_robin(t: Transport) {
    const PER_PULL: u64 = 250;
    let ctx = Context::new();
    let pulls: Vec<Socket> = (0..PULLS)
        .map(|_| {
            let s = ctx.socket(SocketType::Pull).unwrap();
            s.set_linger(0).unwrap();
            s.set_rcvtimeo(RECV_TIMEOUT_MS).unwrap();
            s
        })
        .collect();
    let endpoints: Vec<String> = pulls.iter().map(|p| bind(t, p, "rr")).collect();
    let pushes: Vec<Socket> = (0..PUSHES)
        .map(|_| {
            let s = ctx.socket(SocketType::Push).unwrap();
            s.set_linger(0).unwrap();
            for ep in &endpoints {
                s.connect(ep).unwrap();
            }
            s
        })
        .collect();
    let per_push = PER_PULL * PULLS as u64;
    for seq in 0..per_push {
        for (from, push) in pushes.iter().enumerate() {
            push.send(tagged(from, seq), 0).unwrap();
        }
    }
    // residue[push][pull]: which turn of each PUSH's rotation a PULL holds.
    let mut residue = [[None::<u64>; PULLS]; PUSHES];
    for (k, pull) in pulls.iter().enumerate() {
        let mut last: [Option<u64>; PUSHES] = [None; PUSHES];
        let mut count = [0u64; PUSHES];
        for _ in 0..PER_PULL * PUSHES as u64 {
            let m = pull
                .recv(0)
                .unwrap_or_else(|e| panic!("{t:?}: PULL {k} got {count:?} so far: {e}"));
            let (from, seq) = untag(&m);
            assert!(from < PUSHES, "{t:?}: from {from}");
            let r = *residue[from][k].get_or_insert(seq % PULLS as u64);
            assert_eq!(
                seq % PULLS as u64,
                r,
                "{t:?}: PULL {k} got #{seq} from PUSH {from}, not its turn (every {PULLS}th from #{r})"
            );
            if let Some(prev) = last[from] {
                assert_eq!(
                    seq,
                    prev + PULLS as u64,
                    "{t:?}: PULL {k}, PUSH {from}: out of turn"
                );
            }
            last[from] = Some(seq);
            count[from] += 1;
        }
        assert_eq!(
            count, [PER_PULL; PUSHES],
            "{t:?}: PULL {k}: uneven distribution"
        );
        expect_nothing_more(pull, &format!("{t:?}: PULL {k}"));
    }
    for (from, turns) in residue.iter().enumerate() {
        let mut turns: Vec<u64> = turns.iter().map(|r| r.unwrap()).collect();
        turns.sort_unstable();
        assert_eq!(
            turns,
            (0..PULLS as u64).collect::<Vec<_>>(),
            "{t:?}: PUSH {from} skipped a PULL"
        );
    }
}

#[test]
fn push_round_robins_over_pulls_tcp() {
    bounded(60, || round_robin(Transport::Tcp));
}

#[test]
fn push_round_robins_over_pulls_ipc() {
    bounded(60, || round_robin(Transport::Ipc));
}

#[test]
fn push_round_robins_over_pulls_inproc() {
    bounded(60, || round_robin(Transport::Inproc));
}

/// One PULL, three PUSHes over inproc, each with 100 messages waiting before the PULL reads:
/// it takes one from each in turn (every window of three holds one message of each PUSH),
/// and each PUSH's messages in order.
#[test]
fn pull_fair_queues_its_pushes_inproc() {
    bounded(30, || {
        const K: u64 = 100;
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(RECV_TIMEOUT_MS).unwrap();
        let ep = bind(Transport::Inproc, &pull, "fq");
        let pushes: Vec<Socket> = (0..PUSHES)
            .map(|_| {
                let s = ctx.socket(SocketType::Push).unwrap();
                s.connect(&ep).unwrap();
                s
            })
            .collect();
        for (from, push) in pushes.iter().enumerate() {
            for seq in 0..K {
                push.send(tagged(from, seq), DONTWAIT).unwrap();
            }
        }
        let got: Vec<(usize, u64)> = (0..K * PUSHES as u64)
            .map(|_| untag(&pull.recv(0).unwrap()))
            .collect();
        for (i, window) in got.chunks(PUSHES).enumerate() {
            let mut from: Vec<usize> = window.iter().map(|&(f, _)| f).collect();
            from.sort_unstable();
            assert_eq!(
                from,
                (0..PUSHES).collect::<Vec<_>>(),
                "round {i}: not one message from each PUSH: {window:?}"
            );
            for &(f, seq) in window {
                assert_eq!(seq, i as u64, "PUSH {f}: out of order");
            }
        }
        expect_nothing_more(&pull, "fair queue inproc");
    });
}

/// One PULL, three PUSHes over tcp, each with a backlog of 5000 messages queued (in turn,
/// one message per PUSH) before the PULL reads anything. Arrival over tcp is not lock-step:
/// a busy machine can deliver one connection's bytes well after another's, and a fair queue
/// can only share among pipes that have something. So fairness is measured from the moment
/// every PUSH has been heard from until the first one runs out: over that stretch (at least
/// 1000 messages) each PUSH must have at least a tenth. A fair share is a third, but a pipe
/// that runs dry for a moment while its connection refills it (the machine is busy) loses
/// turns: alone this test sees shares like [4998, 4255, 4123], but a CI run with the other
/// delivery tests streaming beside it saw [2047, 4998, 1279]. A PULL that drained one peer
/// before the next would give the others nothing. The strict turn-by-turn check is the
/// inproc test above. Each PUSH's messages must also arrive in order.
#[test]
fn pull_fair_queues_its_pushes_tcp() {
    bounded(60, || {
        const K: u64 = 5000;
        let pull_ctx = Context::new();
        let pull = pull_ctx.socket(SocketType::Pull).unwrap();
        pull.set_linger(0).unwrap();
        pull.set_rcvtimeo(RECV_TIMEOUT_MS).unwrap();
        let ep = bind(Transport::Tcp, &pull, "fq");
        let push_ctx = Context::new();
        let pushes: Vec<Socket> = (0..PUSHES)
            .map(|_| {
                let s = push_ctx.socket(SocketType::Push).unwrap();
                s.set_linger(0).unwrap();
                s.set_sndhwm(0).unwrap();
                s.connect(&ep).unwrap();
                s
            })
            .collect();
        // Every connection is up once its hello arrived.
        for (from, push) in pushes.iter().enumerate() {
            push.send(tagged(from, u64::MAX), 0).unwrap();
        }
        for _ in 0..PUSHES {
            assert_eq!(untag(&pull.recv(0).unwrap()).1, u64::MAX);
        }
        for seq in 0..K {
            for (from, push) in pushes.iter().enumerate() {
                push.send(tagged(from, seq), DONTWAIT).unwrap();
            }
        }
        let mut next = [0u64; PUSHES];
        // Messages per PUSH while every PUSH had been heard from and none had finished.
        let mut shared = [0usize; PUSHES];
        for _ in 0..K as usize * PUSHES {
            let (from, seq) = untag(&pull.recv(0).unwrap());
            expect_seq(seq, next[from], &format!("PUSH {from}"));
            next[from] += 1;
            if next.iter().all(|&n| n > 0 && n < K) {
                shared[from] += 1;
            }
        }
        let stretch: usize = shared.iter().sum();
        assert!(
            stretch >= 1000,
            "only {stretch} messages arrived while all three PUSHes were streaming ({shared:?})"
        );
        for (from, n) in shared.iter().enumerate() {
            assert!(
                *n >= stretch / 10,
                "PUSH {from} had {n} of the {stretch} messages received while all were \
                 streaming ({shared:?}): not fair"
            );
        }
        expect_nothing_more(&pull, "fair queue tcp");
    });
}
