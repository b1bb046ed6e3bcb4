//! `seqpeer`: a sender of sequence-numbered multipart messages and a receiver that checks them,
//! for fault tests: links cut and restored while messages flow (see `.ci/netns-faults`).
//!
//! Built as `target/debug/seqpeer` by `cargo build -p zerosock-testkit --bin seqpeer`:
//!
//! ```sh
//! seqpeer <push|pub> (--bind <ep> | --connect <ep>) [--count N] [--rate R] [options]
//! seqpeer <pull|sub> (--bind <ep> | --connect <ep>) [--count N] [--gaps RULE] [options]
//! ```
//!
//! * Message `seq` (0, 1, ... N-1) has `--parts` frames (default 3); frame `i` is the text
//!   `<seq> <i>/<parts>`, followed by `;` and `--size` bytes of padding when a size is given.
//!   Every frame carries the sequence number, so a torn message (frames of two messages
//!   joined, or a message missing frames) is seen as such.
//! * The sender waits until a connection has completed its handshake (and 200 ms more, for a
//!   SUB's subscription to arrive), then sends `--count` messages at `--rate` per second
//!   (0: as fast as it can), catching up at full speed after a send that blocked. A send
//!   blocked longer than `--send-timeout` ms fails the run. At the end it closes and waits
//!   up to `--linger` ms for the messages to go out.
//! * The receiver stops after message `count - 1` (then drains for 300 ms, to see anything
//!   arriving late), or after `--idle-timeout` ms without a message. It checks:
//!   no duplicate, no reordering, no torn or malformed message, the last message received,
//!   and gaps (sequence numbers never received) as `--gaps` allows: `none`; `per-disconnect`
//!   (default for pull): at most one run of consecutive missing numbers per disconnection the
//!   receiver saw before the last message; `any` (default for sub).
//!
//! Options, with their defaults: `--count 10000`, `--parts 3`, `--size 0`, `--linger 10000`;
//! `--hwm N` (SNDHWM and RCVHWM), `--heartbeat-ivl`, `--heartbeat-timeout`,
//! `--heartbeat-ttl`, `--reconnect-ivl` (ms; the library's defaults when not given); for the
//! sender `--rate 1000`, `--send-timeout 20000`; for the receiver `--gaps`,
//! `--idle-timeout 20000`, `--stall 500`.
//!
//! Why a PULL may see one gap per disconnection: when a connection dies with messages
//! already handed to it (written into the kernel's send buffer, or taken from the queue into
//! the connection's write batch), those messages die with it: ZMTP has no acknowledgement, so
//! nothing can tell the sender which of them arrived. Messages still queued on the connecting
//! side are delivered after the reconnect; a binding PUSH drops the queue it held for a peer
//! that is gone. Either way the lost messages are consecutive, so each disconnection costs at
//! most one run.
//!
//! Both roles set heartbeats, HWM and reconnect interval from the options below, and report
//! the socket's monitor events. Everything they report goes to standard output, one line
//! per fact, `seqpeer <what> key=value...`, times `t=` in milliseconds since the Unix epoch
//! (so processes in different network namespaces of one host can be compared):
//!
//! * `seqpeer start role=<r> t=<ms>`: the receiver is ready / the sender starts sending.
//! * `seqpeer event t=<ms> kind=<kind> endpoint=<ep> [detail=<..>]`: a monitor event
//!   (`connected`, `accepted`, `handshake_succeeded`, `disconnected`, `connect_retried`, ...).
//! * `seqpeer end t=<ms> sent=<n>`: the sender has sent its last message and closes.
//! * `seqpeer blocked from=<ms> to=<ms> seq=<n>`: a send that waited at least 200 ms.
//! * `seqpeer stall from=<ms> to=<ms> before=<seq> after=<seq>`: no message for more than
//!   `--stall` ms (default 500) between two messages.
//! * `seqpeer gap t=<ms> after=<seq> next=<seq> missing=<n>`, `seqpeer dup ...`,
//!   `seqpeer reorder ...`, `seqpeer torn ...`: as seen (the first 20 of each are printed).
//! * `seqpeer summary role=<r> ... result=ok|fail [reason=<a,b>]`: the last line. A sender
//!   reports `sent`, `disconnects`, `handshakes`, `max_block_ms`; a receiver `received`,
//!   `expected`, `gaps` (missing numbers below the highest received), `gap_runs`,
//!   `tail_missing`, `dups`, `reorders`, `torn`, `malformed`, `disconnects` (before the last
//!   message), `handshakes`, `last_seq`.
//!
//! Exit status: 0 when every check holds, 1 when one fails (or the socket fails), 2 for bad
//! arguments.

mod args;
mod messages;
mod monitor;
mod receiver;
mod report;
mod sender;
mod socket;

use args::{parse, USAGE};
use receiver::receive;
use report::report;
use sender::send;
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let args = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("seqpeer: {e}\n{USAGE}");
            exit(2);
        }
    };
    let outcome = if args.role.sends() {
        send(&args)
    } else {
        receive(&args)
    };
    match outcome {
        Ok(true) => {}
        Ok(false) => exit(1),
        Err(e) => {
            eprintln!("seqpeer: {e}");
            report!("summary role={} result=fail reason=error", args.role.name());
            exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use args::Args;
    use std::thread;

    fn args(line: &str) -> Args {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv).unwrap()
    }

    #[test]
    fn a_clean_run_passes_every_check() {
        let path = std::env::temp_dir().join(format!("seqpeer-{}.ipc", std::process::id()));
        let ep = format!("ipc://{}", path.display());
        let common = "--count 2000 --parts 3 --size 16 --idle-timeout 10000";
        let pull = args(&format!("pull --bind {ep} --gaps none {common}"));
        let push = args(&format!("push --connect {ep} --rate 0 {common}"));
        let receiver = thread::spawn(move || receive(&pull));
        assert_eq!(send(&push), Ok(true));
        assert_eq!(receiver.join().unwrap(), Ok(true));
        let _ = std::fs::remove_file(path);
    }
}
