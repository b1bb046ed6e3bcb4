//! Hostile peers: a zerosock PULL bound on tcp is fed hand-written ZMTP by a raw `TcpStream`.
//! Each malformed or malicious input must make zerosock close that connection promptly,
//! without a panic and without delivering anything from it, while good peers (a zerosock
//! PUSH and a libzmq PUSH connected to the same PULL) keep working.
//!
//! The positive tests (a hand-written valid session is received; byte-at-a-time; PING/PONG)
//! prove that the hand-written handshake is right, so the negative cases are meaningful.

mod common;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use zerosock::{Context, Socket, SocketType, DONTWAIT};

/// How long zerosock may take to close a hostile connection.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);
const TIMEOUT_MS: i32 = 5_000;

// ----- hand-written ZMTP 3.1 --------------------------------------------------------------

/// A 64-byte greeting: signature `FF 00*8 7F`, version, mechanism, as-server 0, filler.
fn greeting_with(first: u8, major: u8, minor: u8, mechanism: &[u8]) -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = first;
    g[9] = 0x7F;
    g[10] = major;
    g[11] = minor;
    g[12..12 + mechanism.len()].copy_from_slice(mechanism);
    g[32] = 0; // as-server
    g
}

fn greeting() -> Vec<u8> {
    greeting_with(0xFF, 3, 1, b"NULL")
}

/// A command frame around `body` (`name-len name data`).
fn command(body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    if body.len() <= 255 {
        f.extend_from_slice(&[0x04, body.len() as u8]);
    } else {
        f.push(0x06);
        f.extend_from_slice(&(body.len() as u64).to_be_bytes());
    }
    f.extend_from_slice(body);
    f
}

/// The body of a READY command with the given properties.
fn ready_body(props: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = b"\x05READY".to_vec();
    for (name, value) in props {
        b.push(name.len() as u8);
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&(value.len() as u32).to_be_bytes());
        b.extend_from_slice(value);
    }
    b
}

fn ready(props: &[(&str, &[u8])]) -> Vec<u8> {
    command(&ready_body(props))
}

fn ready_push() -> Vec<u8> {
    ready(&[("Socket-Type", b"PUSH")])
}

/// A data frame, in the short form when it fits.
fn data(body: &[u8], more: bool) -> Vec<u8> {
    let mut f = Vec::new();
    let more = if more { 0x01 } else { 0x00 };
    if body.len() <= 255 {
        f.extend_from_slice(&[more, body.len() as u8]);
    } else {
        f.push(more | 0x02);
        f.extend_from_slice(&(body.len() as u64).to_be_bytes());
    }
    f.extend_from_slice(body);
    f
}

/// A data frame in the long (8-byte size) form, whatever its size.
fn data_long_form(body: &[u8], more: bool) -> Vec<u8> {
    let mut f = vec![0x02 | more as u8];
    f.extend_from_slice(&(body.len() as u64).to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// Greeting, READY as a PUSH.
fn valid_prologue() -> Vec<u8> {
    let mut v = greeting();
    v.extend(ready_push());
    v
}

// ----- the raw peer -----------------------------------------------------------------------

fn raw_connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("raw connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(CLOSE_WITHIN)).unwrap();
    s.set_write_timeout(Some(CLOSE_WITHIN)).unwrap();
    s
}

/// Writes hostile bytes; the peer may already have closed, which is what we want anyway.
fn write_hostile(s: &mut TcpStream, bytes: &[u8]) {
    match s.write_all(bytes) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) => {}
        Err(e) => panic!("writing hostile bytes failed unexpectedly: {e}"),
    }
}

/// Reads until zerosock closes the connection (EOF or reset), failing if it does not do so
/// within `CLOSE_WITHIN`. Returns what zerosock sent before closing.
fn expect_closed(s: &mut TcpStream, case: &str) -> Vec<u8> {
    let deadline = Instant::now() + CLOSE_WITHIN;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!("{case}: zerosock did not close the hostile connection within {CLOSE_WITHIN:?} (it sent {} B)", got.len());
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                return got
            }
            Err(e) => panic!("{case}: unexpected read error {e}"),
        }
    }
}

