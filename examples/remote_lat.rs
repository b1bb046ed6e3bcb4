//! Latency test, measuring side: the twin of libzmq's `perf/remote_lat`.
//!
//! ```sh
//! remote_lat <connect-to> <message-size> <roundtrip-count>
//! ```
//!
//! A REQ socket connects to `connect-to` and makes `roundtrip-count` request/reply round
//! trips of `message-size` bytes, then prints libzmq's lines: `message size: N [B]`,
//! `roundtrip count: N`, `average latency: X.XXX [us]` (half a round trip).

mod perf;

use std::process::exit;
use std::time::Instant;
use zerosock::{Context, SocketType};

fn main() {
    let perf::Args {
        endpoint,
        size,
        count,
    } = perf::args(
        "remote_lat <connect-to> <message-size> <roundtrip-count>",
        true,
    );
    let ctx = Context::new();
    let req = ctx
        .socket(SocketType::Req)
        .unwrap_or_else(|e| perf::fail("socket", e));
    req.set_rcvtimeo(30_000)
        .unwrap_or_else(|e| perf::fail("setsockopt", e));
    req.connect(&endpoint)
        .unwrap_or_else(|e| perf::fail("connect", e));
    let payload = vec![0u8; size];
    let start = Instant::now();
    for _ in 0..count {
        req.send(&payload[..], 0)
            .unwrap_or_else(|e| perf::fail("send", e));
        let reply = req.recv(0).unwrap_or_else(|e| perf::fail("recv", e));
        if reply.len() != size {
            eprintln!(
                "message of incorrect size received: {} (expected {size})",
                reply.len()
            );
            exit(1);
        }
    }
    let elapsed_us = start.elapsed().as_secs_f64() * 1e6;
    let latency = elapsed_us / (count as f64 * 2.0);
    println!("message size: {size} [B]");
    println!("roundtrip count: {count}");
    println!("average latency: {latency:.3} [us]");
    drop(req);
}
