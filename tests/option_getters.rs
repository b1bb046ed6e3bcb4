//! Every option getter: its default, then the value set (and a refused value changes
//! nothing). Socket-type options read back on the types that have them and fail, as their
//! setters do, on the others.
mod common;
use common::bounded;
use zerosock::{Context, Error, Mechanism, Result, Socket, SocketType, DEFAULT_LINGER_MS};

fn invalid_option(result: Result<impl std::fmt::Debug>, name: &str) -> bool {
    matches!(result, Err(Error::InvalidOption { option, .. }) if option == name)
}

type IntGet = fn(&Socket) -> i32;
type IntSet = fn(&Socket, i32) -> Result<()>;

#[test]
fn integer_options() {
    bounded(30, || {
        let ctx = Context::new();
        let s = ctx.socket(SocketType::Dealer).unwrap();
        // (name, getter, setter, default, a value to set, a value the setter refuses)
        let table: [(&str, IntGet, IntSet, i32, i32, i32); 18] = [
            ("SNDHWM", Socket::sndhwm, Socket::set_sndhwm, 1000, 7, -1),
            ("RCVHWM", Socket::rcvhwm, Socket::set_rcvhwm, 1000, 0, -1),
            (
                "SNDTIMEO",
                Socket::sndtimeo,
                Socket::set_sndtimeo,
                -1,
                250,
                -2,
            ),
            (
                "RCVTIMEO",
                Socket::rcvtimeo,
                Socket::set_rcvtimeo,
                -1,
                0,
                -2,
            ),
            (
                "LINGER",
                Socket::linger,
                Socket::set_linger,
                DEFAULT_LINGER_MS,
                -1,
                -2,
            ),
            (
                "RECONNECT_IVL",
                Socket::reconnect_ivl,
                Socket::set_reconnect_ivl,
                100,
                -1,
                -2,
            ),
            (
                "RECONNECT_IVL_MAX",
                Socket::reconnect_ivl_max,
                Socket::set_reconnect_ivl_max,
                0,
                5000,
                -1,
            ),
            ("BACKLOG", Socket::backlog, Socket::set_backlog, 100, 12, -1),
            ("SNDBUF", Socket::sndbuf, Socket::set_sndbuf, -1, 65536, -2),
            ("RCVBUF", Socket::rcvbuf, Socket::set_rcvbuf, -1, 0, -2),
            (
                "TCP_KEEPALIVE",
                Socket::tcp_keepalive,
                Socket::set_tcp_keepalive,
                -1,
                1,
                2,
            ),
            (
                "TCP_KEEPALIVE_CNT",
                Socket::tcp_keepalive_cnt,
                Socket::set_tcp_keepalive_cnt,
                -1,
                3,
                -2,
            ),
            (
                "TCP_KEEPALIVE_IDLE",
                Socket::tcp_keepalive_idle,
                Socket::set_tcp_keepalive_idle,
                -1,
                60,
                -2,
            ),
            (
                "TCP_KEEPALIVE_INTVL",
                Socket::tcp_keepalive_intvl,
                Socket::set_tcp_keepalive_intvl,
                -1,
                5,
                -2,
            ),
            (
                "HANDSHAKE_IVL",
                Socket::handshake_ivl,
                Socket::set_handshake_ivl,
                30_000,
                0,
                -1,
            ),
            (
                "HEARTBEAT_IVL",
                Socket::heartbeat_ivl,
                Socket::set_heartbeat_ivl,
                0,
                1500,
                -1,
            ),
            (
                "HEARTBEAT_TTL",
                Socket::heartbeat_ttl,
                Socket::set_heartbeat_ttl,
                0,
                6_553_599,
                6_553_600,
            ),
            (
                "HEARTBEAT_TIMEOUT",
                Socket::heartbeat_timeout,
                Socket::set_heartbeat_timeout,
                -1,
                4000,
                -2,
            ),
        ];
        for (name, get, set, default, value, refused) in table {
            assert_eq!(get(&s), default, "{name}: default");
            set(&s, value).unwrap();
            assert_eq!(get(&s), value, "{name}: after set");
            assert!(invalid_option(set(&s, refused), name), "{name}: {refused}");
            assert_eq!(get(&s), value, "{name}: a refused value changes nothing");
        }
    });
}

