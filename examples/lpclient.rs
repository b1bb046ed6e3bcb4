//! Lazy Pirate client, from chapter 4 of the ZeroMQ guide: reliable request-reply built on
//! the client side alone. A REQ socket sends each request and waits a limited time for the
//! reply; when none comes, the client closes the socket, opens a fresh one and sends the
//! request again, and after a few tries it gives up on the server.
//!
//! ```sh
//! lpclient [endpoint] [requests] [timeout-ms] [tries]
//! ```
//!
//! Connects to `endpoint` (default `tcp://localhost:5555`) and sends the requests `1`, `2`,
//! ... up to `requests` (default 10), each of which the server must echo. Waits `timeout-ms`
//! (default 2500) for each reply, and sends a request at most `tries` times (default 3)
//! before it abandons the server, exiting with status 2. Pair it with `lpserver`;
//! `async_lpclient` is the same client as a tokio task.
//!
//! Why a fresh socket: a REQ socket that sent a request must have its reply before it may
//! send again. zerosock, like libzmq, can lift that rule on one socket (`set_req_relaxed`,
//! with `set_req_correlate` to discard the late reply to an earlier try), but this client
//! does what the guide does: it closes the socket with LINGER 0, which throws away the
//! request still queued for a server that is not there, so that a server coming back does
//! not get the same request twice, and starts over with a new connection.

use std::time::Duration;
use zerosock::{Context, Error, Result, Socket, SocketType};

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

/// A fresh REQ socket connected to `endpoint` that waits at most `patience` for a reply and
/// drops what it has not sent when it closes.
fn connect(ctx: &Context, endpoint: &str, patience: Duration) -> Result<Socket> {
    let client = ctx.socket(SocketType::Req)?;
    client.set_rcvtimeo(i32::try_from(patience.as_millis()).unwrap_or(i32::MAX))?;
    client.set_linger(0)?;
    client.connect(endpoint)?;
    Ok(client)
}

/// Sends the requests `1` to `requests` to `endpoint`, each at most `tries` times, waiting
/// `patience` for each reply.
pub fn run(
    ctx: &Context,
    endpoint: &str,
    requests: u32,
    patience: Duration,
    tries: u32,
) -> Result<Report> {
    let mut report = Report::default();
    let mut client = connect(ctx, endpoint, patience)?;
    for sequence in 1..=requests {
        let request = sequence.to_string();
        client.send(request.as_str(), 0)?;
        let mut tries_left = tries.max(1);
        loop {
            // Out of patience (RCVTIMEO), the receive fails with TimedOut.
            let reply = client.recv(0);
            match reply {
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
            client = connect(ctx, endpoint, patience)?;
            client.send(request.as_str(), 0)?;
            report.resent += 1;
        }
    }
    Ok(report)
}

fn main() {
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
    match run(&ctx, endpoint, requests, patience, tries) {
        Ok(report) if report.abandoned.is_some() => std::process::exit(2),
        Ok(_) => {}
        Err(e) => {
            eprintln!("lpclient: {e}");
            std::process::exit(1);
        }
    }
}
