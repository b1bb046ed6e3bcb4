//! zerosock against libzmq (through the `zmq` crate), side by side in one run:
//!
//! * PUSH/PULL throughput over tcp, ipc and inproc at 8 B, 64 B, 1 KiB and 64 KiB, plus a raw
//!   `std::net` TCP loopback stream as the ceiling for the 64 KiB tcp row (the best of
//!   64 KiB, 256 KiB and 1 MiB writes, read 1 MiB at a time, run in each of that row's
//!   rounds) (`tcp/8B`, ...). The 64 KiB rows also send without copies, on a second line:
//!   owned buffers (a fresh `vec![0; size]` per send that the library takes over, both
//!   libraries: `zmq::Message::from(Vec<u8>)` is libzmq's `zmq_msg_init_data`), bodies built
//!   in buffers the library gives out (zeroed, the sequence number written in: libzmq's
//!   `zmq_msg_init_size`, as its perf tools send, against zerosock's `Msg::buffer`), and shared
//!   bodies (zerosock only: `Bytes` clones of a few buffers, as the raw stream writes its
//!   buffer again and again; the `zmq` crate has no send of a buffer shared between sends),
//!   with zerosock's share of the raw stream for each way of sending over tcp; over inproc a
//!   third line gives the rate at which one thread makes such bodies alone (copies into a
//!   warm buffer, fresh `vec![0; size]`s), the ceiling of a sender that makes them so;
//! * PUB fan-out, one PUB to 8 SUBs over tcp at 64 B and 4 KiB (`tcp/fanout8-64B`, ...);
//! * 100 DEALERs to one ROUTER over tcp at 64 B (`tcp/dealer100-64B`);
//! * REQ/REP latency over tcp, ipc and inproc, RTT/2 of 8 B round trips (`tcp/lat-8B`, ...),
//!   a separate table under the main one;
//! * memory held at the high-water mark, a separate table under the main one
//!   (`rss/tcp-hwm1000-64KiB`, ...);
//! * last, a summary: one line per target of the performance goals (2x libzmq's msg/s, 90 %
//!   of the raw TCP stream, 0.7x libzmq's latency, memory within the queues plus fixed
//!   buffers), this run's figures against the goal, and whether the run met it; under it, for
//!   the rows whose bodies are copied or written per message (64 KiB), what making them
//!   alone allows: the raw stream with a copying thread, and over inproc, for each way of
//!   making the bodies, the share of the one-thread rate that 2x libzmq needs, and each
//!   library's own time per message beyond making its body.
//!
//! ```sh
//! cargo bench --bench throughput              # everything
//! cargo bench --bench throughput -- tcp       # rows whose name contains "tcp"
//! cargo bench --bench throughput -- 64KiB     # ... or "64KiB"
//! cargo bench --bench throughput -- fanout    # ... or "fanout", "dealer", "rss"
//! ZS_BENCH_QUICK=1 cargo bench --bench throughput   # smoke run: small counts, one round
//! ```
//!
//! Method, the same for both libraries (each row is one piece of code run against either; the
//! fan-out, dealer and memory rows reach the libraries through the `api::Api` trait): fresh
//! contexts with one I/O thread each per run, one per side as libzmq's perf tools run each
//! side in its own process (inproc: one shared context, as it must be; the fan-out's 8 SUBs
//! share one, as do the 100 DEALERs), sockets with the same options, the same threads. Every
//! message carries its sequence number in its first 8 bytes, checked on arrival with the size,
//! so loss, reordering or truncation fails the run instead of flattering it. Senders keep their
//! sockets open until the receivers have everything, so teardown is neither timed nor a source
//! of loss (see `keep_open_until_done`). Rows alternate zerosock and libzmq runs (who goes
//! first alternates too) and keep the best rate of each side.
//!
//! * PUSH/PULL (`pushpull`): PULL binds in the main thread, PUSH connects and sends from a
//!   second thread, a fresh message per send (copied from one buffer, as libzmq's `remote_thr`
//!   allocates one per send). The clock runs from the first message's arrival to the last's (as
//!   libzmq's `local_thr`).
//! * Fan-out (`fanout`): SNDHWM and RCVHWM 0 (no limit) so nothing may be dropped; each SUB
//!   receives in its own thread. The publisher sends one-byte probes until every SUB has
//!   received one (connected and subscribed), then starts the clock and publishes; the rate is
//!   messages delivered (published × 8) over the time from the first send to the last
//!   subscriber's last arrival. A gap in any subscriber's sequence fails the run.
//! * DEALER→ROUTER (`dealer`): default HWMs; 4 threads drive 25 DEALERs each, sending
//!   round-robin over them. Every DEALER says hello first; the clock starts when the ROUTER has
//!   all 100 hellos and runs to its last arrival. The ROUTER checks each message's routing id
//!   against the DEALER index in its body, and each DEALER's sequence.
//! * Latency (`latency`): as libzmq's `local_lat`/`remote_lat`, REP echoes in its own thread
//!   and context, REQ sends and waits in the main thread with another context (inproc: one
//!   context). Five alternating runs per side; the median is shown (and the best), because a
//!   single slow wake-up on this kind of machine moves one run but not the median.
//! * Memory (`rss`): PUSH→PULL over tcp, the PULL never reads, the PUSH sends 64 KiB messages
//!   with DONTWAIT until the queues and the kernel buffers are full. Each cell runs in a child
//!   process (this binary re-run with `ZS_BENCH_RSS_CHILD` set) so that it has its own peak
//!   RSS; the growth from before the first message to `VmHWM` is compared with the two queues'
//!   worth, 2 × HWM × size.
//!
//! Options differ from the defaults only where a row needs it (the fan-out's HWMs, the memory
//! rows' HWM) or where a stuck run must fail instead of hanging: RCVTIMEO and SNDTIMEO of 10 s
//! and a LINGER of 2 s, identical for both libraries (they change nothing on the fast path). A
//! watchdog ends the process if a run overruns anyway.
//!
//! CPU per message is the process's user+sys time (all threads: senders, receivers, I/O
//! threads) over the run, read from `/proc/self/stat` (clock ticks, taken as 100 Hz, so short
//! runs are coarse), divided by the messages delivered; the lowest of the runs is shown.
//!
//! The 64 KiB rows swing from run to run on both sides because of the allocator, not the
//! libraries: the receiving thread frees bodies the sending thread allocated, glibc trims the
//! sender's arena with `madvise`, and the next allocations fault their pages back in.
//! `GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824` steadies them.

