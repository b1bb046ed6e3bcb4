//! Shutdown stress: many application threads create, connect, use and close sockets over
//! tcp, ipc and inproc while a context with several I/O threads runs, and the context is
//! terminated either after they finish or while they are in the middle of it. Nothing may
//! hang, every call blocked at termination returns `Error::Terminated`, and descriptors and
//! threads return to their baseline.
//!
//! In its own test binary, like tests/churn.rs: tests of other files running in parallel
//! would change the descriptor and thread counts compared here. The two tests of this file
//! take turns for the same reason.

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use zerosock::{poll, Context, Error, PollItem, Socket, SocketType, DONTWAIT, POLLIN};

const WORKERS: usize = 8;
const IO_THREADS: usize = 3;

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's descriptor and thread counts, after a first context has come and gone so
/// that lazily created process-wide state is not counted as a leak.
fn baseline() -> (usize, usize) {
    drop(Context::builder().io_threads(IO_THREADS).build().unwrap());
    (open_fds(), zerosock_threads())
}

fn assert_back_to(baseline: (usize, usize)) {
    let (fds, tasks) = baseline;
    // A couple of descriptors of slack for the test harness itself, as in tests/churn.rs.
    assert!(
        wait_for(5, || open_fds() <= fds + 2),
        "descriptors {fds} -> {}",
        open_fds()
    );
    // Only zerosock's threads: the harness starts and ends a thread per test meanwhile.
    assert!(
        wait_for(5, || zerosock_threads() <= tasks),
        "zerosock threads {tasks} -> {}",
        zerosock_threads()
    );
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

const TRANSPORTS: [Transport; 3] = [Transport::Tcp, Transport::Ipc, Transport::Inproc];

/// Binds `s` on a fresh endpoint; returns the endpoint to connect to.
fn bind(s: &Socket, t: Transport, tag: &str) -> zerosock::Result<String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let ep = match t {
        Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
        Transport::Ipc => ipc_endpoint(tag),
        Transport::Inproc => format!(
            "inproc://stress-{tag}-{}",
            N.fetch_add(1, Ordering::Relaxed)
        ),
    };
    s.bind(&ep)?;
    Ok(s.last_endpoint().unwrap())
}

/// One round of churn: a PULL bound on `t`, a PUSH connected to it, one message through,
/// one DEALER connected to the shared ROUTER sending one message and closing at once (its
/// message goes out while it lingers), one PUSH connected to nobody closing with linger 0;
/// then everything closes.
fn churn_round(ctx: &Context, t: Transport, router_ep: &str, tag: &str) -> zerosock::Result<()> {
    let pull = ctx.socket(SocketType::Pull)?;
    pull.set_linger(0)?;
    pull.set_rcvtimeo(10_000)?;
    let ep = bind(&pull, t, tag)?;
    let push = ctx.socket(SocketType::Push)?;
    push.set_linger(1000)?;
    push.connect(&ep)?;
    push.send(tag, 0)?;
    let m = pull.recv(0)?;
    assert_eq!(m, tag, "{t:?}: a message from another round");

    let dealer = ctx.socket(SocketType::Dealer)?;
    dealer.connect(router_ep)?;
    dealer.send(tag, 0)?;
    drop(dealer);

    let nowhere = ctx.socket(SocketType::Push)?;
    nowhere.set_linger(0)?;
    nowhere.connect(&ipc_endpoint("nobody"))?;
    nowhere.send("never delivered", DONTWAIT)?;
    Ok(())
}

#[test]
fn threads_churning_sockets_on_several_io_threads_leave_nothing_behind() {
    let _turn = one_at_a_time();
    bounded(120, || {
        const ROUNDS: usize = 150;
        let base = baseline();
        let ctx = Context::builder().io_threads(IO_THREADS).build().unwrap();
        let router = ctx.socket(SocketType::Router).unwrap();
        router.set_linger(0).unwrap();
        router.set_rcvtimeo(10_000).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let router_ep = router.last_endpoint().unwrap();
        let start = Arc::new(Barrier::new(WORKERS));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let ctx = ctx.clone();
                let router_ep = router_ep.clone();
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    for round in 0..ROUNDS {
                        let t = TRANSPORTS[(w + round) % TRANSPORTS.len()];
                        churn_round(&ctx, t, &router_ep, &format!("w{w}-r{round}"))
                            .unwrap_or_else(|e| panic!("worker {w}, round {round}, {t:?}: {e}"));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        // Every DEALER's message arrived, though each DEALER closed right after sending.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..WORKERS * ROUNDS {
            let parts = router.recv_multipart(0).expect("a closed DEALER's message");
            assert_eq!(parts.len(), 2);
            let body = parts[1].as_str().unwrap().to_string();
            assert!(seen.insert(body.clone()), "{body} arrived twice");
        }
        drop(router);
        let started = Instant::now();
        ctx.terminate();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "terminate took {:?}",
            started.elapsed()
        );
        drop(ctx);
        assert_back_to(base);
    });
}

