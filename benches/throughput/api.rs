//! The handful of calls the bench's rows make, behind one trait with an implementation per
//! library, so that each row is written once and runs the very same code against zerosock
//! and libzmq. Each method is the library's plain API call: the generics are monomorphized,
//! so there is no indirection on the measured path.

use crate::{stamp, Lib};
use std::ops::Deref;

/// Socket types the rows use.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Pub,
    Sub,
    Dealer,
    Router,
    Push,
    Pull,
    Req,
    Rep,
}

/// Options the rows set (libzmq names and units).
pub(crate) enum Opt<'a> {
    SndHwm(i32),
    RcvHwm(i32),
    SndTimeo(i32),
    RcvTimeo(i32),
    Linger(i32),
    Subscribe(&'a [u8]),
    RoutingId(&'a [u8]),
}

/// Why a send or receive did not happen.
pub(crate) enum Fail {
    /// `DONTWAIT` and nothing could be done, or the send/receive timeout ran out.
    Again,
    Other(String),
}

impl Fail {
    /// As text, for an error report.
    pub(crate) fn describe(&self) -> String {
        match self {
            Fail::Again => "would block / timed out".to_string(),
            Fail::Other(e) => e.clone(),
        }
    }
}

/// One library, as the rows see it.
pub(crate) trait Api: 'static {
    const LIB: Lib;
    type Ctx: Clone + Send + 'static;
    type Sock: Send + 'static;
    type Msg: Deref<Target = [u8]>;
    /// A body that can be sent many times without a copy (zerosock: `Bytes`).
    type Shared: Send + 'static;

    /// A context with one I/O thread (both libraries' default).
    fn context() -> Self::Ctx;
    fn socket(ctx: &Self::Ctx, kind: Kind) -> Result<Self::Sock, String>;
    fn set(sock: &Self::Sock, opt: Opt<'_>) -> Result<(), String>;
    /// Binds and returns the endpoint as resolved (`tcp://127.0.0.1:*` gets its port).
    fn bind(sock: &Self::Sock, endpoint: &str) -> Result<String, String>;
    fn connect(sock: &Self::Sock, endpoint: &str) -> Result<(), String>;
    /// Sends one single-frame message; `dontwait` fails with `Fail::Again` instead of waiting.
    fn send(sock: &Self::Sock, body: &[u8], dontwait: bool) -> Result<(), Fail>;
    /// Sends one single-frame message whose body the library takes over without a copy.
    fn send_owned(sock: &Self::Sock, body: Vec<u8>) -> Result<(), Fail>;
    /// Sends one single-frame message of `size` zero bytes with `seq` stamped in, built in
    /// a buffer the library gives out (libzmq: `zmq_msg_init_size`, which its perf tools
    /// send; zerosock: `Msg::buffer`): a large message built where it is sent from.
    fn send_built(sock: &Self::Sock, size: usize, seq: u64) -> Result<(), Fail>;
    /// `body` as a [`Api::Shared`] body; `None` where the library has no such send.
    fn share(body: &[u8]) -> Option<Self::Shared>;
    /// Sends one single-frame message whose body is shared with the caller, not copied.
    fn send_shared(sock: &Self::Sock, body: &Self::Shared) -> Result<(), Fail>;
    /// A message to receive into.
    fn msg() -> Self::Msg;
    /// Receives one frame into `msg`, waiting up to `RCVTIMEO`.
    fn recv(sock: &Self::Sock, msg: &mut Self::Msg) -> Result<(), Fail>;

    fn name() -> &'static str {
        Self::LIB.name()
    }
}

pub(crate) struct Zerosock;

impl Api for Zerosock {
    const LIB: Lib = Lib::Zerosock;
    type Ctx = zerosock::Context;
    type Sock = zerosock::Socket;
    type Msg = zerosock::Msg;
    type Shared = bytes::Bytes;

    fn context() -> Self::Ctx {
        zerosock::Context::new()
    }

    fn socket(ctx: &Self::Ctx, kind: Kind) -> Result<Self::Sock, String> {
        use zerosock::SocketType as T;
        let t = match kind {
            Kind::Pub => T::Pub,
            Kind::Sub => T::Sub,
            Kind::Dealer => T::Dealer,
            Kind::Router => T::Router,
            Kind::Push => T::Push,
            Kind::Pull => T::Pull,
            Kind::Req => T::Req,
            Kind::Rep => T::Rep,
        };
        ctx.socket(t).map_err(|e| format!("zerosock socket: {e}"))
    }

    fn set(sock: &Self::Sock, opt: Opt<'_>) -> Result<(), String> {
        match opt {
            Opt::SndHwm(v) => sock.set_sndhwm(v),
            Opt::RcvHwm(v) => sock.set_rcvhwm(v),
            Opt::SndTimeo(v) => sock.set_sndtimeo(v),
            Opt::RcvTimeo(v) => sock.set_rcvtimeo(v),
            Opt::Linger(v) => sock.set_linger(v),
            Opt::Subscribe(topic) => sock.set_subscribe(topic),
            Opt::RoutingId(id) => sock.set_routing_id(id),
        }
        .map_err(|e| format!("zerosock set option: {e}"))
    }

    fn bind(sock: &Self::Sock, endpoint: &str) -> Result<String, String> {
        sock.bind(endpoint)
            .map_err(|e| format!("zerosock bind: {e}"))?;
        sock.last_endpoint()
            .ok_or_else(|| "zerosock: no last_endpoint after bind".to_string())
    }

    fn connect(sock: &Self::Sock, endpoint: &str) -> Result<(), String> {
        sock.connect(endpoint)
            .map_err(|e| format!("zerosock connect: {e}"))
    }

