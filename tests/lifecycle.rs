//! Termination, linger and close semantics.
mod common;
use common::*;
use std::time::{Duration, Instant};
use zerosock::{Context, Error, SocketType, DONTWAIT};

#[test]
fn terminate_unblocks_a_thread_blocked_in_recv() {
    bounded(20, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let blocked = std::thread::spawn(move || pull.recv(0));
        // The receiver is blocked (or about to block): terminating must wake it either way.
        ctx.terminate();
        let result = blocked.join().unwrap();
        assert!(matches!(result, Err(Error::Terminated)), "{result:?}");
    });
}

#[test]
fn terminate_unblocks_a_send_blocked_at_hwm_and_later_calls_fail() {
    bounded(20, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_sndhwm(1).unwrap();
        push.set_linger(0).unwrap();
        push.connect("tcp://127.0.0.1:1").unwrap(); // nobody there: the queue fills
        push.send("a", 0).unwrap();
        assert!(matches!(push.send("b", DONTWAIT), Err(Error::WouldBlock)));
        let ctx2 = ctx.clone();
        let t = std::thread::spawn(move || {
            let r = push.send("c", 0);
            (r, push.recv(DONTWAIT).is_err())
        });
        ctx2.terminate();
        let (r, _) = t.join().unwrap();
        assert!(matches!(r, Err(Error::Terminated)), "{r:?}");
        assert!(matches!(
            ctx.socket(SocketType::Pull),
            Err(Error::Terminated)
        ));
    });
}

#[test]
fn linger_zero_discards_at_once() {
    bounded(20, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(0).unwrap();
        push.connect("tcp://127.0.0.1:1").unwrap();
        for _ in 0..10 {
            push.send("queued", 0).unwrap();
        }
        drop(push);
        let start = Instant::now();
        drop(ctx);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn bounded_linger_gives_up_after_its_time() {
    bounded(20, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(300).unwrap();
        push.connect("tcp://127.0.0.1:1").unwrap();
        push.send("never delivered", 0).unwrap();
        drop(push);
        let start = Instant::now();
        drop(ctx);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    });
}

#[test]
fn closing_sender_still_delivers_everything_it_sent() {
    bounded(60, || {
        for endpoint in ["tcp://127.0.0.1:*".to_string(), ipc_endpoint("linger")] {
            let receiver_ctx = Context::new();
            let pull = receiver_ctx.socket(SocketType::Pull).unwrap();
            pull.set_rcvtimeo(10_000).unwrap();
            pull.bind(&endpoint).unwrap();
            let endpoint = pull.last_endpoint().unwrap();
            let n = 20_000u32;
            let sender = std::thread::spawn(move || {
                let ctx = Context::new();
                let push = ctx.socket(SocketType::Push).unwrap();
                push.connect(&endpoint).unwrap();
                for i in 0..n {
                    push.send(i.to_le_bytes().to_vec(), 0).unwrap();
                }
                drop(push);
                drop(ctx); // returns once everything is on the wire
            });
            for i in 0..n {
                let m = pull.recv(0).unwrap();
                assert_eq!(u32::from_le_bytes(m[..4].try_into().unwrap()), i);
            }
            sender.join().unwrap();
        }
    });
}

#[test]
fn inproc_messages_survive_the_sender_closing() {
    bounded(20, || {
        let ctx = Context::builder().io_threads(0).build().unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("inproc://tail").unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect("inproc://tail").unwrap();
        for i in 0..100u8 {
            push.send(vec![i], 0).unwrap();
        }
        drop(push);
        for i in 0..100u8 {
            assert_eq!(&pull.recv(0).unwrap()[..], &[i]);
        }
        assert!(matches!(pull.recv(DONTWAIT), Err(Error::WouldBlock)));
    });
}

#[test]
fn many_sockets_open_and_close_without_leaking_threads_or_hanging() {
    bounded(60, || {
        let ctx = Context::builder().io_threads(2).build().unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let ctx = ctx.clone();
                let ep = ep.clone();
                std::thread::spawn(move || {
                    for i in 0..50u32 {
                        let push = ctx.socket(SocketType::Push).unwrap();
                        push.connect(&ep).unwrap();
                        push.send(format!("{t}-{i}"), 0).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for _ in 0..200 {
            pull.recv(0).unwrap();
        }
    });
}

#[test]
fn terminate_with_an_open_idle_connecter_and_nothing_queued_is_quick() {
    bounded(20, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_reconnect_ivl(10_000).unwrap(); // stays idle once its peer is gone
        push.connect(&pull.last_endpoint().unwrap()).unwrap();
        push.send("one", 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "one");
        let events = push.monitor();
        drop(pull);
        // Wait until the connecter noticed its peer left.
        while let Some(e) = events.recv(Some(Duration::from_secs(5))) {
            if e.kind == zerosock::EventKind::Disconnected {
                break;
            }
        }
        // The socket is still open, with nothing queued: terminating must not wait for its
        // 30 s linger.
        let start = Instant::now();
        ctx.terminate();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "took {:?}",
            start.elapsed()
        );
        drop(push);
    });
}

// ----- linger: infinite / 0 / 200 ms, peer present or absent ----------------------------------

/// A raw TCP peer that completes the handshake as a PULL, reads until it has seen `at_least`
/// bytes from the socket connected to it (so the connection is up and data flows), and then
/// stops reading until the test resumes it with [`read_to_end`].
fn stalled_raw_pull(listener: &std::net::TcpListener, at_least: usize) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let (mut s, _) = listener.accept().expect("accept the socket under test");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&zmtp_greeting()).unwrap();
    s.write_all(&zmtp_ready("PULL")).unwrap();
    let mut seen = 0;
    let mut buf = [0u8; 4096];
    while seen < at_least {
        let n = s.read(&mut buf).expect("data from the socket under test");
        assert!(n > 0, "closed before sending anything");
        seen += n;
    }
    s
}

