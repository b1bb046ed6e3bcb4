//! Conformance of the socket patterns, zerosock to zerosock, over inproc and tcp: round
//! robin, fair queueing, envelopes, the REQ state machine, ROUTER routing ids (mandatory,
//! handover, probe, connect routing id), counted subscriptions, slow-subscriber isolation,
//! XPUB notifications and options, and resubscription after a publisher restarts.
//!
//! No test sleeps to let things settle: pub/sub propagation is awaited by publishing and
//! polling with a short timeout until the message arrives or a deadline passes.

mod common;
use common::*;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zerosock::{Context, Error, Msg, Socket, SocketType, DONTWAIT};

const TIMEOUT_MS: i32 = 5_000;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Inproc,
    Tcp,
}

const BOTH: [Transport; 2] = [Transport::Inproc, Transport::Tcp];

fn sock(ctx: &Context, ty: SocketType) -> Socket {
    let s = ctx.socket(ty).unwrap();
    s.set_rcvtimeo(TIMEOUT_MS).unwrap();
    s.set_sndtimeo(TIMEOUT_MS).unwrap();
    s.set_linger(0).unwrap();
    s
}

/// Binds `s` and returns the endpoint to connect to.
fn bind(t: Transport, s: &Socket) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    match t {
        Transport::Tcp => {
            s.bind("tcp://127.0.0.1:*").unwrap();
            s.last_endpoint().unwrap()
        }
        Transport::Inproc => {
            let ep = format!("inproc://patterns-{}", N.fetch_add(1, Ordering::Relaxed));
            s.bind(&ep).unwrap();
            ep
        }
    }
}

fn frames(parts: Vec<Msg>) -> Vec<Vec<u8>> {
    parts.into_iter().map(|m| m.to_vec()).collect()
}

fn recv_frames(s: &Socket) -> Vec<Vec<u8>> {
    frames(s.recv_multipart(0).unwrap())
}

fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Receives with a short timeout: `None` if nothing came.
fn try_recv(s: &Socket, ms: i32) -> Option<Vec<Vec<u8>>> {
    s.set_rcvtimeo(ms).unwrap();
    let got = match s.recv_multipart(0) {
        Ok(m) => Some(frames(m)),
        Err(Error::TimedOut) | Err(Error::WouldBlock) => None,
        Err(e) => panic!("recv: {e}"),
    };
    s.set_rcvtimeo(TIMEOUT_MS).unwrap();
    got
}

/// Publishes `topic` until `sub` receives it (subscriptions take a moment to travel);
/// other messages received meanwhile are discarded.
fn publish_until_received(publisher: &Socket, sub: &Socket, topic: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        publisher.send(topic, DONTWAIT).unwrap();
        while let Some(m) = try_recv(sub, 20) {
            if m[0] == topic.as_bytes() {
                return;
            }
        }
    }
    panic!("{topic:?} never arrived: the subscription did not propagate");
}

/// Publishes `msgs`, then a fresh marker (the subscriber must be subscribed to "sync");
/// returns the first frames `sub` received before that marker, stale markers skipped.
fn through(publisher: &Socket, sub: &Socket, msgs: &[&str]) -> Vec<Vec<u8>> {
    static MARK: AtomicU32 = AtomicU32::new(0);
    for m in msgs {
        publisher.send(*m, 0).unwrap();
    }
    let mark = format!("sync-{}", MARK.fetch_add(1, Ordering::Relaxed));
    publisher.send(&mark, 0).unwrap();
    let mut got = Vec::new();
    loop {
        let m = recv_frames(sub).remove(0);
        if m == mark.as_bytes() {
            return got;
        }
        if !m.starts_with(b"sync") {
            got.push(m);
        }
    }
}

fn wrong_state<T: std::fmt::Debug>(r: zerosock::Result<T>) -> bool {
    matches!(r, Err(Error::WrongState(_)))
}

// ----- request-reply ------------------------------------------------------------------

#[test]
fn req_round_robins_over_reps_and_alternates_strictly() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let reps: Vec<Socket> = (0..3).map(|_| sock(&ctx, SocketType::Rep)).collect();
            let req = sock(&ctx, SocketType::Req);
            for rep in &reps {
                req.connect(&bind(t, rep)).unwrap();
            }
            assert!(wrong_state(req.recv(0)), "{t:?}: recv before send");
            for i in 0..9 {
                req.send_multipart([format!("q{i}"), "part".into()], 0)
                    .unwrap();
                assert!(wrong_state(req.send("again", 0)), "{t:?}: second send");
                // The connect order is the round-robin order.
                let rep = &reps[i % 3];
                assert_eq!(recv_frames(rep), vec![v(&format!("q{i}")), v("part")]);
                assert!(wrong_state(rep.recv(0)), "{t:?}: REP recv twice");
                rep.send_multipart([format!("r{i}"), String::new()], 0)
                    .unwrap();
                assert_eq!(recv_frames(&req), vec![v(&format!("r{i}")), vec![]]);
            }
        });
    }
}

