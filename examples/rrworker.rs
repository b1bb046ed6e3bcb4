//! Request-reply worker, from chapter 2 of the ZeroMQ guide: a REP socket connected to the
//! backend of `rrbroker` answers each request with `World`.
//!
//! ```sh
//! rrworker [endpoint] [name]
//! ```
//!
//! Connects to the broker's backend at `endpoint` (default `tcp://localhost:5560`); runs
//! until interrupted. With a `name`, replies `World from <name>`.

use zerosock::{Context, Error, Result, SocketType};

/// Answers requests until the context terminates; returns how many it answered.
pub fn run(ctx: &Context, endpoint: &str, name: Option<&str>) -> Result<u64> {
    let responder = ctx.socket(SocketType::Rep)?;
    responder.connect(endpoint)?;
    let reply = match name {
        Some(name) => format!("World from {name}"),
        None => "World".to_string(),
    };
    let mut answered = 0;
    loop {
        let request = match responder.recv(0) {
            Ok(m) => m,
            Err(Error::Terminated) => return Ok(answered),
            Err(e) => return Err(e),
        };
        println!("Received request: [{}]", String::from_utf8_lossy(&request));
        match responder.send(reply.as_str(), 0) {
            Ok(()) => answered += 1,
            Err(Error::Terminated) => return Ok(answered),
            Err(e) => return Err(e),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://localhost:5560", String::as_str);
    let name = args.get(2).map(String::as_str);
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, name) {
        eprintln!("rrworker: {e}");
        std::process::exit(1);
    }
}
