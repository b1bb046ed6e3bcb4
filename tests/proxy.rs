//! `proxy` and `proxy_steerable`: a ROUTER/DEALER broker between REQ clients and REP
//! workers, an XSUB/XPUB forwarder whose subscriptions reach the publisher, a PULL/PUSH
//! streamer under back-pressure, a capture socket, and the PAUSE / RESUME / STATISTICS /
//! TERMINATE commands. Every proxy ends: with `Err(Terminated)` when its context terminates,
//! or `Ok(())` on TERMINATE.

mod common;
use common::*;
use std::collections::HashSet;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use zerosock::{
    poll, proxy, proxy_steerable, Context, Error, PollItem, Socket, SocketType, DONTWAIT, POLLIN,
};

const TIMEOUT_MS: i32 = 10_000;

fn sock(ctx: &Context, ty: SocketType) -> Socket {
    let s = ctx.socket(ty).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(TIMEOUT_MS).unwrap();
    s.set_sndtimeo(TIMEOUT_MS).unwrap();
    s
}

fn bound(ctx: &Context, ty: SocketType, ep: &str) -> Socket {
    let s = sock(ctx, ty);
    s.bind(ep).unwrap();
    s
}

fn connected(ctx: &Context, ty: SocketType, ep: &str) -> Socket {
    let s = sock(ctx, ty);
    s.connect(ep).unwrap();
    s
}

/// Runs `proxy` on its own thread with sockets made here (a socket moves, it is not shared).
fn spawn_proxy(
    frontend: Socket,
    backend: Socket,
    capture: Option<Socket>,
) -> JoinHandle<zerosock::Result<()>> {
    std::thread::spawn(move || proxy(&frontend, &backend, capture.as_ref()))
}

fn strings(parts: Vec<zerosock::Msg>) -> Vec<String> {
    parts
        .into_iter()
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .collect()
}

#[test]
fn router_dealer_broker_between_req_clients_and_rep_workers() {
    bounded(60, || {
        let ctx = Context::new();
        let frontend = bound(&ctx, SocketType::Router, "tcp://127.0.0.1:*");
        let front_ep = frontend.last_endpoint().unwrap();
        let backend = bound(&ctx, SocketType::Dealer, "inproc://broker-backend");
        let proxy = spawn_proxy(frontend, backend, None);

        let workers: Vec<JoinHandle<usize>> = (0..2)
            .map(|w| {
                let rep = connected(&ctx, SocketType::Rep, "inproc://broker-backend");
                std::thread::spawn(move || {
                    let mut served = 0;
                    loop {
                        let request = match rep.recv_multipart(0) {
                            Ok(r) => strings(r),
                            Err(Error::Terminated) => return served,
                            Err(e) => panic!("worker: {e}"),
                        };
                        let mut reply = vec![format!("worker {w}")];
                        reply.extend(request);
                        match rep.send_multipart(reply, 0) {
                            Ok(()) => served += 1,
                            Err(Error::Terminated) => return served,
                            Err(e) => panic!("worker: {e}"),
                        }
                    }
                })
            })
            .collect();

        let clients: Vec<JoinHandle<HashSet<String>>> = (0..3)
            .map(|c| {
                let req = connected(&ctx, SocketType::Req, &front_ep);
                std::thread::spawn(move || {
                    let mut seen = HashSet::new();
                    for n in 0..30 {
                        let body = format!("client {c} request {n}");
                        req.send_multipart([body.as_str(), "second frame", ""], 0)
                            .unwrap();
                        let reply = strings(req.recv_multipart(0).unwrap());
                        // The envelope went through the broker and back untouched.
                        assert_eq!(&reply[1..], [body.as_str(), "second frame", ""]);
                        seen.insert(reply[0].clone());
                    }
                    seen
                })
            })
            .collect();
        let mut workers_seen = HashSet::new();
        for c in clients {
            workers_seen.extend(c.join().unwrap());
        }
        assert_eq!(
            workers_seen.len(),
            2,
            "both workers served: {workers_seen:?}"
        );
        ctx.terminate();
        assert!(matches!(proxy.join().unwrap(), Err(Error::Terminated)));
        let served: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(served, 90);
    });
}

