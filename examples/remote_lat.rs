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

use std::time::Instant;
use zerosock::{Context, SocketType};

/// Makes `count` round trips of `size` zero bytes to `connect_to`, each reply checked for
/// its size; returns the average latency, half a round trip, in microseconds.
pub fn run(connect_to: &str, size: usize, count: u64) -> Result<f64, String> {
    let ctx = Context::new();
    let req = ctx.socket(SocketType::Req).map_err(perf::at("socket"))?;
    req.set_rcvtimeo(perf::STALL_TIMEOUT_MS)
        .map_err(perf::at("setsockopt"))?;
    req.connect(connect_to).map_err(perf::at("connect"))?;
    let payload = vec![0u8; size];
    let start = Instant::now();
    for index in 0..count {
        req.send(&payload[..], 0).map_err(perf::at("send"))?;
        let reply = req.recv(0).map_err(perf::at("recv"))?;
        perf::check_size(index, reply.len(), size)?;
    }
    let elapsed_us = start.elapsed().as_secs_f64() * 1e6;
    Ok(elapsed_us / (count as f64 * 2.0))
}

fn main() {
    let perf::Args {
        endpoint,
        size,
        count,
    } = perf::args(
        "remote_lat <connect-to> <message-size> <roundtrip-count>",
        true,
    );
    match run(&endpoint, size, count) {
        Ok(latency) => {
            println!("message size: {size} [B]");
            println!("roundtrip count: {count}");
            println!("average latency: {latency:.3} [us]");
        }
        Err(e) => perf::exit_with(e),
    }
}
