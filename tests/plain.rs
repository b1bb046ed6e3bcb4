//! PLAIN (RFC 24) and ZAP (RFC 27): who gets in, who is refused and how, what the
//! authenticated peer's messages carry — between zerosock sockets and with libzmq on either
//! side.
mod common;
use common::*;
use std::time::Duration;
use zerosock::zap::Authenticator;
use zerosock::{Context, EventKind, Mechanism, Monitor, Socket, SocketType, DONTWAIT};

const WAIT: Duration = Duration::from_secs(10);

fn auth_failed(monitor: &Monitor, what: &str) -> u32 {
    wait_event(monitor, what, |k| match k {
        EventKind::HandshakeFailedAuth(status) => Some(*status),
        _ => None,
    })
}

fn protocol_failure(monitor: &Monitor, what: &str) -> String {
    wait_event(monitor, what, |k| match k {
        EventKind::HandshakeFailedProtocol(why) => Some(why.clone()),
        _ => None,
    })
}

/// A ZAP handler in `ctx` that knows one user, admin/secret.
fn admin_only(ctx: &Context) -> Authenticator {
    let auth = Authenticator::start(ctx).unwrap();
    auth.add_user("admin", "secret");
    auth
}

fn plain_server(ctx: &Context, socket_type: SocketType) -> (Socket, String) {
    let server = ctx.socket(socket_type).unwrap();
    server.set_plain_server(true).unwrap();
    server.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    server.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = server.last_endpoint().unwrap();
    (server, endpoint)
}

fn plain_client(ctx: &Context, socket_type: SocketType, user: &str, pass: &str) -> Socket {
    let client = ctx.socket(socket_type).unwrap();
    client.set_plain_username(user.as_bytes()).unwrap();
    client.set_plain_password(pass.as_bytes()).unwrap();
    client.set_linger(0).unwrap();
    client
}

#[test]
fn options_follow_libzmq() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Dealer).unwrap();
    assert_eq!(s.mechanism(), Mechanism::Null);
    s.set_plain_username(b"user").unwrap();
    assert_eq!(s.mechanism(), Mechanism::Plain);
    assert!(!s.plain_server());
    assert_eq!(s.plain_username(), b"user");
    s.set_plain_server(true).unwrap();
    assert!(s.plain_server());
    s.set_plain_server(false).unwrap();
    assert_eq!(s.mechanism(), Mechanism::Null);
    s.set_plain_password(b"").unwrap();
    assert_eq!(s.mechanism(), Mechanism::Plain);
    s.set_plain_username(b"").unwrap();
    assert_eq!(s.mechanism(), Mechanism::Null);
    let long = [b'x'; 256];
    assert!(s.set_plain_username(&long).is_err());
    assert!(s.set_plain_password(&long).is_err());
    assert!(s.set_zap_domain(&"d".repeat(256)).is_err());
    s.set_zap_domain("global").unwrap();
    assert_eq!(s.zap_domain(), "global");
    s.set_zap_enforce_domain(true).unwrap();
    assert!(s.zap_enforce_domain());
}

#[test]
fn valid_credentials_get_in_with_user_id_and_zap_metadata() {
    bounded(30, || {
        let ctx = Context::new();
        let auth = admin_only(&ctx);
        auth.set_metadata("X-Tier", b"gold");
        let (server, endpoint) = plain_server(&ctx, SocketType::Rep);
        let client = plain_client(&ctx, SocketType::Req, "admin", "secret");
        client.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
        client.connect(&endpoint).unwrap();
        client.send("ping", 0).unwrap();
        let request = server.recv(0).unwrap();
        assert_eq!(request, "ping");
        assert_eq!(request.property("User-Id"), Some("admin"));
        assert_eq!(request.property("X-Tier"), Some("gold"));
        assert_eq!(request.property("Socket-Type"), Some("REQ"));
        server.send("pong", 0).unwrap();
        let reply = client.recv(0).unwrap();
        assert_eq!(reply, "pong");
        // The client learns nothing from ZAP: no User-Id on its side.
        assert_eq!(reply.property("User-Id"), None);
        assert_eq!(reply.property("Socket-Type"), Some("REP"));
    });
}