mod api;
mod dealer;
mod fanout;
mod latency;
mod pushpull;
mod rss;
mod summary;
mod table;
mod watchdog;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use summary::{Goal, Unit, Verdict};
use table::{main_rows, main_table, Row};
use watchdog::Watchdog;

const RCVTIMEO_MS: i32 = 10_000;
const SNDTIMEO_MS: i32 = 10_000;
const LINGER_MS: i32 = 2_000;
/// Longest one run may take, setup and teardown included, before the watchdog fires.
const RUN_DEADLINE: Duration = Duration::from_secs(120);
/// Clock ticks per second of `/proc/self/stat` (USER_HZ; 100 on every mainstream Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// Full runs divide counts by this under ZS_BENCH_QUICK.
const QUICK_DIVISOR: u64 = 20;
/// Raw TCP: bytes per measurement.
const RAW_TCP_BYTES: u64 = 1 << 30;

#[derive(Clone, Copy, PartialEq)]
enum Lib {
    Zerosock,
    Libzmq,
}

impl Lib {
    fn name(self) -> &'static str {
        match self {
            Lib::Zerosock => "zerosock",
            Lib::Libzmq => "libzmq",
        }
    }
}

/// One run's result.
#[derive(Clone, Copy)]
struct Sample {
    /// Messages delivered per second, over the clock the row describes.
    rate: f64,
    /// Process CPU seconds per message over the whole run.
    cpu_per_msg: Option<f64>,
}

