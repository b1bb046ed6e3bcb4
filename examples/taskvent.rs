//! Task ventilator, from chapter 1 of the ZeroMQ guide: a PUSH socket hands out tasks
//! (each a workload in milliseconds) to `taskwork` workers, after telling `tasksink` that a
//! batch starts.
//!
//! ```sh
//! taskvent [endpoint] [sink-endpoint] [tasks] [max-workload-ms]
//! ```
//!
//! Binds `endpoint` (default `tcp://*:5557`), connects to the sink at `sink-endpoint`
//! (default `tcp://localhost:5558`), waits for Enter (start the workers first, so the
//! tasks spread over all of them), then sends `tasks` tasks (default 100) of 1 to
//! `max-workload-ms` ms each (default 100).

use std::io::BufRead;
use std::time::{SystemTime, UNIX_EPOCH};
use zerosock::{Context, Result, SocketType};

/// Binds `endpoint`, calls `ready` (which returns once the workers are connected), signals
/// the start of a batch to `sink`, and sends `tasks` tasks of 1 to `max_ms` ms. Returns the
/// total expected cost in ms.
pub fn run(
    ctx: &Context,
    endpoint: &str,
    sink: &str,
    tasks: u32,
    max_ms: u32,
    ready: impl FnOnce(),
) -> Result<u64> {
    let sender = ctx.socket(SocketType::Push)?;
    sender.bind(endpoint)?;
    let start = ctx.socket(SocketType::Push)?;
    start.connect(sink)?;
    ready();
    println!("Sending tasks to workers...");
    // The first message is "0": the start of the batch.
    start.send("0", 0)?;
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut total = 0u64;
    for _ in 0..tasks {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let workload = (seed % u64::from(max_ms.max(1))) + 1;
        total += workload;
        sender.send(workload.to_string(), 0)?;
    }
    println!("Total expected cost: {total} msec");
    Ok(total)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://*:5557", String::as_str);
    let sink = args.get(2).map_or("tcp://localhost:5558", String::as_str);
    let tasks = args
        .get(3)
        .map_or(100, |n| n.parse().expect("tasks: a number"));
    let max_ms = args
        .get(4)
        .map_or(100, |n| n.parse().expect("max-workload-ms: a number"));
    let ctx = Context::new();
    let wait_for_enter = || {
        println!("Press Enter when the workers are ready: ");
        let _ = std::io::stdin().lock().read_line(&mut String::new());
    };
    if let Err(e) = run(&ctx, endpoint, sink, tasks, max_ms, wait_for_enter) {
        eprintln!("taskvent: {e}");
        std::process::exit(1);
    }
}