#[test]
fn maxmsgsize_immediate_routing_id_and_metadata() {
    bounded(30, || {
        let ctx = Context::new();
        let s = ctx.socket(SocketType::Req).unwrap();

        assert_eq!(s.maxmsgsize(), -1);
        s.set_maxmsgsize(1 << 40).unwrap();
        assert_eq!(s.maxmsgsize(), 1 << 40);
        assert!(invalid_option(s.set_maxmsgsize(-2), "MAXMSGSIZE"));
        assert_eq!(s.maxmsgsize(), 1 << 40);

        assert!(!s.immediate());
        s.set_immediate(true).unwrap();
        assert!(s.immediate());

        assert_eq!(s.routing_id(), b"");
        s.set_routing_id(b"client-1").unwrap();
        assert_eq!(s.routing_id(), b"client-1");
        assert!(invalid_option(s.set_routing_id(b""), "ROUTING_ID"));
        assert!(invalid_option(s.set_routing_id(&[7; 256]), "ROUTING_ID"));
        assert_eq!(s.routing_id(), b"client-1");

        assert_eq!(s.metadata("X-Colour"), None);
        s.set_metadata("X-Colour", b"blue").unwrap();
        s.set_metadata("X-Size", b"").unwrap();
        assert_eq!(s.metadata("X-Colour").as_deref(), Some(&b"blue"[..]));
        assert_eq!(s.metadata("x-colour").as_deref(), Some(&b"blue"[..]));
        assert_eq!(s.metadata("X-Size").as_deref(), Some(&b""[..]));
        s.set_metadata("x-COLOUR", b"red").unwrap();
        assert_eq!(s.metadata("X-Colour").as_deref(), Some(&b"red"[..]));
        assert!(invalid_option(s.set_metadata("Colour", b"x"), "METADATA"));
        assert_eq!(s.metadata("Colour"), None);
    });
}

#[test]
fn security_options() {
    bounded(30, || {
        let ctx = Context::new();
        let s = ctx.socket(SocketType::Pull).unwrap();
        assert_eq!(s.mechanism(), Mechanism::Null);
        assert!(!s.plain_server());
        assert_eq!(s.plain_username(), b"");
        assert_eq!(s.plain_password(), b"");
        assert_eq!(s.zap_domain(), "");
        assert!(!s.zap_enforce_domain());

        s.set_plain_server(true).unwrap();
        assert!(s.plain_server());
        assert_eq!(s.mechanism(), Mechanism::Plain);
        s.set_plain_server(false).unwrap();
        assert!(!s.plain_server());
        assert_eq!(s.mechanism(), Mechanism::Null);

        s.set_plain_username(b"admin").unwrap();
        s.set_plain_password(b"secret").unwrap();
        assert_eq!(s.plain_username(), b"admin");
        assert_eq!(s.plain_password(), b"secret");
        assert_eq!(s.mechanism(), Mechanism::Plain);
        assert!(!s.plain_server(), "a PLAIN client is not a server");
        assert!(invalid_option(
            s.set_plain_password(&[b'x'; 256]),
            "PLAIN_PASSWORD"
        ));
        assert_eq!(s.plain_password(), b"secret");
        // The empty username goes back to NULL; the credentials are kept, as in libzmq.
        s.set_plain_username(b"").unwrap();
        assert_eq!(s.mechanism(), Mechanism::Null);
        assert_eq!(s.plain_username(), b"");
        assert_eq!(s.plain_password(), b"secret");

        s.set_zap_domain("global").unwrap();
        assert_eq!(s.zap_domain(), "global");
        assert!(invalid_option(
            s.set_zap_domain(&"d".repeat(256)),
            "ZAP_DOMAIN"
        ));
        assert_eq!(s.zap_domain(), "global");
        s.set_zap_enforce_domain(true).unwrap();
        assert!(s.zap_enforce_domain());
    });
}

