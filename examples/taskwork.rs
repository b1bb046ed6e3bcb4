//! Task worker, from chapter 1 of the ZeroMQ guide: pulls tasks from `taskvent`, "works"
//! (sleeps) for each task's workload, and pushes a result to `tasksink`.
//!
//! ```sh
//! taskwork [ventilator-endpoint] [sink-endpoint]
//! ```
//!
//! Connects to `ventilator-endpoint` (default `tcp://localhost:5557`) and
//! `sink-endpoint` (default `tcp://localhost:5558`); runs until interrupted.

use std::io::Write;
use std::time::Duration;
use zerosock::{Context, Error, Result, SocketType};

/// Processes tasks until the context terminates; returns how many it did.
pub fn run(ctx: &Context, ventilator: &str, sink: &str) -> Result<u64> {
    let receiver = ctx.socket(SocketType::Pull)?;
    receiver.connect(ventilator)?;
    let sender = ctx.socket(SocketType::Push)?;
    sender.connect(sink)?;
    let mut done = 0;
    loop {
        let task = match receiver.recv(0) {
            Ok(m) => m,
            Err(Error::Terminated) => return Ok(done),
            Err(e) => return Err(e),
        };
        let workload: u64 = task
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or(Error::WrongState("a task that is not a workload in ms"))?;
        print!("{workload}.");
        let _ = std::io::stdout().flush();
        // The work: sleep for the workload.
        std::thread::sleep(Duration::from_millis(workload));
        match sender.send("", 0) {
            Ok(()) => done += 1,
            Err(Error::Terminated) => return Ok(done),
            Err(e) => return Err(e),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ventilator = args.get(1).map_or("tcp://localhost:5557", String::as_str);
    let sink = args.get(2).map_or("tcp://localhost:5558", String::as_str);
    let ctx = Context::new();
    if let Err(e) = run(&ctx, ventilator, sink) {
        eprintln!("taskwork: {e}");
        std::process::exit(1);
    }
}
