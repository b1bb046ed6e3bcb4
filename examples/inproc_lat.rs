//! Latency test over inproc in one process: the twin of libzmq's `perf/inproc_lat`.
//!
//! ```sh
//! inproc_lat <message-size> <roundtrip-count>
//! ```
//!
//! A REP socket in a second thread echoes; a REQ socket measures and prints the lines of
//! `remote_lat`.

mod perf;

use std::time::Instant;
use zerosock::{Context, SocketType};

fn main() {
    let perf::Args { size, count, .. } =
        perf::args("inproc_lat <message-size> <roundtrip-count>", false);
    let ctx = Context::new();
    let rep = ctx
        .socket(SocketType::Rep)
        .unwrap_or_else(|e| perf::fail("socket", e));
    rep.bind("inproc://lat_test")
        .unwrap_or_else(|e| perf::fail("bind", e));
    let req = ctx
        .socket(SocketType::Req)
        .unwrap_or_else(|e| perf::fail("socket", e));
    req.set_rcvtimeo(30_000)
        .unwrap_or_else(|e| perf::fail("setsockopt", e));
    req.connect("inproc://lat_test")
        .unwrap_or_else(|e| perf::fail("connect", e));
    let echo = std::thread::spawn(move || {
        rep.set_rcvtimeo(30_000)
            .unwrap_or_else(|e| perf::fail("setsockopt", e));
        for _ in 0..count {
            let msg = rep.recv(0).unwrap_or_else(|e| perf::fail("recv", e));
            rep.send(msg, 0).unwrap_or_else(|e| perf::fail("send", e));
        }
    });
    let payload = vec![0u8; size];
    let start = Instant::now();
    for index in 0..count {
        req.send(&payload[..], 0)
            .unwrap_or_else(|e| perf::fail("send", e));
        let reply = req.recv(0).unwrap_or_else(|e| perf::fail("recv", e));
        perf::check_size(index, reply.len(), size).unwrap_or_else(|e| perf::exit_with(e));
    }
    let elapsed_us = start.elapsed().as_secs_f64() * 1e6;
    println!("message size: {size} [B]");
    println!("roundtrip count: {count}");
    println!(
        "average latency: {:.3} [us]",
        elapsed_us / (count as f64 * 2.0)
    );
    echo.join()
        .unwrap_or_else(|_| perf::fail("join", "echo thread panicked"));
}
