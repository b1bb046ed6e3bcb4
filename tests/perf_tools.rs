//! The perf tools in `examples/` (`local_thr`, `remote_thr`, `local_lat`, `remote_lat`)
//! against twins of libzmq's own tools that run on libzmq itself (the `zmq` crate), in both
//! directions over tcp and ipc: each tool must stay swappable for libzmq's after every
//! change to the data path. The tests call each tool's own `run` (the file is included as a
//! module), so they exercise exactly the code the binaries run.
//!
//! Sizes go down each of the data path's ways: an empty body, an inline one (8 B), a piece
//! of a slab (1000 B), a pooled buffer and a body lent from a large read buffer (64 KiB),
//! and a frame larger than a read buffer holds (300 000 B).

// Each tool is a program of its own with its own `mod perf;`: included side by side here,
// they load that file once each.
#![allow(clippy::duplicate_mod)]

mod common;
use common::*;
use std::thread;
use zerosock::{Context, Error};

#[allow(dead_code)]
#[path = "../examples/local_lat.rs"]
mod local_lat;
#[allow(dead_code)]
#[path = "../examples/local_thr.rs"]
mod local_thr;
#[allow(dead_code)]
#[path = "../examples/remote_lat.rs"]
mod remote_lat;
#[allow(dead_code)]
#[path = "../examples/remote_thr.rs"]
mod remote_thr;

/// RCVTIMEO of the libzmq twins' sockets: a tool that stops talking fails the test.
const TIMEOUT_MS: i32 = 10_000;

/// (message size, messages) of the throughput runs.
const THR: [(usize, u64); 5] = [
    (0, 1_000),
    (8, 20_000),
    (1_000, 20_000),
    (65_536, 2_000),
    (300_000, 200),
];

/// (message size, round trips) of the latency runs.
const LAT: [(usize, u64); 5] = [
    (0, 100),
    (8, 500),
    (1_000, 500),
    (65_536, 100),
    (300_000, 20),
];

/// libzmq's ipc receiver can lose the tail of a stream whose sender closed while the
/// receiver's queue was full (zeromq/libzmq#4660), and `remote_thr` closes as soon as it
/// has sent. Runs towards libzmq's `local_thr` over ipc stay below its RCVHWM (1000), so a
/// failure is zerosock's.
const LIBZMQ_IPC_TAIL: u64 = 900;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Tcp,
    Ipc,
}

fn bind_to(t: Transport, tag: &str) -> String {
    match t {
        Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
        Transport::Ipc => ipc_endpoint(tag),
    }
}

// ----- libzmq's tools, on libzmq ----------------------------------------------------------

/// libzmq's `remote_thr`: a PUSH connects and sends `count` fresh messages of `size` bytes
/// (`zmq_msg_init_size`), then closes; terminating its context waits for delivery (LINGER
/// -1, libzmq's default).
fn libzmq_remote_thr(connect_to: &str, size: usize, count: u64) -> zmq::Result<()> {
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH)?;
    push.connect(connect_to)?;
    for _ in 0..count {
        push.send(zmq::Message::with_size(size), 0)?;
    }
    drop(push);
    drop(ctx);
    Ok(())
}

/// libzmq's `local_thr` on a bound PULL: `count` messages of `size` bytes, into one message
/// again and again. Each is also checked to be all zeros, as `remote_thr` sends them.
fn libzmq_local_thr(pull: zmq::Socket, size: usize, count: u64) -> Result<(), String> {
    pull.set_rcvtimeo(TIMEOUT_MS).unwrap();
    let mut msg = zmq::Message::new();
    for i in 0..count {
        pull.recv(&mut msg, 0)
            .map_err(|e| format!("libzmq local_thr, message {i} of {count}: {e}"))?;
        if msg.len() != size || msg.iter().any(|&b| b != 0) {
            return Err(format!(
                "libzmq local_thr, message {i}: {} bytes, not {size} zeros",
                msg.len()
            ));
        }
    }
    match pull.recv(&mut msg, zmq::DONTWAIT) {
        Err(zmq::Error::EAGAIN) => Ok(()),
        other => Err(format!(
            "libzmq local_thr: after {count} messages, {other:?}"
        )),
    }
}

/// libzmq's `local_lat` on a bound REP: echoes `count` requests, each of `size` bytes.
fn libzmq_local_lat(rep: zmq::Socket, size: usize, count: u64) -> Result<(), String> {
    rep.set_rcvtimeo(TIMEOUT_MS).unwrap();
    let mut msg = zmq::Message::new();
    for i in 0..count {
        rep.recv(&mut msg, 0)
            .map_err(|e| format!("libzmq local_lat, request {i}: {e}"))?;
        if msg.len() != size {
            return Err(format!(
                "libzmq local_lat, request {i}: {} bytes",
                msg.len()
            ));
        }
        rep.send(std::mem::replace(&mut msg, zmq::Message::new()), 0)
            .map_err(|e| format!("libzmq local_lat, reply {i}: {e}"))?;
    }
    Ok(())
}

/// libzmq's `remote_lat`: a REQ connects and sends one message of `size` zero bytes back
/// and forth `count` times, each reply checked for its size.
fn libzmq_remote_lat(connect_to: &str, size: usize, count: u64) -> Result<(), String> {
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ).unwrap();
    req.set_rcvtimeo(TIMEOUT_MS).unwrap();
    req.connect(connect_to).unwrap();
    let mut msg = zmq::Message::from(vec![0u8; size]);
    for i in 0..count {
        req.send(std::mem::replace(&mut msg, zmq::Message::new()), 0)
            .map_err(|e| format!("libzmq remote_lat, request {i}: {e}"))?;
        req.recv(&mut msg, 0)
            .map_err(|e| format!("libzmq remote_lat, reply {i}: {e}"))?;
        if msg.len() != size {
            return Err(format!("libzmq remote_lat, reply {i}: {} bytes", msg.len()));
        }
    }
    Ok(())
}

