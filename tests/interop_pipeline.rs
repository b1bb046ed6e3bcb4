//! Interoperability with real libzmq (the `zmq` crate): PUSH/PULL in both directions and
//! PAIR/PAIR with traffic both ways, over tcp and ipc, with each side binding in turn.
//!
//! Every message is checked byte-exact, frame by frame: sizes around the one-byte/eight-byte
//! length boundary (255/256), 0 B, 1 B, 64 KiB and 1 MiB, multipart messages with empty frames
//! in the middle (and at the ends), and long streams of sequence-numbered messages that must
//! arrive complete and in order.

mod common;
use common::*;
use zerosock::{Context, Socket, SocketType};

/// RCVTIMEO / SNDTIMEO of every socket: a peer that stops talking fails the test.
const TIMEOUT_MS: i32 = 10_000;
/// Messages in the long ordered streams over tcp.
const STREAM_TCP: u64 = 100_000;
/// Messages in the ordered streams over ipc.
const STREAM_IPC: u64 = 100_000;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ipc,
}

#[derive(Clone, Copy, Debug)]
enum Binder {
    Zerosock,
    Libzmq,
}

fn bind_endpoint(t: Transport, tag: &str) -> String {
    match t {
        Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
        Transport::Ipc => ipc_endpoint(tag),
    }
}

fn zs_socket(ctx: &Context, ty: SocketType) -> Socket {
    let s = ctx.socket(ty).unwrap();
    s.set_rcvtimeo(TIMEOUT_MS).unwrap();
    s.set_sndtimeo(TIMEOUT_MS).unwrap();
    s.set_linger(2_000).unwrap();
    s
}

fn zmq_socket(ctx: &zmq::Context, ty: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(ty).unwrap();
    s.set_rcvtimeo(TIMEOUT_MS).unwrap();
    s.set_sndtimeo(TIMEOUT_MS).unwrap();
    s.set_linger(2_000).unwrap();
    s
}

/// Binds one socket and connects the other to the resolved endpoint.
fn link(t: Transport, binder: Binder, zs: &Socket, zq: &zmq::Socket, tag: &str) -> String {
    let ep = bind_endpoint(t, tag);
    match binder {
        Binder::Zerosock => {
            zs.bind(&ep).unwrap();
            let resolved = zs
                .last_endpoint()
                .expect("zerosock last_endpoint after bind");
            zq.connect(&resolved).unwrap();
            resolved
        }
        Binder::Libzmq => {
            zq.bind(&ep).unwrap();
            let resolved = zq.get_last_endpoint().unwrap().unwrap();
            zs.connect(&resolved).unwrap();
            resolved
        }
    }
}

/// Deterministic bytes that do not repeat with a period of 256, so a shifted, truncated or
/// duplicated chunk is noticed.
fn payload(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(7) ^ ((i / 251) as u8) ^ seed)
        .collect()
}

type Message = Vec<Vec<u8>>;

/// The messages every direction sends: single frames of the interesting sizes, then
/// multipart messages with empty frames, then an end marker.
fn corpus(seed: u8) -> Vec<Message> {
    let mut msgs: Vec<Message> = Vec::new();
    for size in [0usize, 1, 255, 256, 64 * 1024, 1024 * 1024] {
        msgs.push(vec![payload(size, seed)]);
    }
    msgs.push(vec![
        b"head".to_vec(),
        Vec::new(),
        b"middle".to_vec(),
        Vec::new(),
        Vec::new(),
        payload(300, seed),
        b"tail".to_vec(),
    ]);
    msgs.push(vec![Vec::new(), b"after an empty first frame".to_vec()]);
    msgs.push(vec![b"before an empty last frame".to_vec(), Vec::new()]);
    msgs.push(vec![Vec::new(), Vec::new(), Vec::new()]);
    msgs.push(vec![
        b"a".to_vec(),
        payload(1024 * 1024, seed.wrapping_add(1)),
        Vec::new(),
        payload(255, seed),
        payload(256, seed),
        payload(64 * 1024, seed),
        b"z".to_vec(),
    ]);
    msgs.push(vec![payload(1, seed)]);
    msgs.push(vec![b"END".to_vec()]);
    msgs
}

/// Compares without dumping megabytes into the failure message.
fn assert_same(got: &Message, want: &Message, what: &str) {
    let sizes = |m: &Message| m.iter().map(|f| f.len()).collect::<Vec<_>>();
    assert_eq!(
        sizes(got),
        sizes(want),
        "{what}: frame count/sizes differ (got vs expected)"
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            let at = g.iter().zip(w).position(|(a, b)| a != b).unwrap();
            panic!(
                "{what}: frame {i} ({} B) differs first at byte {at}: got {:#04x}, expected {:#04x}",
                w.len(),
                g[at],
                w[at]
            );
        }
    }
}

fn zs_send(s: &Socket, m: &Message) {
    s.send_multipart(m.iter().cloned(), 0).unwrap();
}