/// How a worker of the mid-operation test ended.
#[derive(Debug)]
enum Ended {
    Terminated,
    Other(String),
}

fn ended<T: std::fmt::Debug>(r: zerosock::Result<T>, what: &str) -> Ended {
    match r {
        Err(Error::Terminated) => Ended::Terminated,
        other => Ended::Other(format!("{what}: {other:?}")),
    }
}

/// Churns sockets over `transports` (create, bind, connect, one message through, close)
/// until a call fails; that failure must be `Terminated`.
fn churn_until_terminated(
    ctx: &Context,
    transports: &[Transport],
    w: usize,
    rounds: &AtomicUsize,
) -> Ended {
    let mut round = 0;
    loop {
        let t = transports[(w + round) % transports.len()];
        let tag = format!("w{w}-r{round}");
        let result = (|| -> zerosock::Result<()> {
            let pull = ctx.socket(SocketType::Pull)?;
            pull.set_linger(0)?;
            let ep = bind(&pull, t, &tag)?;
            let push = ctx.socket(SocketType::Push)?;
            push.set_linger(100)?;
            push.connect(&ep)?;
            push.send(tag.as_str(), 0)?;
            let m = pull.recv(0)?;
            assert_eq!(m, tag.as_str(), "{t:?}: a message from another round");
            Ok(())
        })();
        if let Err(e) = result {
            return ended(Err::<(), _>(e), &format!("churn round {round} over {t:?}"));
        }
        rounds.fetch_add(1, Ordering::Relaxed);
        round += 1;
    }
}

/// Streams over a PUSH/PULL pair connected over tcp before the context terminates, until a
/// call fails; that failure must be `Terminated`.
fn stream_until_terminated(ctx: &Context, rounds: &AtomicUsize) -> Ended {
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_linger(0).unwrap();
    let ep = bind(&pull, Transport::Tcp, "stream").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_linger(0).unwrap();
    push.connect(&ep).unwrap();
    for round in 0u64.. {
        if let Err(e) = push.send(round.to_le_bytes().to_vec(), 0) {
            return ended(Err::<(), _>(e), "stream send");
        }
        match pull.recv(0) {
            Ok(m) => assert_eq!(&m[..], &round.to_le_bytes()[..], "stream out of order"),
            Err(e) => return ended(Err::<(), _>(e), "stream recv"),
        }
        rounds.fetch_add(1, Ordering::Relaxed);
    }
    unreachable!()
}

/// Starts `WORKERS` threads running `work(ctx, worker, its round counter, ready counter)`,
/// waits until every one is ready and each counter of `busy` has reached 3, terminates the
/// context, and checks that it returns within 5 s and that every worker ends with
/// `Terminated`.
fn terminate_mid_operation(
    busy: std::ops::Range<usize>,
    work: impl Fn(Context, usize, &AtomicUsize, &AtomicUsize) -> Ended + Send + Sync + 'static,
) {
    let ctx = Context::builder().io_threads(IO_THREADS).build().unwrap();
    let ready = Arc::new(AtomicUsize::new(0));
    let rounds: Arc<Vec<AtomicUsize>> =
        Arc::new((0..WORKERS).map(|_| AtomicUsize::new(0)).collect());
    let work = Arc::new(work);
    let workers: Vec<std::thread::JoinHandle<Ended>> = (0..WORKERS)
        .map(|w| {
            let (ctx, ready, rounds, work) =
                (ctx.clone(), ready.clone(), rounds.clone(), work.clone());
            std::thread::spawn(move || work(ctx, w, &rounds[w], &ready))
        })
        .collect();
    // Everyone is at work: the blockers have (nearly) blocked, the busy ones have done a few
    // rounds.
    assert!(
        wait_for(20, || ready.load(Ordering::Acquire) == WORKERS
            && rounds[busy.clone()]
                .iter()
                .all(|r| r.load(Ordering::Relaxed) >= 3)),
        "workers did not get going: ready {}, rounds {:?}",
        ready.load(Ordering::Acquire),
        rounds
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
    );
    // Terminate on another thread, so that a hang fails this test with a message (the stuck
    // thread is left behind) instead of running into the outer time limit.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let terminator = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            ctx.terminate();
            let _ = done_tx.send(started.elapsed());
        })
    };
    let took = done_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("terminate did not return within 5 s");
    terminator.join().unwrap();
    assert!(took < Duration::from_secs(5), "terminate took {took:?}");
    for (w, worker) in workers.into_iter().enumerate() {
        match worker.join().unwrap() {
            Ended::Terminated => {}
            Ended::Other(what) => panic!("worker {w} did not end with Terminated: {what}"),
        }
    }
    assert!(matches!(
        ctx.socket(SocketType::Pair),
        Err(Error::Terminated)
    ));
}

