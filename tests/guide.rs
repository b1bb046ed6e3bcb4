//! The ZeroMQ guide's classics in `examples/`, each pair run to completion over ipc. The
//! tests call each example's own `run` function (the file is included as a module), so
//! they exercise exactly the code the example binaries run. The async examples' tests need
//! the async socket: `cargo test --features tokio --test guide`.

mod common;
use common::*;
use std::collections::HashSet;
use std::thread;
use std::time::Duration;
use zerosock::Context;

#[cfg(all(unix, feature = "tokio"))]
#[allow(dead_code)]
#[path = "../examples/async_lpclient.rs"]
mod async_lpclient;
#[cfg(all(unix, feature = "tokio"))]
#[allow(dead_code)]
#[path = "../examples/async_rrbroker.rs"]
mod async_rrbroker;
#[allow(dead_code)]
#[path = "../examples/hwclient.rs"]
mod hwclient;
#[allow(dead_code)]
#[path = "../examples/hwserver.rs"]
mod hwserver;
#[allow(dead_code)]
#[path = "../examples/lpclient.rs"]
mod lpclient;
#[allow(dead_code)]
#[path = "../examples/lpserver.rs"]
mod lpserver;
#[allow(dead_code)]
#[path = "../examples/rrbroker.rs"]
mod rrbroker;
#[allow(dead_code)]
#[path = "../examples/rrclient.rs"]
mod rrclient;
#[allow(dead_code)]
#[path = "../examples/rrworker.rs"]
mod rrworker;
#[allow(dead_code)]
#[path = "../examples/tasksink.rs"]
mod tasksink;
#[allow(dead_code)]
#[path = "../examples/taskvent.rs"]
mod taskvent;
#[allow(dead_code)]
#[path = "../examples/taskwork.rs"]
mod taskwork;
#[allow(dead_code)]
#[path = "../examples/wuclient.rs"]
mod wuclient;
#[allow(dead_code)]
#[path = "../examples/wuserver.rs"]
mod wuserver;

/// Terminates `ctx` from another thread, without waiting for it to finish: every blocked
/// call returns `Terminated` at once, which is all these tests need. Waiting could take the
/// examples' LINGER (30 s): a connecting session whose peer's accepted session is closed
/// first during termination goes back to reconnecting and is kept until LINGER runs out.
fn terminate_in_background(ctx: &Context) {
    let ctx = ctx.clone();
    thread::spawn(move || ctx.terminate());
}

#[test]
fn hello_world_server_and_client() {
    bounded(30, || {
        let ctx = Context::new();
        let endpoint = ipc_endpoint("hw");
        let server = {
            let (ctx, endpoint) = (ctx.clone(), endpoint.clone());
            thread::spawn(move || hwserver::run(&ctx, &endpoint, Some(10)))
        };
        assert_eq!(hwclient::run(&ctx, &endpoint, 10).unwrap(), 10);
        assert_eq!(server.join().unwrap().unwrap(), 10);
    });
}

#[test]
fn weather_server_and_client_filter_by_zip_code() {
    bounded(60, || {
        let ctx = Context::new();
        let endpoint = ipc_endpoint("weather");
        // Ten zip codes, so the client's comes up often.
        let server = {
            let (ctx, endpoint) = (ctx.clone(), endpoint.clone());
            thread::spawn(move || wuserver::run(&ctx, &endpoint, 10, None))
        };
        // The client checks that every update it gets is for its zip code.
        let report = wuclient::run(&ctx, &endpoint, 3, 50).unwrap();
        assert_eq!(report.updates, 50);
        assert!(
            (-80.0..135.0).contains(&report.average_temperature),
            "{report:?}"
        );
        terminate_in_background(&ctx);
        let published = server.join().unwrap().unwrap();
        assert!(published >= 50, "{published}");
    });
}