    fn send(sock: &Self::Sock, body: &[u8], dontwait: bool) -> Result<(), Fail> {
        let flags = if dontwait { zerosock::DONTWAIT } else { 0 };
        sock.send(body, flags).map_err(zerosock_fail)
    }

    fn send_owned(sock: &Self::Sock, body: Vec<u8>) -> Result<(), Fail> {
        sock.send(body, 0).map_err(zerosock_fail)
    }

    fn send_built(sock: &Self::Sock, size: usize, seq: u64) -> Result<(), Fail> {
        let mut body = zerosock::Msg::buffer(size);
        body.resize(size, 0);
        stamp(&mut body, seq);
        sock.send(body, 0).map_err(zerosock_fail)
    }

    fn share(body: &[u8]) -> Option<Self::Shared> {
        Some(bytes::Bytes::copy_from_slice(body))
    }

    fn send_shared(sock: &Self::Sock, body: &Self::Shared) -> Result<(), Fail> {
        sock.send(body.clone(), 0).map_err(zerosock_fail)
    }

    fn msg() -> Self::Msg {
        zerosock::Msg::default()
    }

    fn recv(sock: &Self::Sock, msg: &mut Self::Msg) -> Result<(), Fail> {
        sock.recv_into(msg, 0).map_err(zerosock_fail)
    }
}

fn zerosock_fail(e: zerosock::Error) -> Fail {
    match e {
        zerosock::Error::WouldBlock | zerosock::Error::TimedOut => Fail::Again,
        e => Fail::Other(format!("zerosock: {e}")),
    }
}

pub(crate) struct Libzmq;

impl Api for Libzmq {
    const LIB: Lib = Lib::Libzmq;
    type Ctx = zmq::Context;
    type Sock = zmq::Socket;
    type Msg = zmq::Message;
    /// The `zmq` crate sends a body without a copy only once (`zmq_msg_init_data`), so
    /// there is nothing to share between sends.
    type Shared = ();

    fn context() -> Self::Ctx {
        zmq::Context::new()
    }

    fn socket(ctx: &Self::Ctx, kind: Kind) -> Result<Self::Sock, String> {
        let t = match kind {
            Kind::Pub => zmq::PUB,
            Kind::Sub => zmq::SUB,
            Kind::Dealer => zmq::DEALER,
            Kind::Router => zmq::ROUTER,
            Kind::Push => zmq::PUSH,
            Kind::Pull => zmq::PULL,
            Kind::Req => zmq::REQ,
            Kind::Rep => zmq::REP,
        };
        ctx.socket(t).map_err(|e| format!("libzmq socket: {e}"))
    }

    fn set(sock: &Self::Sock, opt: Opt<'_>) -> Result<(), String> {
        match opt {
            Opt::SndHwm(v) => sock.set_sndhwm(v),
            Opt::RcvHwm(v) => sock.set_rcvhwm(v),
            Opt::SndTimeo(v) => sock.set_sndtimeo(v),
            Opt::RcvTimeo(v) => sock.set_rcvtimeo(v),
            Opt::Linger(v) => sock.set_linger(v),
            Opt::Subscribe(topic) => sock.set_subscribe(topic),
            Opt::RoutingId(id) => sock.set_identity(id),
        }
        .map_err(|e| format!("libzmq set option: {e}"))
    }

    fn bind(sock: &Self::Sock, endpoint: &str) -> Result<String, String> {
        sock.bind(endpoint)
            .map_err(|e| format!("libzmq bind: {e}"))?;
        sock.get_last_endpoint()
            .map_err(|e| format!("libzmq get_last_endpoint: {e}"))?
            .map_err(|_| "libzmq: last endpoint is not UTF-8".to_string())
    }

    fn connect(sock: &Self::Sock, endpoint: &str) -> Result<(), String> {
        sock.connect(endpoint)
            .map_err(|e| format!("libzmq connect: {e}"))
    }

    fn send(sock: &Self::Sock, body: &[u8], dontwait: bool) -> Result<(), Fail> {
        let flags = if dontwait { zmq::DONTWAIT } else { 0 };
        sock.send(body, flags).map_err(libzmq_fail)
    }

    fn send_owned(sock: &Self::Sock, body: Vec<u8>) -> Result<(), Fail> {
        // `zmq::Message::from(Vec<u8>)` hands libzmq the buffer (`zmq_msg_init_data`).
        sock.send(body, 0).map_err(libzmq_fail)
    }

    fn send_built(sock: &Self::Sock, size: usize, seq: u64) -> Result<(), Fail> {
        // `with_size` is `zmq_msg_init_size` followed by a `memset` to zero.
        let mut body = zmq::Message::with_size(size);
        stamp(&mut body, seq);
        sock.send(body, 0).map_err(libzmq_fail)
    }

    fn share(_: &[u8]) -> Option<Self::Shared> {
        None
    }

    fn send_shared(_: &Self::Sock, _: &Self::Shared) -> Result<(), Fail> {
        Err(Fail::Other("libzmq: no shared sends".to_string()))
    }

    fn msg() -> Self::Msg {
        zmq::Message::new()
    }

    fn recv(sock: &Self::Sock, msg: &mut Self::Msg) -> Result<(), Fail> {
        sock.recv(msg, 0).map_err(libzmq_fail)
    }
}

fn libzmq_fail(e: zmq::Error) -> Fail {
    match e {
        zmq::Error::EAGAIN => Fail::Again,
        e => Fail::Other(format!("libzmq: {e}")),
    }
}
