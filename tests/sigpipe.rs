//! A peer that goes away while a socket streams to it must never raise SIGPIPE in the host
//! process: a C program, a CLI tool or any runtime that keeps SIGPIPE's default action would
//! be killed by it (exit status 141). Each case runs a sender and a receiver as child
//! processes, kills the receiver with SIGKILL in the middle of a stream of 8 KiB messages,
//! and checks that the sender lived on and saw no SIGPIPE.
//!
//! A Rust program starts with SIGPIPE ignored, so the sender installs a handler that records
//! the signal instead (its default action would kill the process), and first checks that the
//! handler does see a SIGPIPE raised by a plain `write(2)` to a closed Unix socket.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use zerosock::{Context, EventKind, SocketType};

mod common;

const ROLE: &str = "ZEROSOCK_SIGPIPE_ROLE";
const TYPE: &str = "ZEROSOCK_SIGPIPE_TYPE";
const BIND: &str = "ZEROSOCK_SIGPIPE_BIND";
const CONNECT: &str = "ZEROSOCK_SIGPIPE_CONNECT";
/// The sender's exit status when it saw a SIGPIPE (the default action's 128 + 13).
const RAISED: i32 = 141;

/// A child process's side of a case, chosen by the environment; does nothing in a normal run.
#[test]
#[ignore = "entry point of the child processes of the tests below"]
fn sigpipe_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let socket_type: SocketType = std::env::var(TYPE).unwrap().parse().unwrap();
    match role.as_str() {
        "sender" => sender(socket_type),
        "receiver" => receiver(socket_type),
        other => panic!("unknown role {other}"),
    }
}

fn open(ctx: &Context, socket_type: SocketType) -> zerosock::Socket {
    let socket = ctx.socket(socket_type).unwrap();
    if let Ok(ep) = std::env::var(BIND) {
        socket.bind(&ep).unwrap();
        println!("endpoint {}", socket.last_endpoint().unwrap());
    } else {
        socket.connect(&std::env::var(CONNECT).unwrap()).unwrap();
    }
    socket
}

fn sender(socket_type: SocketType) {
    let raised = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGPIPE, raised.clone()).unwrap();
    // The detector works: a plain write(2) to a closed socket raises SIGPIPE (through a
    // `File`, as std's own socket writes ask the kernel not to).
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(b);
    let mut a = std::fs::File::from(std::os::fd::OwnedFd::from(a));
    assert!(a.write_all(b"x").is_err());
    assert!(
        raised.swap(false, Ordering::SeqCst),
        "the SIGPIPE handler saw nothing"
    );

    let ctx = Context::new();
    let socket = open(&ctx, socket_type);
    socket.set_sndtimeo(20).unwrap();
    socket.set_linger(0).unwrap();
    let monitor = socket.monitor();
    let body = vec![7u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut gone_at = None;
    while Instant::now() < deadline {
        let _ = socket.send(&body[..], 0); // a full pipe times out: go on
        while let Some(event) = monitor.try_recv() {
            if event.kind == EventKind::Disconnected && gone_at.is_none() {
                gone_at = Some(Instant::now());
                println!("disconnected");
            }
        }
        // Stream on for a while after the peer left, reconnecting or not.
        if gone_at.is_some_and(|t| t.elapsed() > Duration::from_millis(500)) {
            break;
        }
    }
    assert!(gone_at.is_some(), "the peer's disconnection was never seen");
    drop(socket);
    drop(ctx);
    if raised.load(Ordering::SeqCst) {
        println!("SIGPIPE raised");
        std::process::exit(RAISED);
    }
    println!("survived");
}

fn receiver(socket_type: SocketType) {
    let ctx = Context::new();
    let socket = open(&ctx, socket_type);
    if socket_type == SocketType::Sub {
        socket.set_subscribe(b"").unwrap();
    }
    socket.set_rcvtimeo(30_000).unwrap();
    for n in 1.. {
        socket.recv(0).unwrap();
        if n == 20 {
            println!("receiving");
        }
    }
}

/// A child process whose output lines arrive on a channel; killed when dropped.
struct Peer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    fn spawn(role: &str, socket_type: &str, endpoint: (&str, &str)) -> Peer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "sigpipe_child",
                "--nocapture",
                "--quiet",
            ])
            .env(ROLE, role)
            .env(TYPE, socket_type)
            .env(endpoint.0, endpoint.1)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer { child, lines }
    }

    /// The rest of the first line starting with `prefix`, within 10 s.
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Err(_) => panic!("no line starting with {prefix:?} within 10 s"),
            }
        }
    }

    /// Waits (at most 30 s) for the process to end on its own.
    fn wait(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the sender did not finish");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Streams from a `sender_type` socket to a receiver, kills the receiver, and checks that the
/// sender survives without a SIGPIPE. `sender_binds` chooses which side binds `endpoint`.
fn survives(sender_type: &str, receiver_type: &str, endpoint: &str, sender_binds: bool) {
    common::bounded(90, {
        let (sender_type, receiver_type, endpoint) = (
            sender_type.to_string(),
            receiver_type.to_string(),
            endpoint.to_string(),
        );
        move || {
            let (sender, receiver) = if sender_binds {
                let sender = Peer::spawn("sender", &sender_type, (BIND, &endpoint));
                let bound = sender.wait_line("endpoint ");
                let receiver = Peer::spawn("receiver", &receiver_type, (CONNECT, &bound));
                (sender, receiver)
            } else {
                let receiver = Peer::spawn("receiver", &receiver_type, (BIND, &endpoint));
                let bound = receiver.wait_line("endpoint ");
                let sender = Peer::spawn("sender", &sender_type, (CONNECT, &bound));
                (sender, receiver)
            };
            receiver.wait_line("receiving");
            drop(receiver); // SIGKILL, mid-stream
            let status = sender.wait();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                None,
                "the sender was killed by signal {:?}",
                status.signal()
            );
            assert_ne!(status.code(), Some(RAISED), "the library raised SIGPIPE");
            assert_eq!(status.code(), Some(0), "the sender failed");
        }
    });
}

#[test]
fn push_binding_over_tcp_survives_a_killed_peer() {
    survives("PUSH", "PULL", "tcp://127.0.0.1:*", true);
}

#[test]
fn push_connecting_over_tcp_survives_a_killed_peer() {
    survives("PUSH", "PULL", "tcp://127.0.0.1:*", false);
}

#[test]
fn push_binding_over_ipc_survives_a_killed_peer() {
    survives("PUSH", "PULL", &common::ipc_endpoint("sigpipe"), true);
}

#[test]
fn push_connecting_over_ipc_survives_a_killed_peer() {
    survives("PUSH", "PULL", &common::ipc_endpoint("sigpipe"), false);
}

#[test]
fn pub_binding_over_tcp_survives_a_killed_peer() {
    survives("PUB", "SUB", "tcp://127.0.0.1:*", true);
}

#[test]
fn pub_connecting_over_ipc_survives_a_killed_peer() {
    survives("PUB", "SUB", &common::ipc_endpoint("sigpipe"), false);
}