#[test]
fn envelopes_between_req_dealer_rep_and_router() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            // REQ -> ROUTER: the ROUTER sees [routing id, "", body].
            let router = sock(&ctx, SocketType::Router);
            let ep = bind(t, &router);
            let req = sock(&ctx, SocketType::Req);
            req.set_routing_id(b"req-1").unwrap();
            req.connect(&ep).unwrap();
            req.send("hello", 0).unwrap();
            assert_eq!(recv_frames(&router), vec![v("req-1"), vec![], v("hello")]);
            router.send_multipart(["req-1", "", "world"], 0).unwrap();
            assert_eq!(recv_frames(&req), vec![v("world")]);

            // DEALER -> REP: the DEALER writes the delimiter itself and gets it back.
            let rep = sock(&ctx, SocketType::Rep);
            let ep = bind(t, &rep);
            let dealer = sock(&ctx, SocketType::Dealer);
            dealer.connect(&ep).unwrap();
            dealer.send("malformed, no delimiter", 0).unwrap();
            dealer.send_multipart(["hop", "", "a", "", "b"], 0).unwrap();
            assert_eq!(recv_frames(&rep), vec![v("a"), vec![], v("b")]);
            rep.send("x", 0).unwrap();
            assert_eq!(recv_frames(&dealer), vec![v("hop"), vec![], v("x")]);
        });
    }
}

#[test]
fn req_lost_reply_times_out_and_relaxed_correlated_resend_works() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let (a, b) = (sock(&ctx, SocketType::Rep), sock(&ctx, SocketType::Rep));
            let (ea, eb) = (bind(t, &a), bind(t, &b));

            let strict = sock(&ctx, SocketType::Req);
            strict.set_rcvtimeo(100).unwrap();
            strict.connect(&ea).unwrap();
            strict.send("q", 0).unwrap();
            assert_eq!(recv_frames(&a), vec![v("q")]);
            // A never answers: the reply times out, and a strict REQ stays stuck.
            assert!(matches!(strict.recv(0), Err(Error::TimedOut)));
            assert!(wrong_state(strict.send("q2", 0)));
            a.send("late", 0).unwrap();
            strict.set_rcvtimeo(TIMEOUT_MS).unwrap();
            assert_eq!(recv_frames(&strict), vec![v("late")]);

            let req = sock(&ctx, SocketType::Req);
            req.set_req_relaxed(true).unwrap();
            req.set_req_correlate(true).unwrap();
            req.set_rcvtimeo(100).unwrap();
            req.connect(&ea).unwrap();
            req.connect(&eb).unwrap();
            req.send("one", 0).unwrap();
            // The REP hides the envelope (request id and delimiter).
            assert_eq!(recv_frames(&a), vec![v("one")]);
            assert!(matches!(req.recv(0), Err(Error::TimedOut)));
            req.set_rcvtimeo(TIMEOUT_MS).unwrap();
            // Relaxed: ask again; the next peer answers.
            req.send("two", 0).unwrap();
            assert_eq!(recv_frames(&b), vec![v("two")]);
            b.send("reply two", 0).unwrap();
            assert_eq!(recv_frames(&req), vec![v("reply two")]);
            // A's late reply to "one" must never be taken for the reply to "three".
            a.send("reply one", 0).unwrap();
            req.send("three", 0).unwrap();
            assert_eq!(recv_frames(&a), vec![v("three")]);
            a.send("reply three", 0).unwrap();
            assert_eq!(recv_frames(&req), vec![v("reply three")]);
        });
    }
}

// ----- round robin and fair queueing --------------------------------------------------

#[test]
fn dealer_round_robins_whole_messages() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let routers: Vec<Socket> = (0..3).map(|_| sock(&ctx, SocketType::Router)).collect();
            let dealer = sock(&ctx, SocketType::Dealer);
            dealer.set_routing_id(b"d").unwrap();
            for r in &routers {
                dealer.connect(&bind(t, r)).unwrap();
            }
            for i in 0..30 {
                dealer
                    .send_multipart([format!("{i}"), "".into(), "tail".into()], 0)
                    .unwrap();
            }
            for (k, r) in routers.iter().enumerate() {
                for i in (k..30).step_by(3) {
                    assert_eq!(
                        recv_frames(r),
                        vec![v("d"), v(&format!("{i}")), vec![], v("tail")],
                        "{t:?}"
                    );
                }
                assert!(try_recv(r, 20).is_none());
            }
        });
    }
}

