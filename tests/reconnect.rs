//! Reconnection: a zerosock PUSH keeps its queue while the binder it talks to goes away, and
//! delivers every queued message, in order, once a new binder appears on the same endpoint.
//! The binder is zerosock or libzmq; also connect-before-bind, over tcp and ipc.

mod common;
use common::*;
use std::net::{SocketAddr, TcpListener};
use zerosock::{Context, EventKind, Monitor, Socket, SocketType, DONTWAIT};

const TIMEOUT_MS: i32 = 5_000;

/// The tests here let a port go free and take it again; run in parallel, one test's
/// connecter could reach another test's binder on a recycled port. One at a time.
static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

fn tcp_addr(ep: &str) -> SocketAddr {
    ep.strip_prefix("tcp://")
        .expect("tcp endpoint")
        .parse()
        .expect("resolved tcp endpoint")
}

/// Whether nothing listens on `addr` any more (a fresh listener can take the port).
fn port_free(addr: SocketAddr) -> bool {
    TcpListener::bind(addr).is_ok()
}

fn wait_port_free(ep: &str) {
    let addr = tcp_addr(ep);
    assert!(
        wait_for(5, || port_free(addr)),
        "{ep} could not be bound again within 5 s after its binder closed"
    );
}

/// A free tcp endpoint with an explicit port: bind `*` once, then let go of it.
fn learn_free_endpoint() -> String {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Pull).unwrap();
    s.set_linger(0).unwrap();
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.last_endpoint().unwrap();
    drop(s);
    drop(ctx);
    wait_port_free(&ep);
    ep
}

fn connecting_push(ctx: &Context) -> Socket {
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_reconnect_ivl(50).unwrap();
    push.set_sndtimeo(TIMEOUT_MS).unwrap();
    push.set_linger(1_000).unwrap();
    push
}

/// A zerosock PULL on its own context, so that dropping both closes every connection before
/// the drop returns (terminate joins the I/O thread).
fn zs_pull_bound(ep: &str) -> (Context, Socket) {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_rcvtimeo(TIMEOUT_MS).unwrap();
    pull.set_linger(0).unwrap();
    pull.bind(ep)
        .unwrap_or_else(|e| panic!("cannot bind a new PULL on {ep}: {e}"));
    (ctx, pull)
}

fn zmq_pull_bound(ep: &str) -> (zmq::Context, zmq::Socket) {
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.set_rcvtimeo(TIMEOUT_MS).unwrap();
    pull.set_linger(0).unwrap();
    pull.bind(ep)
        .unwrap_or_else(|e| panic!("cannot bind a new libzmq PULL on {ep}: {e}"));
    (ctx, pull)
}

/// Waits until the connecter has seen its connection go (its monitor's `Disconnected`).
/// Messages queued after that wait for the next peer; messages sent before it may have gone
/// into the dying connection and be lost with it, as with libzmq.
fn wait_disconnected(events: &Monitor, what: &str) {
    wait_event(events, what, |k| {
        (*k == EventKind::Disconnected).then_some(())
    });
}

fn msg(phase: &str, i: u32) -> String {
    format!("{phase}-{i:06}")
}

/// Sends `n` messages that must be queued at once (no peer is there to take them).
fn send_queued(push: &Socket, phase: &str, n: u32) {
    for i in 0..n {
        push.send(msg(phase, i), DONTWAIT).unwrap_or_else(|e| {
            panic!("{phase}: message {i} of {n} was not queued while the peer is away: {e}")
        });
    }
}

fn recv_in_order_zs(pull: &Socket, phase: &str, n: u32) {
    for i in 0..n {
        let m = pull
            .recv(0)
            .unwrap_or_else(|e| panic!("{phase}: message {i} of {n} did not arrive: {e}"));
        assert_eq!(
            m.as_str(),
            Some(msg(phase, i).as_str()),
            "{phase}: message {i} out of order or corrupted"
        );
    }
}

