//! `poll` and the readiness descriptor: level triggering, many sockets at once, socket-type
//! rules (REQ/REP state, SUB filtering), raw file descriptors, timeouts, termination, and an
//! external mio event loop driven by `Socket::readiness_fd` that must never miss a message.
//!
//! Nothing sleeps to let things settle: a test that needs something to arrive polls for it
//! with a generous timeout.

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use zerosock::{
    poll, Context, Error, PollEvents, PollItem, Readiness, Socket, SocketType, DONTWAIT, POLLERR,
    POLLIN, POLLOUT,
};

/// Long enough for anything that must arrive; a test fails (not hangs) if it does not.
const WAIT_MS: i64 = 10_000;

fn pair(ctx: &Context, a: SocketType, b: SocketType, ep: &str) -> (Socket, Socket) {
    let bound = ctx.socket(a).unwrap();
    bound.bind(ep).unwrap();
    let ep = bound.last_endpoint().unwrap();
    let connected = ctx.socket(b).unwrap();
    connected.connect(&ep).unwrap();
    for s in [&bound, &connected] {
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(WAIT_MS as i32).unwrap();
        s.set_sndtimeo(WAIT_MS as i32).unwrap();
    }
    (bound, connected)
}

/// The readiness of one socket, as poll reports it without waiting.
fn ready_now(s: &Socket, events: PollEvents) -> PollEvents {
    let mut items = [PollItem::from_socket(s, events)];
    poll(&mut items, 0).unwrap();
    items[0].revents()
}

#[test]
fn level_triggered_until_received() {
    bounded(30, || {
        let ctx = Context::new();
        for ep in ["inproc://poll-level", "tcp://127.0.0.1:*"] {
            let (pull, push) = pair(&ctx, SocketType::Pull, SocketType::Push, ep);
            assert_eq!(
                ready_now(&pull, POLLIN),
                PollEvents::NONE,
                "{ep}: nothing yet"
            );
            push.send_multipart(["a", "b"], 0).unwrap();
            push.send("c", 0).unwrap();
            let mut items = [PollItem::from_socket(&pull, POLLIN | POLLOUT)];
            assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
            assert!(
                items[0].is_readable() && !items[0].is_writable(),
                "PULL never writes"
            );
            // Asked again and again: the same answer, and nothing was consumed.
            for _ in 0..5 {
                assert_eq!(ready_now(&pull, POLLIN), POLLIN, "{ep}");
            }
            let first = pull.recv_multipart(0).unwrap();
            assert_eq!(first, vec!["a", "b"]);
            // "c" may still be on its way over tcp: wait for it, then it is level too.
            assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
            assert_eq!(ready_now(&pull, POLLIN), POLLIN);
            assert_eq!(pull.recv(0).unwrap(), "c");
            assert_eq!(ready_now(&pull, POLLIN), PollEvents::NONE, "{ep}: drained");
            assert!(matches!(pull.recv(DONTWAIT), Err(Error::WouldBlock)));
            // A frame received mid-message leaves the socket readable for the rest.
            push.send_multipart(["x", "y"], 0).unwrap();
            assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
            let x = pull.recv(0).unwrap();
            assert!(x.more());
            assert_eq!(ready_now(&pull, POLLIN), POLLIN);
            assert_eq!(pull.recv(0).unwrap(), "y");
        }
    });
}

#[test]
fn many_sockets_report_exactly_the_ready_ones() {
    bounded(30, || {
        let ctx = Context::new();
        let pairs: Vec<(Socket, Socket)> = (0..4)
            .map(|i| {
                pair(
                    &ctx,
                    SocketType::Pull,
                    SocketType::Push,
                    &format!("inproc://poll-many-{i}"),
                )
            })
            .collect();
        pairs[1].1.send("one", 0).unwrap();
        pairs[3].1.send("three", 0).unwrap();
        let mut items: Vec<PollItem> = pairs
            .iter()
            .map(|(pull, _)| PollItem::from_socket(pull, POLLIN))
            .collect();
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 2);
        let readable: Vec<bool> = items.iter().map(|i| i.is_readable()).collect();
        assert_eq!(readable, vec![false, true, false, true]);
        assert_eq!(pairs[1].0.recv(0).unwrap(), "one");
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
        assert!(items[3].is_readable() && !items[1].is_readable());
        assert_eq!(pairs[3].0.recv(0).unwrap(), "three");
        assert_eq!(poll(&mut items, 0).unwrap(), 0);
        // The same socket twice: both items report.
        pairs[0].1.send("zero", 0).unwrap();
        let mut items = [
            PollItem::from_socket(&pairs[0].0, POLLIN),
            PollItem::from_socket(&pairs[0].0, POLLIN | POLLOUT),
        ];
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 2);
        assert_eq!(items[1].revents(), POLLIN);
    });
}

