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

use zerosock::{Context, Socket, SocketType};

/// The PULL socket the tool receives on, bound to `bind_to`.
pub fn bind(ctx: &Context, bind_to: &str) -> Result<Socket, String> {
    let pull = ctx.socket(SocketType::Pull).map_err(perf::at("socket"))?;
    pull.bind(bind_to).map_err(perf::at("bind"))?;
    Ok(pull)
}

/// Receives `count` messages of `size` bytes on `pull`; returns the whole microseconds from
/// the first message's arrival to the last's.
pub fn run(pull: &Socket, size: usize, count: u64) -> Result<u64, String> {
    perf::receive(pull, size, count)
}

/// libzmq's `local_thr` lines for `count` messages of `size` bytes in `elapsed_us`: its
/// formulas, a floating-point rate printed truncated.
pub fn report(size: usize, count: u64, elapsed_us: u64) -> String {
    let throughput = count as f64 / elapsed_us as f64 * 1_000_000.0;
    let megabits = throughput * size as f64 * 8.0 / 1_000_000.0;
    format!(
        "message size: {size} [B]\nmessage count: {count}\nmean throughput: {} [msg/s]\n\
         mean throughput: {megabits:.3} [Mb/s]\n",
        throughput as u64
    )
}

fn main() {
    let perf::Args {
        endpoint: bind_to,
        size,
        count,
    } = perf::args("local_thr <bind-to> <message-size> <message-count>", true);
    let ctx = Context::new();
    match bind(&ctx, &bind_to).and_then(|pull| run(&pull, size, count)) {
        Ok(elapsed_us) => print!("{}", report(size, count, elapsed_us)),
        Err(e) => perf::exit_with(e),
    }
}
