//! Throughput test, sending side: the twin of libzmq's `perf/remote_thr`.
//!
//! ```sh
//! remote_thr <connect-to> <message-size> <message-count>
//! ```
//!
//! A PUSH socket connects to `connect-to`, sends `message-count` messages of `message-size`
//! bytes (a fresh message each time, as libzmq's tool does), then closes the socket and
//! terminates the context, which waits until everything queued has been delivered. LINGER is
//! set to -1 (wait as long as it takes), which is libzmq's default and what its tool relies
//! on; zerosock's own default would give up after 30 s.

use std::process::exit;
use zerosock::{Context, SocketType};

fn usage() -> ! {
    eprintln!("usage: remote_thr <connect-to> <message-size> <message-count>");
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
    let connect_to = &args[1];
    let Ok(message_size) = args[2].parse::<usize>() else {
        usage()
    };
    let Ok(message_count) = args[3].parse::<u64>() else {
        usage()
    };

    let ctx = Context::new();
    let push = ctx
        .socket(SocketType::Push)
        .unwrap_or_else(|e| fail("socket", e));
    push.set_linger(-1)
        .unwrap_or_else(|e| fail("set_linger", e));
    push.connect(connect_to)
        .unwrap_or_else(|e| fail("connect", e));

    let payload = vec![0u8; message_size];
    for _ in 0..message_count {
        push.send(&payload[..], 0)
            .unwrap_or_else(|e| fail("send", e));
    }

    // Closing the socket hands what is still queued to its connection; terminating the
    // context waits (for LINGER, here forever) until it has been written out.
    drop(push);
    drop(ctx);
}