#[test]
fn wrong_password_is_refused_with_400_on_both_sides_and_nothing_is_delivered() {
    bounded(30, || {
        let ctx = Context::new();
        let auth = admin_only(&ctx);
        let (server, endpoint) = plain_server(&ctx, SocketType::Pull);
        let server_events = server.monitor();
        let client = plain_client(&ctx, SocketType::Push, "admin", "wrong");
        let client_events = client.monitor();
        client.connect(&endpoint).unwrap();
        client.send("must not arrive", DONTWAIT).unwrap();
        assert_eq!(auth_failed(&server_events, "server"), 400);
        assert_eq!(auth_failed(&client_events, "client"), 400);
        assert!(matches!(
            server.recv(DONTWAIT),
            Err(zerosock::Error::WouldBlock)
        ));
        // An unknown user is refused the same way.
        let stranger = plain_client(&ctx, SocketType::Push, "mallory", "secret");
        let stranger_events = stranger.monitor();
        stranger.connect(&endpoint).unwrap();
        assert_eq!(auth_failed(&stranger_events, "unknown user"), 400);
        // Once the user exists with that password, the reconnecting client gets in and its
        // queued message arrives.
        auth.add_user("admin", "wrong");
        assert_eq!(server.recv(0).unwrap(), "must not arrive");
    });
}

#[test]
fn plain_server_without_a_handler_refuses_everyone() {
    bounded(30, || {
        let ctx = Context::new();
        let (server, endpoint) = plain_server(&ctx, SocketType::Pull);
        let server_events = server.monitor();
        let client = plain_client(&ctx, SocketType::Push, "admin", "secret");
        client.connect(&endpoint).unwrap();
        client.send("x", DONTWAIT).unwrap();
        let why = protocol_failure(&server_events, "server");
        assert!(why.contains("ZAP"), "{why}");
        assert!(matches!(
            server.recv(DONTWAIT),
            Err(zerosock::Error::WouldBlock)
        ));

        // A handler that comes and goes: refused again once it has stopped.
        let auth = admin_only(&ctx);
        assert_eq!(server.recv(0).unwrap(), "x");
        auth.stop();
        let late = plain_client(&ctx, SocketType::Push, "admin", "secret");
        late.connect(&endpoint).unwrap();
        let why = protocol_failure(&server_events, "after stop");
        assert!(why.contains("ZAP"), "{why}");
    });
}

#[test]
fn a_plain_socket_never_accepts_a_null_peer() {
    bounded(30, || {
        let ctx = Context::new();
        let _auth = admin_only(&ctx);
        // NULL client to a PLAIN server.
        let (server, endpoint) = plain_server(&ctx, SocketType::Pull);
        let server_events = server.monitor();
        let null_client = ctx.socket(SocketType::Push).unwrap();
        null_client.set_linger(0).unwrap();
        null_client.connect(&endpoint).unwrap();
        null_client.send("x", DONTWAIT).unwrap();
        let why = protocol_failure(&server_events, "plain server");
        assert!(why.contains("mechanism"), "{why}");
        // A raw NULL peer that goes straight to READY and data gets nothing through either.
        let _raw = raw_null_peer(&endpoint, "PUSH");
        protocol_failure(&server_events, "raw null peer");
        assert!(matches!(
            server.recv(DONTWAIT),
            Err(zerosock::Error::WouldBlock)
        ));

        // PLAIN client to a NULL server.
        let null_server = ctx.socket(SocketType::Pull).unwrap();
        null_server.bind("tcp://127.0.0.1:*").unwrap();
        let client = plain_client(&ctx, SocketType::Push, "admin", "secret");
        let client_events = client.monitor();
        client
            .connect(&null_server.last_endpoint().unwrap())
            .unwrap();
        client.send("x", DONTWAIT).unwrap();
        let why = protocol_failure(&client_events, "plain client");
        assert!(why.contains("mechanism"), "{why}");
        assert!(matches!(
            null_server.recv(DONTWAIT),
            Err(zerosock::Error::WouldBlock)
        ));
    });
}

#[test]
fn null_with_a_zap_domain_is_filtered_by_address() {
    bounded(30, || {
        let ctx = Context::new();
        let auth = Authenticator::start(&ctx).unwrap();
        auth.deny("127.0.0.1");
        let server = ctx.socket(SocketType::Pull).unwrap();
        server.set_zap_domain("global").unwrap();
        server.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
        server.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = server.last_endpoint().unwrap();
        let events = server.monitor();
        let client = ctx.socket(SocketType::Push).unwrap();
        client.set_linger(0).unwrap();
        client.connect(&endpoint).unwrap();
        client.send("late", DONTWAIT).unwrap();
        assert_eq!(auth_failed(&events, "denied address"), 400);
        drop(auth);

        // Only other addresses allowed: still refused.
        let auth = Authenticator::start(&ctx).unwrap();
        auth.allow("10.1.2.3");
        assert_eq!(auth_failed(&events, "not on the allow list"), 400);
        // Allowed: the reconnecting client gets in, with an empty User-Id.
        auth.allow("127.0.0.1");
        let msg = server.recv(0).unwrap();
        assert_eq!(msg, "late");
        assert_eq!(msg.property("User-Id"), Some(""));
        assert_eq!(msg.property("Peer-Address"), Some("127.0.0.1"));
    });
}