/// One frame as zerosock sent it: (flags, body).
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags).expect("read frame flags");
    let size = if flags[0] & 0x02 != 0 {
        let mut be = [0u8; 8];
        s.read_exact(&mut be).expect("read long frame size");
        u64::from_be_bytes(be)
    } else {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).expect("read frame size");
        b[0] as u64
    };
    assert!(size < 1 << 20, "zerosock announced a {size} B frame");
    let mut body = vec![0u8; size as usize];
    s.read_exact(&mut body).expect("read frame body");
    (flags[0], body)
}

/// Reads and checks zerosock's side of the handshake: a ZMTP 3.1 NULL greeting and a READY
/// announcing `Socket-Type` PULL.
fn read_zerosock_handshake(s: &mut TcpStream) {
    let mut g = [0u8; 64];
    s.read_exact(&mut g).expect("read zerosock greeting");
    assert_eq!(g[0], 0xFF, "signature start");
    assert_eq!(&g[1..9], &[0u8; 8], "signature padding");
    assert_eq!(g[9], 0x7F, "signature end");
    assert_eq!(g[10], 3, "major version");
    assert!(g[11] >= 1, "minor version {}", g[11]);
    assert_eq!(
        &g[12..32],
        b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        "mechanism"
    );
    let (flags, body) = read_frame(s);
    assert_eq!(flags, 0x04, "READY must be a short command frame");
    assert!(
        body.starts_with(b"\x05READY"),
        "expected READY, got {body:?}"
    );
    // Parse the properties and find Socket-Type.
    let mut rest = &body[6..];
    let mut socket_type = None;
    while !rest.is_empty() {
        let n = rest[0] as usize;
        let name = &rest[1..1 + n];
        let vlen = u32::from_be_bytes(rest[1 + n..5 + n].try_into().unwrap()) as usize;
        let value = &rest[5 + n..5 + n + vlen];
        if name.eq_ignore_ascii_case(b"Socket-Type") {
            socket_type = Some(value.to_vec());
        }
        rest = &rest[5 + n + vlen..];
    }
    assert_eq!(
        socket_type.as_deref(),
        Some(&b"PULL"[..]),
        "zerosock's Socket-Type"
    );
}

// ----- the fixture: a PULL with two good peers --------------------------------------------

struct Fixture {
    pull: Socket,
    addr: SocketAddr,
    zs_push: Socket,
    zmq_push: zmq::Socket,
    rounds: u32,
    // Contexts last (dropped after the sockets).
    _pull_ctx: Context,
    _push_ctx: Context,
    _zmq_ctx: zmq::Context,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(|_| {})
    }

    /// `configure` runs on the PULL before it binds (connections copy the options then).
    fn with(configure: impl FnOnce(&Socket)) -> Fixture {
        let pull_ctx = Context::new();
        let pull = pull_ctx.socket(SocketType::Pull).unwrap();
        pull.set_rcvtimeo(TIMEOUT_MS).unwrap();
        pull.set_linger(0).unwrap();
        configure(&pull);
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let addr: SocketAddr = ep.strip_prefix("tcp://").unwrap().parse().unwrap();

        let push_ctx = Context::new();
        let zs_push = push_ctx.socket(SocketType::Push).unwrap();
        zs_push.set_sndtimeo(TIMEOUT_MS).unwrap();
        zs_push.set_linger(0).unwrap();
        zs_push.connect(&ep).unwrap();

        let zmq_ctx = zmq::Context::new();
        let zmq_push = zmq_ctx.socket(zmq::PUSH).unwrap();
        zmq_push.set_sndtimeo(TIMEOUT_MS).unwrap();
        zmq_push.set_linger(0).unwrap();
        zmq_push.connect(&ep).unwrap();

        let mut f = Fixture {
            pull,
            addr,
            zs_push,
            zmq_push,
            rounds: 0,
            _pull_ctx: pull_ctx,
            _push_ctx: push_ctx,
            _zmq_ctx: zmq_ctx,
        };
        f.check_good_peers("setup");
        f
    }

    fn raw(&self) -> TcpStream {
        raw_connect(self.addr)
    }

    /// Both good peers send one message; the PULL must receive exactly those two, and
    /// nothing else may be waiting (nothing from a hostile peer leaked through).
    fn check_good_peers(&mut self, after: &str) {
        self.rounds += 1;
        let a = format!("zerosock good peer, round {} ({after})", self.rounds);
        let b = format!("libzmq good peer, round {} ({after})", self.rounds);
        self.zs_push
            .send(a.as_str(), 0)
            .unwrap_or_else(|e| panic!("{after}: zerosock good peer cannot send: {e}"));
        self.zmq_push
            .send(b.as_str(), 0)
            .unwrap_or_else(|e| panic!("{after}: libzmq good peer cannot send: {e}"));
        let mut want = vec![a, b];
        while !want.is_empty() {
            let m = self.pull.recv(0).unwrap_or_else(|e| {
                panic!("{after}: PULL did not receive the good peers' messages {want:?}: {e}")
            });
            assert!(!m.more(), "{after}: good message with MORE set: {m:?}");
            let text = String::from_utf8_lossy(&m).into_owned();
            let pos = want
                .iter()
                .position(|w| *w == text)
                .unwrap_or_else(|| panic!("{after}: PULL received an unexpected message {m:?}"));
            want.remove(pos);
        }
        match self.pull.recv(DONTWAIT) {
            Err(zerosock::Error::WouldBlock) => {}
            other => panic!("{after}: PULL has a stray message: {other:?}"),
        }
    }

    /// Connects a raw peer, writes `bytes`, expects zerosock to close the connection, then
    /// checks that the good peers still work.
    fn hostile_case(&mut self, case: &str, bytes: &[u8]) {
        let mut s = self.raw();
        write_hostile(&mut s, bytes);
        let sent = expect_closed(&mut s, case);
        // Whatever zerosock sent before closing must be (a prefix of) its own handshake.
        if !sent.is_empty() {
            assert_eq!(sent[0], 0xFF, "{case}: zerosock sent garbage {sent:?}");
        }
        self.check_good_peers(case);
    }
}