fn main() {
    if let Ok(spec) = std::env::var(rss::CHILD_ENV) {
        rss::child_main(&spec);
    }
    // Cargo passes `--bench` to harness-less benches; anything else not starting with `-`
    // is the filter.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let quick = std::env::var("ZS_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let rounds = if quick { 1 } else { 3 };
    let divisor = if quick { QUICK_DIVISOR } else { 1 };
    let raw_bytes = if quick {
        RAW_TCP_BYTES / 16
    } else {
        RAW_TCP_BYTES
    };

    let matches = |name: &str| filter.as_deref().map_or(true, |f| name.contains(f));
    let all_rows = main_rows(divisor);
    let all_rss: Vec<(String, i32, usize)> = rss::ROWS
        .iter()
        .map(|&(hwm, size, label)| (rss::row_name(label), hwm, size))
        .collect();
    let rows: Vec<&Row> = all_rows.iter().filter(|r| matches(&r.name)).collect();
    let rss_rows: Vec<&(String, i32, usize)> = all_rss
        .iter()
        .filter(|(name, _, _)| matches(name))
        .collect();
    let all_lat: Vec<(String, &str)> = latency::TRANSPORTS
        .iter()
        .map(|&t| (latency::row_name(t), t))
        .collect();
    let lat_rows: Vec<&(String, &str)> = all_lat.iter().filter(|(n, _)| matches(n)).collect();
    if rows.is_empty() && rss_rows.is_empty() && lat_rows.is_empty() {
        let names: Vec<&str> = all_rows
            .iter()
            .map(|r| r.name.as_str())
            .chain(all_lat.iter().map(|(n, _)| n.as_str()))
            .chain(all_rss.iter().map(|(n, _, _)| n.as_str()))
            .collect();
        eprintln!(
            "no row matches {:?}; rows are named {}",
            filter.unwrap_or_default(),
            names.join(", ")
        );
        std::process::exit(1);
    }

    let watchdog = Watchdog::start();
    let started = Instant::now();
    println!(
        "zerosock vs libzmq {} (zmq crate), one context (one I/O thread) per side and run, inproc one{}",
        libzmq_version(),
        if quick {
            "  [ZS_BENCH_QUICK: small counts, 1 round]"
        } else {
            ""
        }
    );
    let mut failed = false;
    let mut verdicts = Vec::new();
    let mut notes = Vec::new();
    if !rows.is_empty() {
        failed |= main_table(
            &rows,
            rounds,
            raw_bytes,
            &watchdog,
            &mut verdicts,
            &mut notes,
        );
    }
    if !lat_rows.is_empty() {
        let lat_rounds = if quick { 1 } else { 5 };
        failed |= latency_table(&lat_rows, lat_rounds, divisor, &watchdog, &mut verdicts);
    }
    if !rss_rows.is_empty() {
        failed |= rss_table(&rss_rows, &watchdog, &mut verdicts);
    }
    summary::print(&verdicts, &notes);
    println!();
    println!("total time: {:.1} s", started.elapsed().as_secs_f64());
    if failed {
        eprintln!("error: at least one run failed (see above)");
        std::process::exit(1);
    }
}

