//! Task sink, from chapter 1 of the ZeroMQ guide: waits for the start of a batch from
//! `taskvent`, collects the results of its tasks from the `taskwork` workers, and reports
//! how long the batch took.
//!
//! ```sh
//! tasksink [endpoint] [tasks]
//! ```
//!
//! Binds `endpoint` (default `tcp://*:5558`) and collects `tasks` results (default 100).

use std::io::Write;
use std::time::{Duration, Instant};
use zerosock::{Context, Result, SocketType};

/// Binds `endpoint`, waits for the start of the batch, collects `tasks` results; returns
/// the time from the start to the last result.
pub fn run(ctx: &Context, endpoint: &str, tasks: u32) -> Result<Duration> {
    let receiver = ctx.socket(SocketType::Pull)?;
    receiver.bind(endpoint)?;
    // The start of the batch is "0", results are empty. The start comes over its own
    // connection, so a fast worker's first result may overtake it: count that too.
    let mut start = None;
    let mut results = 0;
    while results < tasks || start.is_none() {
        let message = receiver.recv(0)?;
        if start.is_none() && message == "0" {
            start = Some(Instant::now());
            continue;
        }
        print!("{}", if results % 10 == 0 { ':' } else { '.' });
        let _ = std::io::stdout().flush();
        results += 1;
    }
    let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
    println!("\nTotal elapsed time: {} msec", elapsed.as_millis());
    Ok(elapsed)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://*:5558", String::as_str);
    let tasks = args
        .get(2)
        .map_or(100, |n| n.parse().expect("tasks: a number"));
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, tasks) {
        eprintln!("tasksink: {e}");
        std::process::exit(1);
    }
}