fn zs_recv(s: &Socket, what: &str) -> Message {
    let parts = s
        .recv_multipart(0)
        .unwrap_or_else(|e| panic!("{what}: zerosock recv failed: {e}"));
    let n = parts.len();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.more(), i + 1 < n, "{what}: MORE flag of frame {i} of {n}");
    }
    parts.into_iter().map(|p| p.to_vec()).collect()
}

fn zmq_send(s: &zmq::Socket, m: &Message) {
    s.send_multipart(m.iter(), 0).unwrap();
}

fn zmq_recv(s: &zmq::Socket, what: &str) -> Message {
    s.recv_multipart(0)
        .unwrap_or_else(|e| panic!("{what}: libzmq recv failed: {e}"))
}

/// Sequence-numbered message `i`: the number plus a variable tail derived from it.
fn seq_msg(i: u64) -> Vec<u8> {
    let mut v = i.to_be_bytes().to_vec();
    v.extend(std::iter::repeat(i as u8).take((i % 13) as usize));
    v
}

fn check_seq(got: &[u8], i: u64, what: &str) {
    if got != seq_msg(i).as_slice() {
        let n = if got.len() >= 8 {
            Some(u64::from_be_bytes(got[..8].try_into().unwrap()))
        } else {
            None
        };
        panic!(
            "{what}: message {i} is wrong: {} B carrying sequence number {n:?}",
            got.len()
        );
    }
}

fn stream_len(t: Transport) -> u64 {
    match t {
        Transport::Tcp => STREAM_TCP,
        Transport::Ipc => STREAM_IPC,
    }
}

// ----- zerosock PUSH -> libzmq PULL -------------------------------------------------------

fn zs_push_to_zmq_pull(t: Transport, binder: Binder) {
    bounded(60, move || {
        let what = format!("zerosock PUSH -> libzmq PULL, {t:?}, {binder:?} binds");
        let zctx = Context::new();
        let qctx = zmq::Context::new();
        let push = zs_socket(&zctx, SocketType::Push);
        let pull = zmq_socket(&qctx, zmq::PULL);
        link(t, binder, &push, &pull, "zs-push");

        let msgs = corpus(0x11);
        for m in &msgs {
            zs_send(&push, m);
        }
        for (i, m) in msgs.iter().enumerate() {
            assert_same(
                &zmq_recv(&pull, &what),
                m,
                &format!("{what}, corpus message {i}"),
            );
        }

        // A long ordered stream; the sender runs on its own thread (HWM back-pressure) and
        // stays open until the receiver has everything (libzmq's ipc receiver may lose the
        // tail of a stream whose sender closed).
        let n = stream_len(t);
        let sender = std::thread::spawn(move || {
            for i in 0..n {
                push.send(seq_msg(i), 0).unwrap();
            }
            push
        });
        for i in 0..n {
            let m = zmq_recv(&pull, &what);
            assert_eq!(
                m.len(),
                1,
                "{what}: stream message {i} has {} frames",
                m.len()
            );
            check_seq(&m[0], i, &what);
        }
        let push = sender.join().expect("sender thread panicked");
        assert_eq!(
            pull.recv_bytes(zmq::DONTWAIT).err(),
            Some(zmq::Error::EAGAIN),
            "{what}: a message beyond the stream arrived"
        );
        drop(push);
        eprintln!("{what}: ok");
    });
}

#[test]
fn zs_push_zmq_pull_tcp_zerosock_binds() {
    zs_push_to_zmq_pull(Transport::Tcp, Binder::Zerosock);
}

#[test]
fn zs_push_zmq_pull_tcp_libzmq_binds() {
    zs_push_to_zmq_pull(Transport::Tcp, Binder::Libzmq);
}

#[test]
fn zs_push_zmq_pull_ipc_zerosock_binds() {
    zs_push_to_zmq_pull(Transport::Ipc, Binder::Zerosock);
}

#[test]
fn zs_push_zmq_pull_ipc_libzmq_binds() {
    zs_push_to_zmq_pull(Transport::Ipc, Binder::Libzmq);
}

// ----- libzmq PUSH -> zerosock PULL -------------------------------------------------------

fn zmq_push_to_zs_pull(t: Transport, binder: Binder) {
    bounded(60, move || {
        let what = format!("libzmq PUSH -> zerosock PULL, {t:?}, {binder:?} binds");
        let zctx = Context::new();
        let qctx = zmq::Context::new();
        let pull = zs_socket(&zctx, SocketType::Pull);
        let push = zmq_socket(&qctx, zmq::PUSH);
        link(t, binder, &pull, &push, "zs-pull");

        let msgs = corpus(0x22);
        for m in &msgs {
            zmq_send(&push, m);
        }
        for (i, m) in msgs.iter().enumerate() {
            assert_same(
                &zs_recv(&pull, &what),
                m,
                &format!("{what}, corpus message {i}"),
            );
        }

        let n = stream_len(t);
        let sender = std::thread::spawn(move || {
            for i in 0..n {
                push.send(seq_msg(i), 0).unwrap();
            }
            push
        });
        for i in 0..n {
            let m = pull
                .recv(0)
                .unwrap_or_else(|e| panic!("{what}: stream message {i}: {e}"));
            assert!(!m.more(), "{what}: stream message {i} has MORE set");
            check_seq(&m, i, &what);
        }
        let push = sender.join().expect("sender thread panicked");
        assert!(
            matches!(
                pull.recv(zerosock::DONTWAIT),
                Err(zerosock::Error::WouldBlock)
            ),
            "{what}: a message beyond the stream arrived"
        );
        drop(push);
        eprintln!("{what}: ok");
    });
}