/// Runs and prints the latency rows; true if any run failed.
fn latency_table(
    rows: &[&(String, &str)],
    rounds: usize,
    divisor: u64,
    watchdog: &Watchdog,
    verdicts: &mut Vec<Verdict>,
) -> bool {
    println!();
    println!(
        "REQ/REP latency, RTT/2 of {} B round trips, REP and REQ in separate contexts (inproc: \
         one); {rounds} alternating run(s) per side, median (best); ratio = zerosock/libzmq \
         median, lower is better",
        latency::SIZE
    );
    println!();
    println!(
        "{:<18} {:>9} {:>20} {:>20} {:>6}",
        "row", "trips", "zerosock RTT/2", "libzmq RTT/2", "ratio"
    );
    let mut failed = false;
    for (name, transport) in rows {
        let trips = (latency::round_trips(transport) / divisor).max(2);
        let mut runs: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut failures: [Option<String>; 2] = [None, None];
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Lib::Zerosock, Lib::Libzmq]
            } else {
                [Lib::Libzmq, Lib::Zerosock]
            };
            for lib in order {
                let side = lib as usize;
                watchdog.arm(&format!("{} {name}", lib.name()), RUN_DEADLINE);
                let result = match lib {
                    Lib::Zerosock => latency::run::<api::Zerosock>(transport, trips),
                    Lib::Libzmq => latency::run::<api::Libzmq>(transport, trips),
                };
                watchdog.disarm();
                match result {
                    Ok(d) => runs[side].push(d),
                    Err(e) => {
                        eprintln!("{} {name} round {}: FAILED: {e}", lib.name(), round + 1);
                        failures[side].get_or_insert(e);
                    }
                }
            }
        }
        failed |= failures.iter().any(Option::is_some);
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            (!v.is_empty()).then(|| (v[v.len() / 2], v[0]))
        };
        let (zs, lz) = (median(&mut runs[0]), median(&mut runs[1]));
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let show = |m: Option<(Duration, Duration)>| {
            m.map_or("FAILED".to_string(), |(med, best)| {
                format!("{:.2} us ({:.2})", us(med), us(best))
            })
        };
        let quotient = match (zs, lz) {
            (Some((a, _)), Some((b, _))) if !b.is_zero() => Some(us(a) / us(b)),
            _ => None,
        };
        let ratio = quotient.map_or("-".to_string(), |r| format!("{r:.2}"));
        let median_us = |m: Option<(Duration, Duration)>| {
            m.map_or("FAILED".to_string(), |(med, _)| {
                format!("{:.2} us", us(med))
            })
        };
        verdicts.push(Verdict {
            what: format!("{name} RTT/2, median"),
            zerosock: median_us(zs),
            reference: median_us(lz),
            result: quotient,
            unit: Unit::Times,
            goal: Goal::AtMost(0.7),
        });
        println!(
            "{name:<18} {trips:>9} {:>20} {:>20} {ratio:>6}",
            show(zs),
            show(lz)
        );
        for (lib, f) in [(Lib::Zerosock, &failures[0]), (Lib::Libzmq, &failures[1])] {
            if let Some(e) = f {
                println!("    {} failed: {e}", lib.name());
            }
        }
    }
    failed
}

/// Runs and prints the memory rows, one child process per library and row; true if any
/// failed.
fn rss_table(
    rows: &[&(String, i32, usize)],
    watchdog: &Watchdog,
    verdicts: &mut Vec<Verdict>,
) -> bool {
    const MIB: f64 = 1024.0 * 1024.0;
    println!();
    println!(
        "memory at the HWM: PUSH -> PULL that never reads, SNDHWM = RCVHWM = hwm, DONTWAIT \
         sends until the queues are full; one child process per cell; MiB = 2^20 B"
    );
    println!(
        "growth = VmHWM - VmRSS before the first message (MiB); ratio = zerosock/libzmq growth; \
         queues = 2 x hwm x size (MiB); acc = messages send took (beyond the queues they sit in \
         kernel socket buffers, not in RSS); base = VmRSS before the first message (MiB)"
    );
    println!();
    println!(
        "{:<22} {:>10} {:>10} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "row",
        "zs growth",
        "lz growth",
        "ratio",
        "queues",
        "zs acc",
        "lz acc",
        "zs base",
        "lz base"
    );
    let mut failed = false;
    for (name, hwm, size) in rows {
        let mut cells = Vec::new();
        for lib in [Lib::Zerosock, Lib::Libzmq] {
            watchdog.arm(&format!("{} {name}", lib.name()), RUN_DEADLINE);
            let usage = rss::measure(lib, *hwm, *size);
            watchdog.disarm();
            if let Err(e) = &usage {
                eprintln!("{} {name}: FAILED: {e}", lib.name());
                failed = true;
            }
            cells.push(usage);
        }
        let (zs, lz) = (cells[0].as_ref().ok(), cells[1].as_ref().ok());
        let mib = |kib: u64| kib as f64 / 1024.0;
        let growth = |u: Option<&rss::Usage>| u.map(|u| u.peak_kib.saturating_sub(u.baseline_kib));
        let show = |v: Option<f64>| v.map_or("FAILED".to_string(), |v| format!("{v:.1}"));
        let accepted =
            |u: Option<&rss::Usage>| u.map_or("-".to_string(), |u| u.accepted.to_string());
        let ratio = match (growth(zs), growth(lz)) {
            (Some(a), Some(b)) if b > 0 => format!("{:.2}", a as f64 / b as f64),
            _ => "-".to_string(),
        };
        let queues = 2.0 * f64::from(*hwm) * *size as f64 / MIB;
        verdicts.push(Verdict {
            what: format!("{name} growth / queues, MiB"),
            zerosock: show(growth(zs).map(mib)),
            reference: format!("{queues:.1}"),
            result: growth(zs).map(|g| mib(g) / queues),
            unit: Unit::Times,
            goal: Goal::AtMost(1.0 + rss::FIXED_BUFFERS_MIB / queues),
        });
        println!(
            "{name:<22} {:>10} {:>10} {ratio:>6} {queues:>10.1} {:>8} {:>8} {:>8} {:>8}",
            show(growth(zs).map(mib)),
            show(growth(lz).map(mib)),
            accepted(zs),
            accepted(lz),
            show(zs.map(|u| mib(u.baseline_kib))),
            show(lz.map(|u| mib(u.baseline_kib))),
        );
        for (lib, cell) in [(Lib::Zerosock, &cells[0]), (Lib::Libzmq, &cells[1])] {
            if let Err(e) = cell {
                println!("    {} failed: {e}", lib.name());
            }
        }
    }
    failed
}