#[test]
fn zap_enforce_domain_refuses_null_peers_without_a_handler() {
    bounded(30, || {
        let ctx = Context::new();
        let server = ctx.socket(SocketType::Pull).unwrap();
        server.set_zap_domain("global").unwrap();
        server.set_zap_enforce_domain(true).unwrap();
        server.bind("tcp://127.0.0.1:*").unwrap();
        let events = server.monitor();
        let client = ctx.socket(SocketType::Push).unwrap();
        client.set_linger(0).unwrap();
        client.connect(&server.last_endpoint().unwrap()).unwrap();
        let why = protocol_failure(&events, "enforced domain");
        assert!(why.contains("ZAP"), "{why}");

        // Without enforcement, no handler means no authentication (libzmq's default).
        let open = ctx.socket(SocketType::Pull).unwrap();
        open.set_zap_domain("global").unwrap();
        open.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
        open.bind("tcp://127.0.0.1:*").unwrap();
        let other = ctx.socket(SocketType::Push).unwrap();
        other.set_linger(0).unwrap();
        other.connect(&open.last_endpoint().unwrap()).unwrap();
        other.send("in", 0).unwrap();
        let msg = open.recv(0).unwrap();
        assert_eq!(msg, "in");
        assert_eq!(msg.property("User-Id"), None);
    });
}

#[test]
fn a_hand_written_router_handler_works_as_in_libzmq() {
    bounded(30, || {
        let ctx = Context::new();
        let handler = ctx.socket(SocketType::Router).unwrap();
        handler.bind("inproc://zeromq.zap.01").unwrap();
        let (server, endpoint) = plain_server(&ctx, SocketType::Pull);
        let client = plain_client(&ctx, SocketType::Push, "bob", "hunter2");
        client.connect(&endpoint).unwrap();
        client.send("hi", 0).unwrap();
        handler.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
        let request = handler.recv_multipart(0).unwrap();
        let bodies: Vec<&[u8]> = request.iter().map(|m| &m[..]).collect();
        // routing id, delimiter, version, request id, domain, address, identity, mechanism,
        // username, password.
        assert_eq!(bodies.len(), 10, "{bodies:?}");
        assert_eq!(
            &bodies[1..],
            [
                &b""[..],
                b"1.0",
                b"1",
                b"",
                b"127.0.0.1",
                b"",
                b"PLAIN",
                b"bob",
                b"hunter2"
            ]
        );
        let reply: Vec<&[u8]> = vec![
            bodies[0],
            b"",
            b"1.0",
            bodies[3],
            b"200",
            b"OK",
            b"user-bob",
            b"",
        ];
        handler.send_multipart(reply, 0).unwrap();
        let msg = server.recv(0).unwrap();
        assert_eq!(msg.property("User-Id"), Some("user-bob"));
    });
}

// ----- libzmq on the other side ---------------------------------------------------------

/// libzmq's monitor events of `socket` (event id, value) through an inproc PAIR.
fn zmq_monitor(zctx: &zmq::Context, socket: &zmq::Socket, name: &str) -> zmq::Socket {
    let endpoint = format!("inproc://{name}");
    socket
        .monitor(&endpoint, zmq::SocketEvent::ALL as i32)
        .unwrap();
    let mon = zctx.socket(zmq::PAIR).unwrap();
    mon.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    mon.connect(&endpoint).unwrap();
    mon
}

/// Waits for libzmq's monitor to report `event`; returns its value.
fn zmq_wait_event(mon: &zmq::Socket, event: zmq::SocketEvent) -> u32 {
    let mut seen = Vec::new();
    loop {
        let frames = mon
            .recv_multipart(0)
            .unwrap_or_else(|e| panic!("no {event:?} from libzmq ({e}); saw {seen:?}"));
        let head = &frames[0];
        let id = u16::from_le_bytes([head[0], head[1]]);
        let value = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
        if id == event as u16 {
            return value;
        }
        seen.push((id, value));
    }
}