// ----- positive cases: the hand-written handshake is right --------------------------------

#[test]
fn valid_raw_peer_is_received() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut s = f.raw();
        let mut bytes = valid_prologue();
        bytes.extend(data(b"raw single frame", false));
        bytes.extend(data(b"raw-a", true));
        bytes.extend(data(b"", true));
        let big: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        bytes.extend(data(&big, false)); // long form, 300 B
        bytes.extend(data_long_form(b"long form, short body", false));
        bytes.extend(data(b"", false)); // an empty message
        s.write_all(&bytes).unwrap();
        read_zerosock_handshake(&mut s);

        let m = f.pull.recv_multipart(0).expect("raw peer's first message");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0], &b"raw single frame"[..]);
        let m = f
            .pull
            .recv_multipart(0)
            .expect("raw peer's multipart message");
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[0], &b"raw-a"[..]);
        assert!(m[1].is_empty());
        assert_eq!(&m[2][..], &big[..]);
        let m = f
            .pull
            .recv_multipart(0)
            .expect("raw peer's long-form message");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0], &b"long form, short body"[..]);
        let m = f.pull.recv_multipart(0).expect("raw peer's empty message");
        assert_eq!(m.len(), 1);
        assert!(m[0].is_empty());

        // The connection is still alive and serviced: PING gets its PONG.
        s.write_all(b"\x04\x0a\x04PING\x00\x0aabc").unwrap();
        assert_eq!(read_frame(&mut s), (0x04, b"\x04PONGabc".to_vec()));
        f.check_good_peers("valid raw peer");
        drop(s);
        f.check_good_peers("valid raw peer closed");
    });
}

#[test]
fn valid_raw_peer_one_byte_at_a_time() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut s = f.raw();
        let mut bytes = valid_prologue();
        bytes.extend(data(b"dripped", true));
        bytes.extend(data(b"", true));
        bytes.extend(data_long_form(b"one byte at a time", false));
        for b in &bytes {
            s.write_all(std::slice::from_ref(b)).unwrap();
            // Pace the writes so they arrive as separate segments (and reads) instead of
            // being coalesced: this is the point of the test, not a wait for a state.
            std::thread::sleep(Duration::from_micros(300));
        }
        read_zerosock_handshake(&mut s);
        let m = f.pull.recv_multipart(0).expect("dripped message");
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[0], &b"dripped"[..]);
        assert!(m[1].is_empty());
        assert_eq!(m[2], &b"one byte at a time"[..]);
        f.check_good_peers("one byte at a time");
    });
}

