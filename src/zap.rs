//! A ready-made ZAP handler (RFC 27): allow or deny peers by IP address, and PLAIN clients
//! by username and password.
//!
//! A socket that authenticates its peers (a `PLAIN_SERVER`, or NULL with a `ZAP_DOMAIN`)
//! asks whatever socket is bound at `inproc://zeromq.zap.01` in its context, exactly as
//! libzmq does, so any handler written against RFC 27 works; [`Authenticator`] is one that
//! covers the common cases:
//!
//! ```
//! use zerosock::{zap::Authenticator, Context, SocketType};
//!
//! let ctx = Context::new();
//! let auth = Authenticator::start(&ctx)?;
//! auth.add_user("admin", "secret");
//!
//! let server = ctx.socket(SocketType::Pull)?;
//! server.set_plain_server(true)?;
//! server.bind("tcp://127.0.0.1:*")?;
//!
//! let client = ctx.socket(SocketType::Push)?;
//! client.set_plain_username(b"admin")?;
//! client.set_plain_password(b"secret")?;
//! client.connect(&server.last_endpoint().unwrap())?;
//! client.send("hello", 0)?;
//!
//! let msg = server.recv(0)?;
//! assert_eq!(msg.property("User-Id"), Some("admin"));
//! # Ok::<(), zerosock::Error>(())
//! ```
//!
//! The verdict, per request: an address on the deny list is refused; when the allow list is
//! not empty, an address not on it is refused; then a NULL peer is accepted (with an empty
//! `User-Id`), a PLAIN peer is accepted if its username and password match a user added with
//! [`Authenticator::add_user`] (its `User-Id` is the username), and anything else is refused
//! with status 400. The ZAP domain is not consulted: one policy serves every domain.

use crate::error::{Error, Result};
use crate::msg::Msg;
use crate::peer::Properties;
use crate::poll::{poll, PollItem, POLLIN};
use crate::socket::{Socket, DONTWAIT, SNDMORE};
use crate::socket_type::SocketType;
use crate::zmtp::{ZAP_ENDPOINT, ZAP_VERSION};
use crate::Context;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Who may connect. Changed by the application, read by the handler thread per request.
#[derive(Default)]
struct Policy {
    allow: HashSet<String>,
    deny: HashSet<String>,
    users: HashMap<Vec<u8>, Vec<u8>>,
    metadata: Properties,
}

/// A ZAP handler running on its own thread, bound at `inproc://zeromq.zap.01` of one
/// context. It stops when dropped (or with [`Authenticator::stop`]) and when its context
/// terminates. Changes to the policy apply to the handshakes that follow them.
pub struct Authenticator {
    policy: Arc<Mutex<Policy>>,
    control: Socket,
    thread: Option<JoinHandle<()>>,
}

impl Authenticator {
    /// Binds the handler in `ctx` and starts its thread.
    ///
    /// # Errors
    /// [`Error::AddressInUse`] if the context already has a ZAP handler bound;
    /// [`Error::Terminated`] once the context is terminated; [`Error::Io`] when the system
    /// refuses the handler's thread.
    pub fn start(ctx: &Context) -> Result<Authenticator> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let handler = ctx.socket(SocketType::Rep)?;
        handler.set_linger(0)?;
        handler.bind(&format!("inproc://{ZAP_ENDPOINT}"))?;
        let control_name = format!(
            "inproc://zerosock.zap.control.{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let stop = ctx.socket(SocketType::Pair)?;
        stop.set_linger(0)?;
        stop.bind(&control_name)?;
        let control = ctx.socket(SocketType::Pair)?;
        control.set_linger(0)?;
        control.connect(&control_name)?;
        let policy = Arc::new(Mutex::new(Policy::default()));
        let thread_policy = policy.clone();
        let thread = std::thread::Builder::new()
            .name("zerosock-zap".into())
            .spawn(move || serve(handler, stop, thread_policy))?;
        Ok(Authenticator {
            policy,
            control,
            thread: Some(thread),
        })
    }

    /// Accepts peers from `address` (an IP address as text, e.g. `"127.0.0.1"`); once any
    /// address is allowed, every other address is refused.
    pub fn allow(&self, address: &str) {
        self.policy().allow.insert(address.to_string());
    }

    /// Refuses peers from `address`, whatever else the policy says.
    pub fn deny(&self, address: &str) {
        self.policy().deny.insert(address.to_string());
    }

