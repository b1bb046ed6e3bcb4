//! Churn returns descriptors and threads to baseline. Alone in its own test binary: other
//! tests running in parallel would change the counts it compares.
mod common;
use common::*;
use zerosock::{Context, SocketType};

#[test]
fn churn_returns_descriptors_and_threads_to_baseline() {
    bounded(120, || {
        // Warm up once so lazily created process-wide state is not counted as a leak.
        drop(Context::new());
        let (fds, tasks) = (open_fds(), threads());
        for round in 0..20 {
            let ctx = Context::builder().io_threads(2).build().unwrap();
            let pull = ctx.socket(SocketType::Pull).unwrap();
            pull.bind("tcp://127.0.0.1:*").unwrap();
            let ep = pull.last_endpoint().unwrap();
            for i in 0..50 {
                let push = ctx.socket(SocketType::Push).unwrap();
                push.set_linger(0).unwrap();
                push.connect(&ep).unwrap();
                if i % 10 == 0 {
                    push.send(format!("{round}-{i}"), 0).unwrap();
                }
                let inproc = ctx.socket(SocketType::Pair).unwrap();
                inproc.bind(&format!("inproc://churn-{i}")).unwrap();
            }
            drop(pull);
            drop(ctx);
        }
        // Closing is synchronous for listeners and the context joins its threads: nothing
        // may be left behind (a few descriptors of slack for the test harness itself).
        assert!(
            wait_for(5, || open_fds() <= fds + 2),
            "fds {} -> {}",
            fds,
            open_fds()
        );
        assert!(
            wait_for(5, || threads() <= tasks),
            "threads {} -> {}",
            tasks,
            threads()
        );
    });
}