#[test]
fn ping_gets_pong() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut s = f.raw();
        s.write_all(&valid_prologue()).unwrap();
        read_zerosock_handshake(&mut s);
        // PING: TTL 0x000a deciseconds, context "abc".
        s.write_all(b"\x04\x0a\x04PING\x00\x0aabc").unwrap();
        let (flags, body) = read_frame(&mut s);
        assert_eq!(flags, 0x04, "PONG must be a short command frame");
        assert_eq!(body, b"\x04PONGabc", "PONG must echo the PING context");
        // A PING with an empty context too.
        s.write_all(b"\x04\x07\x04PING\x00\x00").unwrap();
        assert_eq!(read_frame(&mut s), (0x04, b"\x04PONG".to_vec()));
        // The session still delivers data after the heartbeats.
        s.write_all(&data(b"after ping", false)).unwrap();
        assert_eq!(f.pull.recv(0).unwrap(), &b"after ping"[..]);
        f.check_good_peers("ping/pong");
    });
}

// ----- hostile cases ----------------------------------------------------------------------

#[test]
fn long_frame_of_2_pow_63_bytes() {
    bounded(30, || {
        let mut f = Fixture::new();
        for (case, flags, size) in [
            ("LONG frame of 2^63 B", 0x02u8, 1u64 << 63),
            ("LONG|MORE frame of 2^63 B", 0x03, 1 << 63),
            ("LONG frame of 2^64-1 B", 0x02, u64::MAX),
        ] {
            let mut bytes = valid_prologue();
            bytes.push(flags);
            bytes.extend_from_slice(&size.to_be_bytes());
            bytes.extend_from_slice(b"some body bytes");
            f.hostile_case(case, &bytes);
        }
    });
}

#[test]
fn frame_above_maxmsgsize() {
    bounded(30, || {
        let mut f = Fixture::with(|pull| pull.set_maxmsgsize(1000).unwrap());
        for size in [2000u64, 1001] {
            let mut bytes = valid_prologue();
            bytes.push(0x02);
            bytes.extend_from_slice(&size.to_be_bytes());
            bytes.extend(std::iter::repeat(0xAA).take(100));
            f.hostile_case(&format!("{size} B frame over MAXMSGSIZE 1000"), &bytes);
        }
        // The limit is inclusive: a good peer's 1000 B message still arrives.
        f.zs_push.send(vec![0x5A; 1000], 0).unwrap();
        let m = f.pull.recv(0).expect("1000 B message at MAXMSGSIZE");
        assert_eq!(&m[..], &[0x5A; 1000][..]);
        f.check_good_peers("message at MAXMSGSIZE");
    });
}

#[test]
fn bad_greeting_signature() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut bytes = greeting_with(0x00, 3, 1, b"NULL");
        bytes.extend(ready_push());
        f.hostile_case("first greeting byte 0x00", &bytes);

        let mut bytes = greeting();
        bytes[9] = 0x00;
        bytes.extend(ready_push());
        f.hostile_case("signature without 0x7F", &bytes);

        f.hostile_case(
            "HTTP request",
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n\
              padding padding padding padding padding padding padding",
        );
    });
}

#[test]
fn major_version_2() {
    bounded(30, || {
        let mut f = Fixture::new();
        for major in [2u8, 1] {
            let mut bytes = greeting_with(0xFF, major, 0, b"NULL");
            bytes.extend(ready_push());
            f.hostile_case(&format!("ZMTP major version {major}"), &bytes);
        }
    });
}

#[test]
fn truncated_ready() {
    bounded(30, || {
        let mut f = Fixture::new();
        let cases: [(&str, &[u8]); 4] = [
            (
                "Socket-Type value-length 16, 4 bytes present",
                b"\x05READY\x0bSocket-Type\x00\x00\x00\x10PUSH",
            ),
            (
                "Socket-Type value-length 2^32-1",
                b"\x05READY\x0bSocket-Type\xff\xff\xff\xffPUSH",
            ),
            (
                "property name longer than the body",
                b"\x05READY\x20Socket-Type",
            ),
            (
                "value-length cut short",
                b"\x05READY\x0bSocket-Type\x00\x00",
            ),
        ];
        for (case, body) in cases {
            let mut bytes = greeting();
            bytes.extend(command(body));
            bytes.extend(data(b"must not be delivered", false));
            f.hostile_case(case, &bytes);
        }
    });
}

