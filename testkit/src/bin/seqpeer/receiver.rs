//! The receiving role (PULL or SUB): books every message, reports each anomaly as it is
//! seen, and judges the run by the gap rule.

use crate::args::{Args, GapRule};
use crate::messages::{classify, Received};
use crate::monitor::{watch, Counters};
use crate::report::{now_ms, report, verdict};
use crate::socket::{attach, open};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zerosock::{Context, Error, Msg};

/// How many lines of each kind of anomaly are printed (all are counted).
const REPORT_LIMIT: u64 = 20;
/// How long the receiver keeps reading after the last message.
const DRAIN_MS: i32 = 300;

/// The receiver's bookkeeping: which numbers were seen, and every anomaly.
struct Tally {
    seen: Vec<bool>,
    highest: Option<u64>,
    received: u64,
    dups: u64,
    reorders: u64,
    torn: u64,
    malformed: u64,
    gaps_seen: u64,
    last: Option<(Instant, u128, u64)>,
    stall: Duration,
}

impl Tally {
    fn new(count: u64, stall: Duration) -> Tally {
        Tally {
            seen: vec![false; count as usize],
            highest: None,
            received: 0,
            dups: 0,
            reorders: 0,
            torn: 0,
            malformed: 0,
            gaps_seen: 0,
            last: None,
            stall,
        }
    }

    /// Books one message; returns its number if it was whole.
    fn book(&mut self, msg: &[Msg], parts: usize) -> Option<u64> {
        let (now, t) = (Instant::now(), now_ms());
        let seq = match classify(msg, parts) {
            Received::Whole(seq) if seq < self.seen.len() as u64 => seq,
            Received::Whole(seq) => {
                self.malformed += 1;
                if self.malformed <= REPORT_LIMIT {
                    report!("malformed t={t} what=\"number {seq} beyond --count\"");
                }
                return None;
            }
            Received::Torn(what) => {
                self.torn += 1;
                if self.torn <= REPORT_LIMIT {
                    report!("torn t={t} what=\"{what}\"");
                }
                return None;
            }
            Received::Malformed(what) => {
                self.malformed += 1;
                if self.malformed <= REPORT_LIMIT {
                    report!("malformed t={t} what=\"{what}\"");
                }
                return None;
            }
        };
        if let Some((at, at_ms, before)) = self.last {
            if now.duration_since(at) > self.stall {
                report!("stall from={at_ms} to={t} before={before} after={seq}");
            }
        }
        self.last = Some((now, t, seq));
        self.received += 1;
        let highest = self.highest.unwrap_or(0);
        if self.seen[seq as usize] {
            self.dups += 1;
            if self.dups <= REPORT_LIMIT {
                report!("dup t={t} seq={seq} highest={highest}");
            }
            return Some(seq);
        }
        self.seen[seq as usize] = true;
        match self.highest {
            Some(h) if seq < h => {
                self.reorders += 1;
                if self.reorders <= REPORT_LIMIT {
                    report!("reorder t={t} seq={seq} highest={h}");
                }
            }
            _ => {
                let next_expected = self.highest.map_or(0, |h| h + 1);
                if seq > next_expected {
                    self.gaps_seen += 1;
                    if self.gaps_seen <= REPORT_LIMIT {
                        let after = self.highest.map_or("none".into(), |h| h.to_string());
                        report!(
                            "gap t={t} after={after} next={seq} missing={}",
                            seq - next_expected
                        );
                    }
                }
                self.highest = Some(seq);
            }
        }
        Some(seq)
    }

    /// `(missing numbers below the highest received, runs of them, missing after it)`.
    fn gaps(&self) -> (u64, u64, u64) {
        let Some(highest) = self.highest else {
            return (0, 0, self.seen.len() as u64);
        };
        let below = &self.seen[..=highest as usize];
        let missing = below.iter().filter(|s| !**s).count() as u64;
        let runs = below
            .iter()
            .enumerate()
            .filter(|&(i, s)| !*s && (i == 0 || below[i - 1]))
            .count() as u64;
        (missing, runs, self.seen.len() as u64 - 1 - highest)
    }
}

/// Runs the receiving role; `Ok(true)` when every check held, `Err` when the socket failed.
pub(crate) fn receive(args: &Args) -> Result<bool, String> {
    let ctx = Context::new();
    let socket = open(&ctx, args).map_err(|e| format!("socket: {e}"))?;
    let counters = Arc::new(Counters::default());
    let watcher = watch(socket.monitor(), counters.clone());
    attach(&socket, &args.attach)?;
    report!("start role={} t={}", args.role.name(), now_ms());

    let mut tally = Tally::new(args.count, args.stall);
    let mut draining = false;
    // Disconnections up to the last message: the one at the sender's close allows no gap.
    let mut disconnects = 0;
    let idle = loop {
        match socket.recv_multipart(0) {
            Ok(msg) => {
                if tally.book(&msg, args.parts) == Some(args.count - 1) && !draining {
                    draining = true;
                    disconnects = counters.disconnects.load(Ordering::Acquire);
                    socket
                        .set_rcvtimeo(DRAIN_MS)
                        .map_err(|e| format!("set RCVTIMEO: {e}"))?;
                }
            }
            // Timed out: idle for too long, or done draining after the last message.
            Err(Error::TimedOut) => break !draining,
            Err(e) => return Err(format!("recv: {e}")),
        }
    };
    drop(socket);
    drop(ctx);
    counters.stop.store(true, Ordering::Release);
    let _ = watcher.join();

    if !draining {
        disconnects = counters.disconnects.load(Ordering::Acquire);
    }
    let (gaps, gap_runs, tail_missing) = tally.gaps();
    let mut failures = Vec::new();
    if tally.dups > 0 {
        failures.push("dups");
    }
    if tally.reorders > 0 {
        failures.push("reorders");
    }
    if tally.torn > 0 {
        failures.push("torn");
    }
    if tally.malformed > 0 {
        failures.push("malformed");
    }
    if idle || tail_missing > 0 {
        failures.push("last_not_received");
    }
    let gaps_ok = match args.gaps {
        GapRule::None => gaps == 0,
        GapRule::PerDisconnect => gap_runs <= disconnects,
        GapRule::Any => true,
    };
    if !gaps_ok {
        failures.push("gaps");
    }
    report!(
        "summary role={} received={} expected={} gaps={gaps} gap_runs={gap_runs} \
tail_missing={tail_missing} dups={} reorders={} torn={} malformed={} disconnects={disconnects} \
handshakes={} last_seq={} {}",
        args.role.name(),
        tally.received,
        args.count,
        tally.dups,
        tally.reorders,
        tally.torn,
        tally.malformed,
        counters.handshakes.load(Ordering::Acquire),
        tally.highest.map_or("none".into(), |h| h.to_string()),
        verdict(&failures),
    );
    Ok(failures.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::frames;

    #[test]
    fn tally_counts_gaps_dups_and_reorders() {
        let mut t = Tally::new(10, Duration::from_secs(60));
        for seq in [0, 1, 4, 5, 5, 3, 8] {
            let m: Vec<Msg> = frames(seq, 1, 0).into_iter().map(Msg::from).collect();
            t.book(&m, 1);
        }
        assert_eq!((t.received, t.dups, t.reorders), (7, 1, 1));
        // Missing below 8: 2, 6, 7 in two runs; 9 is missing after it.
        assert_eq!(t.gaps(), (3, 2, 1));
    }
}
