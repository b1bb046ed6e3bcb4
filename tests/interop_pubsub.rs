//! Publish-subscribe interoperability with real libzmq (the `zmq` crate): PUB↔SUB,
//! PUB↔XSUB, XPUB↔SUB and XPUB↔XSUB, with zerosock on each side in turn, each side binding
//! in turn, over tcp and ipc.
//!
//! Each scenario checks subscription filtering exactly (prefixes, the empty message,
//! multipart messages with empty and 1 MiB frames), counted subscriptions (two subscribes
//! need two unsubscribes), subscriptions made before and after connecting, and for XPUB the
//! subscription messages it receives, including the unsubscriptions of a subscriber that
//! leaves. XSUB does no filtering of its own (in both libraries), so what it receives is
//! exactly what the publisher chose to send.
//!
//! Subscriptions take a moment to travel: the tests publish and poll with a short timeout
//! until a message arrives, never sleep.

mod common;
use common::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zerosock::{Context, Error, SocketType};

const TIMEOUT_MS: i32 = 10_000;

type Message = Vec<Vec<u8>>;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ipc,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Pub,
    XPub,
    Sub,
    XSub,
}

impl Kind {
    fn zs(self) -> SocketType {
        match self {
            Kind::Pub => SocketType::Pub,
            Kind::XPub => SocketType::XPub,
            Kind::Sub => SocketType::Sub,
            Kind::XSub => SocketType::XSub,
        }
    }

    fn zq(self) -> zmq::SocketType {
        match self {
            Kind::Pub => zmq::PUB,
            Kind::XPub => zmq::XPUB,
            Kind::Sub => zmq::SUB,
            Kind::XSub => zmq::XSUB,
        }
    }
}

/// One end of a pair: a zerosock socket or a libzmq one, driven the same way.
#[allow(clippy::large_enum_variant)] // two per test: size does not matter
enum Side {
    Zs(zerosock::Socket, Kind),
    Zq(zmq::Socket, Kind),
}

impl Side {
    fn name(&self) -> &'static str {
        match self {
            Side::Zs(..) => "zerosock",
            Side::Zq(..) => "libzmq",
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Side::Zs(_, k) | Side::Zq(_, k) => *k,
        }
    }

    fn send(&self, msg: &[&[u8]]) {
        match self {
            Side::Zs(s, _) => s.send_multipart(msg.iter().copied(), 0).unwrap(),
            Side::Zq(s, _) => s.send_multipart(msg.iter().copied(), 0).unwrap(),
        }
    }

    fn recv(&self) -> Message {
        self.try_recv(TIMEOUT_MS)
            .unwrap_or_else(|| panic!("{} received nothing", self.name()))
    }

    /// Receives with a timeout of `ms`: `None` if nothing came.
    fn try_recv(&self, ms: i32) -> Option<Message> {
        match self {
            Side::Zs(s, _) => {
                s.set_rcvtimeo(ms).unwrap();
                match s.recv_multipart(0) {
                    Ok(m) => Some(m.into_iter().map(|f| f.to_vec()).collect()),
                    Err(Error::TimedOut) | Err(Error::WouldBlock) => None,
                    Err(e) => panic!("recv: {e}"),
                }
            }
            Side::Zq(s, _) => {
                s.set_rcvtimeo(ms).unwrap();
                match s.recv_multipart(0) {
                    Ok(m) => Some(m),
                    Err(zmq::Error::EAGAIN) => None,
                    Err(e) => panic!("recv: {e}"),
                }
            }
        }
    }

    /// SUB: the option; XSUB: the subscription message.
    fn subscribe(&self, topic: &[u8]) {
        match self {
            Side::Zs(s, Kind::Sub) => s.set_subscribe(topic).unwrap(),
            Side::Zq(s, Kind::Sub) => s.set_subscribe(topic).unwrap(),
            _ => self.send(&[&[&[1u8][..], topic].concat()]),
        }
    }

    fn unsubscribe(&self, topic: &[u8]) {
        match self {
            Side::Zs(s, Kind::Sub) => s.set_unsubscribe(topic).unwrap(),
            Side::Zq(s, Kind::Sub) => s.set_unsubscribe(topic).unwrap(),
            _ => self.send(&[&[&[0u8][..], topic].concat()]),
        }
    }

    fn bind(&self, t: Transport) -> String {
        let ep = match t {
            Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
            Transport::Ipc => ipc_endpoint("pubsub"),
        };
        match self {
            Side::Zs(s, _) => {
                s.bind(&ep).unwrap();
                s.last_endpoint().unwrap()
            }
            Side::Zq(s, _) => {
                s.bind(&ep).unwrap();
                s.get_last_endpoint().unwrap().unwrap()
            }
        }
    }

    fn connect(&self, ep: &str) {
        match self {
            Side::Zs(s, _) => s.connect(ep).unwrap(),
            Side::Zq(s, _) => s.connect(ep).unwrap(),
        }
    }
}