#[test]
fn conflate_reads_false_where_it_cannot_be_set() {
    bounded(30, || {
        let ctx = Context::new();
        for &t in SocketType::all() {
            let s = ctx.socket(t).unwrap();
            assert!(!s.conflate(), "{t:?}: default");
            let has = matches!(
                t,
                SocketType::Pull
                    | SocketType::Push
                    | SocketType::Sub
                    | SocketType::Pub
                    | SocketType::Dealer
            );
            if has {
                s.set_conflate(true).unwrap();
                assert!(s.conflate(), "{t:?}");
                s.set_conflate(false).unwrap();
                assert!(!s.conflate(), "{t:?}");
            } else {
                assert!(invalid_option(s.set_conflate(true), "CONFLATE"), "{t:?}");
                assert!(!s.conflate(), "{t:?}");
            }
        }
    });
}

type FlagGet = fn(&Socket) -> Result<bool>;
type FlagSet = fn(&Socket, bool) -> Result<()>;

/// The yes/no socket-type options: name, getter, setter, the types that have it.
const FLAGS: [(&str, FlagGet, FlagSet, &[SocketType]); 10] = [
    (
        "REQ_RELAXED",
        Socket::req_relaxed,
        Socket::set_req_relaxed,
        &[SocketType::Req],
    ),
    (
        "REQ_CORRELATE",
        Socket::req_correlate,
        Socket::set_req_correlate,
        &[SocketType::Req],
    ),
    (
        "ROUTER_MANDATORY",
        Socket::router_mandatory,
        Socket::set_router_mandatory,
        &[SocketType::Router],
    ),
    (
        "ROUTER_HANDOVER",
        Socket::router_handover,
        Socket::set_router_handover,
        &[SocketType::Router],
    ),
    (
        "PROBE_ROUTER",
        Socket::probe_router,
        Socket::set_probe_router,
        &[SocketType::Router, SocketType::Dealer, SocketType::Req],
    ),
    (
        "XPUB_VERBOSE",
        Socket::xpub_verbose,
        Socket::set_xpub_verbose,
        &[SocketType::XPub, SocketType::Pub],
    ),
    (
        "XPUB_VERBOSER",
        Socket::xpub_verboser,
        Socket::set_xpub_verboser,
        &[SocketType::XPub, SocketType::Pub],
    ),
    (
        "XPUB_NODROP",
        Socket::xpub_nodrop,
        Socket::set_xpub_nodrop,
        &[SocketType::XPub, SocketType::Pub],
    ),
    (
        "XPUB_MANUAL",
        Socket::xpub_manual,
        Socket::set_xpub_manual,
        &[SocketType::XPub, SocketType::Pub],
    ),
    (
        "INVERT_MATCHING",
        Socket::invert_matching,
        Socket::set_invert_matching,
        &[
            SocketType::Pub,
            SocketType::XPub,
            SocketType::Sub,
            SocketType::XSub,
        ],
    ),
];

#[test]
fn socket_type_flags_on_every_type() {
    bounded(30, || {
        let ctx = Context::new();
        for &t in SocketType::all() {
            for (name, get, set, types) in FLAGS {
                // A fresh socket each time: options of one type interact (XPUB_VERBOSE).
                let s = ctx.socket(t).unwrap();
                if types.contains(&t) {
                    assert!(!get(&s).unwrap(), "{name} on {t:?}: default");
                    set(&s, true).unwrap();
                    assert!(get(&s).unwrap(), "{name} on {t:?}: set");
                    set(&s, false).unwrap();
                    assert!(!get(&s).unwrap(), "{name} on {t:?}: cleared");
                } else {
                    assert!(invalid_option(get(&s), name), "{name} get on {t:?}");
                    assert!(invalid_option(set(&s, true), name), "{name} set on {t:?}");
                }
            }
        }
    });
}