/// Eight threads are busy when the context terminates: two blocked in `recv` with no peer
/// (tcp, ipc), two blocked in `send` at the high-water mark with no peer, one blocked in
/// `poll`, two churning inproc sockets (create, bind, connect, send, receive, close), one
/// streaming over an established tcp connection. `terminate` returns promptly, every
/// thread's blocked or next call returns `Terminated`, and descriptors and threads go back
/// to baseline. Ten times over.
#[test]
fn terminate_while_threads_are_mid_operation() {
    let _turn = one_at_a_time();
    bounded(60, || {
        let base = baseline();
        for _ in 0..10 {
            terminate_mid_operation(5..WORKERS, blockers_and_churners);
        }
        assert_back_to(base);
    });
}

/// The workers of the test above, by number.
fn blockers_and_churners(
    ctx: Context,
    w: usize,
    rounds: &AtomicUsize,
    ready: &AtomicUsize,
) -> Ended {
    let t = TRANSPORTS[w % 2]; // tcp or ipc
    match w {
        0 | 1 => {
            let pull = ctx.socket(SocketType::Pull).unwrap();
            bind(&pull, t, "recv").unwrap();
            ready.fetch_add(1, Ordering::Release);
            ended(pull.recv(0), "recv with no peer")
        }
        2 | 3 => {
            let push = ctx.socket(SocketType::Push).unwrap();
            push.set_sndhwm(1).unwrap();
            push.set_linger(0).unwrap();
            push.connect(&ipc_endpoint("nobody")).unwrap();
            push.send("fills the queue", 0).unwrap();
            assert!(matches!(push.send("x", DONTWAIT), Err(Error::WouldBlock)));
            ready.fetch_add(1, Ordering::Release);
            ended(push.send("blocks", 0), "send at the mark")
        }
        4 => {
            let pull = ctx.socket(SocketType::Pull).unwrap();
            bind(&pull, t, "poll").unwrap();
            ready.fetch_add(1, Ordering::Release);
            let mut items = [PollItem::from_socket(&pull, POLLIN)];
            ended(poll(&mut items, -1), "poll")
        }
        5 | 6 => {
            ready.fetch_add(1, Ordering::Release);
            churn_until_terminated(&ctx, &[Transport::Inproc], w, rounds)
        }
        _ => {
            ready.fetch_add(1, Ordering::Release);
            stream_until_terminated(&ctx, rounds)
        }
    }
}

/// Eight threads bind and connect over tcp and ipc (and inproc) in a loop while the context
/// terminates, twenty times over: `terminate` must return and every thread end with
/// `Terminated`.
///
/// This used to hang: a `bind` or `connect` that passed its terminated check just before
/// `terminate` posted its command to the I/O thread after the `Stop`, and the listener or
/// connecter added then was never closed. The I/O thread now drops a late listener and
/// closes a late connecter within its linger.
#[test]
fn terminate_while_threads_bind_and_connect_over_tcp_and_ipc() {
    let _turn = one_at_a_time();
    bounded(100, || {
        for _ in 0..20 {
            terminate_mid_operation(0..WORKERS, |ctx, w, rounds, ready| {
                ready.fetch_add(1, Ordering::Release);
                churn_until_terminated(&ctx, &TRANSPORTS, w, rounds)
            });
        }
    });
}
