//! Message properties: a received message exposes its peer's metadata.
mod common;
use common::*;
use zerosock::{Context, Error, SocketType};

#[test]
fn tcp_and_inproc_messages_carry_the_peers_metadata() {
    bounded(30, || {
        let ctx = Context::new();
        for ep in ["tcp://127.0.0.1:*", "inproc://props"] {
            let pull = ctx.socket(SocketType::Pull).unwrap();
            pull.set_rcvtimeo(5000).unwrap();
            pull.bind(ep).unwrap();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.set_metadata("X-Color", b"blue").unwrap();
            push.set_metadata("x-shape", b"round").unwrap();
            push.connect(&pull.last_endpoint().unwrap()).unwrap();
            push.send_multipart(["one", "two"], 0).unwrap();
            for part in pull.recv_multipart(0).unwrap() {
                assert_eq!(part.property("Socket-Type"), Some("PUSH"), "{ep}");
                assert_eq!(part.property("socket-type"), Some("PUSH"), "{ep}");
                assert_eq!(part.property("X-Color"), Some("blue"), "{ep}");
                assert_eq!(part.property("X-Shape"), Some("round"), "{ep}");
                assert_eq!(part.property("X-Missing"), None);
            }
            if ep.starts_with("tcp") {
                let m = {
                    push.send("again", 0).unwrap();
                    pull.recv(0).unwrap()
                };
                assert_eq!(m.property("Peer-Address"), Some("127.0.0.1"));
                let names: Vec<&str> = m.metadata().unwrap().iter().map(|(n, _)| n).collect();
                assert!(names.contains(&"X-Color"), "{names:?}");
            }
        }
        // A message that was not received has no properties.
        assert_eq!(zerosock::Msg::from("local").property("Socket-Type"), None);
    });
}

#[test]
fn libzmq_sees_our_metadata_and_we_see_its() {
    bounded(30, || {
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_metadata("X-App", b"zerosock").unwrap();
        push.bind("tcp://127.0.0.1:*").unwrap();
        let zctx = zmq::Context::new();
        let pull = zctx.socket(zmq::PULL).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.connect(&push.last_endpoint().unwrap()).unwrap();
        push.send("hi", 0).unwrap();
        let mut m = zmq::Message::new();
        pull.recv(&mut m, 0).unwrap();
        assert_eq!(m.gets("Socket-Type"), Some("PUSH"));
        assert_eq!(m.gets("X-App"), Some("zerosock"));

        // And the other way: libzmq's Socket-Type and Identity reach our messages.
        let router = ctx.socket(SocketType::Router).unwrap();
        router.set_rcvtimeo(5000).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let dealer = zctx.socket(zmq::DEALER).unwrap();
        dealer.set_identity(b"lz-dealer").unwrap();
        dealer.connect(&router.last_endpoint().unwrap()).unwrap();
        dealer.send("x", 0).unwrap();
        let parts = router.recv_multipart(0).unwrap();
        assert_eq!(parts[1].property("Socket-Type"), Some("DEALER"));
        assert_eq!(parts[1].property("Identity"), Some("lz-dealer"));
    });
}

#[test]
fn metadata_names_must_be_x_prefixed_property_names() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Push).unwrap();
    let too_long = format!("X-{}", "a".repeat(254));
    for bad in [
        "Color",
        "X-",
        "",
        "Socket-Type",
        "X-bad name\0",
        "X-space name",
        "X-nul\0",
        "X-colon:",
        "X-é",
        &too_long,
    ] {
        assert!(
            matches!(
                s.set_metadata(bad, b"v"),
                Err(Error::InvalidOption {
                    option: "METADATA",
                    ..
                })
            ),
            "{bad}"
        );
    }
    s.set_metadata("X-Ok", b"v").unwrap();
    s.set_metadata("x-all.the+allowed_chars-09", b"v").unwrap();
    s.set_metadata(&too_long[..255], b"").unwrap();
}