/// Reads until the other side closes; returns how many bytes came.
fn read_to_end(mut s: std::net::TcpStream) -> usize {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("reading what the closed socket sent: {e}"),
        }
    }
}

/// Terminates `ctx` on another thread; the receiver hears when it returned.
fn terminate_in_background(
    ctx: Context,
) -> (std::sync::mpsc::Receiver<()>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        drop(ctx);
        let _ = tx.send(());
    });
    (rx, t)
}

/// Linger -1, peer absent: the context keeps trying to deliver; when a peer binds the
/// endpoint later, everything queued arrives, in order, and only then does terminate return.
#[test]
fn infinite_linger_waits_for_an_absent_peer_and_delivers_when_it_appears() {
    bounded(30, || {
        let ep = ipc_endpoint("linger-late");
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(-1).unwrap();
        push.set_reconnect_ivl(20).unwrap();
        push.connect(&ep).unwrap();
        for i in 0..100u32 {
            push.send(i.to_le_bytes().to_vec(), 0).unwrap();
        }
        drop(push);
        let (terminated, t) = terminate_in_background(ctx);
        assert!(
            terminated.recv_timeout(Duration::from_millis(500)).is_err(),
            "terminate returned with 100 undelivered messages and LINGER -1"
        );
        let pull_ctx = Context::new();
        let pull = pull_ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(10_000).unwrap();
        pull.bind(&ep).unwrap();
        for i in 0..100u32 {
            let m = pull
                .recv(0)
                .expect("a message queued before the peer existed");
            assert_eq!(u32::from_le_bytes(m[..4].try_into().unwrap()), i);
        }
        terminated
            .recv_timeout(Duration::from_secs(10))
            .expect("terminate returns once everything is delivered");
        t.join().unwrap();
        pull.set_rcvtimeo(100).unwrap();
        assert!(matches!(pull.recv(0), Err(Error::TimedOut)), "a duplicate");
    });
}

