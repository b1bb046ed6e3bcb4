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

mod perf;

use zerosock::{Context, SocketType};

fn main() {
    let perf::Args {
        endpoint: connect_to,
        size: message_size,
        count: message_count,
    } = perf::args(
        "remote_thr <connect-to> <message-size> <message-count>",
        true,
    );

    let ctx = Context::new();
    let push = ctx
        .socket(SocketType::Push)
        .unwrap_or_else(|e| perf::fail("socket", e));
    push.set_linger(-1)
        .unwrap_or_else(|e| perf::fail("set_linger", e));
    push.connect(&connect_to)
        .unwrap_or_else(|e| perf::fail("connect", e));

    let payload = vec![0u8; message_size];
    for _ in 0..message_count {
        push.send(&payload[..], 0)
            .unwrap_or_else(|e| perf::fail("send", e));
    }

    // Closing the socket hands what is still queued to its connection; terminating the
    // context waits (for LINGER, here forever) until it has been written out.
    drop(push);
    drop(ctx);
}
