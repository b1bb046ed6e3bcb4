//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on its own thread and fails the test if it takes longer than `secs`: a stuck
/// test is a failed test, never a hung CI.
pub fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {secs} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("sender dropped without a value"),
        },
    }
}

/// The first event of `monitor` that `pick` accepts, within 10 s; fails the test with the
/// events seen instead if none comes.
pub fn wait_event<T>(
    monitor: &zerosock::Monitor,
    what: &str,
    pick: impl Fn(&zerosock::EventKind) -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match monitor.recv(Some(left)) {
            Some(event) => {
                if let Some(v) = pick(&event.kind) {
                    return v;
                }
                seen.push(event.kind);
            }
            None => break,
        }
    }
    panic!("{what}: no such event; saw {seen:?}");
}

/// A fresh ipc path in the temp directory.
pub fn ipc_endpoint(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("zs-test-{}-{tag}-{n}.ipc", std::process::id()));
    let _ = std::fs::remove_file(&path);
    format!("ipc://{}", path.display())
}

/// Polls `cond` every millisecond until it holds or `secs` pass.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

/// A ZMTP 3.1 greeting for the NULL mechanism, as-server 0.
pub fn zmtp_greeting() -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
    g.extend(b"NULL");
    g.resize(64, 0);
    g
}

/// A READY command frame announcing `socket_type`.
pub fn zmtp_ready(socket_type: &str) -> Vec<u8> {
    let mut body = b"\x05READY\x0bSocket-Type".to_vec();
    body.extend((socket_type.len() as u32).to_be_bytes());
    body.extend(socket_type.as_bytes());
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend(body);
    frame
}

/// A raw TCP peer at `endpoint` (`tcp://host:port`) that has sent its greeting and READY
/// as `socket_type` (and reads nothing).
pub fn raw_null_peer(endpoint: &str, socket_type: &str) -> std::net::TcpStream {
    use std::io::Write;
    let addr = endpoint.strip_prefix("tcp://").expect("a tcp endpoint");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(&zmtp_greeting()).expect("greeting");
    s.write_all(&zmtp_ready(socket_type)).expect("ready");
    s
}

/// Descriptors this process has open now.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Threads this process runs now.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Threads of zerosock's own (I/O threads, resolvers, ZAP handlers: their names start with
/// `zerosock`), so that test-harness threads coming and going do not count.
pub fn zerosock_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|t| t.ok())
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|name| name.starts_with("zerosock"))
                })
                .count()
        })
        .unwrap_or(0)
}