#[test]
fn incompatible_socket_type() {
    bounded(30, || {
        let mut f = Fixture::new();
        for ty in ["PULL", "PUB", "REQ", "PAIR"] {
            let mut bytes = greeting();
            bytes.extend(ready(&[("Socket-Type", ty.as_bytes())]));
            bytes.extend(data(b"must not be delivered", false));
            f.hostile_case(&format!("Socket-Type {ty} to a PULL"), &bytes);
        }
    });
}

#[test]
fn missing_socket_type() {
    bounded(30, || {
        let mut f = Fixture::new();
        let cases: [(&str, Vec<u8>); 3] = [
            ("READY without properties", ready(&[])),
            ("READY with only X-Other", ready(&[("X-Other", b"PUSH")])),
            (
                "READY with an unknown Socket-Type",
                ready(&[("Socket-Type", b"BOGUS")]),
            ),
        ];
        for (case, ready) in cases {
            let mut bytes = greeting();
            bytes.extend(ready);
            bytes.extend(data(b"must not be delivered", false));
            f.hostile_case(case, &bytes);
        }
    });
}

#[test]
fn data_frame_before_ready() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut bytes = greeting();
        bytes.extend(data(b"sneaky data before READY", false));
        bytes.extend(ready_push());
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("data frame before READY", &bytes);

        let mut bytes = greeting();
        bytes.extend(data(b"sneaky", true));
        f.hostile_case("data frame with MORE before READY", &bytes);
    });
}

#[test]
fn reserved_flag_bits() {
    bounded(30, || {
        let mut f = Fixture::new();
        for flags in [0x08u8, 0x10, 0x20, 0x40, 0x80, 0x09, 0xF8] {
            let mut bytes = valid_prologue();
            bytes.extend_from_slice(&[flags, 5]);
            bytes.extend_from_slice(b"hello");
            f.hostile_case(&format!("data frame with flags {flags:#04x}"), &bytes);
        }
        // Reserved bits in the READY command frame itself.
        let mut bytes = greeting();
        let mut ready = ready_push();
        ready[0] |= 0x80;
        bytes.extend(ready);
        f.hostile_case("READY with flag 0x80", &bytes);
    });
}

// ----- greeting: mechanisms -----------------------------------------------------------------

#[test]
fn unknown_mechanism() {
    bounded(30, || {
        let mut f = Fixture::new();
        for mechanism in [&b"FOO"[..], b"", b"NULL2", b"null"] {
            let mut bytes = greeting_with(0xFF, 3, 1, mechanism);
            bytes.extend(ready_push());
            bytes.extend(data(b"must not be delivered", false));
            f.hostile_case(
                &format!("mechanism {:?}", String::from_utf8_lossy(mechanism)),
                &bytes,
            );
        }
    });
}

/// A peer greeting with another mechanism than the socket's (NULL here) is closed, whether
/// the mechanism is one zerosock knows or not.
#[test]
fn mechanism_mismatch() {
    bounded(30, || {
        let mut f = Fixture::new();
        // PLAIN: the greeting, then a client HELLO (username "admin", password "secret").
        let mut bytes = greeting_with(0xFF, 3, 1, b"PLAIN");
        bytes.extend(command(b"\x05HELLO\x05admin\x06secret"));
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("PLAIN client to a NULL socket", &bytes);
        // PLAIN as server, then a NULL-style READY anyway.
        let mut bytes = greeting_with(0xFF, 3, 1, b"PLAIN");
        bytes[32] = 1;
        bytes.extend(ready_push());
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("PLAIN server to a NULL socket", &bytes);
        // CURVE: the greeting, then 200 bytes standing in for a client HELLO.
        let mut bytes = greeting_with(0xFF, 3, 1, b"CURVE");
        let mut hello = b"\x05HELLO\x01\x00".to_vec();
        hello.resize(200, 0);
        bytes.extend(command(&hello));
        f.hostile_case("CURVE client to a NULL socket", &bytes);
    });
}