/// A publisher and a subscriber, not yet connected.
struct Pair {
    publisher: Side,
    subscriber: Side,
    t: Transport,
    publisher_binds: bool,
}

impl Pair {
    fn link(&self) {
        let (binder, connecter) = if self.publisher_binds {
            (&self.publisher, &self.subscriber)
        } else {
            (&self.subscriber, &self.publisher)
        };
        connecter.connect(&binder.bind(self.t));
    }
}

/// Runs `scenario` for publisher type `p` and subscriber type `s` with zerosock as the
/// publisher then as the subscriber, over tcp and ipc, with each side binding in turn.
fn each_combination(p: Kind, s: Kind, scenario: fn(Pair)) {
    for zs_publishes in [true, false] {
        for t in [Transport::Tcp, Transport::Ipc] {
            for publisher_binds in [true, false] {
                bounded(60, move || {
                    let zctx = Context::new();
                    let qctx = zmq::Context::new();
                    let zs = |k: Kind| {
                        let s = zctx.socket(k.zs()).unwrap();
                        s.set_rcvtimeo(TIMEOUT_MS).unwrap();
                        s.set_sndtimeo(TIMEOUT_MS).unwrap();
                        s.set_linger(0).unwrap();
                        Side::Zs(s, k)
                    };
                    let zq = |k: Kind| {
                        let s = qctx.socket(k.zq()).unwrap();
                        s.set_rcvtimeo(TIMEOUT_MS).unwrap();
                        s.set_sndtimeo(TIMEOUT_MS).unwrap();
                        s.set_linger(0).unwrap();
                        Side::Zq(s, k)
                    };
                    let (publisher, subscriber) = if zs_publishes {
                        (zs(p), zq(s))
                    } else {
                        (zq(p), zs(s))
                    };
                    let what = format!(
                        "{p:?} ({}) / {s:?} ({}) over {t:?}, publisher binds: {publisher_binds}",
                        publisher.name(),
                        subscriber.name()
                    );
                    let pair = Pair {
                        publisher,
                        subscriber,
                        t,
                        publisher_binds,
                    };
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(pair)));
                    if let Err(panic) = outcome {
                        eprintln!("failed: {what}");
                        std::panic::resume_unwind(panic);
                    }
                });
            }
        }
    }
}

/// Deterministic bytes that do not repeat with a period of 256.
fn payload(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(7) ^ ((i / 251) as u8) ^ seed)
        .collect()
}

fn refs(m: &Message) -> Vec<&[u8]> {
    m.iter().map(|f| f.as_slice()).collect()
}

/// Publishes "sync-…" messages until the subscriber (subscribed to "sync") gets one.
fn wait_subscribed(publisher: &Side, subscriber: &Side) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while Instant::now() < deadline {
        publisher.send(&[format!("sync-wait-{n}").as_bytes()]);
        n += 1;
        while let Some(m) = subscriber.try_recv(20) {
            if m[0].starts_with(b"sync") {
                return;
            }
        }
    }
    panic!("the subscription never reached the publisher");
}

/// Publishes `msgs`, then a fresh "sync-…" marker; returns what the subscriber received
/// before that marker (older markers skipped).
fn through(publisher: &Side, subscriber: &Side, msgs: &[Message]) -> Vec<Message> {
    static MARK: AtomicU32 = AtomicU32::new(0);
    for m in msgs {
        publisher.send(&refs(m));
    }
    let mark = format!("sync-{}", MARK.fetch_add(1, Ordering::Relaxed));
    publisher.send(&[mark.as_bytes()]);
    let mut got = Vec::new();
    loop {
        let m = subscriber.recv();
        if m[0] == mark.as_bytes() {
            assert_eq!(m.len(), 1);
            return got;
        }
        if !m[0].starts_with(b"sync") {
            got.push(m);
        }
    }
}

/// Repeats `through` until the subscriber receives exactly `want` (a change of
/// subscriptions is on its way), within a deadline.
fn until_exactly(publisher: &Side, subscriber: &Side, msgs: &[Message], want: &[Message]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = through(publisher, subscriber, msgs);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still receiving {} messages, expected {}",
            got.len(),
            want.len()
        );
    }
}

fn msg(frames: &[&[u8]]) -> Message {
    frames.iter().map(|f| f.to_vec()).collect()
}

/// Receives `n` subscription messages at an XPUB, sorted. `peer`, if given, is kept
/// running meanwhile (a socket takes in a new connection, and sends it its subscriptions,
/// when the application next calls it).
fn notifications(xpub: &Side, peer: Option<&Side>, n: usize) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {got:?} arrived");
        match xpub.try_recv(20) {
            Some(m) => got.push(m),
            None => {
                if let Some(peer) = peer {
                    assert!(peer.try_recv(0).is_none(), "nothing was published yet");
                }
            }
        }
    }
    got.sort();
    got
}

// ----- the scenario -------------------------------------------------------------------------

