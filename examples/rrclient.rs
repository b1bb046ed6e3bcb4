//! Request-reply client, from chapter 2 of the ZeroMQ guide: a REQ socket sends `Hello`
//! through `rrbroker` to whichever `rrworker` is free.
//!
//! ```sh
//! rrclient [endpoint] [requests]
//! ```
//!
//! Connects to the broker's frontend at `endpoint` (default `tcp://localhost:5559`) and
//! makes `requests` requests (default 10).

use zerosock::{Context, Result, SocketType};

/// Makes `requests` requests; returns the replies.
pub fn run(ctx: &Context, endpoint: &str, requests: u32) -> Result<Vec<String>> {
    let requester = ctx.socket(SocketType::Req)?;
    requester.connect(endpoint)?;
    let mut replies = Vec::new();
    for n in 0..requests {
        requester.send("Hello", 0)?;
        let reply = requester.recv(0)?;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        println!("Received reply {n} [{reply}]");
        replies.push(reply);
    }
    Ok(replies)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://localhost:5559", String::as_str);
    let requests = args
        .get(2)
        .map_or(10, |n| n.parse().expect("requests: a number"));
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, requests) {
        eprintln!("rrclient: {e}");
        std::process::exit(1);
    }
}
