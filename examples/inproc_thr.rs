//! Throughput test over `inproc://` in one process: the twin of libzmq's `perf/inproc_thr`.
//!
//! ```sh
//! inproc_thr <message-size> <message-count>
//! ```
//!
//! A PULL socket binds `inproc://thr_test`; a second thread connects a PUSH socket to it and
//! sends `message-count` messages of `message-size` bytes. The receiver times from the first
//! message's arrival to the last's and prints libzmq's lines. A gap of more than 30 s between
//! two messages is reported as an error instead of hanging.

mod perf;

use std::process::exit;
use zerosock::{Context, SocketType};

const ENDPOINT: &str = "inproc://thr_test";

fn main() {
    let perf::Args {
        size: message_size,
        count: message_count,
        ..
    } = perf::args("inproc_thr <message-size> <message-count>", false);

    let ctx = Context::new();
    let pull = ctx
        .socket(SocketType::Pull)
        .unwrap_or_else(|e| perf::fail("socket", e));
    pull.set_rcvtimeo(perf::STALL_TIMEOUT_MS)
        .unwrap_or_else(|e| perf::fail("set_rcvtimeo", e));
    pull.bind(ENDPOINT)
        .unwrap_or_else(|e| perf::fail("bind", e));

    let worker = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let push = ctx
                .socket(SocketType::Push)
                .unwrap_or_else(|e| perf::fail("socket", e));
            push.connect(ENDPOINT)
                .unwrap_or_else(|e| perf::fail("connect", e));
            let payload = vec![0u8; message_size];
            for _ in 0..message_count {
                push.send(&payload[..], 0)
                    .unwrap_or_else(|e| perf::fail("send", e));
            }
        })
    };

    println!("message size: {message_size} [B]");
    println!("message count: {message_count}");

    let elapsed =
        perf::receive(&pull, message_size, message_count).unwrap_or_else(|e| perf::exit_with(e));

    if worker.join().is_err() {
        eprintln!("error: the sending thread panicked");
        exit(1);
    }
    drop(pull);
    drop(ctx);

    // libzmq's inproc_thr formulas: the rate is truncated to an integer before the
    // megabit figure is derived from it.
    let throughput = (message_count as f64 / elapsed as f64 * 1_000_000.0) as u64;
    let megabits = (throughput * message_size as u64 * 8) as f64 / 1_000_000.0;

    println!("mean throughput: {throughput} [msg/s]");
    println!("mean throughput: {megabits:.3} [Mb/s]");
}