#[test]
fn router_fair_queues_its_peers_inproc() {
    bounded(30, || {
        let ctx = Context::new();
        let router = sock(&ctx, SocketType::Router);
        let ep = bind(Transport::Inproc, &router);
        let dealers: Vec<Socket> = (0..3)
            .map(|i| {
                let d = sock(&ctx, SocketType::Dealer);
                d.set_routing_id(format!("d{i}").as_bytes()).unwrap();
                d.connect(&ep).unwrap();
                d
            })
            .collect();
        for d in &dealers {
            for n in 0..5 {
                d.send(format!("{n}"), 0).unwrap();
            }
        }
        let order: Vec<(Vec<u8>, Vec<u8>)> = (0..15)
            .map(|_| {
                let m = recv_frames(&router);
                (m[0].clone(), m[1].clone())
            })
            .collect();
        for (i, (id, body)) in order.iter().enumerate() {
            assert_eq!(id, &v(&format!("d{}", i % 3)), "{order:?}");
            assert_eq!(body, &v(&format!("{}", i / 3)));
        }
    });
}

#[test]
fn router_fair_queues_a_flood_and_a_trickle_tcp() {
    bounded(60, || {
        let ctx = Context::new();
        let router = sock(&ctx, SocketType::Router);
        let ep = bind(Transport::Tcp, &router);
        let mk = |id: &str| {
            let d = sock(&ctx, SocketType::Dealer);
            d.set_routing_id(id.as_bytes()).unwrap();
            d.connect(&ep).unwrap();
            d.send("hello", 0).unwrap();
            d
        };
        let flood = mk("flood");
        let (t1, t2) = (mk("t1"), mk("t2"));
        for _ in 0..3 {
            assert_eq!(recv_frames(&router)[1], v("hello"));
        }
        const N: usize = 20_000;
        let sender = std::thread::spawn(move || {
            for i in 0..N {
                flood.send(format!("{i}"), 0).unwrap();
            }
            flood
        });
        for n in 0..3 {
            t1.send(format!("{n}"), 0).unwrap();
            t2.send(format!("{n}"), 0).unwrap();
        }
        let mut flood_seen = 0;
        let mut trickle_seen = 0;
        while flood_seen < N {
            let m = recv_frames(&router);
            if m[0] == b"flood" {
                assert_eq!(m[1], v(&format!("{flood_seen}")), "in order");
                flood_seen += 1;
            } else {
                trickle_seen += 1;
            }
        }
        assert_eq!(
            trickle_seen, 6,
            "the trickle was served while the flood went on, not after it"
        );
        drop(sender.join().unwrap());
    });
}

// ----- ROUTER routing ids ------------------------------------------------------------------

#[test]
fn router_mandatory_unroutable_and_full() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let router = sock(&ctx, SocketType::Router);
            let ep = bind(t, &router);
            // Default: unroutable messages vanish.
            router.send_multipart(["nobody", "x"], 0).unwrap();
            router.set_router_mandatory(true).unwrap();
            assert!(matches!(
                router.send_multipart(["nobody", "x"], 0),
                Err(Error::HostUnreachable)
            ));
            let dealer = sock(&ctx, SocketType::Dealer);
            dealer.set_routing_id(b"d").unwrap();
            dealer.connect(&ep).unwrap();
            dealer.send("hi", 0).unwrap();
            assert_eq!(recv_frames(&router), vec![v("d"), v("hi")]);
            router.send_multipart(["d", "ok"], 0).unwrap();
            assert_eq!(recv_frames(&dealer), vec![v("ok")]);
        });
    }
}

#[test]
fn router_mandatory_would_block_at_hwm() {
    bounded(30, || {
        let ctx = Context::new();
        let router = sock(&ctx, SocketType::Router);
        router.set_sndhwm(1).unwrap();
        router.set_router_mandatory(true).unwrap();
        let ep = bind(Transport::Inproc, &router);
        let dealer = sock(&ctx, SocketType::Dealer);
        dealer.set_rcvhwm(1).unwrap();
        dealer.set_routing_id(b"d").unwrap();
        dealer.connect(&ep).unwrap();
        let mut sent = 0;
        loop {
            match router.send_multipart(["d", "m"], DONTWAIT) {
                Ok(()) => sent += 1,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("{e}"),
            }
            assert!(sent < 100, "never blocked");
        }
        // Inproc pipes hold SNDHWM + RCVHWM messages.
        assert_eq!(sent, 2);
        router.set_sndtimeo(50).unwrap();
        assert!(matches!(
            router.send_multipart(["d", "m"], 0),
            Err(Error::TimedOut)
        ));
        for _ in 0..2 {
            assert_eq!(recv_frames(&dealer), vec![v("m")]);
        }
        router.set_sndtimeo(TIMEOUT_MS).unwrap();
        router.send_multipart(["d", "after"], 0).unwrap();
        assert_eq!(recv_frames(&dealer), vec![v("after")]);
    });
}

