//! Argument handling shared by the perf tools. Each tool stays one program with libzmq's
//! arguments and output; only the parsing and error exits live here.
// Each tool uses its own subset.
#![allow(dead_code)]

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

/// Reports a failed call the way libzmq's tools do and exits 1.
pub fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("error in {what}: {e}");
    exit(1);
}
