//! PUB fan-out: one PUB (bound, in the calling thread) to `SUBSCRIBERS` SUBs (connected, one
//! thread each), all in one context with one I/O thread, over tcp. Both HWMs are 0 (no
//! limit), so a PUB never drops and any gap in a subscriber's sequence fails the run.
//!
//! Start: every SUB subscribes to everything; the publisher sends a one-byte probe every
//! millisecond until each SUB has received one (so each is connected and its subscription
//! has reached the publisher), then starts the clock and sends `published` messages
//! numbered 0, 1, ... Each SUB skips the probes still queued before message 0, then checks
//! size and sequence of every message (a gap counts as drops and fails the run; a repeat or
//! a step back fails it at once) and notes when its last one arrives. The rate is
//! `published × SUBSCRIBERS` over the time from the first send to the last subscriber's
//! last arrival.

use crate::api::{Api, Fail, Kind, Opt};
use crate::{cpu_per_msg, cpu_ticks, peer_context, stamp, Sample, LINGER_MS, RCVTIMEO_MS};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const SUBSCRIBERS: u64 = 8;
/// (size, label, messages published per run in a full run).
pub(crate) const SIZES: [(usize, &str, u64); 2] = [(64, "64B", 200_000), (4096, "4KiB", 25_000)];
/// The probe's body; run messages are at least 8 bytes (they carry their sequence number).
const PROBE: &[u8] = b"?";
const PROBE_EVERY: Duration = Duration::from_millis(1);

/// What one subscriber saw.
struct Received {
    last_arrival: Instant,
    drops: u64,
}

/// Row name for one size.
pub(crate) fn row_name(label: &str) -> String {
    format!("tcp/fanout{SUBSCRIBERS}-{label}")
}

pub(crate) fn run<A: Api>(size: usize, published: u64) -> Result<Sample, String> {
    let ctx = A::context();
    let publisher = A::socket(&ctx, Kind::Pub)?;
    A::set(&publisher, Opt::SndHwm(0))?;
    A::set(&publisher, Opt::Linger(LINGER_MS))?;
    let ep = A::bind(&publisher, "tcp://127.0.0.1:*")?;

    // The subscribers share a context of their own (one process of subscribers).
    let sub_ctx = peer_context::<A>(&ctx, "tcp");
    let ready = Arc::new(AtomicUsize::new(0));
    let mut subscribers: Vec<JoinHandle<Result<Received, String>>> = Vec::new();
    for index in 0..SUBSCRIBERS {
        let sub = A::socket(&sub_ctx, Kind::Sub)?;
        A::set(&sub, Opt::RcvHwm(0))?;
        A::set(&sub, Opt::RcvTimeo(RCVTIMEO_MS))?;
        A::set(&sub, Opt::Subscribe(b""))?;
        A::connect(&sub, &ep)?;
        let ready = ready.clone();
        subscribers.push(std::thread::spawn(move || {
            subscribe::<A>(&sub, size, published, &ready)
                .map_err(|e| format!("{} subscriber {index}: {e}", A::name()))
        }));
    }

    let started = probe::<A>(&publisher, &ready, &subscribers).and_then(|()| {
        let cpu_before = cpu_ticks();
        let start = Instant::now();
        let mut buf = vec![0x5au8; size];
        for seq in 0..published {
            stamp(&mut buf, seq);
            A::send(&publisher, &buf, false)
                .map_err(|e| format!("{} publish of message {seq}: {}", A::name(), e.describe()))?;
        }
        Ok((cpu_before, start))
    });

    // The publisher stays open until every subscriber is done; after a failure to start,
    // the subscribers end at their receive timeout.
    let results: Vec<Result<Received, String>> = subscribers
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(format!("{} subscriber panicked", A::name())))
        })
        .collect();
    let cpu_after = cpu_ticks();
    drop(publisher);
    drop(ctx);
    drop(sub_ctx);

    let (cpu_before, start) = started?;
    let mut last = start;
    let mut drops = 0;
    for r in results {
        let r = r?;
        last = last.max(r.last_arrival);
        drops += r.drops;
    }
    if drops > 0 {
        return Err(format!(
            "{} subscribers missed {drops} messages with HWM 0 (no limit)",
            A::name()
        ));
    }
    let delivered = published * SUBSCRIBERS;
    Ok(Sample {
        rate: delivered as f64 / (last - start).as_secs_f64().max(1e-9),
        cpu_per_msg: cpu_per_msg(cpu_before, cpu_after, delivered),
    })
}

/// Sends probes until every subscriber has received one.
fn probe<A: Api>(
    publisher: &A::Sock,
    ready: &AtomicUsize,
    subscribers: &[JoinHandle<Result<Received, String>>],
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_millis(RCVTIMEO_MS as u64 / 2);
    while ready.load(Ordering::Acquire) < subscribers.len() {
        if subscribers.iter().any(|h| h.is_finished()) {
            return Err(format!("{} subscriber ended before the run", A::name()));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}: only {} of {} subscribers received a probe",
                A::name(),
                ready.load(Ordering::Acquire),
                subscribers.len()
            ));
        }
        A::send(publisher, PROBE, false)
            .map_err(|e| format!("{} probe: {}", A::name(), e.describe()))?;
        std::thread::sleep(PROBE_EVERY);
    }
    Ok(())
}

fn subscribe<A: Api>(
    sub: &A::Sock,
    size: usize,
    published: u64,
    ready: &AtomicUsize,
) -> Result<Received, String> {
    let mut msg = A::msg();
    let recv = |msg: &mut A::Msg, what: &dyn Fn() -> String| match A::recv(sub, msg) {
        Ok(()) => Ok(()),
        Err(Fail::Again) => Err(format!("{} did not arrive within {RCVTIMEO_MS} ms", what())),
        Err(Fail::Other(e)) => Err(format!("receiving {}: {e}", what())),
    };

    recv(&mut msg, &|| "the first probe".to_string())?;
    if &msg[..] != PROBE {
        return Err(format!("expected a probe, got {} bytes", msg.len()));
    }
    ready.fetch_add(1, Ordering::AcqRel);

    let mut next = 0u64;
    let mut drops = 0u64;
    while next < published {
        recv(&mut msg, &|| format!("message {next} of {published}"))?;
        if next == 0 && &msg[..] == PROBE {
            continue;
        }
        if msg.len() != size {
            return Err(format!(
                "message after {next} has {} bytes, expected {size}",
                msg.len()
            ));
        }
        let seq = u64::from_le_bytes(msg[..8].try_into().unwrap());
        if seq < next || seq >= published {
            return Err(format!("expected message {next}, got {seq}"));
        }
        drops += seq - next;
        next = seq + 1;
    }
    Ok(Received {
        last_arrival: Instant::now(),
        drops,
    })
}
