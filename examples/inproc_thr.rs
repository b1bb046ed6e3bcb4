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
use std::time::Instant;
use zerosock::{Context, Error, SocketType};

const ENDPOINT: &str = "inproc://thr_test";
/// Longest wait for any one message.
const STALL_TIMEOUT_MS: i32 = 30_000;

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
    pull.set_rcvtimeo(STALL_TIMEOUT_MS)
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

    println!("message size: {message_size} [B]");
    println!("message count: {message_count}");

    receive(0);
    let watch = Instant::now();
    for index in 1..message_count {
        receive(index);
    }
    // Whole microseconds, at least one, as libzmq's stopwatch.
    let elapsed = (watch.elapsed().as_micros() as u64).max(1);

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
