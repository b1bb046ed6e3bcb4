//! Request-reply interoperability with real libzmq (the `zmq` crate): every legal pair —
//! REQ↔REP, REQ↔ROUTER, DEALER↔REP, DEALER↔ROUTER, DEALER↔DEALER, ROUTER↔ROUTER — with
//! zerosock on each side in turn, each side binding in turn, over tcp and ipc.
//!
//! Each scenario checks envelopes frame by frame (delimiters, routing ids, request ids),
//! with empty frames and frames of 0, 255, 256 B and 1 MiB, and routing ids as ROUTER sees
//! them: the peer's `ROUTING_ID` when set, a generated 5-byte id (`0x00` + 4 bytes) when not.

mod common;
use common::*;
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
    Req,
    Rep,
    Dealer,
    Router,
}

impl Kind {
    fn zs(self) -> SocketType {
        match self {
            Kind::Req => SocketType::Req,
            Kind::Rep => SocketType::Rep,
            Kind::Dealer => SocketType::Dealer,
            Kind::Router => SocketType::Router,
        }
    }

    fn zq(self) -> zmq::SocketType {
        match self {
            Kind::Req => zmq::REQ,
            Kind::Rep => zmq::REP,
            Kind::Dealer => zmq::DEALER,
            Kind::Router => zmq::ROUTER,
        }
    }
}

/// One end of a pair: a zerosock socket or a libzmq one, driven the same way.
#[allow(clippy::large_enum_variant)] // two per test: size does not matter
enum Side {
    Zs(zerosock::Socket),
    Zq(zmq::Socket),
}

impl Side {
    fn name(&self) -> &'static str {
        match self {
            Side::Zs(_) => "zerosock",
            Side::Zq(_) => "libzmq",
        }
    }

    fn send(&self, msg: &[&[u8]]) {
        match self {
            Side::Zs(s) => s.send_multipart(msg.iter().copied(), 0).unwrap(),
            Side::Zq(s) => s.send_multipart(msg.iter().copied(), 0).unwrap(),
        }
    }

    fn recv(&self) -> Message {
        match self {
            Side::Zs(s) => s
                .recv_multipart(0)
                .unwrap()
                .into_iter()
                .map(|m| m.to_vec())
                .collect(),
            Side::Zq(s) => s.recv_multipart(0).unwrap(),
        }
    }

    fn set_routing_id(&self, id: &[u8]) {
        match self {
            Side::Zs(s) => s.set_routing_id(id).unwrap(),
            Side::Zq(s) => s.set_identity(id).unwrap(),
        }
    }

    fn set_probe_router(&self) {
        match self {
            Side::Zs(s) => s.set_probe_router(true).unwrap(),
            Side::Zq(s) => s.set_probe_router(true).unwrap(),
        }
    }

    fn set_req_correlate(&self) {
        match self {
            Side::Zs(s) => {
                s.set_req_correlate(true).unwrap();
                s.set_req_relaxed(true).unwrap();
            }
            Side::Zq(s) => {
                s.set_req_correlate(true).unwrap();
                s.set_req_relaxed(true).unwrap();
            }
        }
    }

    fn bind(&self, t: Transport) -> String {
        let ep = match t {
            Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
            Transport::Ipc => ipc_endpoint("reqrep"),
        };
        match self {
            Side::Zs(s) => {
                s.bind(&ep).unwrap();
                s.last_endpoint().unwrap()
            }
            Side::Zq(s) => {
                s.bind(&ep).unwrap();
                s.get_last_endpoint().unwrap().unwrap()
            }
        }
    }

    fn connect(&self, ep: &str) {
        match self {
            Side::Zs(s) => s.connect(ep).unwrap(),
            Side::Zq(s) => s.connect(ep).unwrap(),
        }
    }
}

/// Two unconnected sockets; the scenario sets options, then calls [`Pair::link`].
struct Pair {
    a: Side,
    b: Side,
    t: Transport,
    a_binds: bool,
}

impl Pair {
    fn link(&self) {
        let (binder, connecter) = if self.a_binds {
            (&self.a, &self.b)
        } else {
            (&self.b, &self.a)
        };
        connecter.connect(&binder.bind(self.t));
    }

    fn binder(&self) -> &Side {
        if self.a_binds {
            &self.a
        } else {
            &self.b
        }
    }

    fn connecter(&self) -> &Side {
        if self.a_binds {
            &self.b
        } else {
            &self.a
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} {:?} {} (binds: {})",
            self.a.name(),
            self.t,
            self.b.name(),
            if self.a_binds { "first" } else { "second" }
        )
    }
}

