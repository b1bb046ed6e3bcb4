//! Request-reply broker, from chapter 2 of the ZeroMQ guide: a ROUTER frontend for
//! `rrclient` REQ clients and a DEALER backend for `rrworker` REP workers, joined by
//! `zerosock::proxy`.
//!
//! ```sh
//! rrbroker [frontend-endpoint] [backend-endpoint]
//! ```
//!
//! Binds `frontend-endpoint` (default `tcp://*:5559`) and `backend-endpoint` (default
//! `tcp://*:5560`); runs until interrupted.

use zerosock::{proxy, Context, Error, Result, SocketType};

/// Binds both sides and proxies until the context terminates.
pub fn run(ctx: &Context, frontend: &str, backend: &str) -> Result<()> {
    let front = ctx.socket(SocketType::Router)?;
    front.bind(frontend)?;
    let back = ctx.socket(SocketType::Dealer)?;
    back.bind(backend)?;
    match proxy(&front, &back, None) {
        Err(Error::Terminated) => Ok(()),
        other => other,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let frontend = args.get(1).map_or("tcp://*:5559", String::as_str);
    let backend = args.get(2).map_or("tcp://*:5560", String::as_str);
    let ctx = Context::new();
    if let Err(e) = run(&ctx, frontend, backend) {
        eprintln!("rrbroker: {e}");
        std::process::exit(1);
    }
}
