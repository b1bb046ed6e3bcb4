//! The sending role (PUSH or PUB): waits for a peer, then sends the numbered messages at the
//! given rate and reports the sends that blocked.

use crate::args::Args;
use crate::messages::frames;
use crate::monitor::{watch, Counters};
use crate::report::{now_ms, report, verdict};
use crate::socket::{attach, open};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use zerosock::{Context, Error};

/// A send that waits this long is reported.
const BLOCK_REPORT: Duration = Duration::from_millis(200);
/// After the handshake, time for a SUB's subscription to reach the PUB.
const SETTLE: Duration = Duration::from_millis(200);
/// How long the sender waits for its first peer.
const PEER_WAIT: Duration = Duration::from_secs(15);

/// Runs the sending role; `Ok(true)` when every check held, `Err` when the socket failed.
pub(crate) fn send(args: &Args) -> Result<bool, String> {
    let ctx = Context::new();
    let socket = open(&ctx, args).map_err(|e| format!("socket: {e}"))?;
    let counters = Arc::new(Counters::default());
    let watcher = watch(socket.monitor(), counters.clone());
    attach(&socket, &args.attach)?;

    let waited = Instant::now();
    while counters.handshakes.load(Ordering::Acquire) == 0 {
        if waited.elapsed() > PEER_WAIT {
            return Err(format!("no peer within {} s", PEER_WAIT.as_secs()));
        }
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(SETTLE);

    report!("start role={} t={}", args.role.name(), now_ms());
    let start = Instant::now();
    let mut max_block = Duration::ZERO;
    let mut failure = None;
    let mut sent = 0u64;
    for seq in 0..args.count {
        // Rate 0: no pacing.
        if let Some(ns) = seq.saturating_mul(1_000_000_000).checked_div(args.rate) {
            let due = start + Duration::from_nanos(ns);
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        }
        let msg = frames(seq, args.parts, args.size);
        let (before, before_ms) = (Instant::now(), now_ms());
        match socket.send_multipart(msg.iter().map(String::as_str), 0) {
            Ok(()) => sent += 1,
            Err(Error::TimedOut) => {
                failure = Some("send_timeout");
                report!("send_timeout seq={seq} ms={}", args.send_timeout);
                break;
            }
            Err(e) => return Err(format!("send {seq}: {e}")),
        }
        let took = before.elapsed();
        max_block = max_block.max(took);
        if took >= BLOCK_REPORT {
            report!("blocked from={before_ms} to={} seq={seq}", now_ms());
        }
    }
    let duration = start.elapsed();
    report!("end t={} sent={sent}", now_ms());
    // Closing waits (up to LINGER) until what was sent is on the wire.
    drop(socket);
    drop(ctx);
    counters.stop.store(true, Ordering::Release);
    let _ = watcher.join();
    let failures: Vec<&str> = failure.into_iter().collect();
    report!(
        "summary role={} sent={sent} disconnects={} handshakes={} max_block_ms={} duration_ms={} {}",
        args.role.name(),
        counters.disconnects.load(Ordering::Acquire),
        counters.handshakes.load(Ordering::Acquire),
        max_block.as_millis(),
        duration.as_millis(),
        verdict(&failures),
    );
    Ok(failures.is_empty())
}