#[test]
fn a_blocked_poll_wakes_for_a_message_from_another_thread() {
    bounded(30, || {
        let ctx = Context::new();
        for ep in ["inproc://poll-wake", "tcp://127.0.0.1:*"] {
            let (pull_a, mut push_a) = pair(&ctx, SocketType::Pull, SocketType::Push, ep);
            let (pull_b, mut push_b) = pair(
                &ctx,
                SocketType::Pull,
                SocketType::Push,
                "inproc://poll-wake-b",
            );
            for round in 0..200u32 {
                let which = round % 2;
                let sender = std::thread::spawn(move || {
                    let push = if which == 0 { &push_a } else { &push_b };
                    push.send(round.to_be_bytes().to_vec(), 0).unwrap();
                    (push_a, push_b)
                });
                let mut items = [
                    PollItem::from_socket(&pull_a, POLLIN),
                    PollItem::from_socket(&pull_b, POLLIN),
                ];
                assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1, "{ep} round {round}");
                assert!(items[which as usize].is_readable());
                let got = [&pull_a, &pull_b][which as usize].recv(0).unwrap();
                assert_eq!(&got[..], &round.to_be_bytes()[..]);
                (push_a, push_b) = sender.join().unwrap();
            }
            drop((pull_b, push_b));
        }
    });
}

#[test]
fn timeout_zero_and_finite() {
    bounded(30, || {
        let ctx = Context::new();
        let (pull, _push) = pair(
            &ctx,
            SocketType::Pull,
            SocketType::Push,
            "inproc://poll-timeout",
        );
        let mut items = [PollItem::from_socket(&pull, POLLIN)];
        let start = Instant::now();
        assert_eq!(poll(&mut items, 0).unwrap(), 0);
        assert_eq!(poll(&mut items, 100).unwrap(), 0);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        // Nothing to poll: a finite timeout sleeps, an infinite one is refused.
        assert_eq!(poll(&mut [], 10).unwrap(), 0);
        assert!(matches!(poll(&mut [], -1), Err(Error::WrongState(_))));
    });
}

#[test]
fn req_rep_state_and_writability() {
    bounded(30, || {
        let ctx = Context::new();
        for ep in ["inproc://poll-reqrep", "tcp://127.0.0.1:*"] {
            let (rep, req) = pair(&ctx, SocketType::Rep, SocketType::Req, ep);
            assert_eq!(
                ready_now(&req, POLLIN | POLLOUT),
                POLLOUT,
                "{ep}: REQ may ask"
            );
            assert_eq!(
                ready_now(&rep, POLLIN | POLLOUT),
                PollEvents::NONE,
                "{ep}: REP waits"
            );
            req.send("question", 0).unwrap();
            assert_eq!(
                ready_now(&req, POLLIN | POLLOUT),
                PollEvents::NONE,
                "REQ: no second request"
            );
            let mut items = [PollItem::from_socket(&rep, POLLIN | POLLOUT)];
            assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
            assert_eq!(
                items[0].revents(),
                POLLIN,
                "not writable before it received"
            );
            assert_eq!(rep.recv(0).unwrap(), "question");
            assert_eq!(ready_now(&rep, POLLIN | POLLOUT), POLLOUT);
            rep.send("answer", 0).unwrap();
            let mut items = [PollItem::from_socket(&req, POLLIN)];
            assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
            assert_eq!(ready_now(&req, POLLIN), POLLIN, "level triggered");
            assert_eq!(req.recv(0).unwrap(), "answer");
            assert_eq!(ready_now(&req, POLLIN | POLLOUT), POLLOUT);
        }
    });
}

#[test]
fn writability_follows_peers_and_high_water_marks() {
    bounded(30, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(0).unwrap();
        push.set_sndhwm(2).unwrap();
        assert_eq!(
            ready_now(&push, POLLOUT),
            PollEvents::NONE,
            "no peer: a send would block"
        );
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvhwm(2).unwrap();
        pull.bind("inproc://poll-hwm").unwrap();
        push.connect("inproc://poll-hwm").unwrap();
        assert_eq!(ready_now(&push, POLLOUT), POLLOUT);
        let mut sent = 0;
        while ready_now(&push, POLLOUT) == POLLOUT {
            push.send("m", DONTWAIT).unwrap();
            sent += 1;
            assert!(sent < 100, "POLLOUT never cleared");
        }
        assert!(matches!(push.send("m", DONTWAIT), Err(Error::WouldBlock)));
        // Another thread drains; the blocked poll wakes when room returns.
        let drainer = std::thread::spawn(move || {
            for _ in 0..sent {
                pull.recv(0).unwrap();
            }
            pull
        });
        let mut items = [PollItem::from_socket(&push, POLLOUT)];
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
        assert!(items[0].is_writable());
        drop(drainer.join().unwrap());
    });
}