#[test]
fn router_duplicate_identity_with_and_without_handover() {
    for t in BOTH {
        for handover in [false, true] {
            bounded(30, move || {
                let ctx = Context::new();
                let router = sock(&ctx, SocketType::Router);
                router.set_router_handover(handover).unwrap();
                let ep = bind(t, &router);
                let first = sock(&ctx, SocketType::Dealer);
                // Closed by a handover, it must not come back and take the id again.
                first.set_reconnect_ivl(-1).unwrap();
                first.set_routing_id(b"x").unwrap();
                first.connect(&ep).unwrap();
                first.send("one", 0).unwrap();
                assert_eq!(recv_frames(&router), vec![v("x"), v("one")]);

                let second = sock(&ctx, SocketType::Dealer);
                second.set_routing_id(b"x").unwrap();
                second.connect(&ep).unwrap();
                second.send("two", 0).unwrap();
                let got = recv_frames(&router);
                assert_eq!(got[1], v("two"));
                router.send_multipart(["x", "back"], 0).unwrap();
                if handover {
                    assert_eq!(got[0], v("x"), "{t:?}: the newcomer took the id over");
                    assert_eq!(recv_frames(&second), vec![v("back")]);
                    assert!(try_recv(&first, 50).is_none());
                } else {
                    assert_eq!(got[0].len(), 5, "{t:?}: a generated id");
                    assert_eq!(got[0][0], 0);
                    assert_eq!(recv_frames(&first), vec![v("back")]);
                    router.send_multipart([&got[0][..], b"gen"], 0).unwrap();
                    assert_eq!(recv_frames(&second), vec![v("gen")]);
                }
            });
        }
    }
}

#[test]
fn router_to_router_with_connect_routing_id_and_probe() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let server = sock(&ctx, SocketType::Router);
            server.set_routing_id(b"srv").unwrap();
            let ep = bind(t, &server);
            let client = sock(&ctx, SocketType::Router);
            client.set_routing_id(b"cli").unwrap();
            client.set_probe_router(true).unwrap();
            client.set_connect_routing_id(b"server").unwrap();
            client.connect(&ep).unwrap();
            // The probe announces the client at once.
            assert_eq!(recv_frames(&server), vec![v("cli"), vec![]]);
            server.send_multipart(["cli", "hello"], 0).unwrap();
            assert_eq!(recv_frames(&client), vec![v("server"), v("hello")]);
            client.send_multipart(["server", "", "x"], 0).unwrap();
            assert_eq!(recv_frames(&server), vec![v("cli"), vec![], v("x")]);

            // DEALER <-> DEALER, both directions.
            let d1 = sock(&ctx, SocketType::Dealer);
            let d2 = sock(&ctx, SocketType::Dealer);
            d2.connect(&bind(t, &d1)).unwrap();
            d2.send_multipart(["a", "", "b"], 0).unwrap();
            assert_eq!(recv_frames(&d1), vec![v("a"), vec![], v("b")]);
            d1.send_multipart(["", "c"], 0).unwrap();
            assert_eq!(recv_frames(&d2), vec![vec![], v("c")]);
        });
    }
}

// ----- publish-subscribe ------------------------------------------------------------------

