//! Latency test, echoing side: the twin of libzmq's `perf/local_lat`.
//!
//! ```sh
//! local_lat <bind-to> <message-size> <roundtrip-count>
//! ```
//!
//! A REP socket binds `bind-to` and echoes `roundtrip-count` messages of `message-size` bytes
//! (`remote_lat` measures). Any message of another size is an error (exit 1). A gap of more
//! than 30 s between two requests is reported as an error instead of hanging.

use std::process::exit;
use zerosock::{Context, SocketType};

fn usage() -> ! {
    eprintln!("usage: local_lat <bind-to> <message-size> <roundtrip-count>");
    exit(1);
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("error in {what}: {e}");
    exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        usage();
    }
    let Ok(size) = args[2].parse::<usize>() else {
        usage()
    };
    let count = match args[3].parse::<u64>() {
        Ok(n) if n >= 1 => n,
        _ => usage(),
    };
    let ctx = Context::new();
    let rep = ctx
        .socket(SocketType::Rep)
        .unwrap_or_else(|e| fail("socket", e));
    rep.bind(&args[1]).unwrap_or_else(|e| fail("bind", e));
    for i in 0..count {
        let msg = rep.recv(0).unwrap_or_else(|e| fail("recv", e));
        if msg.len() != size {
            eprintln!(
                "message of incorrect size received: {} (expected {size})",
                msg.len()
            );
            exit(1);
        }
        rep.send(msg, 0).unwrap_or_else(|e| fail("send", e));
        if i == 0 {
            // From the first request on, a silent peer is an error, not a hang.
            rep.set_rcvtimeo(30_000)
                .unwrap_or_else(|e| fail("setsockopt", e));
        }
    }
    drop(rep);
}