#[test]
fn xpub_verbose_and_verboser_read_back_what_is_passed_on() {
    bounded(30, || {
        let ctx = Context::new();
        let s = ctx.socket(SocketType::XPub).unwrap();
        s.set_xpub_verbose(true).unwrap();
        assert!(s.xpub_verbose().unwrap());
        assert!(!s.xpub_verboser().unwrap());
        s.set_xpub_verboser(true).unwrap();
        assert!(s.xpub_verbose().unwrap() && s.xpub_verboser().unwrap());
        // XPUB_VERBOSE turns the unsubscriptions off again, as in libzmq.
        s.set_xpub_verbose(true).unwrap();
        assert!(s.xpub_verbose().unwrap());
        assert!(!s.xpub_verboser().unwrap());
    });
}

#[test]
fn welcome_message_on_publishers_only() {
    bounded(30, || {
        let ctx = Context::new();
        for &t in SocketType::all() {
            let s = ctx.socket(t).unwrap();
            if matches!(t, SocketType::XPub | SocketType::Pub) {
                assert_eq!(s.xpub_welcome_msg().unwrap(), b"", "{t:?}: default");
                s.set_xpub_welcome_msg(b"welcome").unwrap();
                assert_eq!(s.xpub_welcome_msg().unwrap(), b"welcome", "{t:?}");
                s.set_xpub_welcome_msg(b"").unwrap();
                assert_eq!(s.xpub_welcome_msg().unwrap(), b"", "{t:?}: cleared");
            } else {
                let name = "XPUB_WELCOME_MSG";
                assert!(invalid_option(s.xpub_welcome_msg(), name), "{t:?}");
                assert!(invalid_option(s.set_xpub_welcome_msg(b"x"), name), "{t:?}");
            }
        }
    });
}

#[test]
fn connect_routing_id_until_the_connect_uses_it() {
    bounded(30, || {
        let ctx = Context::new();
        let peer = ctx.socket(SocketType::Dealer).unwrap();
        peer.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = peer.last_endpoint().unwrap();

        let router = ctx.socket(SocketType::Router).unwrap();
        router.set_linger(0).unwrap();
        assert_eq!(router.connect_routing_id().unwrap(), b"");
        router.set_connect_routing_id(b"backend").unwrap();
        assert_eq!(router.connect_routing_id().unwrap(), b"backend");
        assert!(invalid_option(
            router.set_connect_routing_id(b""),
            "CONNECT_ROUTING_ID"
        ));
        assert_eq!(router.connect_routing_id().unwrap(), b"backend");
        router.connect(&endpoint).unwrap();
        assert_eq!(router.connect_routing_id().unwrap(), b"", "used up");

        for &t in SocketType::all()
            .iter()
            .filter(|&&t| t != SocketType::Router)
        {
            let s = ctx.socket(t).unwrap();
            let name = "CONNECT_ROUTING_ID";
            assert!(invalid_option(s.connect_routing_id(), name), "{t:?}");
            assert!(
                invalid_option(s.set_connect_routing_id(b"x"), name),
                "{t:?}"
            );
        }
    });
}

#[test]
fn getters_answer_after_the_context_terminates() {
    bounded(30, || {
        let ctx = Context::new();
        let req = ctx.socket(SocketType::Req).unwrap();
        req.set_req_relaxed(true).unwrap();
        req.set_sndhwm(9).unwrap();
        ctx.terminate();
        assert!(matches!(
            req.set_req_correlate(true),
            Err(Error::Terminated)
        ));
        assert!(req.req_relaxed().unwrap());
        assert!(!req.req_correlate().unwrap());
        assert_eq!(req.sndhwm(), 9);
    });
}