#[test]
fn sub_is_readable_only_for_subscribed_messages() {
    bounded(30, || {
        let ctx = Context::new();
        let (publisher, sub) = pair(&ctx, SocketType::Pub, SocketType::Sub, "inproc://poll-sub");
        sub.set_subscribe(b"yes").unwrap();
        assert_eq!(ready_now(&publisher, POLLOUT), POLLOUT, "PUB never blocks");
        assert_eq!(
            ready_now(&sub, POLLOUT),
            PollEvents::NONE,
            "SUB never sends"
        );
        // inproc subscriptions are applied before the publisher's next send.
        publisher.send("no thanks", 0).unwrap();
        publisher.send_multipart(["yes please", "body"], 0).unwrap();
        let mut items = [PollItem::from_socket(&sub, POLLIN)];
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
        assert_eq!(sub.recv_multipart(0).unwrap(), vec!["yes please", "body"]);
        publisher.send("no again", 0).unwrap();
        assert_eq!(
            poll(&mut items, 50).unwrap(),
            0,
            "filtered messages are not input"
        );
    });
}

#[test]
fn raw_file_descriptors_alone_and_with_sockets() {
    bounded(30, || {
        let ctx = Context::new();
        let (pull, push) = pair(&ctx, SocketType::Pull, SocketType::Push, "inproc://poll-fd");
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let fd = b.as_raw_fd();
        let mut items = [PollItem::from_fd(fd, POLLIN)];
        assert_eq!(poll(&mut items, 0).unwrap(), 0);
        assert_eq!(poll(&mut items, 20).unwrap(), 0);
        a.write_all(b"x").unwrap();
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
        assert!(items[0].is_readable());
        // Level triggered for descriptors too.
        assert_eq!(poll(&mut items, 0).unwrap(), 1);
        let mut buf = [0u8; 1];
        b.read_exact(&mut buf).unwrap();
        assert_eq!(poll(&mut items, 0).unwrap(), 0);
        let mut items = [PollItem::from_fd(fd, POLLOUT)];
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
        assert!(items[0].is_writable());

        // Mixed: a wait ends for the socket, then for the descriptor, each from a thread.
        let sender = std::thread::spawn(move || {
            push.send("from the socket", 0).unwrap();
            push
        });
        let mut items = [
            PollItem::from_fd(fd, POLLIN),
            PollItem::from_socket(&pull, POLLIN),
        ];
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
        assert!(items[1].is_readable() && !items[0].is_readable());
        assert_eq!(pull.recv(0).unwrap(), "from the socket");
        let _push = sender.join().unwrap();
        let writer = std::thread::spawn(move || {
            a.write_all(b"y").unwrap();
            a
        });
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 1);
        assert!(items[0].is_readable() && !items[1].is_readable());
        let _a = writer.join().unwrap();
        // The same descriptor twice, asked different things.
        let mut items = [
            PollItem::from_fd(fd, POLLIN),
            PollItem::from_fd(fd, POLLOUT),
        ];
        assert_eq!(poll(&mut items, WAIT_MS).unwrap(), 2);
    });
}

#[test]
fn termination_ends_a_blocked_poll() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("inproc://poll-term").unwrap();
        let (_a, b) = UnixStream::pair().unwrap();
        let fd = b.as_raw_fd();
        let terminator = {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                // Not needed for the assertions (a poll started after termination fails the
                // same way); it only makes it likely that the poll below is already asleep,
                // so the wake-up path is what gets exercised.
                std::thread::sleep(Duration::from_millis(20));
                ctx.terminate();
            })
        };
        let mut items = [PollItem::from_socket(&pull, POLLIN)];
        assert!(matches!(poll(&mut items, -1), Err(Error::Terminated)));
        // With a descriptor in the set too, and after the fact.
        let mut items = [
            PollItem::from_socket(&pull, POLLIN),
            PollItem::from_fd(fd, POLLIN),
        ];
        assert!(matches!(poll(&mut items, -1), Err(Error::Terminated)));
        terminator.join().unwrap();
    });
}

