//! Throughput test, receiving side: the twin of libzmq's `perf/local_thr`.
//!
//! ```sh
//! local_thr <bind-to> <message-size> <message-count>
//! ```
//!
//! A PULL socket binds `bind-to` and receives `message-count` messages, each of which must be
//! exactly `message-size` bytes. The clock starts when the first message arrives and stops
//! after the last, and the output is libzmq's, line for line, so either side can be swapped
//! for its libzmq twin (`remote_thr` sends).
//!
//! Waiting for the first message has no time limit (the sender may start later); after it,
//! a gap of more than 30 s between two messages is reported as an error instead of hanging.

mod perf;

use std::process::exit;
use std::time::Instant;
use zerosock::{Context, Error, SocketType};

/// Longest gap between two messages once the first has arrived.
const STALL_TIMEOUT_MS: i32 = 30_000;

fn main() {
    let perf::Args {
        endpoint: bind_to,
        size: message_size,
        count: message_count,
    } = perf::args("local_thr <bind-to> <message-size> <message-count>", true);

    let ctx = Context::new();
    let pull = ctx
        .socket(SocketType::Pull)
        .unwrap_or_else(|e| perf::fail("socket", e));
    pull.bind(&bind_to)
        .unwrap_or_else(|e| perf::fail("bind", e));

    // One message received into again and again, as libzmq's tool does (`zmq_msg_recv`).
    let mut msg = zerosock::Msg::new();
    let mut receive = |index: u64| {
        pull.recv_into(&mut msg, 0).unwrap_or_else(|e| match e {
            Error::TimedOut => {
                eprintln!(
                    "error in recv: no message for {STALL_TIMEOUT_MS} ms after {index} of \
                     {message_count} were received"
                );
                exit(1);
            }
            e => perf::fail("recv", e),
        });
        if msg.len() != message_size {
            eprintln!(
                "message of incorrect size received (message {index}: {} bytes, expected \
                 {message_size})",
                msg.len()
            );
            exit(1);
        }
    };

    receive(0);
    let watch = Instant::now();
    pull.set_rcvtimeo(STALL_TIMEOUT_MS)
        .unwrap_or_else(|e| perf::fail("set_rcvtimeo", e));
    for index in 1..message_count {
        receive(index);
    }
    // Whole microseconds, at least one, as libzmq's stopwatch.
    let elapsed = (watch.elapsed().as_micros() as u64).max(1);

    // libzmq's local_thr formulas: a floating-point rate, printed truncated.
    let throughput = message_count as f64 / elapsed as f64 * 1_000_000.0;
    let megabits = throughput * message_size as f64 * 8.0 / 1_000_000.0;

    println!("message size: {message_size} [B]");
    println!("message count: {message_count}");
    println!("mean throughput: {} [msg/s]", throughput as u64);
    println!("mean throughput: {megabits:.3} [Mb/s]");

    drop(pull);
    drop(ctx);
}
