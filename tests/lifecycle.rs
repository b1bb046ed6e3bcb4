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
