//! Latency test, echoing side: the twin of libzmq's `perf/local_lat`.
//!
//! ```sh
//! local_lat <bind-to> <message-size> <roundtrip-count>
//! ```
//!
//! A REP socket binds `bind-to` and echoes `roundtrip-count` messages of `message-size` bytes
//! (`remote_lat` measures). Any message of another size is an error (exit 1). A gap of more
//! than 30 s between two requests is reported as an error instead of hanging.

mod perf;

use std::process::exit;
use zerosock::{Context, SocketType};

fn main() {
    let perf::Args {
        endpoint,
        size,
        count,
    } = perf::args("local_lat <bind-to> <message-size> <roundtrip-count>", true);
    let ctx = Context::new();
    let rep = ctx
        .socket(SocketType::Rep)
        .unwrap_or_else(|e| perf::fail("socket", e));
    rep.bind(&endpoint)
        .unwrap_or_else(|e| perf::fail("bind", e));
    for i in 0..count {
        let msg = rep.recv(0).unwrap_or_else(|e| perf::fail("recv", e));
        if msg.len() != size {
            eprintln!(
                "message of incorrect size received: {} (expected {size})",
                msg.len()
            );
            exit(1);
        }
        rep.send(msg, 0).unwrap_or_else(|e| perf::fail("send", e));
        if i == 0 {
            // From the first request on, a silent peer is an error, not a hang.
            rep.set_rcvtimeo(30_000)
                .unwrap_or_else(|e| perf::fail("setsockopt", e));
        }
    }
    drop(rep);
}
