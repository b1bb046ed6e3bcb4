//! Hello World client, from chapter 1 of the ZeroMQ guide: a REQ socket sends `Hello` and
//! waits for each `World`.
//!
//! ```sh
//! hwclient [endpoint] [requests]
//! ```
//!
//! Connects to `endpoint` (default `tcp://localhost:5555`) and makes `requests` requests
//! (default 10). Pair it with `hwserver`.

use zerosock::{Context, Error, Result, SocketType};

/// Makes `requests` Hello requests to `endpoint`; returns how many `World` replies came.
pub fn run(ctx: &Context, endpoint: &str, requests: u32) -> Result<u32> {
    println!("Connecting to hello world server...");
    let requester = ctx.socket(SocketType::Req)?;
    requester.connect(endpoint)?;
    let mut worlds = 0;
    for n in 0..requests {
        println!("Sending Hello {n}...");
        requester.send("Hello", 0)?;
        let reply = requester.recv(0)?;
        if reply != "World" {
            return Err(Error::WrongState("the server did not say World"));
        }
        println!("Received World {n}");
        worlds += 1;
    }
    Ok(worlds)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://localhost:5555", String::as_str);
    let requests = args
        .get(2)
        .map_or(10, |n| n.parse().expect("requests: a number"));
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, requests) {
        eprintln!("hwclient: {e}");
        std::process::exit(1);
    }
}