#[test]
fn subscriptions_filter_by_prefix_and_are_counted() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let publisher = sock(&ctx, SocketType::Pub);
            let ep = bind(t, &publisher);
            // An XSUB does not filter locally: what it gets is what the PUB chose to send.
            let xsub = sock(&ctx, SocketType::XSub);
            xsub.connect(&ep).unwrap();
            for s in ["\x01a", "\x01a", "\x01sync", "\x01"] {
                xsub.send(s, 0).unwrap();
            }
            publish_until_received(&publisher, &xsub, "sync");
            // Drop the empty topic, and one of the two subscriptions to "a": "a" still flows.
            xsub.send("\x00", 0).unwrap();
            xsub.send("\x00a", 0).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let got = through(&publisher, &xsub, &["b-unsubscribed", "a1"]);
                if got == [v("a1")] {
                    break;
                }
                // The cancel of "" has not reached the publisher yet.
                assert_eq!(got, vec![v("b-unsubscribed"), v("a1")]);
                assert!(
                    Instant::now() < deadline,
                    "the cancel of \"\" never arrived"
                );
            }
            // The second unsubscribe cancels "a" at the publisher.
            xsub.send("\x00a", 0).unwrap();
            loop {
                let got = through(&publisher, &xsub, &["a2"]);
                if got.is_empty() {
                    break;
                }
                assert_eq!(got, vec![v("a2")]);
                assert!(
                    Instant::now() < deadline,
                    "the cancel of \"a\" never arrived"
                );
            }

            // SUB: the same counting, through the options, plus its own filter.
            let sub = sock(&ctx, SocketType::Sub);
            sub.connect(&ep).unwrap();
            sub.set_subscribe(b"w").unwrap();
            sub.set_subscribe(b"w").unwrap();
            sub.set_subscribe(b"sync").unwrap();
            publish_until_received(&publisher, &sub, "sync");
            sub.set_unsubscribe(b"w").unwrap();
            assert_eq!(
                through(&publisher, &sub, &["x", "weather", "w", ""]),
                vec![v("weather"), v("w")]
            );
            sub.set_unsubscribe(b"w").unwrap();
            assert!(through(&publisher, &sub, &["weather", "w"]).is_empty());
            publisher.send_multipart(["sync", "multi"], 0).unwrap();
            assert_eq!(recv_frames(&sub), vec![v("sync"), v("multi")]);
        });
    }
}

#[test]
fn slow_subscriber_is_isolated_inproc() {
    bounded(30, || {
        let ctx = Context::new();
        let publisher = sock(&ctx, SocketType::Pub);
        publisher.set_sndhwm(1).unwrap();
        let ep = bind(Transport::Inproc, &publisher);
        let subs: Vec<Socket> = (0..10)
            .map(|i| {
                let s = sock(&ctx, SocketType::Sub);
                // Subscriber 0 stalls with room for 1 + 10 messages; the others have no
                // limit.
                s.set_rcvhwm(if i == 0 { 10 } else { 0 }).unwrap();
                s.set_subscribe(b"").unwrap();
                s.connect(&ep).unwrap();
                s
            })
            .collect();
        const N: u32 = 1000;
        for i in 0..N {
            publisher
                .send(format!("{i}"), DONTWAIT)
                .expect("PUB never blocks");
        }
        for s in &subs[1..] {
            for i in 0..N {
                assert_eq!(s.recv(DONTWAIT).unwrap(), &*format!("{i}"));
            }
            assert!(matches!(s.recv(DONTWAIT), Err(Error::WouldBlock)));
        }
        let slow = &subs[0];
        for i in 0..11 {
            assert_eq!(slow.recv(DONTWAIT).unwrap(), &*format!("{i}"));
        }
        assert!(matches!(slow.recv(DONTWAIT), Err(Error::WouldBlock)));
        // Drained, the slow subscriber gets new messages again.
        publisher.send("after", DONTWAIT).unwrap();
        assert_eq!(slow.recv(0).unwrap(), "after");
    });
}

#[test]
fn slow_subscriber_is_isolated_tcp() {
    bounded(120, || {
        let ctx = Context::new();
        let publisher = sock(&ctx, SocketType::Pub);
        publisher.set_sndhwm(100).unwrap();
        publisher.set_sndbuf(64 * 1024).unwrap();
        let ep = bind(Transport::Tcp, &publisher);
        let subs: Vec<Socket> = (0..10)
            .map(|i| {
                let s = sock(&ctx, SocketType::Sub);
                if i == 0 {
                    s.set_rcvhwm(10).unwrap();
                    s.set_rcvbuf(4096).unwrap();
                }
                s.set_subscribe(b"").unwrap();
                s.connect(&ep).unwrap();
                s
            })
            .collect();
        for s in &subs {
            publish_until_received(&publisher, s, "sync");
        }
        const N: u64 = 3000;
        let body = vec![b'.'; 1024];
        let received: Vec<Arc<AtomicU64>> = (1..10).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let mut subs = subs.into_iter();
        let slow = subs.next().unwrap();
        let readers: Vec<_> = subs
            .zip(received.iter().cloned())
            .map(|(s, count)| {
                std::thread::spawn(move || {
                    let mut next = 0u64;
                    while next < N {
                        let m = s.recv_multipart(0).unwrap();
                        if m[0] == b"sync" {
                            continue;
                        }
                        assert_eq!(m[0], &*next.to_string(), "a fast subscriber lost messages");
                        next += 1;
                        count.store(next, Ordering::Release);
                    }
                })
            })
            .collect();
        for i in 0..N {
            if i % 25 == 0 {
                // Keep the fast subscribers within reach (the publisher's own queue holds
                // 100), so only the stalled one can fall behind.
                let ok = wait_for(30, || {
                    received.iter().all(|c| c.load(Ordering::Acquire) + 25 >= i)
                });
                assert!(ok, "fast subscribers stalled");
            }
            publisher
                .send_multipart([i.to_string().into_bytes(), body.clone()], DONTWAIT)
                .expect("PUB never blocks");
        }
        for r in readers {
            r.join().unwrap();
        }
        let mut got = Vec::new();
        while let Some(m) = try_recv(&slow, 300) {
            if m[0] != b"sync" {
                got.push(
                    String::from_utf8(m[0].clone())
                        .unwrap()
                        .parse::<u64>()
                        .unwrap(),
                );
            }
        }
        assert!(!got.is_empty());
        assert!(
            (got.len() as u64) < N,
            "the stalled subscriber dropped messages"
        );
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "in order, no duplicates"
        );
    });
}

