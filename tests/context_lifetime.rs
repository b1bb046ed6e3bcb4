//! A socket keeps its context alive: a helper may make a context, return a socket and drop
//! the context. `terminate()` still ends every socket's calls at once.

mod common;

use zerosock::{Context, Error, Socket, SocketType};

/// Makes a context of its own and returns only the socket.
fn bound_pull() -> (Socket, String) {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.last_endpoint().unwrap();
    (pull, endpoint)
}

#[test]
fn a_socket_outlives_the_context_value_it_was_made_from() {
    common::bounded(30, || {
        let (pull, endpoint) = bound_pull();
        pull.set_rcvtimeo(5000).unwrap();
        let ctx = Context::new();
        let push = ctx.socket(SocketType::Push).unwrap();
        drop(ctx);
        push.connect(&endpoint).unwrap();
        push.send("still alive", 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "still alive");
        // New sockets and inproc still work through a socket's context.
        let rep = Context::new().socket(SocketType::Rep).unwrap();
        rep.bind("inproc://kept").unwrap();
        assert!(rep.recv(zerosock::DONTWAIT).unwrap_err().is_again());
    });
}

#[test]
fn terminate_still_ends_every_call() {
    common::bounded(30, || {
        let ctx = Context::new();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("inproc://ends").unwrap();
        let blocked = std::thread::spawn(move || pull.recv(0));
        // The receiver may or may not be waiting yet: terminated either way.
        let terminator = ctx.clone();
        let waiter = std::thread::spawn(move || terminator.terminate());
        let result = blocked.join().unwrap();
        assert!(matches!(result, Err(Error::Terminated)), "{result:?}");
        waiter.join().unwrap();
        assert!(matches!(
            ctx.socket(SocketType::Push),
            Err(Error::Terminated)
        ));
    });
}
