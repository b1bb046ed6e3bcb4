//! A context whose drop waits on LINGER says so: after a second it logs a warning naming
//! the socket and the endpoint it still waits for. One test in this file, as it installs
//! the process's logger.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};
use zerosock::{Context, SocketType};

/// Keeps every warning logged.
struct Warnings(Mutex<Vec<String>>);

impl log::Log for Warnings {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static WARNINGS: Warnings = Warnings(Mutex::new(Vec::new()));

#[test]
fn a_context_waiting_on_linger_names_what_it_waits_for() {
    log::set_logger(&WARNINGS).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    common::bounded(30, || {
        // A port nobody listens on: the message can never go out.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(1500).unwrap();
        push.connect(&endpoint).unwrap();
        push.send("never delivered", 0).unwrap();

        // The socket holds the context: dropping the context first changes nothing, and the
        // context terminates, waiting out the linger, when the socket goes.
        let started = Instant::now();
        drop(ctx);
        assert!(started.elapsed() < Duration::from_millis(500));
        drop(push);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(1400) && waited < Duration::from_secs(10),
            "the context waited {waited:?} for a LINGER of 1500 ms"
        );
        let warnings = WARNINGS.0.lock().unwrap();
        let named: Vec<&String> = warnings
            .iter()
            .filter(|w| w.contains(&endpoint) && w.contains("LINGER 1500 ms"))
            .collect();
        assert_eq!(named.len(), 1, "warnings: {warnings:?}");
    });
}
