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

/// Sends `count` messages of `size` zero bytes to `connect_to` from a context of its own;
/// returns once they have all been written out.
pub fn run(connect_to: &str, size: usize, count: u64) -> Result<(), String> {
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).map_err(perf::at("socket"))?;
    push.set_linger(-1).map_err(perf::at("set_linger"))?;
    push.connect(connect_to).map_err(perf::at("connect"))?;
    let payload = vec![0u8; size];
    for _ in 0..count {
        push.send(&payload[..], 0).map_err(perf::at("send"))?;
    }
    // Closing the socket hands what is still queued to its connection; terminating the
    // context waits (for LINGER, here forever) until it has been written out.
    drop(push);
    drop(ctx);
    Ok(())
}

fn main() {
    let perf::Args {
        endpoint: connect_to,
        size,
        count,
    } = perf::args(
        "remote_thr <connect-to> <message-size> <message-count>",
        true,
    );
    if let Err(e) = run(&connect_to, size, count) {
        perf::exit_with(e);
    }
}