#[test]
fn task_ventilator_workers_and_sink() {
    bounded(60, || {
        let ctx = Context::new();
        let tasks_ep = ipc_endpoint("tasks");
        let sink_ep = ipc_endpoint("sink");
        const TASKS: u32 = 40;
        let sink = {
            let (ctx, sink_ep) = (ctx.clone(), sink_ep.clone());
            thread::spawn(move || tasksink::run(&ctx, &sink_ep, TASKS))
        };
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (ctx, tasks_ep, sink_ep) = (ctx.clone(), tasks_ep.clone(), sink_ep.clone());
                thread::spawn(move || taskwork::run(&ctx, &tasks_ep, &sink_ep))
            })
            .collect();
        // Workloads of 1 to 3 ms.
        let expected = taskvent::run(&ctx, &tasks_ep, &sink_ep, TASKS, 3, || {}).unwrap();
        assert!((u64::from(TASKS)..=3 * u64::from(TASKS)).contains(&expected));
        // The sink returns once every task's result is in.
        sink.join().unwrap().unwrap();
        // The workers run until their context terminates.
        terminate_in_background(&ctx);
        let done: u64 = workers
            .into_iter()
            .map(|w| w.join().unwrap().unwrap())
            .sum();
        assert_eq!(done, u64::from(TASKS));
    });
}

#[test]
fn request_reply_broker_with_clients_and_workers() {
    bounded(60, || {
        let ctx = Context::new();
        let frontend = ipc_endpoint("rr-front");
        let backend = ipc_endpoint("rr-back");
        let broker = {
            let (ctx, frontend, backend) = (ctx.clone(), frontend.clone(), backend.clone());
            thread::spawn(move || rrbroker::run(&ctx, &frontend, &backend))
        };
        clients_and_workers_through(&ctx, &frontend, &backend, broker);
    });
}

/// Starts `lpserver` on its own thread, failing as `faults` says.
fn lazy_pirate_server(
    ctx: &Context,
    endpoint: &str,
    faults: lpserver::Faults,
) -> thread::JoinHandle<zerosock::Result<u64>> {
    let (ctx, endpoint) = (ctx.clone(), endpoint.to_string());
    thread::spawn(move || lpserver::run(&ctx, &endpoint, faults))
}

#[test]
fn lazy_pirate_with_a_well_behaved_server() {
    bounded(30, || {
        let ctx = Context::new();
        let endpoint = ipc_endpoint("lp-ok");
        let server = lazy_pirate_server(&ctx, &endpoint, lpserver::Faults::default());
        let report = lpclient::run(&ctx, &endpoint, 10, Duration::from_secs(5), 3).unwrap();
        assert_eq!(
            report,
            lpclient::Report {
                answered: 10,
                resent: 0,
                abandoned: None
            }
        );
        terminate_in_background(&ctx);
        assert_eq!(server.join().unwrap().unwrap(), 10);
    });
}

/// A Lazy Pirate client run: `(context, endpoint, requests, patience, tries)` to what its
/// report says, `(answered, resent, abandoned)`. The blocking and the async client both run
/// each scenario below.
type LazyPirate = fn(&Context, &str, u32, Duration, u32) -> (u32, u32, Option<u32>);

fn blocking_client(
    ctx: &Context,
    ep: &str,
    n: u32,
    patience: Duration,
    tries: u32,
) -> (u32, u32, Option<u32>) {
    let r = lpclient::run(ctx, ep, n, patience, tries).unwrap();
    (r.answered, r.resent, r.abandoned)
}

#[cfg(all(unix, feature = "tokio"))]
fn async_client(
    ctx: &Context,
    ep: &str,
    n: u32,
    patience: Duration,
    tries: u32,
) -> (u32, u32, Option<u32>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt
        .block_on(async_lpclient::run(ctx, ep, n, patience, tries))
        .unwrap();
    (r.answered, r.resent, r.abandoned)
}

/// Request 3 is answered after 1.5 times the client's patience: its first try runs out of
/// time (the async client drops its `recv()` unfinished), and the answer to it goes to the
/// socket the client has closed. The server then reads the resent request from the client's
/// fresh socket and answers it at once, while the second try waits.
fn resends_to_a_slow_server(tag: &'static str, client: LazyPirate) {
    bounded(30, move || {
        let ctx = Context::new();
        let endpoint = ipc_endpoint(tag);
        let patience = Duration::from_millis(500);
        let faults = lpserver::Faults {
            slow_on: Some(3),
            delay: patience * 3 / 2,
            ..Default::default()
        };
        let server = lazy_pirate_server(&ctx, &endpoint, faults);
        let (answered, resent, abandoned) = client(&ctx, &endpoint, 5, patience, 4);
        assert_eq!((answered, abandoned), (5, None));
        // Once; twice only if a loaded machine delayed the answer by half the patience.
        assert!((1..=2).contains(&resent), "{resent}");
        terminate_in_background(&ctx);
        // Every request, and the slow one twice: once to the closed socket.
        let served = server.join().unwrap().unwrap();
        assert!(served >= 6, "{served}");
    });
}

