//! Request-reply broker as one tokio task: `rrbroker` with a `tokio::select!` loop in place
//! of `zerosock::proxy`. A ROUTER frontend takes requests from `rrclient` REQ clients, a
//! DEALER backend hands them to `rrworker` REP workers, and whole messages (routing
//! envelope and all) cross in both directions.
//!
//! ```sh
//! cargo run --features tokio --example async_rrbroker -- [frontend-endpoint] [backend-endpoint]
//! ```
//!
//! Binds `frontend-endpoint` (default `tcp://*:5559`) and `backend-endpoint` (default
//! `tcp://*:5560`); runs until interrupted.

use zerosock::{AsyncSocket, Context, Error, Msg, Result, SocketType};

/// Binds both sides and forwards messages until the context terminates.
pub async fn run(ctx: &Context, frontend: &str, backend: &str) -> Result<()> {
    let front = ctx.socket(SocketType::Router)?;
    front.bind(frontend)?;
    let back = ctx.socket(SocketType::Dealer)?;
    back.bind(backend)?;
    let mut front = AsyncSocket::new(front)?;
    let mut back = AsyncSocket::new(back)?;
    loop {
        // Whichever side has a whole message first wins; the other side's receive is
        // dropped unfinished, which takes nothing off its socket (it is cancel-safe).
        let forwarded = tokio::select! {
            request = front.recv_multipart() => forward(request, &mut back).await,
            reply = back.recv_multipart() => forward(reply, &mut front).await,
        };
        match forwarded {
            Ok(()) => {}
            Err(Error::Terminated) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Sends a received message on, all its frames as one message.
async fn forward(received: Result<Vec<Msg>>, to: &mut AsyncSocket) -> Result<()> {
    to.send_multipart(received?).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let frontend = args.get(1).map_or("tcp://*:5559", String::as_str);
    let backend = args.get(2).map_or("tcp://*:5560", String::as_str);
    let ctx = Context::new();
    if let Err(e) = run(&ctx, frontend, backend).await {
        eprintln!("async_rrbroker: {e}");
        std::process::exit(1);
    }
}