/// Linger -1, peer present but slow (it reads nothing until the sender has closed): the
/// context waits as long as it takes, and the slow peer gets every message in order.
#[test]
fn infinite_linger_with_a_slow_peer_delivers_everything() {
    bounded(60, || {
        for endpoint in ["tcp://127.0.0.1:*".to_string(), ipc_endpoint("linger-slow")] {
            const N: u32 = 2000;
            let pull_ctx = Context::new();
            let pull = pull_ctx.socket(SocketType::Pull).unwrap();
            pull.set_rcvhwm(10).unwrap();
            pull.set_rcvbuf(8192).unwrap();
            pull.set_rcvtimeo(10_000).unwrap();
            pull.bind(&endpoint).unwrap();
            let ctx = Context::new();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.set_linger(-1).unwrap();
            push.set_sndhwm(0).unwrap();
            push.set_sndbuf(8192).unwrap();
            push.connect(&pull.last_endpoint().unwrap()).unwrap();
            for i in 0..N {
                let mut body = i.to_le_bytes().to_vec();
                body.resize(1024, 0);
                push.send(body, 0).unwrap();
            }
            drop(push);
            let (terminated, t) = terminate_in_background(ctx);
            // 2 MB cannot fit in RCVHWM 10, the small socket buffers and the I/O threads'
            // batches: the context must wait.
            assert!(
                terminated.recv_timeout(Duration::from_millis(300)).is_err(),
                "{endpoint}: terminate returned before a slow peer took 2 MB, with LINGER -1"
            );
            for i in 0..N {
                let m = pull.recv(0).expect("every message of a closed sender");
                assert_eq!(u32::from_le_bytes(m[..4].try_into().unwrap()), i);
            }
            terminated
                .recv_timeout(Duration::from_secs(10))
                .expect("terminate returns once everything is delivered");
            t.join().unwrap();
        }
    });
}

/// Messages a PUSH queues for a peer that connected but never reads, and their size.
const STALLED_N: usize = 2000;
const STALLED_SIZE: usize = 16 * 1024;

/// A PUSH with `linger` queues STALLED_N messages for a raw peer that reads nothing, then is
/// closed and its context terminated. Returns how long that took and how many bytes the
/// peer got in the end.
fn close_with_a_stalled_peer(linger: i32) -> (Duration, usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_linger(linger).unwrap();
    push.set_sndhwm(0).unwrap();
    push.connect(&format!("tcp://{}", listener.local_addr().unwrap()))
        .unwrap();
    for _ in 0..STALLED_N {
        push.send(vec![0x5A; STALLED_SIZE], 0).unwrap();
    }
    let peer = stalled_raw_pull(&listener, 64 * 1024);
    let start = Instant::now();
    drop(push);
    ctx.terminate();
    let waited = start.elapsed();
    (waited, read_to_end(peer))
}

/// Linger 0, peer present but not reading: closing and terminating return at once, and the
/// peer gets only what was already in flight; the rest is discarded and the connection
/// closed.
#[test]
fn zero_linger_with_a_stalled_peer_discards_what_is_queued() {
    bounded(30, || {
        let (waited, got) = close_with_a_stalled_peer(0);
        assert!(
            waited < Duration::from_secs(2),
            "LINGER 0 waited {waited:?}"
        );
        assert!(
            got < STALLED_N * STALLED_SIZE,
            "all {} MB arrived although LINGER was 0 ({got} B)",
            (STALLED_N * STALLED_SIZE) >> 20
        );
    });
}

/// Linger 200 ms, peer present but not reading: terminate gives up after about 200 ms and
/// the rest is discarded.
#[test]
fn linger_200ms_with_a_stalled_peer_gives_up_after_200ms() {
    bounded(30, || {
        let (waited, got) = close_with_a_stalled_peer(200);
        assert!(
            waited >= Duration::from_millis(195) && waited < Duration::from_secs(2),
            "LINGER 200 ms waited {waited:?}"
        );
        assert!(got < STALLED_N * STALLED_SIZE, "everything arrived");
    });
}

/// Linger 200 ms, peer absent (nobody at the ipc path): terminate returns after about
/// 200 ms.
#[test]
fn linger_200ms_with_an_absent_peer_gives_up_after_200ms() {
    bounded(30, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(200).unwrap();
        push.connect(&ipc_endpoint("linger-absent")).unwrap();
        push.send("never delivered", 0).unwrap();
        let start = Instant::now();
        drop(push);
        ctx.terminate();
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(195) && waited < Duration::from_secs(2),
            "LINGER 200 ms waited {waited:?}"
        );
    });
}

/// Linger 200 ms, peer present and reading: everything is delivered.
#[test]
fn linger_200ms_with_a_present_peer_delivers_everything() {
    bounded(30, || {
        let pull_ctx = Context::new();
        let pull = pull_ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(10_000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(200).unwrap();
        push.connect(&pull.last_endpoint().unwrap()).unwrap();
        for i in 0..1000u32 {
            push.send(i.to_le_bytes().to_vec(), 0).unwrap();
        }
        drop(push);
        ctx.terminate();
        for i in 0..1000u32 {
            let m = pull.recv(0).expect("every message of a closed sender");
            assert_eq!(u32::from_le_bytes(m[..4].try_into().unwrap()), i);
        }
    });
}