fn libzmq_version() -> String {
    let (major, minor, patch) = zmq::version();
    format!("{major}.{minor}.{patch}")
}

/// A fresh endpoint for one run; `tcp://127.0.0.1:*` is resolved after binding.
fn endpoint(transport: &str, lib: Lib) -> String {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    match transport {
        "tcp" => "tcp://127.0.0.1:*".to_string(),
        "ipc" => {
            let path = ipc_path(lib, n);
            let _ = std::fs::remove_file(&path);
            format!("ipc://{}", path.display())
        }
        _ => format!("inproc://bench-{}-{n}", lib.name()),
    }
}

fn ipc_path(lib: Lib, n: u64) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "zerosock-bench-{}-{}-{n}.ipc",
        std::process::id(),
        lib.name()
    ))
}

/// The context for a row's other side: a context of its own, as libzmq's perf tools run
/// each side in its own process (one I/O thread each); inproc endpoints belong to one
/// context, so both sides share it there.
fn peer_context<A: api::Api>(ctx: &A::Ctx, transport: &str) -> A::Ctx {
    if transport == "inproc" {
        ctx.clone()
    } else {
        A::context()
    }
}

fn remove_ipc_file(ep: &str) {
    if let Some(path) = ep.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
    }
}

/// Process user+sys time in clock ticks, all threads (live and exited) included.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn cpu_per_msg(before: Option<u64>, after: Option<u64>, count: u64) -> Option<f64> {
    let ticks = after?.checked_sub(before?)?;
    Some(ticks as f64 / TICKS_PER_SEC / count as f64)
}

fn stamp(buf: &mut [u8], seq: u64) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
}

fn check(body: &[u8], size: usize, seq: u64) -> Result<(), String> {
    if body.len() != size {
        return Err(format!(
            "message {seq} has {} bytes, expected {size}",
            body.len()
        ));
    }
    let got = u64::from_le_bytes(body[..8].try_into().unwrap());
    if got != seq {
        return Err(format!("message {seq} carries sequence number {got}"));
    }
    Ok(())
}

/// The sender keeps its socket open until the receiver has everything (or gave up), so
/// that no run depends on what closing a socket with messages in flight does. (libzmq 4.3.4
/// loses the tail of the stream over ipc when the sending PUSH closes while the receiving
/// PULL sits at its high-water mark: the receiving engine takes the peer's hang-up as an
/// error and drops what is still in the kernel buffer, whatever LINGER says. zerosock's
/// behaviour on close is exercised by `examples/remote_thr` and `examples/throughput`.)
fn keep_open_until_done(done: &std::sync::mpsc::Receiver<()>) {
    let _ = done.recv_timeout(RUN_DEADLINE);
}

fn timed_out(seq: u64, count: u64) -> String {
    format!("message {seq} of {count} did not arrive within {RCVTIMEO_MS} ms")
}
