//! Lazy Pirate client as a tokio task: `lpclient` line for line, with an [`AsyncSocket`]
//! and `tokio::time::timeout` around each receive in place of the socket's RCVTIMEO.
//!
//! ```sh
//! cargo run --features tokio --example async_lpclient -- [endpoint] [requests] [timeout-ms] [tries]
//! ```
//!
//! The arguments, the defaults and the exit status are those of `lpclient`; pair it with
//! `lpserver`. A receive that runs out of time is dropped before it completes, which is safe:
//! `AsyncSocket::recv` takes a message off the socket only when it returns it, so a reply
//! is never lost to a timeout. As in `lpclient`, a fresh socket carries each retry.

use std::time::Duration;
use tokio::time::timeout;
use zerosock::{AsyncSocket, Context, Error, Result, SocketType};

/// What became of the client's requests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Requests the server echoed.
    pub answered: u32,
    /// Times a request was sent again, on a fresh socket, after the wait for its reply ran
    /// out.
    pub resent: u32,
    /// The request the client gave up on, if the server stopped answering.
    pub abandoned: Option<u32>,
}

/// A fresh REQ socket connected to `endpoint` that drops what it has not sent when it
/// closes. (How long to wait for a reply is up to each `recv`'s caller.)
fn connect(ctx: &Context, endpoint: &str) -> Result<AsyncSocket> {
    let client = ctx.socket(SocketType::Req)?;
    client.set_linger(0)?;
    client.connect(endpoint)?;
    AsyncSocket::new(client)
}

/// Sends the requests `1` to `requests` to `endpoint`, each at most `tries` times, waiting
/// `patience` for each reply.
pub async fn run(
    ctx: &Context,
    endpoint: &str,
    requests: u32,
    patience: Duration,
    tries: u32,
) -> Result<Report> {
    let mut report = Report::default();
    let mut client = connect(ctx, endpoint)?;
    for sequence in 1..=requests {
        let request = sequence.to_string();
        client.send(request.as_str()).await?;
        let mut tries_left = tries.max(1);
        loop {
            // Out of patience, the receive is dropped unfinished, having taken nothing.
            let reply = timeout(patience, client.recv()).await;
            match reply.unwrap_or(Err(Error::TimedOut)) {
                Ok(reply) if reply == request.as_str() => {
                    println!("Server replied OK ({request})");
                    report.answered += 1;
                    break;
                }
                Ok(_) => return Err(Error::WrongState("the server did not echo the request")),
                Err(e) if e.is_again() => {}
                Err(e) => return Err(e),
            }
            tries_left -= 1;
            if tries_left == 0 {
                println!("No reply to {request} after {tries} tries: abandoning the server");
                report.abandoned = Some(sequence);
                return Ok(report);
            }
            println!("No reply to {request} within {patience:?}: resending on a new socket");
            drop(client);
            client = connect(ctx, endpoint)?;
            client.send(request.as_str()).await?;
            report.resent += 1;
        }
    }
    Ok(report)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://localhost:5555", String::as_str);
    let requests = args
        .get(2)
        .map_or(10, |n| n.parse().expect("requests: a number"));
    let patience = Duration::from_millis(
        args.get(3)
            .map_or(2500, |ms| ms.parse().expect("timeout-ms: a number")),
    );
    let tries = args
        .get(4)
        .map_or(3, |n| n.parse().expect("tries: a number"));
    let ctx = Context::new();
    match run(&ctx, endpoint, requests, patience, tries).await {
        Ok(report) if report.abandoned.is_some() => std::process::exit(2),
        Ok(_) => {}
        Err(e) => {
            eprintln!("async_lpclient: {e}");
            std::process::exit(1);
        }
    }
}
