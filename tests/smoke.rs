mod common;
use common::*;
use zerosock::{Context, Error, Msg, SocketType, DONTWAIT};

#[test]
fn push_pull_tcp_ipc_inproc() {
    bounded(30, || {
        let ctx = Context::new();
        for ep in [
            "tcp://127.0.0.1:*".to_string(),
            ipc_endpoint("smoke"),
            "inproc://smoke".to_string(),
        ] {
            let pull = ctx.socket(SocketType::Pull).unwrap();
            pull.set_rcvtimeo(5000).unwrap();
            pull.bind(&ep).unwrap();
            let ep = pull.last_endpoint().unwrap();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.connect(&ep).unwrap();
            for i in 0..1000u32 {
                push.send(i.to_be_bytes().to_vec(), 0).unwrap();
            }
            for i in 0..1000u32 {
                let m = pull.recv(0).unwrap();
                assert_eq!(&m[..], &i.to_be_bytes()[..], "{ep}");
            }
            eprintln!("{ep} ok");
        }
    });
}

/// `recv_into` writes each frame into the caller's message: bodies inline and shared, the
/// `more` flag, the peer's metadata; on `WouldBlock` the message keeps what it held. PULL,
/// DEALER and PAIR (also after a readiness check read a frame ahead) take frames straight
/// from the pipe, REP through its envelope logic.
#[test]
fn recv_into_reuses_one_message() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect(&pull.last_endpoint().unwrap()).unwrap();
        let big = vec![0xabu8; 100_000];
        push.send_multipart([&b"head"[..], &big[..], &b""[..]], 0)
            .unwrap();
        push.send("single", 0).unwrap();

        let mut msg = Msg::new();
        let expected: [(&[u8], bool); 4] = [
            (b"head", true),
            (&big, true),
            (b"", false),
            (b"single", false),
        ];
        for (body, more) in expected {
            pull.recv_into(&mut msg, 0).unwrap();
            assert_eq!(&msg[..], body);
            assert_eq!(msg.more(), more);
            assert_eq!(msg.property("Socket-Type"), Some("PUSH"));
        }
        assert!(matches!(
            pull.recv_into(&mut msg, DONTWAIT),
            Err(Error::WouldBlock)
        ));
        assert_eq!(
            &msg[..],
            b"single",
            "a failed receive leaves the message alone"
        );

        let router = ctx.socket(SocketType::Router).unwrap();
        router.bind("inproc://recv-into").unwrap();
        let dealer = ctx.socket(SocketType::Dealer).unwrap();
        dealer.set_rcvtimeo(5000).unwrap();
        dealer.connect("inproc://recv-into").unwrap();
        let req = ctx.socket(SocketType::Req).unwrap();
        req.bind("inproc://recv-into-req").unwrap();
        let rep = ctx.socket(SocketType::Rep).unwrap();
        rep.set_rcvtimeo(5000).unwrap();
        rep.connect("inproc://recv-into-req").unwrap();

        dealer.send("to router", 0).unwrap();
        let id = router.recv(0).unwrap();
        assert_eq!(router.recv(0).unwrap(), "to router");
        router.send_multipart([&id[..], b"back"], 0).unwrap();
        dealer.recv_into(&mut msg, 0).unwrap();
        assert_eq!(msg, "back");
        assert!(!msg.more());

        // PAIR, with the first frame read ahead by a readiness check.
        let pair_a = ctx.socket(SocketType::Pair).unwrap();
        pair_a.bind("inproc://recv-into-pair").unwrap();
        let pair_b = ctx.socket(SocketType::Pair).unwrap();
        pair_b.set_rcvtimeo(5000).unwrap();
        pair_b.connect("inproc://recv-into-pair").unwrap();
        pair_a.send_multipart([&b"one"[..], &big[..]], 0).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !pair_b.events().unwrap().readable {
            assert!(
                std::time::Instant::now() < deadline,
                "PAIR never became readable"
            );
            std::thread::yield_now();
        }
        pair_b.recv_into(&mut msg, 0).unwrap();
        assert_eq!((&msg[..], msg.more()), (&b"one"[..], true));
        pair_b.recv_into(&mut msg, 0).unwrap();
        assert_eq!((&msg[..], msg.more()), (&big[..], false));

        req.send("question", 0).unwrap();
        rep.recv_into(&mut msg, 0).unwrap();
        assert_eq!(msg, "question", "REP strips the envelope");
        assert!(!msg.more());
        rep.send("answer", 0).unwrap();
        assert_eq!(req.recv(0).unwrap(), "answer");
    });
}

/// The `more` flag a frame arrives with is the one `send`'s flags gave it, whatever the
/// `Msg` carried, over the path that makes frames in their pipe slots (PUSH, DEALER) and the
/// one that makes them first (REQ).
#[test]
fn send_flags_decide_the_more_flag() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("inproc://more-flag").unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect("inproc://more-flag").unwrap();
        let mut marked = Msg::from("marked");
        marked.set_more(true);
        push.send(marked.clone(), 0).unwrap();
        push.send(&b"first"[..], zerosock::SNDMORE).unwrap();
        push.send(marked, 0).unwrap();
        let got = pull.recv_multipart(0).unwrap();
        assert_eq!(
            got.len(),
            1,
            "a marked Msg sent without SNDMORE ends its message"
        );
        assert_eq!(got[0], "marked");
        let got = pull.recv_multipart(0).unwrap();
        let flags: Vec<(&[u8], bool)> = got.iter().map(|m| (&m[..], m.more())).collect();
        assert_eq!(flags, [(&b"first"[..], true), (&b"marked"[..], false)]);

        let rep = ctx.socket(SocketType::Rep).unwrap();
        rep.set_rcvtimeo(5000).unwrap();
        rep.bind("inproc://more-flag-req").unwrap();
        let req = ctx.socket(SocketType::Req).unwrap();
        req.connect("inproc://more-flag-req").unwrap();
        let mut question = Msg::from("q");
        question.set_more(true);
        req.send(question, 0).unwrap();
        let got = rep.recv_multipart(0).unwrap();
        assert_eq!(got, [Msg::from("q")]);
    });
}