#[test]
fn libzmq_plain_client_to_zerosock_server_allowed_and_denied() {
    bounded(60, || {
        let ctx = Context::new();
        let _auth = admin_only(&ctx);
        let (server, endpoint) = plain_server(&ctx, SocketType::Pull);
        let events = server.monitor();

        let zctx = zmq::Context::new();
        let good = zctx.socket(zmq::PUSH).unwrap();
        good.set_plain_username(Some("admin")).unwrap();
        good.set_plain_password(Some("secret")).unwrap();
        good.set_linger(0).unwrap();
        good.connect(&endpoint).unwrap();
        good.send("from libzmq", 0).unwrap();
        let msg = server.recv(0).unwrap();
        assert_eq!(msg, "from libzmq");
        assert_eq!(msg.property("User-Id"), Some("admin"));

        let bad = zctx.socket(zmq::PUSH).unwrap();
        bad.set_plain_username(Some("admin")).unwrap();
        bad.set_plain_password(Some("guess")).unwrap();
        bad.set_linger(0).unwrap();
        let bad_mon = zmq_monitor(&zctx, &bad, "zs-plain-bad");
        bad.connect(&endpoint).unwrap();
        bad.send("denied", zmq::DONTWAIT).unwrap();
        assert_eq!(auth_failed(&events, "zerosock server"), 400);
        // libzmq 4.3.4's PLAIN client only parses its own misspelt ERROR (the name's length
        // byte and first letter fused into 0x5E), so it reports our well-formed ERROR as an
        // unexpected command rather than as status 400; either way it is refused.
        zmq_wait_event(&bad_mon, zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL);
        assert!(matches!(
            server.recv(DONTWAIT),
            Err(zerosock::Error::WouldBlock)
        ));
    });
}

/// A ZAP handler for a libzmq context, written with the `zmq` crate: admin/secret only.
fn libzmq_zap_handler(zctx: &zmq::Context) -> std::thread::JoinHandle<()> {
    let handler = zctx.socket(zmq::REP).unwrap();
    handler.bind("inproc://zeromq.zap.01").unwrap();
    handler.set_linger(0).unwrap();
    std::thread::spawn(move || {
        while let Ok(request) = handler.recv_multipart(0) {
            let ok = request.len() == 8
                && request[5] == b"PLAIN"
                && request[6] == b"admin"
                && request[7] == b"secret";
            let (status, user): (&[u8], &[u8]) = if ok {
                (b"200", b"admin-id")
            } else {
                (b"400", b"")
            };
            let reply: Vec<&[u8]> = vec![b"1.0", &request[1], status, b"", user, b""];
            if handler.send_multipart(reply, 0).is_err() {
                return;
            }
        }
    })
}

#[test]
fn zerosock_plain_client_to_libzmq_server_allowed_and_denied() {
    bounded(60, || {
        let zctx = zmq::Context::new();
        let zap = libzmq_zap_handler(&zctx);
        let server = zctx.socket(zmq::PULL).unwrap();
        server.set_plain_server(true).unwrap();
        server.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
        server.set_linger(0).unwrap();
        let mon = zmq_monitor(&zctx, &server, "lz-plain-server");
        server.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = server.get_last_endpoint().unwrap().unwrap();

        let ctx = Context::new();
        let good = plain_client(&ctx, SocketType::Push, "admin", "secret");
        good.connect(&endpoint).unwrap();
        good.send("from zerosock", 0).unwrap();
        let mut msg = zmq::Message::new();
        server.recv(&mut msg, 0).unwrap();
        assert_eq!(&msg[..], b"from zerosock");
        assert_eq!(msg.gets("User-Id"), Some("admin-id"));

        let bad = plain_client(&ctx, SocketType::Push, "admin", "nope");
        let bad_events = bad.monitor();
        bad.connect(&endpoint).unwrap();
        bad.send("denied", DONTWAIT).unwrap();
        assert_eq!(auth_failed(&bad_events, "zerosock client"), 400);
        assert_eq!(
            zmq_wait_event(&mon, zmq::SocketEvent::HANDSHAKE_FAILED_AUTH),
            400
        );
        assert_eq!(server.recv_bytes(zmq::DONTWAIT), Err(zmq::Error::EAGAIN));

        // A NULL zerosock peer never gets into a libzmq PLAIN server either.
        let null_peer = ctx.socket(SocketType::Push).unwrap();
        null_peer.set_linger(0).unwrap();
        let null_events = null_peer.monitor();
        null_peer.connect(&endpoint).unwrap();
        null_peer.send("null", DONTWAIT).unwrap();
        // libzmq hangs up on seeing the mechanism (before it sends its own): our side sees
        // the connection end during the greeting.
        wait_event(&null_events, "null peer", |k| {
            matches!(
                k,
                EventKind::Disconnected | EventKind::HandshakeFailedProtocol(_)
            )
            .then_some(())
        });
        zmq_wait_event(&mon, zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL);
        assert_eq!(server.recv_bytes(zmq::DONTWAIT), Err(zmq::Error::EAGAIN));

        // Terminating the context ends the handler's recv (ETERM), so its thread finishes.
        drop(server);
        drop(mon);
        let mut zctx = zctx;
        zctx.destroy().unwrap();
        zap.join().unwrap();
    });
}
