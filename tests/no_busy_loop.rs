//! No busy loop where nothing is to be done: a listener at the process's file-descriptor
//! limit (accepting fails with EMFILE; it must back off, and recover when descriptors free
//! up), and I/O threads after traffic stops (their busy polling must end). In their own test
//! binary because they measure the whole process's CPU time and one of them lowers the whole
//! process's descriptor limit; the tests here take turns.
mod common;
use common::*;
use std::net::TcpStream;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zerosock::{Context, SocketType};

/// The tests here run one at a time.
static ALONE: Mutex<()> = Mutex::new(());

/// User + system CPU time of this process, in clock ticks (1/100 s).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12) // utime, stime (fields 14 and 15 of the whole line)
}

/// CPU ticks this process spends while the calling thread sleeps for a second.
fn cpu_ticks_in_a_second() -> u64 {
    let before = cpu_ticks();
    std::thread::sleep(Duration::from_secs(1)); // measuring idle CPU over a fixed window
    cpu_ticks() - before
}

fn set_nofile(soft: usize) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={soft}:"))
        .status()
        .expect("prlimit (util-linux) must be available");
    assert!(status.success(), "prlimit failed");
}

#[test]
fn accept_at_the_descriptor_limit_neither_spins_nor_gets_stuck() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    bounded(60, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(10_000).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let events = pull.monitor();
        let addr = ep.strip_prefix("tcp://").unwrap().to_string();
        let original = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
            })
            .unwrap_or(1024);
        set_nofile(open_fds() + 24);
        // Fill the table: client sockets until connect itself fails; the listener then has
        // connections in its backlog it cannot accept.
        let mut clients = Vec::new();
        while clients.len() < 200 {
            match TcpStream::connect(&addr) {
                Ok(s) => clients.push(s),
                Err(_) => break,
            }
        }
        assert!(!clients.is_empty());
        // With accepts failing, the I/O thread must back off, not spin.
        let spent = cpu_ticks_in_a_second();
        assert!(
            spent < 30,
            "{spent} ticks of CPU in 1 s at the fd limit: a busy loop"
        );
        // The limit really was hit on the accepting side.
        let mut hit = false;
        while let Some(e) = events.try_recv() {
            hit |= matches!(e.kind, zerosock::EventKind::AcceptFailed(_));
        }
        assert!(hit, "accept never failed: the test did not reach the limit");
        // Free descriptors: the listener recovers and a good peer gets through.
        clients.truncate(clients.len() / 4);
        let push = ctx.socket(SocketType::Push).unwrap();
        push.set_linger(0).unwrap();
        push.connect(&ep).unwrap();
        push.send("recovered", 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "recovered");
        drop(clients);
        set_nofile(original);
    });
}

/// Busy polling (on by default) keeps I/O threads awake only while traffic flows: once it
/// stops, two contexts with connections over tcp and ipc spend next to no CPU.
#[test]
fn io_threads_stop_polling_when_traffic_stops() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    bounded(60, || {
        let contexts = [Context::new(), Context::new()];
        let mut pairs = Vec::new();
        for (i, ep) in ["tcp://127.0.0.1:*".to_string(), ipc_endpoint("busy-poll")]
            .iter()
            .enumerate()
        {
            let pull = contexts[i].socket(SocketType::Pull).unwrap();
            pull.set_rcvtimeo(10_000).unwrap();
            pull.bind(ep).unwrap();
            let push = contexts[1 - i].socket(SocketType::Push).unwrap();
            push.set_linger(0).unwrap();
            push.connect(&pull.last_endpoint().unwrap()).unwrap();
            pairs.push((push, pull));
        }
        // Traffic of every kind the spin adapts to: a stream, then ping-pong-like exchanges.
        for (push, pull) in &pairs {
            for burst in 0..20u32 {
                // Within the high-water marks (1000 each side), so sends never wait.
                for i in burst * 1000..(burst + 1) * 1000 {
                    push.send(&i.to_le_bytes()[..], 0).unwrap();
                }
                for i in burst * 1000..(burst + 1) * 1000 {
                    assert_eq!(pull.recv(0).unwrap(), &i.to_le_bytes()[..]);
                }
            }
            let until = Instant::now() + Duration::from_millis(200);
            while Instant::now() < until {
                push.send("x", 0).unwrap();
                assert_eq!(pull.recv(0).unwrap(), "x");
            }
        }
        let spent = cpu_ticks_in_a_second();
        assert!(
            spent < 10,
            "{spent} ticks of CPU in 1 s with no traffic: an I/O thread kept polling"
        );
        // Still connected and quick to answer.
        for (push, pull) in &pairs {
            push.send("again", 0).unwrap();
            assert_eq!(pull.recv(0).unwrap(), "again");
        }
    });
}
