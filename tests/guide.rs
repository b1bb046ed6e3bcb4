//! The ZeroMQ guide's classics in `examples/`, each pair run to completion over ipc. The
//! tests call each example's own `run` function (the file is included as a module), so
//! they exercise exactly the code the example binaries run.

mod common;
use common::*;
use std::collections::HashSet;
use std::thread;
use zerosock::Context;

#[allow(dead_code)]
#[path = "../examples/hwclient.rs"]
mod hwclient;
#[allow(dead_code)]
#[path = "../examples/hwserver.rs"]
mod hwserver;
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
        let workers: Vec<_> = ["w1", "w2"]
            .into_iter()
            .map(|name| {
                let (ctx, backend) = (ctx.clone(), backend.clone());
                thread::spawn(move || rrworker::run(&ctx, &backend, Some(name)))
            })
            .collect();
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let (ctx, frontend) = (ctx.clone(), frontend.clone());
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
        terminate_in_background(&ctx);
        assert!(
            broker.join().unwrap().is_ok(),
            "the broker ends with its context"
        );
        let answered: u64 = workers
            .into_iter()
            .map(|w| w.join().unwrap().unwrap())
            .sum();
        assert_eq!(answered, 30);
    });
}
