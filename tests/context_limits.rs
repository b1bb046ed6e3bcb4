//! A context that cannot get what it needs from the system fails with an error and leaves
//! nothing behind. This file holds one test: it takes nearly every file descriptor the
//! process may have, which no other test in the same process could bear.

mod common;

use common::{open_fds, zerosock_threads};
use std::fs::File;
use zerosock::{Context, Error};

/// "Too many open files": the process is at its descriptor limit.
const EMFILE: i32 = 24;

/// Opens descriptors until the process is at its limit.
fn take_every_descriptor() -> Vec<File> {
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(EMFILE), "expected EMFILE, got {e}");
                return files;
            }
        }
    }
}

#[test]
fn a_failed_build_stops_what_it_started_and_later_contexts_still_work() {
    common::bounded(60, || {
        let threads_before = zerosock_threads();
        let mut files = take_every_descriptor();

        // With no descriptor left, the fallible constructor says so instead of panicking.
        match Context::try_new() {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(EMFILE), "{e}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a context was made without a free descriptor"),
        }

        // Room for some I/O threads (two descriptors each) but not for 600 of them.
        files.truncate(files.len() - 300);
        let fds_before = open_fds();
        let err = match Context::builder().io_threads(600).build() {
            Err(e) => e,
            Ok(_) => panic!("600 I/O threads started with 300 free descriptors"),
        };
        assert!(
            matches!(&err, Error::Io(e) if e.raw_os_error() == Some(EMFILE)),
            "{err}"
        );
        // Descriptors first: the thread count is read through one.
        assert_eq!(
            open_fds(),
            fds_before,
            "the failed build left descriptors open"
        );
        assert_eq!(
            zerosock_threads(),
            threads_before,
            "the failed build left I/O threads running"
        );

        // Every descriptor it took is free again: a context still starts and works.
        let ctx = Context::try_new().expect("a context after a failed build");
        let pull = ctx.socket(zerosock::SocketType::Pull).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let push = ctx.socket(zerosock::SocketType::Push).unwrap();
        push.connect(&pull.last_endpoint().unwrap()).unwrap();
        push.send("after", 0).unwrap();
        pull.set_rcvtimeo(5000).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "after");
        drop((push, pull, ctx));
        drop(files);
        assert_eq!(zerosock_threads(), threads_before);
    });
}
