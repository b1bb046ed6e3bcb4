//! What the peer prints: one line per fact on standard output, and the verdict of its summary.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: comparable across processes on one host.
pub(crate) fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Prints one report line; standard output is line buffered, so a script reading it sees
/// each line at once, and lines from two threads never mix.
macro_rules! report {
    ($($arg:tt)*) => { println!("seqpeer {}", format_args!($($arg)*)) };
}
pub(crate) use report;

/// The end of a summary line: `result=ok`, or `result=fail` with the failed checks.
pub(crate) fn verdict(failures: &[&str]) -> String {
    if failures.is_empty() {
        "result=ok".into()
    } else {
        format!("result=fail reason={}", failures.join(","))
    }
}