fn pubsub(pair: Pair) {
    let Pair {
        publisher: ref p,
        subscriber: ref s,
        ..
    } = pair;
    let xpub = p.kind() == Kind::XPub;
    // Before connecting ...
    s.subscribe(b"A");
    s.subscribe(b"sync");
    pair.link();
    // ... and after; "A" a second time (counted).
    s.subscribe(b"B");
    s.subscribe(b"A");
    if xpub {
        // New topics only: the second "A" is not passed on.
        assert_eq!(
            notifications(p, Some(s), 3),
            vec![msg(&[b"\x01A"]), msg(&[b"\x01B"]), msg(&[b"\x01sync"])]
        );
    }
    wait_subscribed(p, s);
    until_exactly(p, s, &[msg(&[b"B-ready"])], &[msg(&[b"B-ready"])]);

    let big = payload(1 << 20, 3);
    let sent = vec![
        msg(&[b"A1", b"", &payload(255, 1)]),
        msg(&[b"B", &big]),
        msg(&[b"C"]),
        msg(&[b""]),
        msg(&[b"", b"A"]),
        msg(&[b"AB", b""]),
        msg(&[b"a lower-case a"]),
        msg(&[b"xA"]),
        msg(&[b"B", &payload(256, 2), b"", b"end"]),
    ];
    let want: Vec<Message> = sent
        .iter()
        .filter(|m| m[0].starts_with(b"A") || m[0].starts_with(b"B"))
        .cloned()
        .collect();
    assert_eq!(want.len(), 4);
    let got = through(p, s, &sent);
    assert_eq!(got.len(), want.len(), "filtered by prefix");
    for (g, w) in got.iter().zip(&want) {
        assert!(g == w, "a message changed on the way ({} frames)", w.len());
    }

    // Two subscriptions to "A": one unsubscribe keeps it.
    s.unsubscribe(b"A");
    assert_eq!(
        through(p, s, &[msg(&[b"A2"]), msg(&[b"C2"])]),
        vec![msg(&[b"A2"])]
    );
    s.unsubscribe(b"A");
    if xpub {
        assert_eq!(p.recv(), msg(&[b"\x00A"]));
    }
    until_exactly(p, s, &[msg(&[b"A3"]), msg(&[b"B3"])], &[msg(&[b"B3"])]);

    if xpub {
        if s.kind() == Kind::XSub {
            // Messages an XSUB sends upstream reach the XPUB application.
            s.send(&[b"up", b"", b"stream"]);
            assert_eq!(p.recv(), msg(&[b"up", b"", b"stream"]));
        }
        if pair.publisher_binds {
            // The subscriber leaves: its topics are unsubscribed. (A connecting publisher
            // keeps its pipe for the reconnect, in both libraries, so it is told nothing.)
            let Pair {
                publisher,
                subscriber,
                ..
            } = pair;
            drop(subscriber);
            assert_eq!(
                notifications(&publisher, None, 2),
                vec![msg(&[b"\x00B"]), msg(&[b"\x00sync"])]
            );
        }
    }
}

#[test]
fn pub_sub_interop() {
    each_combination(Kind::Pub, Kind::Sub, pubsub);
}

#[test]
fn pub_xsub_interop() {
    each_combination(Kind::Pub, Kind::XSub, pubsub);
}

#[test]
fn xpub_sub_interop() {
    each_combination(Kind::XPub, Kind::Sub, pubsub);
}

#[test]
fn xpub_xsub_interop() {
    each_combination(Kind::XPub, Kind::XSub, pubsub);
}

/// A zerosock SUB keeps its subscriptions across a libzmq publisher's restart.
#[test]
fn sub_resubscribes_to_a_restarted_libzmq_publisher() {
    bounded(60, || {
        let ctx = Context::new();
        let sub = ctx.socket(SocketType::Sub).unwrap();
        sub.set_reconnect_ivl(20).unwrap();
        sub.set_linger(0).unwrap();
        sub.set_subscribe(b"sync").unwrap();
        let start = |ep: &str| {
            let qctx = zmq::Context::new();
            let publisher = qctx.socket(zmq::PUB).unwrap();
            publisher.set_linger(0).unwrap();
            let bound = wait_for(10, || publisher.bind(ep).is_ok());
            assert!(bound, "binding {ep}");
            (qctx, publisher)
        };
        let ep = {
            let probe = ctx.socket(SocketType::Pub).unwrap();
            probe.bind("tcp://127.0.0.1:*").unwrap();
            probe.last_endpoint().unwrap()
        };
        let (qctx, publisher) = start(&ep);
        sub.connect(&ep).unwrap();
        let s = Side::Zs(sub, Kind::Sub);
        let p = Side::Zq(publisher, Kind::Pub);
        wait_subscribed(&p, &s);
        drop(p);
        drop(qctx);
        let (qctx, publisher) = start(&ep);
        let p = Side::Zq(publisher, Kind::Pub);
        // No new subscribe from the application.
        wait_subscribed(&p, &s);
        drop(p);
        drop(qctx);
    });
}
