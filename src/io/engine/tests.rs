//! Two engines back to back in memory: what one transmits is what the other reads, time is
//! a value the test moves, and each engine's socket is played by the test through the
//! pipe ends its engine hands out. No stream, no thread, no sleep.

use super::*;
use crate::command::{socket_pipe, SocketCommand, SocketMailbox};
use crate::options::Options;
use crate::pipe::Read as PipeRead;
use crate::socket_type::SocketType;
use std::collections::VecDeque;

/// Wake-ups go nowhere: the harness looks at everything on every step.
struct Nobody;

impl Wake for Nobody {
    fn wake(&self) {}
}

struct TestHost;

impl Host for TestHost {
    fn pipe_wake(&self) -> Arc<dyn Wake> {
        Arc::new(Nobody)
    }

    fn ask_zap(&self, _request: Vec<Msg>) -> Option<ZapClient> {
        None
    }
}

/// Bytes in flight towards one engine (the kernel's buffers, as it were).
#[derive(Default)]
struct Wire(VecDeque<u8>);

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.0.len());
        for (dst, src) in buf.iter_mut().zip(self.0.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

/// One engine and the socket it serves, played by the test.
struct Side {
    engine: Engine,
    socket: Arc<SocketRef>,
    /// The socket's ends of its pipe, once it has one.
    ends: Option<PipeEnds<Msg>>,
    incoming: Wire,
    /// The time the side's reads happen at.
    now: Instant,
}

fn socket_ref(socket_type: SocketType, options: Options) -> Arc<SocketRef> {
    Arc::new(SocketRef {
        id: 1,
        mailbox: SocketMailbox::new(),
        socket_type,
        options,
        monitor: Arc::default(),
        endpoint: "test://pair".into(),
        inproc: Arc::default(),
    })
}

impl Side {
    /// A connecter whose socket holds its pipe from the start (IMMEDIATE off).
    fn connecter(socket_type: SocketType, options: Options) -> Side {
        let socket = socket_ref(socket_type, options);
        let pipe = socket_pipe(
            &socket.mailbox,
            socket.options.send_capacity(socket_type),
            socket.options.recv_capacity(socket_type),
            Arc::new(Nobody),
        );
        let engine = Engine::new(
            socket.clone(),
            7,
            "connecter".into(),
            true,
            Some((pipe.id, pipe.other_ends)),
        );
        Side {
            engine,
            socket,
            ends: Some(pipe.socket_ends),
            incoming: Wire::default(),
            now: Instant::now(),
        }
    }

    /// An engine for an accepted connection; its pipe comes with the handshake.
    fn accepted(socket_type: SocketType, options: Options) -> Side {
        let socket = socket_ref(socket_type, options);
        let engine = Engine::new(socket.clone(), 8, "accepted".into(), false, None);
        Side {
            engine,
            socket,
            ends: None,
            incoming: Wire::default(),
            now: Instant::now(),
        }
    }

    /// Picks up the pipe the engine handed the socket, if it did.
    fn take_commands(&mut self) {
        let mut commands = VecDeque::new();
        self.socket.mailbox.drain(&mut commands);
        for command in commands {
            if let SocketCommand::Attach { ends, .. } = command {
                self.ends = Some(ends);
            }
        }
    }

    /// The socket sends one message of `frames`.
    fn send(&mut self, frames: &[&str]) {
        let ends = self.ends.as_mut().expect("the socket has a pipe");
        for (i, frame) in frames.iter().enumerate() {
            let mut msg = Msg::from(*frame);
            msg.set_more(i + 1 < frames.len());
            assert!(ends.out.write(msg).is_ok(), "the pipe took the frame");
        }
        let _ = ends.out.flush();
    }

    /// Every frame the socket can read now, as text, with its MORE flag.
    fn received(&mut self) -> Vec<(String, bool)> {
        let mut got = Vec::new();
        if let Some(ends) = &mut self.ends {
            while let PipeRead::Item(msg) = ends.inb.read() {
                got.push((String::from_utf8_lossy(&msg).into_owned(), msg.more()));
            }
        }
        got
    }

    /// Decodes and reads until the wire is empty or the pipe is full; whether it paused.
    fn read(&mut self) -> Result<bool, Down> {
        loop {
            if self.engine.handle_read(&TestHost)? == Reading::Paused {
                self.take_commands();
                return Ok(true);
            }
            self.take_commands();
            match self.engine.fill_from(&mut self.incoming, self.now) {
                Ok(0) => return Err(Down::Eof),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(Down::Io(e)),
            }
        }
    }

    /// Everything the engine wants to transmit, taken off its queue.
    fn transmit(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        while let Some(out) = self.engine.poll_transmit(false) {
            let chunk = out.to_vec();
            out.advance(chunk.len());
            bytes.extend(chunk);
        }
        bytes
    }
}

fn start() -> Instant {
    Instant::now()
}

/// Connects `a` and `b` at `now` and moves bytes between them until neither has more.
fn connect(a: &mut Side, b: &mut Side, now: Instant) {
    (a.now, b.now) = (now, now);
    a.engine.connected(now, String::new());
    b.engine.connected(now, "192.0.2.1".into());
    exchange(a, b);
}

/// Moves bytes both ways until nothing moves; panics on a connection error.
fn exchange(a: &mut Side, b: &mut Side) {
    for _ in 0..1000 {
        let to_b = a.transmit();
        let to_a = b.transmit();
        let moved = !to_b.is_empty() || !to_a.is_empty();
        b.incoming.0.extend(to_b);
        a.incoming.0.extend(to_a);
        a.read().expect("a's connection holds");
        b.read().expect("b's connection holds");
        if !moved && a.incoming.0.is_empty() && b.incoming.0.is_empty() {
            return;
        }
    }
    panic!("the engines never went quiet");
}

fn text(frames: &[(&str, bool)]) -> Vec<(String, bool)> {
    frames.iter().map(|(s, m)| (s.to_string(), *m)).collect()
}

#[test]
fn handshake_then_messages_flow_both_ways() {
    let mut a = Side::connecter(SocketType::Dealer, Options::default());
    let mut b = Side::accepted(SocketType::Router, Options::default());
    connect(&mut a, &mut b, start());
    assert!(
        b.ends.is_some(),
        "the accepted engine handed its socket a pipe"
    );
    a.send(&["hello", "world"]);
    exchange(&mut a, &mut b);
    assert_eq!(b.received(), text(&[("hello", true), ("world", false)]));
    b.send(&["back"]);
    exchange(&mut a, &mut b);
    assert_eq!(a.received(), text(&[("back", false)]));
}

#[test]
fn a_reconnect_delivers_what_was_queued_meanwhile_in_order() {
    let options = Options {
        reconnect_ivl: 100,
        ..Options::default()
    };
    let mut a = Side::connecter(SocketType::Push, options);
    let mut b = Side::accepted(SocketType::Pull, Options::default());
    let t0 = start();
    connect(&mut a, &mut b, t0);
    a.send(&["1"]);
    exchange(&mut a, &mut b);
    assert_eq!(b.received(), text(&[("1", false)]));

    // The peer goes away; the connecter keeps its pipe and waits to reconnect.
    assert_eq!(b.engine.handle_down(t0, Down::Eof, false), AfterDown::Done);
    assert_eq!(
        a.engine.handle_down(t0, Down::Eof, false),
        AfterDown::Reconnect
    );
    a.send(&["2"]);
    a.send(&["3"]);
    let retry = a.engine.poll_timeout().expect("a reconnect is scheduled");
    let wait = retry - t0;
    assert!(
        wait >= Duration::from_millis(100) && wait < Duration::from_millis(200),
        "RECONNECT_IVL 100 ms plus less than one interval of jitter: {wait:?}"
    );
    let early = retry - Duration::from_millis(1);
    assert_eq!(a.engine.handle_timeout(early).unwrap(), Due::Nothing);
    assert_eq!(a.engine.handle_timeout(retry).unwrap(), Due::Connect);

    let mut b2 = Side::accepted(SocketType::Pull, Options::default());
    connect(&mut a, &mut b2, retry);
    a.send(&["4"]);
    exchange(&mut a, &mut b2);
    assert_eq!(
        b2.received(),
        text(&[("2", false), ("3", false), ("4", false)])
    );
}

#[test]
fn a_message_torn_by_a_lost_connection_is_never_delivered() {
    let t0 = start();
    // Inbound: the peer's connection dies in the middle of a three-frame message.
    let mut a = Side::connecter(SocketType::Pull, Options::default());
    let mut b = Side::accepted(SocketType::Push, Options::default());
    connect(&mut a, &mut b, t0);
    b.send(&["x1", "x2", "x3"]);
    let wire = b.transmit();
    a.incoming.0.extend(&wire[..wire.len() - 3]); // the last frame never arrives
    a.read().unwrap();
    assert_eq!(
        a.engine.handle_down(t0, Down::Eof, false),
        AfterDown::Reconnect
    );
    assert!(
        a.received().is_empty(),
        "no frame of the torn message reached the socket"
    );

    // Outbound: the socket's message is half taken when the connection dies.
    let mut b2 = Side::accepted(SocketType::Push, Options::default());
    connect(&mut a, &mut b2, t0);
    b2.send(&["whole"]);
    exchange(&mut a, &mut b2);
    assert_eq!(a.received(), text(&[("whole", false)]));

    // The output queue fills in the middle of a message of large frames: the connection
    // dies with two of its four frames taken.
    let mut p = Side::connecter(SocketType::Push, Options::default());
    let mut q = Side::accepted(SocketType::Pull, Options::default());
    connect(&mut p, &mut q, t0);
    let big = "b".repeat(700 * 1024);
    p.send(&[&big, &big, &big, "end"]);
    let out = p
        .engine
        .poll_transmit(false)
        .expect("the first frames are queued");
    let taken = out.to_vec().len();
    out.advance(taken); // written, and lost with the connection
    assert!(
        taken < 3 * big.len(),
        "the message was taken in part: {taken} bytes"
    );
    assert_eq!(
        p.engine.handle_down(t0, Down::Eof, false),
        AfterDown::Reconnect
    );
    p.send(&["z1", "z2"]);
    let mut q2 = Side::accepted(SocketType::Pull, Options::default());
    connect(&mut p, &mut q2, t0);
    exchange(&mut p, &mut q2);
    assert_eq!(q2.received(), text(&[("z1", true), ("z2", false)]));
}

#[test]
fn a_full_pipe_pauses_reading_and_credit_resumes_it() {
    let small = Options {
        rcvhwm: 4,
        ..Options::default()
    };
    let mut a = Side::connecter(SocketType::Push, Options::default());
    let mut b = Side::accepted(SocketType::Pull, small);
    connect(&mut a, &mut b, start());
    let sent: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    for s in &sent {
        a.send(&[s]);
    }
    b.incoming.0.extend(a.transmit());
    let mut got = Vec::new();
    let mut pauses = 0;
    for _ in 0..1000 {
        if b.read().unwrap() {
            pauses += 1;
        }
        let batch = b.received();
        assert!(
            batch.len() <= 4,
            "the pipe held {} messages at RCVHWM 4",
            batch.len()
        );
        got.extend(batch.into_iter().map(|(s, _)| s));
        if got.len() == sent.len() {
            break;
        }
    }
    assert_eq!(got, sent, "every message, in order, once");
    assert!(pauses > 0, "reading paused at the high-water mark");
}

#[test]
fn a_silent_peer_is_dropped_after_the_heartbeat_timeout() {
    let options = Options {
        heartbeat_ivl: 100,
        heartbeat_timeout: 300,
        ..Options::default()
    };
    let mut a = Side::connecter(SocketType::Dealer, options);
    let mut b = Side::accepted(SocketType::Dealer, Options::default());
    let t0 = start();
    connect(&mut a, &mut b, t0);
    assert_eq!(
        a.engine.poll_timeout(),
        Some(t0 + Duration::from_millis(100)),
        "the first PING is due one interval after the handshake"
    );

    // Time goes by in steps of 50 ms; for two seconds the peer answers every PING.
    let step = Duration::from_millis(50);
    let mut now = t0;
    let mut pings = 0;
    while now < t0 + Duration::from_secs(2) {
        now += step;
        assert_eq!(a.engine.handle_timeout(now).unwrap(), Due::Nothing);
        let sent = a.transmit();
        pings += usize::from(!sent.is_empty());
        b.incoming.0.extend(sent);
        b.read().unwrap();
        a.incoming.0.extend(b.transmit());
        a.now = now;
        a.read().unwrap();
    }
    assert!(pings >= 15, "a PING every 100 ms: {pings}");

    // Then it goes silent: the connection is dropped 300 ms after the first PING it leaves
    // unanswered, which goes out at most one interval after its last answer.
    let last_answer = now;
    let dropped = loop {
        now += step;
        assert!(now < last_answer + Duration::from_secs(2), "never dropped");
        match a.engine.handle_timeout(now) {
            Ok(_) => drop(a.transmit()),
            Err(why) => break why,
        }
    };
    assert!(matches!(
        dropped,
        Down::Protocol(ProtocolError::HeartbeatTimeout)
    ));
    let silence = now - last_answer;
    assert!(
        silence >= Duration::from_millis(300) && silence <= Duration::from_millis(400),
        "dropped after {silence:?} of silence"
    );
}

#[test]
fn a_handshake_that_never_completes_times_out() {
    let options = Options {
        handshake_ivl: 500,
        ..Options::default()
    };
    let mut b = Side::accepted(SocketType::Pull, options);
    let t0 = start();
    b.engine.connected(t0, String::new());
    b.incoming.0.extend([0xFF, 0, 0, 0]); // a greeting that stops
    b.read().unwrap();
    assert_eq!(
        b.engine.poll_timeout(),
        Some(t0 + Duration::from_millis(500))
    );
    assert_eq!(
        b.engine
            .handle_timeout(t0 + Duration::from_millis(499))
            .unwrap(),
        Due::Nothing
    );
    assert!(matches!(
        b.engine.handle_timeout(t0 + Duration::from_millis(500)),
        Err(Down::HandshakeTimeout)
    ));
    assert_eq!(
        b.engine.handle_down(t0, Down::HandshakeTimeout, false),
        AfterDown::Done
    );
}

#[test]
fn linger_ends_an_engine_that_cannot_deliver_and_not_one_that_did() {
    let t0 = start();
    // Messages queued for a peer that never comes: done when the linger runs out.
    let mut a = Side::connecter(SocketType::Push, Options::default());
    a.send(&["never delivered"]);
    assert!(!a.engine.close(t0, Some(Duration::from_millis(200))));
    assert!(!a.engine.is_finished());
    assert_eq!(
        a.engine.poll_timeout(),
        Some(t0 + Duration::from_millis(200))
    );
    assert_eq!(
        a.engine
            .handle_timeout(t0 + Duration::from_millis(199))
            .unwrap(),
        Due::Nothing
    );
    assert_eq!(
        a.engine
            .handle_timeout(t0 + Duration::from_millis(200))
            .unwrap(),
        Due::Done
    );

    // With a peer, closing finishes as soon as everything is on the wire.
    let mut p = Side::connecter(SocketType::Push, Options::default());
    let mut q = Side::accepted(SocketType::Pull, Options::default());
    connect(&mut p, &mut q, t0);
    p.send(&["last"]);
    drop(p.ends.take()); // the socket is closed
    assert!(!p.engine.close(t0, Some(Duration::from_secs(30))));
    exchange(&mut p, &mut q);
    assert!(p.engine.is_finished());
    assert_eq!(q.received(), text(&[("last", false)]));

    // LINGER 0: done at once.
    let mut z = Side::connecter(SocketType::Push, Options::default());
    z.send(&["dropped"]);
    assert!(z.engine.close(t0, Some(Duration::ZERO)));
}

#[test]
fn reconnecting_backs_off_and_a_closing_engine_with_nothing_queued_stops() {
    let options = Options {
        reconnect_ivl: 100,
        reconnect_ivl_max: 400,
        ..Options::default()
    };
    let mut a = Side::connecter(SocketType::Push, options);
    let mut now = start();
    let mut waits = Vec::new();
    for _ in 0..4 {
        let why = Down::Io(io::ErrorKind::ConnectionRefused.into());
        assert_eq!(a.engine.handle_down(now, why, false), AfterDown::Reconnect);
        let at = a.engine.poll_timeout().unwrap();
        waits.push((at - now).as_millis() / 100);
        now = at;
        assert_eq!(a.engine.handle_timeout(now).unwrap(), Due::Connect);
    }
    // 100, 200, 400, 400 ms, each plus jitter below one interval.
    assert_eq!(waits.len(), 4);
    assert!((1..2).contains(&waits[0]), "{waits:?}");
    assert!((2..4).contains(&waits[1]), "{waits:?}");
    assert!((4..8).contains(&waits[2]), "{waits:?}");
    assert!((4..8).contains(&waits[3]), "{waits:?}");

    // Closed with nothing queued: a failed connect ends it instead of retrying.
    drop(a.ends.take());
    assert!(!a.engine.close(now, None));
    let why = Down::Io(io::ErrorKind::ConnectionRefused.into());
    assert_eq!(a.engine.handle_down(now, why, false), AfterDown::Done);
}
