//! The demo: PUSH/PULL throughput over tcp, ipc and inproc at several message sizes, in one
//! process (the sender runs in a second thread), printed as a table.
//!
//! ```sh
//! cargo run --release --example throughput
//! ```
//!
//! Every message carries its sequence number in its first 8 bytes and the receiver checks
//! both the size and the sequence, so a lost, reordered or truncated message is reported as
//! an error (exit status 1), not silently folded into the numbers. A receive that waits
//! longer than `RECV_TIMEOUT_MS`, or a run that takes longer than `RUN_DEADLINE`, is also an
//! error: the demo never hangs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zerosock::{Context, Error, SocketType};

/// Longest wait for any one message before the run is declared stuck.
const RECV_TIMEOUT_MS: i32 = 10_000;
/// Longest a whole run (setup, transfer, teardown) may take before the process gives up.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// (size in bytes, label, message count). Counts shrink as sizes grow, so that no row
/// dominates: the whole table runs in about 10-20 s in release mode on 2 cores.
const SIZES: [(usize, &str, u64); 4] = [
    (8, "8 B", 4_000_000),
    (64, "64 B", 4_000_000),
    (1024, "1 KiB", 1_500_000),
    (65536, "64 KiB", 60_000),
];

const TRANSPORTS: [&str; 3] = ["tcp", "ipc", "inproc"];

fn main() {
    let watchdog = Watchdog::start();
    println!("zerosock PUSH/PULL throughput, one process, one I/O thread (MB = 10^6 bytes)");
    println!();
    println!(
        "{:<9} {:>8} {:>10} {:>14} {:>11}",
        "transport", "size", "messages", "msg/s", "MB/s"
    );
    let mut failed = false;
    let started = Instant::now();
    for transport in TRANSPORTS {
        for (size, label, count) in SIZES {
            let what = format!("{transport} {label}");
            watchdog.arm(&what, RUN_DEADLINE);
            let result = run(transport, size, count);
            watchdog.disarm();
            match result {
                Ok(elapsed) => {
                    let secs = elapsed.as_secs_f64().max(1e-9);
                    let rate = count as f64 / secs;
                    let mbytes = rate * size as f64 / 1e6;
                    println!(
                        "{transport:<9} {label:>8} {count:>10} {:>14} {mbytes:>11.1}",
                        rate as u64
                    );
                }
                Err(e) => {
                    failed = true;
                    println!("{transport:<9} {label:>8} {count:>10}   FAILED: {e}");
                }
            }
        }
    }
    println!();
    println!("total time: {:.1} s", started.elapsed().as_secs_f64());
    if failed {
        eprintln!("error: at least one run failed (see the table)");
        std::process::exit(1);
    }
}

fn endpoint(transport: &str, size: usize) -> String {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    match transport {
        "tcp" => "tcp://127.0.0.1:*".to_string(),
        "ipc" => {
            let path = std::env::temp_dir().join(format!(
                "zerosock-throughput-{}-{size}-{n}.ipc",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&path);
            format!("ipc://{}", path.display())
        }
        _ => format!("inproc://throughput-{size}-{n}"),
    }
}

/// One run: a fresh context, PULL binds in this thread, PUSH connects and sends in another.
/// Timed like libzmq's `local_thr`: from the first message's arrival to the last's.
fn run(transport: &str, size: usize, count: u64) -> Result<Duration, String> {
    assert!(size >= 8 && count >= 1);
    let ctx = Context::new();
    let pull = ctx
        .socket(SocketType::Pull)
        .map_err(|e| format!("socket(PULL): {e}"))?;
    pull.set_rcvtimeo(RECV_TIMEOUT_MS)
        .map_err(|e| format!("set_rcvtimeo: {e}"))?;
    let ep = endpoint(transport, size);
    pull.bind(&ep).map_err(|e| format!("bind({ep}): {e}"))?;
    let ep = pull.last_endpoint().ok_or("bind left no last_endpoint")?;

    let push = ctx
        .socket(SocketType::Push)
        .map_err(|e| format!("socket(PUSH): {e}"))?;
    push.set_sndtimeo(RECV_TIMEOUT_MS)
        .map_err(|e| format!("set_sndtimeo: {e}"))?;
    push.connect(&ep)
        .map_err(|e| format!("connect({ep}): {e}"))?;
    let sender = std::thread::spawn(move || -> Result<(), String> {
        let mut buf = vec![0x5au8; size];
        for seq in 0..count {
            buf[..8].copy_from_slice(&seq.to_le_bytes());
            push.send(&buf[..], 0)
                .map_err(|e| format!("send of message {seq}: {e}"))?;
        }
        Ok(())
    });

    let check = |seq: u64, msg: Result<zerosock::Msg, Error>| -> Result<(), String> {
        let msg = msg.map_err(|e| match e {
            Error::TimedOut => format!(
                "no message {seq} of {count} within {RECV_TIMEOUT_MS} ms (receive timed out)"
            ),
            e => format!("recv of message {seq}: {e}"),
        })?;
        if msg.len() != size {
            return Err(format!(
                "message {seq} has {} bytes, expected {size}",
                msg.len()
            ));
        }
        let got = u64::from_le_bytes(msg[..8].try_into().unwrap());
        if got != seq {
            return Err(format!("message {seq} carries sequence number {got}"));
        }
        Ok(())
    };

    let received = (|| -> Result<Duration, String> {
        check(0, pull.recv(0))?;
        let start = Instant::now();
        for seq in 1..count {
            check(seq, pull.recv(0))?;
        }
        Ok(start.elapsed())
    })();
    let sent = sender
        .join()
        .unwrap_or_else(|_| Err("the sender thread panicked".to_string()));
    drop(pull);
    drop(ctx);
    let elapsed = received?;
    sent?;
    Ok(elapsed)
}

/// Ends the process with a message if a run overruns its deadline: whatever is stuck (a
/// blocked call that ignores its timeout, a context that never terminates) is reported
/// instead of hanging the demo.
struct Watchdog {
    /// Deadline in ms since `epoch`; 0 when disarmed.
    deadline_ms: Arc<AtomicU64>,
    what: Arc<Mutex<String>>,
    epoch: Instant,
}

impl Watchdog {
    fn start() -> Watchdog {
        let epoch = Instant::now();
        let deadline_ms = Arc::new(AtomicU64::new(0));
        let what = Arc::new(Mutex::new(String::new()));
        let (d, w) = (deadline_ms.clone(), what.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let deadline = d.load(Ordering::Acquire);
            if deadline != 0 && epoch.elapsed().as_millis() as u64 > deadline {
                let what = w.lock().map(|s| s.clone()).unwrap_or_default();
                eprintln!("error: run `{what}` did not finish in time: zerosock is stuck");
                std::process::exit(2);
            }
        });
        Watchdog {
            deadline_ms,
            what,
            epoch,
        }
    }

    fn arm(&self, what: &str, limit: Duration) {
        if let Ok(mut w) = self.what.lock() {
            *w = what.to_string();
        }
        let deadline = (self.epoch.elapsed() + limit).as_millis() as u64;
        self.deadline_ms.store(deadline.max(1), Ordering::Release);
    }

    fn disarm(&self) {
        self.deadline_ms.store(0, Ordering::Release);
    }
}