fn recv_in_order_zmq(pull: &zmq::Socket, phase: &str, n: u32) {
    for i in 0..n {
        let m = pull
            .recv_bytes(0)
            .unwrap_or_else(|e| panic!("{phase}: message {i} of {n} did not arrive: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&m),
            msg(phase, i),
            "{phase}: message {i} out of order or corrupted"
        );
    }
}

#[test]
fn zerosock_pull_goes_away_and_comes_back() {
    bounded(60, || {
        let _ports = one_at_a_time();
        let ep = learn_free_endpoint();
        let push_ctx = Context::new();
        let push = connecting_push(&push_ctx);

        let (mut pull_ctx, mut pull) = zs_pull_bound(&ep);
        push.connect(&ep).unwrap();
        for i in 0..10 {
            push.send(msg("first", i), 0).unwrap();
        }
        recv_in_order_zs(&pull, "first", 10);

        // Twice: the binder goes away, messages queue, a new binder takes them all.
        for round in 0..2 {
            let events = push.monitor();
            drop(pull);
            drop(pull_ctx);
            wait_port_free(&ep);
            wait_disconnected(&events, &format!("round {round}"));

            let phase = format!("away{round}");
            send_queued(&push, &phase, 500);

            (pull_ctx, pull) = zs_pull_bound(&ep);
            recv_in_order_zs(&pull, &phase, 500);

            // And the link works normally afterwards.
            let after = format!("after{round}");
            for i in 0..10 {
                push.send(msg(&after, i), 0).unwrap();
            }
            recv_in_order_zs(&pull, &after, 10);
            assert!(
                matches!(pull.recv(DONTWAIT), Err(zerosock::Error::WouldBlock)),
                "round {round}: unexpected extra message"
            );
        }
        drop(pull);
        drop(pull_ctx);
    });
}

#[test]
fn libzmq_pull_goes_away_and_comes_back() {
    bounded(60, || {
        let _ports = one_at_a_time();
        let push_ctx = Context::new();
        let push = connecting_push(&push_ctx);

        let (qctx, qpull) = zmq_pull_bound("tcp://127.0.0.1:*");
        let ep = qpull.get_last_endpoint().unwrap().unwrap();
        push.connect(&ep).unwrap();
        for i in 0..10 {
            push.send(msg("first", i), 0).unwrap();
        }
        recv_in_order_zmq(&qpull, "first", 10);

        // libzmq's context termination waits until its sockets are closed.
        let events = push.monitor();
        drop(qpull);
        drop(qctx);
        wait_port_free(&ep);
        wait_disconnected(&events, "libzmq PULL gone");

        send_queued(&push, "away", 500);

        let (qctx, qpull) = zmq_pull_bound(&ep);
        recv_in_order_zmq(&qpull, "away", 500);
        for i in 0..10 {
            push.send(msg("after", i), 0).unwrap();
        }
        recv_in_order_zmq(&qpull, "after", 10);
        assert_eq!(
            qpull.recv_bytes(zmq::DONTWAIT).err(),
            Some(zmq::Error::EAGAIN),
            "unexpected extra message"
        );
        drop(qpull);
        drop(qctx);
    });
}

#[test]
fn connect_before_bind_tcp() {
    bounded(30, || {
        let _ports = one_at_a_time();
        let ep = learn_free_endpoint();
        let push_ctx = Context::new();
        let push = connecting_push(&push_ctx);
        push.connect(&ep).unwrap();
        send_queued(&push, "early", 200);
        let (_pull_ctx, pull) = zs_pull_bound(&ep);
        recv_in_order_zs(&pull, "early", 200);
        push.send("later", 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "later");
    });
}

#[test]
fn connect_before_bind_ipc() {
    bounded(30, || {
        let _ports = one_at_a_time();
        let ep = ipc_endpoint("reconnect-early");
        let push_ctx = Context::new();
        let push = connecting_push(&push_ctx);
        push.connect(&ep).unwrap();
        send_queued(&push, "early", 200);
        let (_pull_ctx, pull) = zs_pull_bound(&ep);
        recv_in_order_zs(&pull, "early", 200);
        push.send("later", 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "later");
    });
}

#[test]
fn connect_before_libzmq_binds() {
    bounded(30, || {
        let _ports = one_at_a_time();
        let ep = learn_free_endpoint();
        let push_ctx = Context::new();
        let push = connecting_push(&push_ctx);
        push.connect(&ep).unwrap();
        send_queued(&push, "early", 200);
        let (_qctx, qpull) = zmq_pull_bound(&ep);
        recv_in_order_zmq(&qpull, "early", 200);
    });
}

/// While nobody is there, exactly SNDHWM messages queue; the next one would block. All the
/// queued ones arrive once the peer binds, and sending works again.
#[test]
fn queue_while_away_is_bounded_by_sndhwm() {
    bounded(30, || {
        let _ports = one_at_a_time();
        let ep = learn_free_endpoint();
        let push_ctx = Context::new();
        let push = connecting_push(&push_ctx);
        push.set_sndhwm(100).unwrap();
        push.connect(&ep).unwrap();
        send_queued(&push, "early", 100);
        assert!(
            matches!(
                push.send("one too many", DONTWAIT),
                Err(zerosock::Error::WouldBlock)
            ),
            "a message beyond SNDHWM (100) was queued while the peer is away"
        );
        let (_pull_ctx, pull) = zs_pull_bound(&ep);
        recv_in_order_zs(&pull, "early", 100);
        // Blocking send (SNDTIMEO 5 s) succeeds again now that the queue drained.
        push.send("later", 0).unwrap();
        assert_eq!(pull.recv(0).unwrap(), "later");
    });
}