#[test]
fn xsub_xpub_forwarder_passes_subscriptions_upstream() {
    bounded(60, || {
        let ctx = Context::new();
        let frontend = bound(&ctx, SocketType::XSub, "tcp://127.0.0.1:*");
        let front_ep = frontend.last_endpoint().unwrap();
        let backend = bound(&ctx, SocketType::XPub, "inproc://forwarder-out");
        let capture = bound(&ctx, SocketType::Push, "inproc://forwarder-capture");
        let captured = connected(&ctx, SocketType::Pull, "inproc://forwarder-capture");
        let proxy = spawn_proxy(frontend, backend, Some(capture));

        let publisher = connected(&ctx, SocketType::Pub, &front_ep);
        let sub = connected(&ctx, SocketType::Sub, "inproc://forwarder-out");
        sub.set_subscribe(b"weather").unwrap();
        // Publish until the subscription has travelled SUB → XPUB → proxy → XSUB → PUB.
        let deadline = Instant::now() + Duration::from_secs(20);
        let got = loop {
            assert!(
                Instant::now() < deadline,
                "subscription never reached the publisher"
            );
            publisher.send_multipart(["sports", "goal"], 0).unwrap();
            publisher.send_multipart(["weather", "rain"], 0).unwrap();
            let mut items = [PollItem::from_socket(&sub, POLLIN)];
            if poll(&mut items, 20).unwrap() == 1 {
                break strings(sub.recv_multipart(0).unwrap());
            }
        };
        assert_eq!(got, ["weather", "rain"]);
        // The publisher filters: nothing but weather ever crossed the proxy, and the
        // subscription itself went up through it.
        let mut crossed = Vec::new();
        while let Ok(m) = captured.recv_multipart(DONTWAIT) {
            crossed.push(strings(m));
        }
        assert_eq!(crossed[0], ["\u{1}weather"], "{crossed:?}");
        assert!(crossed[1..].iter().all(|m| m[..] == ["weather", "rain"]));
        assert!(crossed.len() >= 2);
        // A second subscriber with its own topic is served too.
        let sub2 = connected(&ctx, SocketType::Sub, "inproc://forwarder-out");
        sub2.set_subscribe(b"sports").unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "second subscription lost");
            publisher.send_multipart(["sports", "goal"], 0).unwrap();
            let mut items = [PollItem::from_socket(&sub2, POLLIN)];
            if poll(&mut items, 20).unwrap() == 1 {
                assert_eq!(strings(sub2.recv_multipart(0).unwrap()), ["sports", "goal"]);
                break;
            }
        }
        ctx.terminate();
        assert!(matches!(proxy.join().unwrap(), Err(Error::Terminated)));
    });
}

#[test]
fn pull_push_streamer_keeps_order_under_back_pressure() {
    bounded(60, || {
        let ctx = Context::new();
        let frontend = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:*");
        let front_ep = frontend.last_endpoint().unwrap();
        // The consumer side is inproc: its two pipes of 10 hold exactly 20 messages.
        let backend = sock(&ctx, SocketType::Push);
        backend.set_sndhwm(10).unwrap();
        backend.bind("inproc://streamer-out").unwrap();
        let consumer = sock(&ctx, SocketType::Pull);
        consumer.set_rcvhwm(10).unwrap();
        consumer.connect("inproc://streamer-out").unwrap();
        let control = bound(&ctx, SocketType::Rep, "inproc://streamer-control");
        let proxy =
            std::thread::spawn(move || proxy_steerable(&frontend, &backend, None, &control));
        let client = connected(&ctx, SocketType::Req, "inproc://streamer-control");

        const N: u32 = 5_000;
        let producer = connected(&ctx, SocketType::Push, &front_ep);
        let producer = std::thread::spawn(move || {
            for i in 0..N {
                producer
                    .send_multipart([i.to_be_bytes().to_vec(), b"payload".to_vec()], 0)
                    .unwrap();
            }
            producer
        });
        // The consumer starts only once the backend is full and the proxy holds one message
        // it cannot pass on (21 taken from the frontend, 20 given to the backend).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let stats = statistics(&client);
            if stats[0] == 21 && stats[6] == 20 {
                break;
            }
            assert!(stats[0] <= 21 && stats[6] <= 20, "{stats:?}");
            assert!(
                Instant::now() < deadline,
                "the proxy never filled up: {stats:?}"
            );
            std::thread::yield_now();
        }
        for i in 0..N {
            let parts = consumer.recv_multipart(0).unwrap();
            assert_eq!(parts.len(), 2);
            assert_eq!(&parts[0][..], &i.to_be_bytes()[..]);
            assert_eq!(parts[1], "payload");
        }
        let _producer = producer.join().unwrap();
        let stats = statistics(&client);
        assert_eq!(
            stats,
            [
                u64::from(N),
                11 * u64::from(N),
                0,
                0,
                0,
                0,
                u64::from(N),
                11 * u64::from(N)
            ]
        );
        ctx.terminate();
        assert!(matches!(proxy.join().unwrap(), Err(Error::Terminated)));
    });
}