#[test]
fn sub_resubscribes_after_publisher_restart() {
    for sub_binds in [false, true] {
        bounded(60, move || {
            let sub_ctx = Context::new();
            let sub = sock(&sub_ctx, SocketType::Sub);
            sub.set_reconnect_ivl(20).unwrap();
            sub.set_subscribe(b"t").unwrap();
            let start_pub = || {
                let ctx = Context::new();
                let p = sock(&ctx, SocketType::Pub);
                p.set_reconnect_ivl(20).unwrap();
                (ctx, p)
            };
            let (first_ctx, first) = start_pub();
            let ep = if sub_binds {
                let ep = bind(Transport::Tcp, &sub);
                first.connect(&ep).unwrap();
                ep
            } else {
                let ep = bind(Transport::Tcp, &first);
                sub.connect(&ep).unwrap();
                ep
            };
            publish_until_received(&first, &sub, "t-first");
            // The publisher goes away with every connection it had.
            drop(first);
            drop(first_ctx);
            let (second_ctx, second) = start_pub();
            if sub_binds {
                second.connect(&ep).unwrap();
            } else {
                // Bind the same port again as soon as the old listener let go of it.
                assert!(wait_for(10, || second.bind(&ep).is_ok()), "rebinding {ep}");
            }
            // The application does not subscribe again.
            publish_until_received(&second, &sub, "t-second");
            drop(second);
            drop(second_ctx);
        });
    }
}

#[test]
fn inproc_sub_connected_before_the_publisher_binds() {
    bounded(30, || {
        let ctx = Context::new();
        let sub = sock(&ctx, SocketType::Sub);
        sub.connect("inproc://patterns-late-pub").unwrap();
        sub.set_subscribe(b"t").unwrap();
        let publisher = sock(&ctx, SocketType::Pub);
        publisher.bind("inproc://patterns-late-pub").unwrap();
        publisher.send("x", 0).unwrap();
        publisher.send("t1", 0).unwrap();
        assert_eq!(recv_frames(&sub), vec![v("t1")]);
    });
}

#[test]
fn invert_matching() {
    bounded(30, || {
        let ctx = Context::new();
        let publisher = sock(&ctx, SocketType::Pub);
        publisher.set_invert_matching(true).unwrap();
        let ep = bind(Transport::Inproc, &publisher);
        let sub = sock(&ctx, SocketType::Sub);
        sub.set_invert_matching(true).unwrap();
        sub.set_subscribe(b"a").unwrap();
        sub.connect(&ep).unwrap();
        for m in ["a1", "b1", "a2", "c1"] {
            publisher.send(m, 0).unwrap();
        }
        assert_eq!(recv_frames(&sub), vec![v("b1")]);
        assert_eq!(recv_frames(&sub), vec![v("c1")]);
    });
}

// ----- XPUB --------------------------------------------------------------------------------

#[test]
fn xpub_sees_new_subscriptions_and_departures() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let xpub = sock(&ctx, SocketType::XPub);
            let ep = bind(t, &xpub);
            let s1 = sock(&ctx, SocketType::Sub);
            s1.set_subscribe(b"topic").unwrap();
            s1.connect(&ep).unwrap();
            assert_eq!(recv_frames(&xpub), vec![v("\x01topic")]);
            let s2 = sock(&ctx, SocketType::Sub);
            s2.set_subscribe(b"topic").unwrap();
            s2.set_subscribe(b"other").unwrap();
            s2.connect(&ep).unwrap();
            // "topic" is not new: only "other" is passed on.
            assert_eq!(recv_frames(&xpub), vec![v("\x01other")]);
            publish_until_received(&xpub, &s2, "other");
            drop(s1);
            // s2 still wants "topic"; when it leaves too, both are gone.
            drop(s2);
            let mut gone = vec![recv_frames(&xpub), recv_frames(&xpub)];
            gone.sort();
            assert_eq!(gone, vec![vec![v("\x00other")], vec![v("\x00topic")]]);

            // Verbose: every subscribe is passed on.
            xpub.set_xpub_verbose(true).unwrap();
            let s3 = sock(&ctx, SocketType::Sub);
            let s4 = sock(&ctx, SocketType::Sub);
            for s in [&s3, &s4] {
                s.set_subscribe(b"v").unwrap();
                s.connect(&ep).unwrap();
                assert_eq!(recv_frames(&xpub), vec![v("\x01v")]);
            }
        });
    }
}

