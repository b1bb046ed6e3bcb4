//! Argument handling and error reporting shared by the perf tools. Each tool stays one
//! program with libzmq's arguments and output; only the parsing and error exits live here.
// Each tool uses its own subset.
#![allow(dead_code)]

use std::fmt::Display;
use std::process::exit;

/// The parsed command line: an optional endpoint, then size and count.
pub struct Args {
    /// `bind-to` / `connect-to`, for the tools that take one.
    pub endpoint: String,
    /// Message size in bytes.
    pub size: usize,
    /// Message or round-trip count (at least 1).
    pub count: u64,
}

/// Parses `[endpoint] <size> <count>`; prints `usage` and exits 1 on anything else.
pub fn args(usage: &str, with_endpoint: bool) -> Args {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let bad = || -> ! {
        eprintln!("usage: {usage}");
        exit(1);
    };
    let (endpoint, rest) = match (with_endpoint, argv.as_slice()) {
        (true, [endpoint, rest @ ..]) => (endpoint.clone(), rest),
        (false, rest) => (String::new(), rest),
        _ => bad(),
    };
    let [size, count] = rest else { bad() };
    let Ok(size) = size.parse::<usize>() else {
        bad()
    };
    let count = match count.parse::<u64>() {
        Ok(n) if n >= 1 => n,
        _ => bad(),
    };
    Args {
        endpoint,
        size,
        count,
    }
}

/// A failed call, said the way libzmq's tools say it: `error in <what>: <why>`.
pub fn error(what: &str, e: impl Display) -> String {
    format!("error in {what}: {e}")
}

/// `error` for the closure of a `map_err`.
pub fn at<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| error(what, e)
}

/// Reports a failed call the way libzmq's tools do and exits 1.
pub fn fail(what: &str, e: impl Display) -> ! {
    exit_with(error(what, e))
}

/// Prints `error` and exits 1: how every tool ends on a failure.
pub fn exit_with(error: String) -> ! {
    eprintln!("{error}");
    exit(1);
}

/// The check every receiving tool makes: a message of any other size is an error.
pub fn check_size(index: u64, got: usize, expected: usize) -> Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "message of incorrect size received (message {index}: {got} bytes, expected \
             {expected})"
        ))
    }
}

/// Longest gap between two messages once the first has arrived, and longest wait for a
/// reply: a silent peer is reported as an error instead of hanging.
pub const STALL_TIMEOUT_MS: i32 = 30_000;

/// Receives `count` messages of `size` bytes on `pull`, as libzmq's `local_thr` does: into
/// one message again and again, each checked for its size. The first may take as long as
/// `pull`'s RCVTIMEO allows (the sender may start later); after it, a gap of more than
/// [`STALL_TIMEOUT_MS`] is an error. Returns the whole microseconds, at least one (as
/// libzmq's stopwatch), from the first message's arrival to the last's.
pub fn receive(pull: &zerosock::Socket, size: usize, count: u64) -> Result<u64, String> {
    let mut msg = zerosock::Msg::new();
    let mut one = |index: u64| {
        pull.recv_into(&mut msg, 0).map_err(|e| match e {
            zerosock::Error::TimedOut => format!(
                "error in recv: no message for {STALL_TIMEOUT_MS} ms after {index} of {count} \
                 were received"
            ),
            e => error("recv", e),
        })?;
        check_size(index, msg.len(), size)
    };
    one(0)?;
    let watch = std::time::Instant::now();
    pull.set_rcvtimeo(STALL_TIMEOUT_MS)
        .map_err(at("set_rcvtimeo"))?;
    for index in 1..count {
        one(index)?;
    }
    Ok((watch.elapsed().as_micros() as u64).max(1))
}