/// An external mio loop, edge triggered, must see every message through the readiness
/// descriptor, whatever the interleaving with the sender.
#[test]
fn readiness_fd_in_a_mio_loop_never_misses_a_message() {
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    bounded(60, || {
        let ctx = Context::new();
        for ep in ["inproc://poll-readiness", "tcp://127.0.0.1:*"] {
            let (pull, push) = pair(&ctx, SocketType::Pull, SocketType::Push, ep);
            const N: u32 = 20_000;
            let sender = std::thread::spawn(move || {
                for i in 0..N {
                    push.send(i.to_be_bytes().to_vec(), 0).unwrap();
                    if i % 97 == 0 {
                        // Vary the rhythm so the receiver often runs dry and sleeps.
                        std::thread::yield_now();
                    }
                }
                push
            });
            let mut os = Poll::new().unwrap();
            let fd = pull.readiness_fd().unwrap();
            assert_eq!(
                fd,
                pull.readiness_fd().unwrap(),
                "one descriptor per socket"
            );
            os.registry()
                .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
                .unwrap();
            let mut events = Events::with_capacity(4);
            let mut next = 0u32;
            let mut waits = 0u32;
            while next < N {
                os.poll(&mut events, Some(Duration::from_secs(10))).unwrap();
                assert!(
                    !events.is_empty(),
                    "{ep}: no wake-up with {next} of {N} received"
                );
                waits += 1;
                while pull.events().unwrap().readable {
                    let m = pull.recv(DONTWAIT).unwrap();
                    assert_eq!(&m[..], &next.to_be_bytes()[..], "{ep}");
                    next += 1;
                }
            }
            assert!(!pull.events().unwrap().readable);
            eprintln!("{ep}: {N} messages in {waits} wake-ups");
            let _push = sender.join().unwrap();
        }
    });
}

#[test]
fn readiness_fd_signals_writability_and_termination() {
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    bounded(30, || {
        let ctx = Context::new();
        let (rep, req) = pair(
            &ctx,
            SocketType::Rep,
            SocketType::Req,
            "inproc://poll-rfd-w",
        );
        let mut os = Poll::new().unwrap();
        let fd = rep.readiness_fd().unwrap();
        os.registry()
            .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(4);
        // Readable from the start: look once before the first wait.
        os.poll(&mut events, Some(Duration::from_secs(10))).unwrap();
        assert!(!events.is_empty());
        assert_eq!(
            rep.events().unwrap(),
            Readiness {
                readable: false,
                writable: false
            }
        );
        let client = std::thread::spawn(move || {
            req.send("ping", 0).unwrap();
            assert_eq!(req.recv(0).unwrap(), "pong");
            req
        });
        loop {
            os.poll(&mut events, Some(Duration::from_secs(10))).unwrap();
            assert!(!events.is_empty(), "no wake-up for the request");
            if rep.events().unwrap().readable {
                break;
            }
        }
        assert_eq!(rep.recv(DONTWAIT).unwrap(), "ping");
        assert_eq!(
            rep.events().unwrap(),
            Readiness {
                readable: false,
                writable: true
            }
        );
        rep.send("pong", DONTWAIT).unwrap();
        let _req = client.join().unwrap();
        // Termination makes the descriptor readable and events() report it.
        let terminator = {
            let ctx = ctx.clone();
            std::thread::spawn(move || ctx.terminate())
        };
        loop {
            os.poll(&mut events, Some(Duration::from_secs(10))).unwrap();
            assert!(!events.is_empty(), "no wake-up for termination");
            match rep.events() {
                Err(Error::Terminated) => break,
                Ok(_) => continue,
                Err(e) => panic!("{e}"),
            }
        }
        terminator.join().unwrap();
    });
}

#[test]
fn poll_events_are_a_set_with_libzmq_bits() {
    let both = POLLIN | POLLOUT;
    assert!(both.contains(POLLIN) && both.contains(POLLOUT) && !both.contains(POLLERR));
    assert_eq!(both & POLLOUT, POLLOUT);
    assert!((POLLIN & POLLOUT).is_empty());
    assert_eq!((both | POLLERR).bits(), 7);
    assert_eq!(PollEvents::from_bits(5), POLLIN | POLLERR);
    assert_eq!(PollEvents::from_bits(-1), POLLIN | POLLOUT | POLLERR);
    assert_eq!(format!("{both:?}"), "PollEvents(IN | OUT)");
    assert_eq!(format!("{:?}", PollEvents::NONE), "PollEvents(NONE)");
}

#[test]
fn a_monitor_is_polled_beside_sockets() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        let monitor = pull.monitor();
        let mut items = [
            PollItem::from_monitor(&monitor),
            PollItem::from_socket(&pull, POLLIN),
        ];
        assert_eq!(poll(&mut items, 0).unwrap(), 0, "no event yet");
        let push = ctx.socket(SocketType::Push).unwrap();
        push.bind("tcp://127.0.0.1:*").unwrap();
        pull.connect(&push.last_endpoint().unwrap()).unwrap();
        // The connection's events end the wait; the socket has no message.
        assert_eq!(poll(&mut items, 10_000).unwrap(), 1);
        assert!(items[0].is_readable() && !items[1].is_readable());
        // The last event of the connection, then nothing more to receive.
        wait_event(&monitor, "handshake", |kind| {
            (*kind == zerosock::EventKind::HandshakeSucceeded).then_some(())
        });
        assert_eq!(poll(&mut items, 0).unwrap(), 0, "drained");
    });
}