/// The eight counters of a steerable proxy.
fn statistics(control: &Socket) -> Vec<u64> {
    command(control, "STATISTICS")
        .iter()
        .map(|f| u64::from_ne_bytes(f[..].try_into().expect("8-byte counters")))
        .collect()
}

/// Sends a command to the steerable proxy through a REQ client and returns its reply.
fn command(control: &Socket, name: &str) -> Vec<zerosock::Msg> {
    control.send(name, 0).unwrap();
    control.recv_multipart(0).unwrap()
}

#[test]
fn steerable_pause_resume_statistics_terminate() {
    bounded(60, || {
        let ctx = Context::new();
        let frontend = bound(&ctx, SocketType::Pull, "inproc://steer-in");
        let backend = bound(&ctx, SocketType::Push, "inproc://steer-out");
        let control = bound(&ctx, SocketType::Rep, "inproc://steer-control");
        let capture = bound(&ctx, SocketType::Pair, "inproc://steer-capture");
        let captured = connected(&ctx, SocketType::Pair, "inproc://steer-capture");
        let proxy = std::thread::spawn(move || {
            proxy_steerable(&frontend, &backend, Some(&capture), &control)
        });
        let client = connected(&ctx, SocketType::Req, "inproc://steer-control");
        let producer = connected(&ctx, SocketType::Push, "inproc://steer-in");
        let consumer = connected(&ctx, SocketType::Pull, "inproc://steer-out");

        producer.send("before", 0).unwrap();
        assert_eq!(consumer.recv(0).unwrap(), "before");

        assert_eq!(command(&client, "PAUSE"), vec![""]);
        for m in ["one", "two", "three"] {
            producer.send(m, 0).unwrap();
        }
        // Paused: nothing moves (a bounded look, not a sleep: any arrival would end it).
        let mut items = [PollItem::from_socket(&consumer, POLLIN)];
        assert_eq!(poll(&mut items, 200).unwrap(), 0, "moved while paused");
        let stats = statistics(&client);
        // frontend: 1 message of 6 bytes in, none out; backend: none in, 1 of 6 out.
        assert_eq!(stats, [1, 6, 0, 0, 0, 0, 1, 6]);

        assert_eq!(command(&client, "RESUME"), vec![""]);
        for m in ["one", "two", "three"] {
            assert_eq!(consumer.recv(0).unwrap(), m);
        }
        let stats = statistics(&client);
        assert_eq!((stats[0], stats[6]), (4, 4));
        // Unknown commands are ignored (and answered, for the REQ's sake).
        assert_eq!(command(&client, "NONSENSE"), vec![""]);

        // Every message went to the capture socket too.
        for m in ["before", "one", "two", "three"] {
            assert_eq!(captured.recv(0).unwrap(), m);
        }
        assert_eq!(command(&client, "TERMINATE"), vec![""]);
        assert!(proxy.join().unwrap().is_ok());
    });
}

#[test]
fn steerable_proxy_also_ends_with_its_context() {
    bounded(30, || {
        let ctx = Context::new();
        let frontend = bound(&ctx, SocketType::Router, "inproc://steer2-in");
        let backend = bound(&ctx, SocketType::Dealer, "inproc://steer2-out");
        let control = bound(&ctx, SocketType::Sub, "inproc://steer2-control");
        control.set_subscribe(b"").unwrap();
        let proxy =
            std::thread::spawn(move || proxy_steerable(&frontend, &backend, None, &control));
        // A DEALER client and a DEALER worker: the envelope is the client's routing id.
        let client = connected(&ctx, SocketType::Dealer, "inproc://steer2-in");
        let worker = connected(&ctx, SocketType::Dealer, "inproc://steer2-out");
        client.send_multipart(["", "hello"], 0).unwrap();
        let request = worker.recv_multipart(0).unwrap();
        assert_eq!(request.len(), 3, "routing id, delimiter, body");
        assert_eq!(request[2], "hello");
        let mut reply = request;
        reply[2] = "world".into();
        worker.send_multipart(reply, 0).unwrap();
        assert_eq!(strings(client.recv_multipart(0).unwrap()), ["", "world"]);
        ctx.terminate();
        assert!(matches!(proxy.join().unwrap(), Err(Error::Terminated)));
    });
}
