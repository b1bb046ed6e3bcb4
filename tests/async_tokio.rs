//! The async socket (feature `tokio`): traffic with zerosock and libzmq peers on both
//! runtimes, many tasks through one ROUTER, and cancellation at random points with HWM 1,
//! where a cancelled send must have sent nothing and a cancelled receive taken nothing.
//! Run with `cargo test --features tokio --test async_tokio`.
#![cfg(all(unix, feature = "tokio"))]

mod common;

use std::time::Duration;
use zerosock::{AsyncSocket, Context, Error, SocketType};

/// A runtime with two workers, as many as this machine's cores.
fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

/// A pseudo-random sequence for the cancellation points (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn req_rep_round_trips(ctx: &Context, endpoint: &str) {
    let rep = ctx.socket(SocketType::Rep).unwrap();
    rep.bind(endpoint).unwrap();
    let endpoint = rep.last_endpoint().unwrap();
    let mut rep = AsyncSocket::new(rep).unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..200 {
            let request = rep.recv_multipart().await.unwrap();
            rep.send_multipart(request).await.unwrap();
        }
    });
    let req = ctx.socket(SocketType::Req).unwrap();
    req.connect(&endpoint).unwrap();
    let mut req = AsyncSocket::new(req).unwrap();
    for i in 0..200u32 {
        // The futures are Send: they may run on any worker thread.
        assert_send(req.send_multipart([i.to_string(), "tail".into()]))
            .await
            .unwrap();
        let reply = assert_send(req.recv_multipart()).await.unwrap();
        assert_eq!(reply.len(), 2);
        assert_eq!(reply[0], i.to_string().as_str());
        assert_eq!(reply[1], "tail");
    }
    server.await.unwrap();
}

#[test]
fn round_trips_on_the_current_thread_runtime() {
    common::bounded(60, || {
        let rt = current_thread();
        let ctx = Context::new();
        rt.block_on(req_rep_round_trips(&ctx, "tcp://127.0.0.1:*"));
        rt.block_on(req_rep_round_trips(&ctx, "inproc://async-rt"));
    });
}

#[test]
fn round_trips_on_the_multi_thread_runtime() {
    common::bounded(60, || {
        let rt = multi_thread();
        let ctx = Context::new();
        rt.block_on(req_rep_round_trips(&ctx, &common::ipc_endpoint("async")));
    });
}

#[test]
fn outside_a_runtime_it_says_so() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Pull).unwrap();
    assert!(matches!(AsyncSocket::new(s), Err(Error::WrongState(_))));
}

#[test]
fn libzmq_peers_both_ways() {
    common::bounded(60, || {
        let rt = multi_thread();
        // libzmq PUSH -> async PULL, multipart, 0 B and 1 MiB frames.
        let zctx = zmq::Context::new();
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = pull.last_endpoint().unwrap();
        let push = zctx.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();
        let sender = std::thread::spawn(move || {
            for i in 0..100u32 {
                push.send(i.to_string().as_bytes(), zmq::SNDMORE).unwrap();
                push.send(Vec::<u8>::new(), zmq::SNDMORE).unwrap();
                push.send(vec![7u8; if i % 25 == 0 { 1 << 20 } else { 3 }], 0)
                    .unwrap();
            }
            push
        });
        rt.block_on(async {
            let mut pull = AsyncSocket::new(pull).unwrap();
            for i in 0..100u32 {
                let parts = pull.recv_multipart().await.unwrap();
                assert_eq!(parts.len(), 3);
                assert_eq!(parts[0], i.to_string().as_str());
                assert!(parts[1].is_empty());
                assert_eq!(parts[2].len(), if i % 25 == 0 { 1 << 20 } else { 3 });
            }
        });
        drop(sender.join().unwrap());

        // async DEALER <-> libzmq ROUTER.
        let router = zctx.socket(zmq::ROUTER).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();
        let echo = std::thread::spawn(move || {
            for _ in 0..100 {
                let parts = router.recv_multipart(0).unwrap();
                router.send_multipart(parts, 0).unwrap();
            }
            router
        });
        rt.block_on(async {
            let dealer = ctx.socket(SocketType::Dealer).unwrap();
            dealer.connect(&endpoint).unwrap();
            let mut dealer = AsyncSocket::new(dealer).unwrap();
            for i in 0..100u32 {
                dealer.send(i.to_string()).await.unwrap();
                assert_eq!(dealer.recv().await.unwrap(), i.to_string().as_str());
            }
        });
        drop(echo.join().unwrap());
    });
}

#[test]
fn many_dealer_tasks_through_one_async_router_with_select() {
    common::bounded(60, || {
        let rt = multi_thread();
        let ctx = Context::new();
        rt.block_on(async {
            let router = ctx.socket(SocketType::Router).unwrap();
            router.bind("tcp://127.0.0.1:*").unwrap();
            let endpoint = router.last_endpoint().unwrap();
            let mut router = AsyncSocket::new(router).unwrap();
            let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(async move {
                let mut served = 0u32;
                loop {
                    tokio::select! {
                        request = router.recv_multipart() => {
                            router.send_multipart(request.unwrap()).await.unwrap();
                            served += 1;
                        }
                        _ = &mut stop_rx => return served,
                    }
                }
            });
            let mut clients = Vec::new();
            for c in 0..4u32 {
                let dealer = ctx.socket(SocketType::Dealer).unwrap();
                dealer.connect(&endpoint).unwrap();
                let mut dealer = AsyncSocket::new(dealer).unwrap();
                clients.push(tokio::spawn(async move {
                    for i in 0..500u32 {
                        let body = format!("{c}:{i}");
                        dealer.send(body.clone()).await.unwrap();
                        assert_eq!(dealer.recv().await.unwrap(), body.as_str());
                    }
                }));
            }
            for client in clients {
                client.await.unwrap();
            }
            stop_tx.send(()).unwrap();
            assert_eq!(server.await.unwrap(), 2000);
        });
    });
}

