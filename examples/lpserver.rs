//! Lazy Pirate server, from chapter 4 of the ZeroMQ guide: a REP socket that echoes each
//! request back, and that can be told to fail the way real servers do, so that `lpclient`
//! has something to be reliable about.
//!
//! ```sh
//! lpserver [endpoint] [crash-on] [slow-on] [slow-ms]
//! ```
//!
//! Binds `endpoint` (default `tcp://*:5555`) and echoes requests. It receives request number
//! `crash-on` (default 8, 0 for never) and then stops without answering, as if it had
//! crashed. It answers request number `slow-on` (default 4, 0 for never) only after
//! `slow-ms` milliseconds (default 3000, longer than `lpclient` waits), as if it were
//! overloaded. Requests are numbered as they arrive, from 1; a request the client sent again
//! has a number of its own. The guide's server picks its failures at random; here they are
//! arguments, so that a run can be repeated.

use std::thread;
use std::time::Duration;
use zerosock::{Context, Error, Result, SocketType};

/// How the server fails, by request number: requests are numbered as they arrive, from 1,
/// and one sent again counts again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// The request the server receives and then stops on, leaving it unanswered.
    pub crash_on: Option<u64>,
    /// The request the server answers only after `delay`.
    pub slow_on: Option<u64>,
    /// How long the slow request waits for its answer.
    pub delay: Duration,
}

/// Echoes requests on a REP socket bound to `endpoint`, failing as `faults` says, until it
/// crashes or the context terminates; returns how many answers it sent.
pub fn run(ctx: &Context, endpoint: &str, faults: Faults) -> Result<u64> {
    let server = ctx.socket(SocketType::Rep)?;
    server.bind(endpoint)?;
    let mut received = 0;
    let mut answered = 0;
    loop {
        let request = match server.recv(0) {
            Ok(m) => m,
            Err(Error::Terminated) => break,
            Err(e) => return Err(e),
        };
        received += 1;
        let text = String::from_utf8_lossy(&request).into_owned();
        if faults.crash_on == Some(received) {
            // Returning drops the socket, as a crash closes it.
            println!("Crashing on request [{text}]");
            break;
        }
        if faults.slow_on == Some(received) {
            println!("Overloaded: request [{text}] waits {:?}", faults.delay);
            thread::sleep(faults.delay);
        }
        println!("Echoing request [{text}]");
        match server.send(request, 0) {
            Ok(()) => answered += 1,
            Err(Error::Terminated) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(answered)
}

/// The request number in argument `index`, `default` when it is absent; 0 means never.
fn request_number(args: &[String], index: usize, default: u64) -> Option<u64> {
    let n = args
        .get(index)
        .map_or(default, |n| n.parse().expect("a request number"));
    (n > 0).then_some(n)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://*:5555", String::as_str);
    let faults = Faults {
        crash_on: request_number(&args, 2, 8),
        slow_on: request_number(&args, 3, 4),
        delay: Duration::from_millis(
            args.get(4)
                .map_or(3000, |ms| ms.parse().expect("slow-ms: a number")),
        ),
    };
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, faults) {
        eprintln!("lpserver: {e}");
        std::process::exit(1);
    }
}
