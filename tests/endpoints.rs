//! Endpoint forms, bind/connect/unbind/disconnect and option validation.
mod common;
use common::*;
use zerosock::{Context, Error, SocketType, DONTWAIT};

fn round_trip(ctx: &Context, bind: &str, connect: Option<&str>) {
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_rcvtimeo(5000).unwrap();
    pull.bind(bind).unwrap();
    let resolved = pull.last_endpoint().unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect(connect.unwrap_or(&resolved)).unwrap();
    push.send("ping", 0).unwrap();
    assert_eq!(pull.recv(0).unwrap(), "ping", "{bind}");
}

#[test]
fn tcp_forms() {
    bounded(20, || {
        let ctx = Context::new();
        round_trip(&ctx, "tcp://127.0.0.1:*", None);
        // `*` host binds every interface; connect through loopback.
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("tcp://*:*").unwrap();
        let port = pull
            .last_endpoint()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        drop(pull);
        round_trip(
            &ctx,
            &format!("tcp://*:{port}"),
            Some(&format!("tcp://127.0.0.1:{port}")),
        );
        // Names are resolved off the I/O thread.
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let port = pull
            .last_endpoint()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        drop(pull);
        round_trip(
            &ctx,
            &format!("tcp://127.0.0.1:{port}"),
            Some(&format!("tcp://localhost:{port}")),
        );
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            round_trip(&ctx, "tcp://[::1]:*", None);
        }
    });
}

#[test]
fn last_endpoint_reports_the_ephemeral_port() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Pull).unwrap();
    assert_eq!(s.last_endpoint(), None);
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.last_endpoint().unwrap();
    let port: u16 = ep
        .strip_prefix("tcp://127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0);
}

#[test]
fn ipc_replaces_a_stale_socket_file_but_not_a_live_one() {
    bounded(20, || {
        let ctx = Context::new();
        let ep = ipc_endpoint("stale");
        let path = ep.strip_prefix("ipc://").unwrap().to_string();
        // A dead process leaves its socket file behind: nothing accepts on it.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(std::path::Path::new(&path).exists());
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind(&ep).unwrap();
        let other = ctx.socket(SocketType::Pull).unwrap();
        assert!(matches!(other.bind(&ep), Err(Error::AddressInUse(_))));
        drop(pull);
        round_trip(&ctx, &ep, None);
    });
}

#[test]
fn inproc_connect_before_bind() {
    bounded(20, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect("inproc://later").unwrap();
        push.send("early", 0).unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("inproc://later").unwrap();
        assert_eq!(pull.recv(0).unwrap(), "early");
        let again = ctx.socket(SocketType::Pull).unwrap();
        assert!(matches!(
            again.bind("inproc://later"),
            Err(Error::AddressInUse(_))
        ));
    });
}

#[test]
fn inproc_payloads_are_not_copied() {
    let ctx = Context::builder().io_threads(0).build().unwrap();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("inproc://zero-copy").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect("inproc://zero-copy").unwrap();
    let body = bytes::Bytes::from(vec![5u8; 100_000]);
    let ptr = body.as_ptr();
    push.send(body, 0).unwrap();
    let got = pull.recv(0).unwrap();
    assert_eq!(got.as_ptr(), ptr);
}

#[test]
fn unbind_and_disconnect() {
    bounded(20, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        pull.unbind(&ep).unwrap();
        assert!(matches!(pull.unbind(&ep), Err(Error::EndpointNotFound(_))));
        // The port is free again once the I/O thread closed the listener.
        assert!(wait_for(5, || std::net::TcpListener::bind(
            ep.strip_prefix("tcp://").unwrap()
        )
        .is_ok()));

        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect("tcp://127.0.0.1:1").unwrap();
        push.disconnect("tcp://127.0.0.1:1").unwrap();
        // No peer left: a non-blocking send cannot go anywhere.
        assert!(matches!(push.send("x", DONTWAIT), Err(Error::WouldBlock)));
        assert!(matches!(
            push.disconnect("tcp://127.0.0.1:1"),
            Err(Error::EndpointNotFound(_))
        ));
    });
}

#[test]
fn malformed_endpoints_and_options_are_typed_errors() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Push).unwrap();
    for bad in [
        "",
        "tcp://",
        "tcp://nohost",
        "udp://x:1",
        "inproc://",
        "tcp://1.2.3.4:70000",
    ] {
        assert!(
            matches!(s.bind(bad), Err(Error::InvalidEndpoint { .. })),
            "{bad}"
        );
        assert!(
            matches!(s.connect(bad), Err(Error::InvalidEndpoint { .. })),
            "{bad}"
        );
    }
    assert!(matches!(
        s.connect("tcp://*:5555"),
        Err(Error::InvalidEndpoint { .. })
    ));
    assert!(matches!(
        s.set_sndhwm(-1),
        Err(Error::InvalidOption {
            option: "SNDHWM",
            ..
        })
    ));
    assert!(matches!(s.set_linger(-2), Err(Error::InvalidOption { .. })));
    assert!(matches!(
        s.set_maxmsgsize(-5),
        Err(Error::InvalidOption { .. })
    ));
    assert!(matches!(
        s.set_tcp_keepalive(2),
        Err(Error::InvalidOption { .. })
    ));
    assert!(matches!(
        s.set_routing_id(&[]),
        Err(Error::InvalidOption { .. })
    ));
    assert_eq!(s.sndhwm(), 1000);
    assert_eq!(s.rcvhwm(), 1000);
    assert_eq!(s.linger(), zerosock::DEFAULT_LINGER_MS);
    assert!(matches!(s.recv(0), Err(Error::WrongState(_))));
    let pull = ctx.socket(SocketType::Pull).unwrap();
    assert!(matches!(pull.send("x", 0), Err(Error::WrongState(_))));
}

#[test]
fn pair_accepts_one_peer_only() {
    bounded(20, || {
        let ctx = Context::new();
        let a = ctx.socket(SocketType::Pair).unwrap();
        a.set_rcvtimeo(5000).unwrap();
        a.bind("inproc://pair").unwrap();
        let b = ctx.socket(SocketType::Pair).unwrap();
        b.set_rcvtimeo(5000).unwrap();
        b.connect("inproc://pair").unwrap();
        let c = ctx.socket(SocketType::Pair).unwrap();
        c.connect("inproc://pair").unwrap();
        b.send("from b", 0).unwrap();
        assert_eq!(a.recv(0).unwrap(), "from b");
        a.send("to b", 0).unwrap();
        assert_eq!(b.recv(0).unwrap(), "to b");
        // c was refused: its pipe closes and its message goes nowhere.
        let _ = c.send("from c", DONTWAIT);
        a.set_rcvtimeo(200).unwrap();
        assert!(matches!(a.recv(0), Err(Error::TimedOut)));
    });
}