#[test]
fn cancelled_sends_send_nothing_and_cancelled_receives_take_nothing() {
    common::bounded(120, || {
        let rt = multi_thread();
        let ctx = Context::new();
        rt.block_on(async {
            // Inproc, so that HWM 1 is all there is between the two (no kernel buffers):
            // when one side pauses, the other's next call must wait, and its timer wins.
            let pull = ctx.socket(SocketType::Pull).unwrap();
            pull.set_rcvhwm(1).unwrap();
            pull.bind("inproc://cancelled").unwrap();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.set_sndhwm(1).unwrap();
            push.connect("inproc://cancelled").unwrap();
            let (mut push, mut pull) = (
                AsyncSocket::new(push).unwrap(),
                AsyncSocket::new(pull).unwrap(),
            );

            const MESSAGES: u32 = 2000;
            // The sender races each send against a timer of a few microseconds; a send that
            // lost the race is retried with the next number, so what arrives must be exactly
            // the numbers whose send completed, in order, each whole. Each side pauses now and
            // then, so that the other's calls do wait and some are cancelled.
            let sender = tokio::spawn(async move {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
                let mut completed = Vec::new();
                let mut seq = 0u32;
                while completed.len() < MESSAGES as usize {
                    if seq % 250 == 249 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    let wait = Duration::from_micros(rng.next() % 200);
                    let parts = [seq.to_string(), format!("{seq}-b"), format!("{seq}-c")];
                    if let Ok(sent) = tokio::time::timeout(wait, push.send_multipart(parts)).await {
                        sent.unwrap();
                        completed.push(seq);
                    }
                    seq += 1;
                }
                let cancelled = seq as usize - completed.len();
                (completed, cancelled, push)
            });
            let receiver = tokio::spawn(async move {
                let mut rng = Rng(0x2545_F491_4F6C_DD1D);
                let mut got = Vec::new();
                let mut cancelled = 0;
                while got.len() < MESSAGES as usize {
                    if got.len() % 200 == 199 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    let wait = Duration::from_micros(rng.next() % 300);
                    let received = tokio::time::timeout(wait, pull.recv_multipart()).await;
                    if received.is_err() {
                        cancelled += 1;
                    }
                    if let Ok(parts) = received {
                        let parts = parts.unwrap();
                        assert_eq!(parts.len(), 3, "a torn message");
                        let seq: u32 = std::str::from_utf8(&parts[0]).unwrap().parse().unwrap();
                        assert_eq!(parts[1], format!("{seq}-b").as_str());
                        assert_eq!(parts[2], format!("{seq}-c").as_str());
                        got.push(seq);
                    }
                }
                (got, cancelled, pull)
            });
            let (completed, sends_cancelled, push) = sender.await.unwrap();
            let (got, receives_cancelled, mut pull) = receiver.await.unwrap();
            assert!(
                sends_cancelled > 0,
                "no send was cancelled: the test tested nothing"
            );
            assert!(receives_cancelled > 0, "no receive was cancelled");
            assert_eq!(got, completed, "exactly the completed sends, in order");
            // Nothing more was sent: a cancelled send left nothing behind.
            let extra = tokio::time::timeout(Duration::from_millis(200), pull.recv()).await;
            assert!(
                extra.is_err(),
                "a cancelled send delivered {:?}",
                extra.unwrap()
            );
            drop(push);
        });
    });
}

#[test]
fn a_cancelled_wait_leaves_the_socket_ready_for_the_next_call() {
    common::bounded(30, || {
        let rt = current_thread();
        let ctx = Context::new();
        let rep = ctx.socket(SocketType::Rep).unwrap();
        rep.bind("inproc://cancelled-wait").unwrap();
        let dealer = ctx.socket(SocketType::Dealer).unwrap();
        dealer.connect("inproc://cancelled-wait").unwrap();
        rt.block_on(async {
            let mut dealer = AsyncSocket::new(dealer).unwrap();
            // Nothing to receive: the wait is cancelled.
            let nothing = tokio::time::timeout(Duration::from_millis(50), dealer.recv()).await;
            assert!(nothing.is_err());
            // The DEALER was writable all along, with no change to signal it: the send must
            // still go at once.
            let sent =
                tokio::time::timeout(Duration::from_secs(5), dealer.send_multipart(["", "hi"]))
                    .await;
            assert!(matches!(sent, Ok(Ok(()))), "the send waited for nothing");
        });
        assert_eq!(rep.recv(0).unwrap(), "hi");
    });
}

#[test]
fn a_terminated_context_ends_a_waiting_receive() {
    common::bounded(30, || {
        let rt = current_thread();
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("inproc://never").unwrap();
        rt.block_on(async {
            let mut pull = AsyncSocket::new(pull).unwrap();
            // The current-thread runtime polls this future (the receive starts waiting)
            // before it runs the spawned task that terminates the context.
            let killer = ctx.clone();
            tokio::spawn(async move {
                // terminate blocks until the I/O threads are done: off the runtime.
                tokio::task::spawn_blocking(move || killer.terminate());
            });
            assert!(matches!(pull.recv().await, Err(Error::Terminated)));
        });
    });
}