#[test]
fn xpub_welcome_manual_and_nodrop() {
    for t in BOTH {
        bounded(30, move || {
            let ctx = Context::new();
            let xpub = sock(&ctx, SocketType::XPub);
            xpub.set_xpub_welcome_msg(b"WELCOME").unwrap();
            xpub.set_xpub_manual(true).unwrap();
            let ep = bind(t, &xpub);
            let xsub = sock(&ctx, SocketType::XSub);
            xsub.connect(&ep).unwrap();
            xsub.send("\x01x", 0).unwrap();
            // The XPUB takes its new peer in (and greets it) when it next runs.
            assert_eq!(recv_frames(&xpub), vec![v("\x01x")]);
            assert_eq!(recv_frames(&xsub), vec![v("WELCOME")]);
            // Manual: the application decides what that subscriber gets.
            xpub.set_subscribe(b"y").unwrap();
            xpub.send("x1", 0).unwrap();
            xpub.send("y1", 0).unwrap();
            assert_eq!(recv_frames(&xsub), vec![v("y1")]);
            // Upstream messages from an XSUB reach the XPUB application.
            xsub.send_multipart(["up", "stream"], 0).unwrap();
            assert_eq!(recv_frames(&xpub), vec![v("up"), v("stream")]);
        });
    }
    bounded(30, || {
        let ctx = Context::new();
        let xpub = sock(&ctx, SocketType::XPub);
        xpub.set_xpub_nodrop(true).unwrap();
        xpub.set_sndhwm(1).unwrap();
        let ep = bind(Transport::Inproc, &xpub);
        let sub = sock(&ctx, SocketType::Sub);
        sub.set_rcvhwm(1).unwrap();
        sub.set_subscribe(b"").unwrap();
        sub.connect(&ep).unwrap();
        assert_eq!(recv_frames(&xpub), vec![v("\x01")]);
        let mut sent = 0;
        while xpub.send("m", DONTWAIT).is_ok() {
            sent += 1;
            assert!(sent < 100, "XPUB_NODROP never blocked");
        }
        assert_eq!(sent, 2);
        assert!(matches!(xpub.send("m", DONTWAIT), Err(Error::WouldBlock)));
        for _ in 0..2 {
            sub.recv(0).unwrap();
        }
        xpub.send("m", 0).unwrap();
    });
}

// ----- options -------------------------------------------------------------------------------

#[test]
fn options_of_other_socket_types_are_refused() {
    let ctx = Context::new();
    let invalid = |r: zerosock::Result<()>| matches!(r, Err(Error::InvalidOption { .. }));
    let push = ctx.socket(SocketType::Push).unwrap();
    assert!(invalid(push.set_subscribe(b"x")));
    assert!(invalid(push.set_router_mandatory(true)));
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    assert!(invalid(dealer.set_req_relaxed(true)));
    assert!(dealer.set_probe_router(true).is_ok());
    let req = ctx.socket(SocketType::Req).unwrap();
    assert!(invalid(req.set_router_handover(true)));
    let xsub = ctx.socket(SocketType::XSub).unwrap();
    assert!(invalid(xsub.set_subscribe(b"x")));
    let xpub = ctx.socket(SocketType::XPub).unwrap();
    assert!(invalid(xpub.set_subscribe(b"x")), "only with XPUB_MANUAL");
    let router = ctx.socket(SocketType::Router).unwrap();
    assert!(invalid(router.set_connect_routing_id(b"")));
    assert!(invalid(router.set_xpub_verbose(true)));
    let sub = ctx.socket(SocketType::Sub).unwrap();
    assert!(wrong_state(sub.send("x", 0)));
    let publisher = ctx.socket(SocketType::Pub).unwrap();
    assert!(wrong_state(publisher.recv(DONTWAIT)));
}

// ----- raw ZMTP peers: subscriptions as commands (3.1) or as messages (3.0) -------------------

mod raw {
    //! Just enough ZMTP, written by hand, to stand in for an old (3.0) or current (3.1) peer.
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    pub struct Peer(TcpStream);

