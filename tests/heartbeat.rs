//! ZMTP 3.1 heartbeats against a hand-driven peer: a peer that goes silent is disconnected
//! within the timeout and the connecting side reconnects; one that answers stays connected.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use zerosock::{Context, SocketType};

/// Accepts one connection and completes the NULL handshake as a PULL peer.
fn accept_and_handshake(listener: &TcpListener) -> TcpStream {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&zmtp_greeting()).unwrap();
    s.write_all(&zmtp_ready("PULL")).unwrap();
    let mut theirs = [0u8; 64];
    s.read_exact(&mut theirs).unwrap();
    // READY: command flag, short size, body.
    let mut head = [0u8; 2];
    s.read_exact(&mut head).unwrap();
    let mut body = vec![0u8; head[1] as usize];
    s.read_exact(&mut body).unwrap();
    assert_eq!(&body[..6], b"\x05READY");
    s
}

/// Reads frames until EOF or error; returns how many PINGs were seen and when it closed.
fn read_until_closed(
    s: &mut TcpStream,
    answer_pings: bool,
    limit: Duration,
) -> (usize, Option<Instant>) {
    let start = Instant::now();
    let mut pings = 0;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = Vec::new();
    while start.elapsed() < limit {
        let mut chunk = [0u8; 256];
        match s.read(&mut chunk) {
            Ok(0) => return (pings, Some(Instant::now())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (pings, Some(Instant::now())),
        }
        // Frames: flags, size (short), body.
        while buf.len() >= 2 && buf.len() >= 2 + buf[1] as usize {
            let size = buf[1] as usize;
            let frame: Vec<u8> = buf.drain(..2 + size).collect();
            if frame[0] == 0x04 && frame[2..].starts_with(b"\x04PING") {
                pings += 1;
                if answer_pings {
                    let ctx = &frame[2 + 5 + 2..];
                    let mut pong = vec![0x04, (5 + ctx.len()) as u8];
                    pong.extend(b"\x04PONG");
                    pong.extend(ctx);
                    s.write_all(&pong).unwrap();
                }
            }
        }
    }
    (pings, None)
}

#[test]
fn silent_peer_is_disconnected_and_the_connecter_reconnects() {
    bounded(30, || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ep = format!("tcp://{}", listener.local_addr().unwrap());
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(0).unwrap();
        push.set_heartbeat_ivl(100).unwrap();
        push.set_heartbeat_timeout(300).unwrap();
        push.set_reconnect_ivl(50).unwrap();
        push.connect(&ep).unwrap();
        let mut first = accept_and_handshake(&listener);
        let handshaken = Instant::now();
        let (pings, closed) = read_until_closed(&mut first, false, Duration::from_secs(5));
        let closed = closed.expect("a silent peer must be disconnected");
        let after = closed - handshaken;
        assert!(pings >= 1, "PINGs were sent");
        assert!(
            after >= Duration::from_millis(300),
            "not before the timeout: {after:?}"
        );
        assert!(
            after < Duration::from_secs(2),
            "within the timeout: {after:?}"
        );
        // The connecting side comes back.
        let mut second = accept_and_handshake(&listener);
        push.send("after reconnect", 0).unwrap();
        let mut frame = [0u8; 2 + 15];
        second.read_exact(&mut frame).unwrap();
        assert_eq!(&frame[2..], b"after reconnect");
    });
}

#[test]
fn a_peer_that_answers_stays_connected() {
    bounded(30, || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ep = format!("tcp://{}", listener.local_addr().unwrap());
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(0).unwrap();
        push.set_heartbeat_ivl(50).unwrap();
        push.set_heartbeat_timeout(200).unwrap();
        push.connect(&ep).unwrap();
        let mut s = accept_and_handshake(&listener);
        // Ten timeouts' worth of time, answering every PING: the connection must stay up.
        let (pings, closed) = read_until_closed(&mut s, true, Duration::from_secs(2));
        assert!(closed.is_none(), "an answering peer was disconnected");
        assert!(pings >= 10, "only {pings} PINGs in 2 s at 50 ms");
    });
}

#[test]
fn heartbeats_interoperate_with_libzmq() {
    bounded(30, || {
        let zctx = zmq::Context::new();
        let pull = zctx.socket(zmq::PULL).unwrap();
        pull.set_heartbeat_ivl(50).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.get_last_endpoint().unwrap().unwrap();
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_heartbeat_ivl(50).unwrap();
        push.set_heartbeat_ttl(1000).unwrap();
        push.connect(&ep).unwrap();
        // Both sides ping each other for a while; messages keep flowing in order.
        for i in 0..20u32 {
            push.send(i.to_be_bytes().to_vec(), 0).unwrap();
            let m = pull.recv_bytes(0).unwrap();
            assert_eq!(m, i.to_be_bytes());
            std::thread::sleep(Duration::from_millis(20)); // pacing: heartbeats happen between messages
        }
    });
}
