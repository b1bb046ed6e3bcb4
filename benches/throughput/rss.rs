//! Memory held at the high-water mark: a PUSH sends `size`-byte messages to a PULL that never
//! reads, over tcp, in one context with one I/O thread, with SNDHWM = RCVHWM = `hwm`.
//!
//! Each measurement runs in a child process (this bench binary, re-run with
//! `CHILD_ENV=<lib>:<hwm>:<size>`), so that its peak RSS (`VmHWM`) belongs to it alone. The
//! child connects the pair and passes one warm-up message (the connection is up, its buffers
//! exist), reads `VmRSS` as the baseline, then sends with `DONTWAIT` until sends have failed
//! with "would block" for `QUIET` with no success in between: the sender's queue, the
//! receiver's queue and the kernel's socket buffers in between are all full. It then reports
//! `VmHWM` and the number of messages accepted. The growth, `VmHWM - baseline`, should stay
//! near `2 × hwm × size` (the two queues) plus a few fixed buffers; the kernel's socket
//! buffers hold further accepted messages but are not process memory.

use crate::api::{Api, Fail, Kind, Libzmq, Opt, Zerosock};
use crate::{stamp, Lib, RCVTIMEO_MS};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that makes the bench binary a measuring child.
pub(crate) const CHILD_ENV: &str = "ZS_BENCH_RSS_CHILD";
/// (hwm, size, label).
/// Memory a PUSH/PULL pair over tcp may hold beyond its queues (the goal: the HWM's worth
/// of messages plus fixed buffers): the receiving I/O thread's 1 MiB read buffer and its two
/// spares, and the sending side's idle pooled bodies of one size class (at most 1 MiB).
pub(crate) const FIXED_BUFFERS_MIB: f64 = 4.0;

pub(crate) const ROWS: [(i32, usize, &str); 2] = [
    (1000, 65536, "tcp-hwm1000-64KiB"),
    (100, 65536, "tcp-hwm100-64KiB"),
];
/// How long sends must keep failing before the queues count as full.
const QUIET: Duration = Duration::from_millis(1000);
const RETRY_EVERY: Duration = Duration::from_millis(5);
/// The child gives up (the HWM does not hold) after queueing this many bytes.
const GIVE_UP_BYTES: u64 = 1 << 30;
/// How long the parent waits for a child.
const CHILD_DEADLINE: Duration = Duration::from_secs(60);

/// Row name for one measurement.
pub(crate) fn row_name(label: &str) -> String {
    format!("rss/{label}")
}

/// One child's report.
pub(crate) struct Usage {
    /// VmRSS after setup, before the first queued message, in KiB.
    pub(crate) baseline_kib: u64,
    /// VmHWM at the end, in KiB.
    pub(crate) peak_kib: u64,
    /// Messages `send` accepted before the queues were full.
    pub(crate) accepted: u64,
}

/// Runs one measurement in a child process.
pub(crate) fn measure(lib: Lib, hwm: i32, size: usize) -> Result<Usage, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .env(CHILD_ENV, format!("{}:{hwm}:{size}", lib.name()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawning the {} child: {e}", lib.name()))?;
    let deadline = Instant::now() + CHILD_DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the {} child did not finish within {CHILD_DEADLINE:?}",
                    lib.name()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for the {} child: {e}", lib.name())),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("reading the {} child: {e}", lib.name()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the {} child failed ({}): {}",
            lib.name(),
            out.status,
            text.trim()
        ));
    }
    parse_report(&text).ok_or_else(|| format!("the {} child reported {text:?}", lib.name()))
}

fn parse_report(text: &str) -> Option<Usage> {
    let line = text.lines().find(|l| l.starts_with("rss "))?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    Some(Usage {
        baseline_kib: field("baseline_kib")?,
        peak_kib: field("peak_kib")?,
        accepted: field("accepted")?,
    })
}

/// The child's side: `spec` is `<lib>:<hwm>:<size>`. Prints one `rss ...` line on success,
/// the error otherwise, and exits.
pub(crate) fn child_main(spec: &str) -> ! {
    let parsed = (|| {
        let mut parts = spec.split(':');
        let lib = parts.next()?;
        let hwm: i32 = parts.next()?.parse().ok()?;
        let size: usize = parts.next()?.parse().ok()?;
        Some((lib.to_string(), hwm, size))
    })();
    let result = match parsed {
        Some((lib, hwm, size)) if lib == Lib::Zerosock.name() => fill::<Zerosock>(hwm, size),
        Some((lib, hwm, size)) if lib == Lib::Libzmq.name() => fill::<Libzmq>(hwm, size),
        _ => Err(format!("bad {CHILD_ENV} value {spec:?}")),
    };
    match result {
        Ok(u) => {
            println!(
                "rss baseline_kib={} peak_kib={} accepted={}",
                u.baseline_kib, u.peak_kib, u.accepted
            );
            std::process::exit(0);
        }
        Err(e) => {
            println!("{e}");
            std::process::exit(1);
        }
    }
}

/// Fills the queues between a PUSH and a PULL that never reads; see the module doc.
fn fill<A: Api>(hwm: i32, size: usize) -> Result<Usage, String> {
    let ctx = A::context();
    let pull = A::socket(&ctx, Kind::Pull)?;
    A::set(&pull, Opt::RcvHwm(hwm))?;
    A::set(&pull, Opt::RcvTimeo(RCVTIMEO_MS))?;
    let ep = A::bind(&pull, "tcp://127.0.0.1:*")?;
    let push = A::socket(&ctx, Kind::Push)?;
    A::set(&push, Opt::SndHwm(hwm))?;
    A::set(&push, Opt::Linger(0))?;
    A::connect(&push, &ep)?;

    let mut buf = vec![0x5au8; size];
    let mut msg = A::msg();
    A::send(&push, b"warm-up", false).map_err(|e| format!("warm-up send: {}", e.describe()))?;
    A::recv(&pull, &mut msg).map_err(|e| format!("warm-up receive: {}", e.describe()))?;
    drop(msg);

    let baseline_kib = status_kib("VmRSS")?;
    let give_up = GIVE_UP_BYTES / size as u64;
    let mut accepted = 0u64;
    let mut last_success = Instant::now();
    loop {
        stamp(&mut buf, accepted);
        match A::send(&push, &buf, true) {
            Ok(()) => {
                accepted += 1;
                last_success = Instant::now();
                if accepted >= give_up {
                    return Err(format!(
                        "{}: still accepting after {accepted} messages of {size} bytes at \
                         HWM {hwm}: the queue is not bounded",
                        A::name()
                    ));
                }
            }
            Err(Fail::Again) if last_success.elapsed() >= QUIET => break,
            Err(Fail::Again) => std::thread::sleep(RETRY_EVERY),
            Err(Fail::Other(e)) => return Err(format!("send of message {accepted}: {e}")),
        }
    }
    let peak_kib = status_kib("VmHWM")?;
    // Close without waiting for anything still queued.
    drop(push);
    drop(pull);
    drop(ctx);
    Ok(Usage {
        baseline_kib,
        peak_kib,
        accepted,
    })
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("reading /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}
