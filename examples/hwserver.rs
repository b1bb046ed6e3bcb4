//! Hello World server, from chapter 1 of the ZeroMQ guide: a REP socket answers each
//! `Hello` with `World`.
//!
//! ```sh
//! hwserver [endpoint] [requests]
//! ```
//!
//! Binds `endpoint` (default `tcp://*:5555`) and serves `requests` requests (default: until
//! interrupted). Pair it with `hwclient`.

use zerosock::{Context, Error, Result, SocketType};

/// Serves `requests` requests (`None`: until the context terminates) on a REP socket bound
/// to `endpoint`; returns how many it answered.
pub fn run(ctx: &Context, endpoint: &str, requests: Option<u64>) -> Result<u64> {
    let responder = ctx.socket(SocketType::Rep)?;
    responder.bind(endpoint)?;
    let mut served = 0;
    while requests.map_or(true, |n| served < n) {
        let request = match responder.recv(0) {
            Ok(m) => m,
            Err(Error::Terminated) => break,
            Err(e) => return Err(e),
        };
        println!("Received {}", String::from_utf8_lossy(&request));
        responder.send("World", 0)?;
        served += 1;
    }
    Ok(served)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://*:5555", String::as_str);
    let requests = args.get(2).map(|n| n.parse().expect("requests: a number"));
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, requests) {
        eprintln!("hwserver: {e}");
        std::process::exit(1);
    }
}