/// Runs `scenario` for socket types `a` and `b` with zerosock as `a` then as `b`, over tcp
/// and ipc, with `a` binding and then `b` binding.
fn each_combination(a: Kind, b: Kind, scenario: fn(&Pair)) {
    for zs_is_a in [true, false] {
        for t in [Transport::Tcp, Transport::Ipc] {
            for a_binds in [true, false] {
                bounded(60, move || {
                    let zctx = Context::new();
                    let qctx = zmq::Context::new();
                    let zs = |k: Kind| {
                        let s = zctx.socket(k.zs()).unwrap();
                        s.set_rcvtimeo(TIMEOUT_MS).unwrap();
                        s.set_sndtimeo(TIMEOUT_MS).unwrap();
                        s.set_linger(0).unwrap();
                        Side::Zs(s)
                    };
                    let zq = |k: Kind| {
                        let s = qctx.socket(k.zq()).unwrap();
                        s.set_rcvtimeo(TIMEOUT_MS).unwrap();
                        s.set_sndtimeo(TIMEOUT_MS).unwrap();
                        s.set_linger(0).unwrap();
                        Side::Zq(s)
                    };
                    let pair = if zs_is_a {
                        Pair {
                            a: zs(a),
                            b: zq(b),
                            t,
                            a_binds,
                        }
                    } else {
                        Pair {
                            a: zq(a),
                            b: zs(b),
                            t,
                            a_binds,
                        }
                    };
                    let what = pair.describe();
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&pair)));
                    if let Err(panic) = outcome {
                        eprintln!("failed: {a:?}/{b:?}: {what}");
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

/// Compares without dumping megabytes into the failure message.
fn assert_msg(got: &Message, want: &Message, what: &str) {
    let sizes = |m: &Message| m.iter().map(|f| f.len()).collect::<Vec<_>>();
    assert_eq!(sizes(got), sizes(want), "{what}: frame sizes");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(g == w, "{what}: frame {i} differs");
    }
}

/// Request bodies: multipart with empty frames and the interesting sizes.
fn bodies(seed: u8) -> Vec<Message> {
    vec![
        vec![b"hello".to_vec()],
        vec![Vec::new()],
        vec![
            payload(255, seed),
            Vec::new(),
            payload(256, seed),
            Vec::new(),
        ],
        vec![b"big".to_vec(), payload(1 << 20, seed)],
    ]
}

fn cat(head: &[&[u8]], body: &Message) -> Message {
    head.iter()
        .map(|f| f.to_vec())
        .chain(body.iter().cloned())
        .collect()
}

// ----- scenarios ----------------------------------------------------------------------------

fn req_rep(p: &Pair) {
    let (req, rep) = (&p.a, &p.b);
    p.link();
    for (n, body) in bodies(1).iter().enumerate() {
        req.send(&refs(body));
        assert_msg(&rep.recv(), body, "request at REP");
        let reply = cat(&[format!("reply {n}").as_bytes()], &bodies(2)[n]);
        rep.send(&refs(&reply));
        assert_msg(&req.recv(), &reply, "reply at REQ");
    }
}

fn req_router(p: &Pair) {
    let (req, router) = (&p.a, &p.b);
    req.set_routing_id(b"req-id");
    p.link();
    for body in bodies(3) {
        req.send(&refs(&body));
        let got = router.recv();
        assert_msg(&got, &cat(&[b"req-id", b""], &body), "request at ROUTER");
        let reply = cat(&[b"req-id", b""], &vec![b"re".to_vec(), Vec::new()]);
        router.send(&refs(&reply));
        assert_msg(
            &req.recv(),
            &vec![b"re".to_vec(), Vec::new()],
            "reply at REQ",
        );
    }
}

fn req_correlate_router(p: &Pair) {
    let (req, router) = (&p.a, &p.b);
    req.set_req_correlate();
    p.link();
    let mut last_id = None;
    for n in 0..3u8 {
        req.send(&[&[n], b"q"]);
        let got = router.recv();
        assert_eq!(got.len(), 5, "[routing id, request id, delimiter, body...]");
        assert_eq!(got[0].len(), 5, "a generated routing id");
        assert_eq!(got[0][0], 0);
        assert_eq!(got[1].len(), 4, "a 4-byte request id");
        assert_ne!(
            Some(got[1].clone()),
            last_id,
            "a new request id per request"
        );
        last_id = Some(got[1].clone());
        assert!(got[2].is_empty());
        assert_eq!(&got[3..], &[vec![n], b"q".to_vec()]);
        // A reply with a wrong request id is ignored; the right one is taken.
        router.send(&[&got[0], b"\xff\xff\xff\xff", b"", b"stale"]);
        router.send(&[&got[0], &got[1], b"", b"fresh"]);
        assert_eq!(req.recv(), vec![b"fresh".to_vec()]);
    }
}

fn dealer_rep(p: &Pair) {
    let (dealer, rep) = (&p.a, &p.b);
    p.link();
    // No delimiter: malformed, the REP drops it.
    dealer.send(&[b"malformed"]);
    for (n, body) in bodies(4).iter().enumerate() {
        let hop = format!("hop{n}");
        dealer.send(&refs(&cat(&[hop.as_bytes(), b""], body)));
        assert_msg(&rep.recv(), body, "request at REP");
        rep.send(&[b"ok", b""]);
        assert_eq!(
            dealer.recv(),
            vec![hop.into_bytes(), vec![], b"ok".to_vec(), vec![]],
            "the envelope comes back"
        );
    }
}

fn dealer_router(p: &Pair) {
    let (dealer, router) = (&p.a, &p.b);
    dealer.set_routing_id(b"dlr");
    dealer.set_probe_router();
    p.link();
    for (n, body) in bodies(5).iter().enumerate() {
        dealer.send(&refs(body));
        if n == 0 {
            // The probe: an empty message first thing on the connection (a binding DEALER
            // takes its peer in when it next runs, here in this send).
            assert_eq!(router.recv(), vec![b"dlr".to_vec(), vec![]]);
        }
        assert_msg(&router.recv(), &cat(&[b"dlr"], body), "at ROUTER");
        let reply = vec![format!("r{n}").into_bytes(), Vec::new(), payload(256, 9)];
        router.send(&refs(&cat(&[b"dlr"], &reply)));
        assert_msg(&dealer.recv(), &reply, "at DEALER");
    }
    // Unknown routing ids are dropped silently; order is kept.
    router.send(&[b"nobody", b"lost"]);
    for n in 0..50u8 {
        router.send(&[b"dlr", &[n]]);
    }
    for n in 0..50u8 {
        assert_eq!(dealer.recv(), vec![vec![n]]);
    }
}

fn dealer_router_generated_id(p: &Pair) {
    let (dealer, router) = (&p.a, &p.b);
    p.link();
    dealer.send(&[b"", b"anonymous"]);
    let got = router.recv();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].len(), 5, "generated ids are 5 bytes");
    assert_eq!(got[0][0], 0, "and start with a zero byte");
    assert_eq!(&got[1..], &[vec![], b"anonymous".to_vec()]);
    router.send(&[&got[0], b"", b"back"]);
    assert_eq!(dealer.recv(), vec![vec![], b"back".to_vec()]);
}

fn dealer_dealer(p: &Pair) {
    p.link();
    for body in bodies(6) {
        p.a.send(&refs(&body));
        assert_msg(&p.b.recv(), &body, "a to b");
        p.b.send(&refs(&body));
        assert_msg(&p.a.recv(), &body, "b to a");
    }
}

fn router_router(p: &Pair) {
    let (binder, connecter) = (p.binder(), p.connecter());
    binder.set_routing_id(b"bndr");
    connecter.set_routing_id(b"conn");
    // The connecting ROUTER cannot address the binder before its handshake: the probe
    // lets the binder speak first.
    connecter.set_probe_router();
    p.link();
    assert_eq!(binder.recv(), vec![b"conn".to_vec(), vec![]]);
    binder.send(&[b"conn", b"hello", b""]);
    assert_eq!(
        connecter.recv(),
        vec![b"bndr".to_vec(), b"hello".to_vec(), vec![]]
    );
    let big = payload(1 << 20, 7);
    connecter.send(&[b"bndr", b"", &big]);
    assert_msg(
        &binder.recv(),
        &vec![b"conn".to_vec(), vec![], big],
        "connecter to binder",
    );
}

// ----- tests --------------------------------------------------------------------------------

#[test]
fn req_rep_interop() {
    each_combination(Kind::Req, Kind::Rep, req_rep);
}

#[test]
fn req_router_interop() {
    each_combination(Kind::Req, Kind::Router, req_router);
}

#[test]
fn req_correlate_router_interop() {
    each_combination(Kind::Req, Kind::Router, req_correlate_router);
}

#[test]
fn dealer_rep_interop() {
    each_combination(Kind::Dealer, Kind::Rep, dealer_rep);
}

#[test]
fn dealer_router_interop() {
    each_combination(Kind::Dealer, Kind::Router, dealer_router);
}

#[test]
fn dealer_router_generated_id_interop() {
    each_combination(Kind::Dealer, Kind::Router, dealer_router_generated_id);
}

#[test]
fn dealer_dealer_interop() {
    each_combination(Kind::Dealer, Kind::Dealer, dealer_dealer);
}

#[test]
fn router_router_interop() {
    each_combination(Kind::Router, Kind::Router, router_router);
}

#[test]
fn router_mandatory_against_a_departed_libzmq_peer() {
    bounded(30, || {
        let ctx = Context::new();
        let router = ctx.socket(SocketType::Router).unwrap();
        router.set_router_mandatory(true).unwrap();
        router.set_rcvtimeo(TIMEOUT_MS).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let ep = router.last_endpoint().unwrap();
        let qctx = zmq::Context::new();
        let dealer = qctx.socket(zmq::DEALER).unwrap();
        dealer.set_linger(0).unwrap();
        dealer.set_identity(b"gone-soon").unwrap();
        dealer.connect(&ep).unwrap();
        dealer.send("hi", 0).unwrap();
        let got = router.recv_multipart(0).unwrap();
        assert_eq!(got[0], &b"gone-soon"[..]);
        router.send_multipart(["gone-soon", "ok"], 0).unwrap();
        assert_eq!(dealer.recv_bytes(0).unwrap(), b"ok");
        drop(dealer);
        // Once the peer's connection is gone, its id is unreachable.
        let unreachable = wait_for(10, || match router.send_multipart(["gone-soon", "x"], 0) {
            Err(Error::HostUnreachable) => true,
            Ok(()) => false,
            Err(e) => panic!("{e}"),
        });
        assert!(unreachable, "the departed peer stayed routable");
    });
}