/// Three answers; request 4 is sent three times (twice more, on fresh sockets), then
/// abandoned, and requests 5 to 10 are never sent. The server stops on request 4 without
/// waiting for its context.
fn gives_up_on_a_crashed_server(tag: &'static str, client: LazyPirate) {
    bounded(30, move || {
        let ctx = Context::new();
        let endpoint = ipc_endpoint(tag);
        let faults = lpserver::Faults {
            crash_on: Some(4),
            ..Default::default()
        };
        let server = lazy_pirate_server(&ctx, &endpoint, faults);
        let report = client(&ctx, &endpoint, 10, Duration::from_secs(1), 3);
        assert_eq!(report, (3, 2, Some(4)));
        assert_eq!(server.join().unwrap().unwrap(), 3);
    });
}

#[test]
fn lazy_pirate_resends_to_a_slow_server() {
    resends_to_a_slow_server("lp-slow", blocking_client);
}

#[test]
fn lazy_pirate_gives_up_on_a_crashed_server() {
    gives_up_on_a_crashed_server("lp-crash", blocking_client);
}

#[cfg(all(unix, feature = "tokio"))]
#[test]
fn async_lazy_pirate_resends_to_a_slow_server() {
    resends_to_a_slow_server("alp-slow", async_client);
}

#[cfg(all(unix, feature = "tokio"))]
#[test]
fn async_lazy_pirate_gives_up_on_a_crashed_server() {
    gives_up_on_a_crashed_server("alp-crash", async_client);
}

/// The async broker between the blocking `rrclient`s and `rrworker`s, as in
/// `request_reply_broker_with_clients_and_workers`.
#[cfg(all(unix, feature = "tokio"))]
#[test]
fn async_request_reply_broker_with_clients_and_workers() {
    bounded(60, || {
        let ctx = Context::new();
        let frontend = ipc_endpoint("arr-front");
        let backend = ipc_endpoint("arr-back");
        let broker = {
            let (ctx, frontend, backend) = (ctx.clone(), frontend.clone(), backend.clone());
            thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async_rrbroker::run(&ctx, &frontend, &backend))
            })
        };
        clients_and_workers_through(&ctx, &frontend, &backend, broker);
    });
}

/// Three `rrclient`s (10 requests each) and two `rrworker`s through `broker`, bound at
/// `frontend` and `backend`: every request answered by one of the workers, and the broker
/// ending with the context.
fn clients_and_workers_through(
    ctx: &Context,
    frontend: &str,
    backend: &str,
    broker: thread::JoinHandle<zerosock::Result<()>>,
) {
    let workers: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|name| {
            let (ctx, backend) = (ctx.clone(), backend.to_string());
            thread::spawn(move || rrworker::run(&ctx, &backend, Some(name)))
        })
        .collect();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (ctx, frontend) = (ctx.clone(), frontend.to_string());
            thread::spawn(move || rrclient::run(&ctx, &frontend, 10))
        })
        .collect();
    let mut replies = Vec::new();
    for c in clients {
        replies.extend(c.join().unwrap().unwrap());
    }
    assert_eq!(replies.len(), 30);
    let from: HashSet<&str> = replies
        .iter()
        .map(|r| r.strip_prefix("World from ").expect("a worker's reply"))
        .collect();
    assert!(!from.is_empty() && from.is_subset(&HashSet::from(["w1", "w2"])));
    terminate_in_background(ctx);
    assert!(
        broker.join().unwrap().is_ok(),
        "the broker ends with its context"
    );
    let answered: u64 = workers
        .into_iter()
        .map(|w| w.join().unwrap().unwrap())
        .sum();
    assert_eq!(answered, 30);
}