    /// Accepts PLAIN clients presenting this username and password.
    pub fn add_user(&self, username: impl AsRef<[u8]>, password: impl AsRef<[u8]>) {
        self.policy()
            .users
            .insert(username.as_ref().to_vec(), password.as_ref().to_vec());
    }

    /// Stops accepting `username`.
    pub fn remove_user(&self, username: impl AsRef<[u8]>) {
        self.policy().users.remove(username.as_ref());
    }

    /// Attaches a property to every accepted peer: its messages carry it (see
    /// [`crate::Msg::property`]), as ZAP metadata does in libzmq.
    pub fn set_metadata(&self, name: &str, value: &[u8]) {
        self.policy().metadata.push(name, value.to_vec());
    }

    /// Stops the handler and waits for its thread. Handshakes that need a verdict from then
    /// on fail (a PLAIN server refuses everyone).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.control.send("STOP", DONTWAIT);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn policy(&self) -> MutexGuard<'_, Policy> {
        self.policy.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Authenticator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

/// The handler thread: answers requests until told to stop or the context terminates.
fn serve(handler: Socket, stop: Socket, policy: Arc<Mutex<Policy>>) {
    loop {
        let mut items = [
            PollItem::from_socket(&handler, POLLIN),
            PollItem::from_socket(&stop, POLLIN),
        ];
        if poll(&mut items, -1).is_err() || items[1].is_readable() {
            return;
        }
        if !items[0].is_readable() {
            continue;
        }
        let request = match handler.recv_multipart(DONTWAIT) {
            Ok(request) => request,
            Err(Error::WouldBlock) => continue,
            Err(_) => return,
        };
        let reply = {
            let policy = policy.lock().unwrap_or_else(|e| e.into_inner());
            answer(&request, &policy)
        };
        if reply.send(&handler).is_err() {
            return;
        }
    }
}

/// One ZAP reply, before framing.
struct Reply<'a> {
    request_id: &'a [u8],
    status: &'static str,
    text: &'static str,
    user_id: &'a [u8],
    metadata: Vec<u8>,
}

impl Reply<'_> {
    fn send(&self, handler: &Socket) -> Result<()> {
        let frames: [&[u8]; 6] = [
            ZAP_VERSION,
            self.request_id,
            self.status.as_bytes(),
            self.text.as_bytes(),
            self.user_id,
            &self.metadata,
        ];
        let last = frames.len() - 1;
        for (i, frame) in frames.iter().enumerate() {
            let flags = if i < last { SNDMORE } else { 0 };
            handler.send(Msg::from(*frame), flags)?;
        }
        Ok(())
    }
}

/// The verdict on one request (`version, request id, domain, address, identity,
/// mechanism, credentials...`).
fn answer<'a>(request: &'a [Msg], policy: &Policy) -> Reply<'a> {
    let refuse = |request_id, status, text| Reply {
        request_id,
        status,
        text,
        user_id: b"",
        metadata: Vec::new(),
    };
    let [version, request_id, _domain, address, _identity, mechanism, credentials @ ..] = request
    else {
        let request_id = request.get(1).map_or(&b""[..], |m| &m[..]);
        return refuse(request_id, "500", "malformed ZAP request");
    };
    let request_id = &request_id[..];
    if &version[..] != ZAP_VERSION {
        return refuse(request_id, "500", "unsupported ZAP version");
    }
    let address = String::from_utf8_lossy(address);
    if policy.deny.contains(address.as_ref()) {
        return refuse(request_id, "400", "address denied");
    }
    if !policy.allow.is_empty() && !policy.allow.contains(address.as_ref()) {
        return refuse(request_id, "400", "address not allowed");
    }
    let user_id: &[u8] = match (&mechanism[..], credentials) {
        (b"NULL", []) => b"",
        (b"PLAIN", [username, password])
            if policy
                .users
                .get(&username[..])
                .is_some_and(|p| p[..] == password[..]) =>
        {
            username
        }
        (b"PLAIN", _) => return refuse(request_id, "400", "invalid username or password"),
        _ => return refuse(request_id, "400", "mechanism not supported"),
    };
    let mut metadata = Vec::new();
    policy.metadata.encode(&mut metadata);
    Reply {
        request_id,
        status: "200",
        text: "OK",
        user_id,
        metadata,
    }
}
