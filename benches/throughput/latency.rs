//! REQ/REP round trips, as libzmq's `local_lat` and `remote_lat`: the REP side in its own
//! thread with its own context (and so its own I/O thread), the REQ side in the calling thread
//! with another, so that a tcp or ipc message crosses the same threads as between two
//! processes. Each round trip's reply must echo the request (its sequence number and size).
//! The figure is half the mean round trip (RTT/2), libzmq's convention.

use crate::api::{Api, Fail, Kind, Opt};
use crate::{
    check, endpoint, peer_context, remove_ipc_file, stamp, timed_out, LINGER_MS, RCVTIMEO_MS,
};
use std::time::{Duration, Instant};

/// Transports of the latency rows.
pub(crate) const TRANSPORTS: [&str; 3] = ["tcp", "ipc", "inproc"];
/// Message size of the latency rows (at least 8 for the sequence number).
pub(crate) const SIZE: usize = 8;
/// Round trips per run in a full run: enough to average out a slow wake-up, few enough that
/// the alternating runs see the same machine.
pub(crate) fn round_trips(transport: &str) -> u64 {
    if transport == "inproc" {
        10_000
    } else {
        2_000
    }
}

/// Row name for one transport.
pub(crate) fn row_name(transport: &str) -> String {
    format!("{transport}/lat-{SIZE}B")
}

/// RTT/2 of `round_trips` REQ/REP exchanges over `transport`.
pub(crate) fn run<A: Api>(transport: &str, round_trips: u64) -> Result<Duration, String> {
    let rep_ctx = A::context();
    let rep = A::socket(&rep_ctx, Kind::Rep)?;
    A::set(&rep, Opt::RcvTimeo(RCVTIMEO_MS))?;
    A::set(&rep, Opt::Linger(LINGER_MS))?;
    let ep = A::bind(&rep, &endpoint(transport, A::LIB))?;
    let req_ctx = peer_context::<A>(&rep_ctx, transport);
    let echo = std::thread::spawn(move || -> Result<(), String> {
        let mut msg = A::msg();
        for seq in 0..round_trips {
            match A::recv(&rep, &mut msg) {
                Ok(()) => check(&msg, SIZE, seq)?,
                Err(Fail::Again) => return Err(timed_out(seq, round_trips)),
                Err(Fail::Other(e)) => return Err(format!("{} REP recv: {e}", A::name())),
            }
            A::send(&rep, &msg, false)
                .map_err(|e| format!("{} REP send: {}", A::name(), e.describe()))?;
        }
        Ok(())
    });

    let req = A::socket(&req_ctx, Kind::Req)?;
    A::set(&req, Opt::RcvTimeo(RCVTIMEO_MS))?;
    A::set(&req, Opt::Linger(LINGER_MS))?;
    A::connect(&req, &ep)?;
    let mut buf = [0x5au8; SIZE];
    let mut msg = A::msg();
    let result = (|| -> Result<Duration, String> {
        let mut start = Instant::now();
        for seq in 0..round_trips {
            stamp(&mut buf, seq);
            A::send(&req, &buf, false)
                .map_err(|e| format!("{} REQ send: {}", A::name(), e.describe()))?;
            match A::recv(&req, &mut msg) {
                Ok(()) => check(&msg, SIZE, seq)?,
                Err(Fail::Again) => return Err(timed_out(seq, round_trips)),
                Err(Fail::Other(e)) => return Err(format!("{} REQ recv: {e}", A::name())),
            }
            if seq == 0 {
                // The first round trip includes the connection's set-up.
                start = Instant::now();
            }
        }
        Ok(start.elapsed() / (2 * (round_trips - 1).max(1) as u32))
    })();
    drop(req);
    let echoed = echo
        .join()
        .unwrap_or_else(|_| Err(format!("{} REP thread panicked", A::name())));
    remove_ipc_file(&ep);
    let latency = result?;
    echoed?;
    Ok(latency)
}