/// A libzmq socket of `kind` bound to a fresh endpoint, and where it is.
fn libzmq_bound(ctx: &zmq::Context, kind: zmq::SocketType, t: Transport) -> (zmq::Socket, String) {
    let sock = ctx.socket(kind).unwrap();
    sock.bind(&bind_to(t, "lz")).unwrap();
    let at = sock.get_last_endpoint().unwrap().unwrap();
    (sock, at)
}

// ----- throughput -------------------------------------------------------------------------

/// zerosock's `local_thr` receiving from libzmq's `remote_thr`.
#[test]
fn local_thr_receives_from_libzmq_remote_thr() {
    bounded(120, move || {
        for t in [Transport::Tcp, Transport::Ipc] {
            for (size, count) in THR {
                let what = format!("{t:?}, {count} x {size} B");
                let ctx = Context::new();
                let pull = local_thr::bind(&ctx, &bind_to(t, "thr")).unwrap();
                let at = pull.last_endpoint().unwrap();
                let sender = thread::spawn(move || libzmq_remote_thr(&at, size, count));
                let elapsed_us = local_thr::run(&pull, size, count)
                    .unwrap_or_else(|e| panic!("{what}: local_thr: {e}"));
                sender
                    .join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{what}: libzmq remote_thr: {e}"));
                let beyond = pull.recv(zerosock::DONTWAIT);
                assert!(
                    matches!(beyond, Err(Error::WouldBlock)),
                    "{what}: after the count, {beyond:?}"
                );
                let report = local_thr::report(size, count, elapsed_us);
                assert!(
                    report.starts_with(&format!(
                        "message size: {size} [B]\nmessage count: {count}\n"
                    )),
                    "{what}: {report}"
                );
            }
        }
    });
}

/// zerosock's `remote_thr` sending to libzmq's `local_thr`.
#[test]
fn remote_thr_sends_to_libzmq_local_thr() {
    bounded(120, move || {
        for t in [Transport::Tcp, Transport::Ipc] {
            for (size, count) in THR {
                let count = if t == Transport::Ipc {
                    count.min(LIBZMQ_IPC_TAIL)
                } else {
                    count
                };
                let what = format!("{t:?}, {count} x {size} B");
                let ctx = zmq::Context::new();
                let (pull, at) = libzmq_bound(&ctx, zmq::PULL, t);
                let receiver = thread::spawn(move || libzmq_local_thr(pull, size, count));
                remote_thr::run(&at, size, count)
                    .unwrap_or_else(|e| panic!("{what}: remote_thr: {e}"));
                receiver
                    .join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    });
}

// ----- latency ----------------------------------------------------------------------------

/// zerosock's `local_lat` echoing for libzmq's `remote_lat`.
#[test]
fn local_lat_echoes_for_libzmq_remote_lat() {
    bounded(120, move || {
        for t in [Transport::Tcp, Transport::Ipc] {
            for (size, count) in LAT {
                let what = format!("{t:?}, {count} x {size} B");
                let ctx = Context::new();
                let rep = local_lat::bind(&ctx, &bind_to(t, "lat")).unwrap();
                let at = rep.last_endpoint().unwrap();
                let measurer = thread::spawn(move || libzmq_remote_lat(&at, size, count));
                local_lat::run(&rep, size, count)
                    .unwrap_or_else(|e| panic!("{what}: local_lat: {e}"));
                measurer
                    .join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    });
}

/// zerosock's `remote_lat` measuring against libzmq's `local_lat`.
#[test]
fn remote_lat_measures_against_libzmq_local_lat() {
    bounded(120, move || {
        for t in [Transport::Tcp, Transport::Ipc] {
            for (size, count) in LAT {
                let what = format!("{t:?}, {count} x {size} B");
                let ctx = zmq::Context::new();
                let (rep, at) = libzmq_bound(&ctx, zmq::REP, t);
                let echo = thread::spawn(move || libzmq_local_lat(rep, size, count));
                let latency_us = remote_lat::run(&at, size, count)
                    .unwrap_or_else(|e| panic!("{what}: remote_lat: {e}"));
                assert!(latency_us > 0.0, "{what}: latency {latency_us}");
                echo.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    });
}

// ----- the tools' checks ------------------------------------------------------------------

#[test]
fn local_thr_fails_on_a_message_of_another_size() {
    bounded(30, || {
        let ctx = Context::new();
        let pull = local_thr::bind(&ctx, "tcp://127.0.0.1:*").unwrap();
        let at = pull.last_endpoint().unwrap();
        let sender = thread::spawn(move || libzmq_remote_thr(&at, 9, 3));
        assert_eq!(
            local_thr::run(&pull, 8, 3),
            Err("message of incorrect size received (message 0: 9 bytes, expected 8)".into())
        );
        sender.join().unwrap().unwrap();
    });
}

#[test]
fn remote_lat_fails_on_a_reply_of_another_size() {
    bounded(30, || {
        let ctx = zmq::Context::new();
        let (rep, at) = libzmq_bound(&ctx, zmq::REP, Transport::Tcp);
        rep.set_rcvtimeo(TIMEOUT_MS).unwrap();
        let echo = thread::spawn(move || {
            let request = rep.recv_bytes(0).unwrap();
            rep.send([request, vec![1]].concat(), 0).unwrap();
            rep
        });
        assert_eq!(
            remote_lat::run(&at, 8, 5),
            Err("message of incorrect size received (message 0: 9 bytes, expected 8)".into())
        );
        drop(echo.join().unwrap());
    });
}