// ----- READY --------------------------------------------------------------------------------

#[test]
fn duplicate_ready() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut bytes = valid_prologue();
        bytes.extend(ready_push());
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("READY twice", &bytes);

        let mut bytes = valid_prologue();
        bytes.extend(ready(&[("Socket-Type", b"PUB")]));
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("a second READY changing the Socket-Type", &bytes);
    });
}

/// A value length running past the end of the body in a property after a valid
/// Socket-Type (the first property is covered by `truncated_ready`).
#[test]
fn value_length_past_the_end_in_a_later_property() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut body = ready_body(&[("Socket-Type", b"PUSH")]);
        body.extend(b"\x08Identity\x00\x00\x01\x00abc"); // 256 announced, 3 present
        let mut bytes = greeting();
        bytes.extend(command(&body));
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("Identity value-length 256, 3 bytes present", &bytes);
    });
}

// ----- commands -----------------------------------------------------------------------------

#[test]
fn command_name_longer_than_the_body() {
    bounded(30, || {
        let mut f = Fixture::new();
        let cases: [(&str, bool, &[u8]); 5] = [
            ("READY with name-length 10", false, b"\x0aREADY"),
            ("name-length 255, nothing after it", false, b"\xff"),
            ("empty command body", false, b""),
            (
                "PING with name-length 16, after READY",
                true,
                b"\x10PING\x00\x00",
            ),
            ("empty command body, after READY", true, b""),
        ];
        for (case, after_ready, body) in cases {
            let mut bytes = if after_ready {
                valid_prologue()
            } else {
                greeting()
            };
            bytes.extend(command(body));
            bytes.extend(data(b"must not be delivered", false));
            f.hostile_case(case, &bytes);
        }
    });
}

#[test]
fn command_with_more_flag() {
    bounded(30, || {
        let mut f = Fixture::new();
        // READY as COMMAND|MORE.
        let mut bytes = greeting();
        let mut ready = ready_push();
        ready[0] |= 0x01;
        bytes.extend(ready);
        f.hostile_case("READY with MORE", &bytes);
        // PING as COMMAND|MORE after the handshake, short and long form.
        let mut bytes = valid_prologue();
        bytes.extend(b"\x05\x07\x04PING\x00\x00");
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("PING with MORE", &bytes);
        let mut bytes = valid_prologue();
        bytes.extend(b"\x07\x00\x00\x00\x00\x00\x00\x00\x07\x04PING\x00\x00");
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("long-form PING with MORE", &bytes);
    });
}

/// RFC 37 leaves room for new commands, and zerosock (like libzmq) ignores a command it does
/// not know once the handshake is done: the connection stays up and its data still flows.
/// During the NULL handshake only READY (or ERROR) may come; anything else closes it.
#[test]
fn unknown_command_is_ignored_after_the_handshake_and_refused_before() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut s = f.raw();
        let mut bytes = valid_prologue();
        bytes.extend(command(b"\x07UNKNOWN"));
        bytes.extend(command(b"\x07UNKNOWNsome data"));
        bytes.extend(command(b"\x05HELLO\x05admin\x06secret")); // PLAIN's, not NULL's
        bytes.extend(data(b"after unknown commands", false));
        s.write_all(&bytes).unwrap();
        read_zerosock_handshake(&mut s);
        assert_eq!(f.pull.recv(0).unwrap(), "after unknown commands");
        s.write_all(b"\x04\x0a\x04PING\x00\x0aabc").unwrap();
        assert_eq!(read_frame(&mut s), (0x04, b"\x04PONGabc".to_vec()));
        f.check_good_peers("unknown commands");

        let mut bytes = greeting();
        bytes.extend(command(b"\x07UNKNOWN"));
        bytes.extend(ready_push());
        bytes.extend(data(b"must not be delivered", false));
        f.hostile_case("unknown command before READY", &bytes);
    });
}

