//! The watchdog: a stuck run ends the process with a message instead of hanging it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ends the process with a message if a run overruns its deadline: whatever is stuck is
/// reported, and the benchmark never hangs.
pub(crate) struct Watchdog {
    /// Deadline in ms since `epoch`; 0 when disarmed.
    deadline_ms: Arc<AtomicU64>,
    what: Arc<Mutex<String>>,
    epoch: Instant,
}

impl Watchdog {
    pub(crate) fn start() -> Watchdog {
        let epoch = Instant::now();
        let deadline_ms = Arc::new(AtomicU64::new(0));
        let what = Arc::new(Mutex::new(String::new()));
        let (d, w) = (deadline_ms.clone(), what.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let deadline = d.load(Ordering::Acquire);
            if deadline != 0 && epoch.elapsed().as_millis() as u64 > deadline {
                let what = w.lock().map(|s| s.clone()).unwrap_or_default();
                eprintln!("error: `{what}` did not finish within its deadline: it is stuck");
                std::process::exit(2);
            }
        });
        Watchdog {
            deadline_ms,
            what,
            epoch,
        }
    }

    pub(crate) fn arm(&self, what: &str, limit: Duration) {
        if let Ok(mut w) = self.what.lock() {
            *w = what.to_string();
        }
        let deadline = (self.epoch.elapsed() + limit).as_millis() as u64;
        self.deadline_ms.store(deadline.max(1), Ordering::Release);
    }

    pub(crate) fn disarm(&self) {
        self.deadline_ms.store(0, Ordering::Release);
    }
}