#[test]
fn zmq_push_zs_pull_tcp_zerosock_binds() {
    zmq_push_to_zs_pull(Transport::Tcp, Binder::Zerosock);
}

#[test]
fn zmq_push_zs_pull_tcp_libzmq_binds() {
    zmq_push_to_zs_pull(Transport::Tcp, Binder::Libzmq);
}

#[test]
fn zmq_push_zs_pull_ipc_zerosock_binds() {
    zmq_push_to_zs_pull(Transport::Ipc, Binder::Zerosock);
}

#[test]
fn zmq_push_zs_pull_ipc_libzmq_binds() {
    zmq_push_to_zs_pull(Transport::Ipc, Binder::Libzmq);
}

// ----- PAIR <-> PAIR ----------------------------------------------------------------------

fn pair_pair(t: Transport, binder: Binder) {
    bounded(60, move || {
        let what = format!("zerosock PAIR <-> libzmq PAIR, {t:?}, {binder:?} binds");
        let zctx = Context::new();
        let qctx = zmq::Context::new();
        let zs = zs_socket(&zctx, SocketType::Pair);
        let zq = zmq_socket(&qctx, zmq::PAIR);
        link(t, binder, &zs, &zq, "pair");

        // zerosock -> libzmq.
        let msgs = corpus(0x33);
        for m in &msgs {
            zs_send(&zs, m);
        }
        for (i, m) in msgs.iter().enumerate() {
            let w = format!("{what}, zerosock -> libzmq, corpus message {i}");
            assert_same(&zmq_recv(&zq, &w), m, &w);
        }

        // libzmq -> zerosock.
        let msgs = corpus(0x44);
        for m in &msgs {
            zmq_send(&zq, m);
        }
        for (i, m) in msgs.iter().enumerate() {
            let w = format!("{what}, libzmq -> zerosock, corpus message {i}");
            assert_same(&zs_recv(&zs, &w), m, &w);
        }

        // Lock-step ping-pong: each reply depends on the request.
        for i in 0..1_000u64 {
            let req = vec![b"ping".to_vec(), Vec::new(), i.to_be_bytes().to_vec()];
            zs_send(&zs, &req);
            let got = zmq_recv(&zq, &what);
            assert_same(&got, &req, &format!("{what}, ping {i}"));
            let rep = vec![
                b"pong".to_vec(),
                Vec::new(),
                (i * 3 + 1).to_be_bytes().to_vec(),
            ];
            zmq_send(&zq, &rep);
            assert_same(&zs_recv(&zs, &what), &rep, &format!("{what}, pong {i}"));
        }

        // Both directions in flight at once: both sides send a burst (below the HWM, so
        // neither blocks) before either receives.
        let burst = 500u64;
        for i in 0..burst {
            zs.send(seq_msg(i), 0).unwrap();
            zq.send(seq_msg(i + 1_000_000), 0).unwrap();
        }
        for i in 0..burst {
            let m = zq
                .recv_bytes(0)
                .unwrap_or_else(|e| panic!("{what}: burst message {i} to libzmq: {e}"));
            check_seq(&m, i, &format!("{what}, burst zerosock -> libzmq"));
            let m = zs
                .recv(0)
                .unwrap_or_else(|e| panic!("{what}: burst message {i} to zerosock: {e}"));
            check_seq(
                &m,
                i + 1_000_000,
                &format!("{what}, burst libzmq -> zerosock"),
            );
        }
        assert!(matches!(
            zs.recv(zerosock::DONTWAIT),
            Err(zerosock::Error::WouldBlock)
        ));
        assert_eq!(zq.recv_bytes(zmq::DONTWAIT).err(), Some(zmq::Error::EAGAIN));
        eprintln!("{what}: ok");
    });
}

#[test]
fn pair_tcp_zerosock_binds() {
    pair_pair(Transport::Tcp, Binder::Zerosock);
}

#[test]
fn pair_tcp_libzmq_binds() {
    pair_pair(Transport::Tcp, Binder::Libzmq);
}

#[test]
fn pair_ipc_zerosock_binds() {
    pair_pair(Transport::Ipc, Binder::Zerosock);
}

#[test]
fn pair_ipc_libzmq_binds() {
    pair_pair(Transport::Ipc, Binder::Libzmq);
}