#[test]
fn ping_shorter_than_its_header() {
    bounded(30, || {
        let mut f = Fixture::new();
        for (case, ping) in [
            ("PING without TTL", &b"\x04PING"[..]),
            ("PING with 1 byte of TTL", b"\x04PING\x00"),
        ] {
            let mut bytes = valid_prologue();
            bytes.extend(command(ping));
            bytes.extend(data(b"must not be delivered", false));
            f.hostile_case(case, &bytes);
        }
        // A well-formed PING is still not allowed before READY.
        let mut bytes = greeting();
        bytes.extend(command(b"\x04PING\x00\x0aabc"));
        bytes.extend(ready_push());
        f.hostile_case("PING before READY", &bytes);
    });
}

/// RFC 37: the PING context is at most 16 bytes. A longer one is not fatal; the PONG echoes
/// its first 16 bytes, and the connection goes on.
#[test]
fn ping_context_over_16_bytes_gets_16_back() {
    bounded(30, || {
        let mut f = Fixture::new();
        let mut s = f.raw();
        s.write_all(&valid_prologue()).unwrap();
        read_zerosock_handshake(&mut s);
        let context: Vec<u8> = (0..40u8).collect();
        for len in [16usize, 17, 40] {
            let mut ping = b"\x04PING\x00\x0a".to_vec();
            ping.extend_from_slice(&context[..len]);
            s.write_all(&command(&ping)).unwrap();
            let (flags, body) = read_frame(&mut s);
            assert_eq!(flags, 0x04, "PONG must be a short command frame");
            let mut want = b"\x04PONG".to_vec();
            want.extend_from_slice(&context[..16]);
            assert_eq!(body, want, "PONG to a PING with a {len}-byte context");
        }
        s.write_all(&data(b"after long pings", false)).unwrap();
        assert_eq!(f.pull.recv(0).unwrap(), "after long pings");
        f.check_good_peers("long PING contexts");
    });
}

// ----- huge frame sizes, before the handshake -----------------------------------------------

/// Before READY the peer may only send a command; one announcing an impossible size is
/// refused at its header, as after the handshake.
#[test]
fn long_frame_before_the_handshake() {
    bounded(30, || {
        let mut f = Fixture::new();
        for (case, flags, size) in [
            ("LONG command of 2^63 B before READY", 0x06u8, 1u64 << 63),
            ("LONG command of 2^64-1 B before READY", 0x06, u64::MAX),
            ("LONG data frame of 2^64-1 B before READY", 0x02, u64::MAX),
        ] {
            let mut bytes = greeting();
            bytes.push(flags);
            bytes.extend_from_slice(&size.to_be_bytes());
            bytes.extend_from_slice(b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH");
            f.hostile_case(case, &bytes);
        }
    });
}

#[test]
fn frame_above_maxmsgsize_before_the_handshake() {
    bounded(30, || {
        let mut f = Fixture::with(|pull| pull.set_maxmsgsize(1000).unwrap());
        let mut bytes = greeting();
        bytes.push(0x06);
        bytes.extend_from_slice(&1001u64.to_be_bytes());
        bytes.extend_from_slice(b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH");
        bytes.resize(bytes.len() + 1001 - 26, 0);
        f.hostile_case("1001 B READY over MAXMSGSIZE 1000", &bytes);
    });
}

/// 2^63-1 is the largest size a LONG frame can announce without exceeding i64 (libzmq's own
/// limit), and more than any machine can hold: the connection is closed, before and after
/// the handshake, with MAXMSGSIZE unset (zerosock refuses anything above 2^47 bytes, the
/// user address space; libzmq closes when its allocation of the body fails).
#[test]
fn long_frame_of_2_pow_63_minus_1_bytes() {
    bounded(30, || {
        let mut f = Fixture::new();
        for (case, after_ready, flags) in [
            ("LONG data frame of 2^63-1 B", true, 0x02u8),
            ("LONG command of 2^63-1 B before READY", false, 0x06),
        ] {
            let mut bytes = if after_ready {
                valid_prologue()
            } else {
                greeting()
            };
            bytes.push(flags);
            bytes.extend_from_slice(&(i64::MAX as u64).to_be_bytes());
            bytes.extend_from_slice(b"some body bytes");
            f.hostile_case(case, &bytes);
        }
    });
}