    impl Peer {
        /// Greets as ZMTP 3.`minor` with the NULL mechanism and sends READY.
        pub fn handshake(mut stream: TcpStream, minor: u8, socket_type: &str) -> Peer {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut greeting = [0u8; 64];
            greeting[0] = 0xFF;
            greeting[9] = 0x7F;
            greeting[10] = 3;
            greeting[11] = minor;
            greeting[12..16].copy_from_slice(b"NULL");
            stream.write_all(&greeting).unwrap();
            let mut theirs = [0u8; 64];
            stream.read_exact(&mut theirs).unwrap();
            assert_eq!((theirs[0], theirs[9], theirs[10]), (0xFF, 0x7F, 3));
            let mut body = vec![5u8];
            body.extend_from_slice(b"READY");
            body.push(11);
            body.extend_from_slice(b"Socket-Type");
            body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
            body.extend_from_slice(socket_type.as_bytes());
            let mut peer = Peer(stream);
            peer.write_frame(0x04, &body);
            let (flags, ready) = peer.read_frame();
            assert_eq!(flags & 0x04, 0x04, "READY is a command");
            assert!(ready.starts_with(b"\x05READY"));
            peer
        }

        pub fn write_frame(&mut self, flags: u8, body: &[u8]) {
            assert!(body.len() < 256);
            let mut f = vec![flags, body.len() as u8];
            f.extend_from_slice(body);
            self.0.write_all(&f).unwrap();
        }

        pub fn read_frame(&mut self) -> (u8, Vec<u8>) {
            let mut head = [0u8; 2];
            self.0.read_exact(&mut head).unwrap();
            let len = if head[0] & 0x02 != 0 {
                let mut rest = [0u8; 7];
                self.0.read_exact(&mut rest).unwrap();
                let mut be = [0u8; 8];
                be[0] = head[1];
                be[1..].copy_from_slice(&rest);
                u64::from_be_bytes(be) as usize
            } else {
                head[1] as usize
            };
            let mut body = vec![0u8; len];
            self.0.read_exact(&mut body).unwrap();
            (head[0], body)
        }
    }
}

#[test]
fn subscriptions_to_zmtp30_and_zmtp31_publishers() {
    for minor in [0u8, 1] {
        bounded(30, move || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let ep = format!("tcp://{}", listener.local_addr().unwrap());
            let ctx = Context::new();
            let sub = sock(&ctx, SocketType::Sub);
            sub.set_subscribe(b"t").unwrap();
            sub.connect(&ep).unwrap();
            let (stream, _) = listener.accept().unwrap();
            let mut publisher = raw::Peer::handshake(stream, minor, "PUB");
            let (flags, body) = publisher.read_frame();
            if minor == 0 {
                assert_eq!((flags, body), (0x00, b"\x01t".to_vec()), "a message to 3.0");
            } else {
                assert_eq!(
                    (flags, body),
                    (0x04, b"\x09SUBSCRIBEt".to_vec()),
                    "a command to 3.1"
                );
            }
            sub.set_unsubscribe(b"t").unwrap();
            let (flags, body) = publisher.read_frame();
            if minor == 0 {
                assert_eq!((flags, body), (0x00, b"\x00t".to_vec()));
            } else {
                assert_eq!((flags, body), (0x04, b"\x06CANCELt".to_vec()));
            }
            // The SUB filters on its own too: nothing it is not subscribed to gets through.
            sub.set_subscribe(b"k").unwrap();
            publisher.read_frame();
            publisher.write_frame(0, b"t-unwanted");
            publisher.write_frame(0, b"k1");
            assert_eq!(recv_frames(&sub), vec![v("k1")]);
        });
    }
}

#[test]
fn subscriptions_from_zmtp30_and_zmtp31_subscribers() {
    for minor in [0u8, 1] {
        bounded(30, move || {
            let ctx = Context::new();
            let xpub = sock(&ctx, SocketType::XPub);
            let ep = bind(Transport::Tcp, &xpub);
            let addr = ep.strip_prefix("tcp://").unwrap();
            let stream = std::net::TcpStream::connect(addr).unwrap();
            let mut sub = raw::Peer::handshake(stream, minor, "SUB");
            if minor == 0 {
                sub.write_frame(0, b"\x01news");
            } else {
                sub.write_frame(0x04, b"\x09SUBSCRIBEnews");
            }
            assert_eq!(recv_frames(&xpub), vec![v("\x01news")]);
            for m in ["news 1", "other", "news 2"] {
                xpub.send(m, 0).unwrap();
            }
            assert_eq!(sub.read_frame(), (0, v("news 1")));
            assert_eq!(sub.read_frame(), (0, v("news 2")));
            if minor == 0 {
                sub.write_frame(0, b"\x00news");
            } else {
                sub.write_frame(0x04, b"\x06CANCELnews");
            }
            assert_eq!(recv_frames(&xpub), vec![v("\x00news")]);
        });
    }
}
