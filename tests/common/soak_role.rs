//! The child side of `tests/soak.rs`: one zerosock socket in one role, run until the driver
//! kills the process (SIGKILL) or closes its standard input (then it stops, closes the socket
//! and the context, says `done` and exits).
//!
//! The role and its settings come from the environment ([`ROLE_VAR`] and the other `*_VAR`s).
//! Every fact goes to standard output as one line, `soak <fact> key=value...`:
//!
//! * `ready endpoint=<ep> bind_retries=<n>`: bound or connected (`endpoint`: resolved).
//! * `sample rss_kib=<n> fds=<n> threads=<n>`: every second, where [`SAMPLE_VAR`] is set.
//! * `sent n=<n> blocked=<n>` (PUSH, PUB): messages sent, sends that timed out (no peer).
//! * `recv n=<n> gaps=<runs> missing=<numbers>` (PULL, SUB): messages received, and runs of
//!   numbers skipped within one sender's sequence.
//! * `span sender=<inc> first=<seq> last=<seq> count=<n>` (PULL, SUB): what came from one
//!   sender incarnation (printed when it changed since the last progress line).
//! * `gap sender=<inc> after=<seq> next=<seq>` (PULL, SUB): the first 20 gaps.
//! * `req n=<replies> resends=<n> blocked=<n>` (REQ), `rep rep=<inc> replies=<n>` (REQ:
//!   correct replies from one REP incarnation), `answered n=<n>` (REP).
//! * `bad what=<dup|backwards|torn|badreply> ...`: a broken rule (the first 20 of each kind).
//! * `error <text>`: the role failed (the process then panics); `done`: a clean stop.
//!
//! Progress lines come every 250 ms, so a killed process loses at most that much of its count.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use zerosock::{Context, Error, Msg, Socket, SocketType};

/// The role to play: `push`, `pull`, `pub`, `sub`, `req` or `rep`. Unset: not a child.
pub const ROLE_VAR: &str = "ZEROSOCK_SOAK_ROLE";
/// The endpoint to bind (a port or ipc path just freed by a killed process is retried).
pub const BIND_VAR: &str = "ZEROSOCK_SOAK_BIND";
/// The endpoint to connect to.
pub const CONNECT_VAR: &str = "ZEROSOCK_SOAK_CONNECT";
/// This process's incarnation, unique in one run and carried in every message it sends.
pub const INC_VAR: &str = "ZEROSOCK_SOAK_INC";
/// Set for the long-lived processes: report resource use every second.
pub const SAMPLE_VAR: &str = "ZEROSOCK_SOAK_SAMPLE";

/// Messages per second of each PUSH and PUB.
pub const RATE: f64 = 2000.0;
/// Upper bound on requests per second of a REQ (it waits for each reply anyway).
pub const REQ_RATE: f64 = 1000.0;
/// Frames of a PUSH or PUB message; of a request.
pub const PARTS: usize = 3;
pub const REQ_PARTS: usize = 2;
/// Body bytes in frame 1 of every message.
pub const PAD: usize = 1024;
/// A REQ resends its request when no reply came within this (Lazy Pirate).
pub const REQ_TIMEOUT_MS: i32 = 500;

const PROGRESS_EVERY: Duration = Duration::from_millis(250);
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// SNDTIMEO and RCVTIMEO: how often a blocked call comes back to look at the stop flag.
const POLL_MS: i32 = 200;
const LINGER_MS: i32 = 1000;
const BIND_RETRY: Duration = Duration::from_secs(10);
/// After its input closes, a process that has not finished within this exits anyway.
const EXIT_GRACE: Duration = Duration::from_secs(20);
const REPORT_LIMIT: u64 = 20;

macro_rules! fact {
    ($($arg:tt)*) => { println!("soak {}", format_args!($($arg)*)) };
}

/// A socket role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Push,
    Pull,
    Pub,
    Sub,
    Req,
    Rep,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Push => "push",
            Kind::Pull => "pull",
            Kind::Pub => "pub",
            Kind::Sub => "sub",
            Kind::Req => "req",
            Kind::Rep => "rep",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        [
            Kind::Push,
            Kind::Pull,
            Kind::Pub,
            Kind::Sub,
            Kind::Req,
            Kind::Rep,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    fn socket_type(self) -> SocketType {
        match self {
            Kind::Push => SocketType::Push,
            Kind::Pull => SocketType::Pull,
            Kind::Pub => SocketType::Pub,
            Kind::Sub => SocketType::Sub,
            Kind::Req => SocketType::Req,
            Kind::Rep => SocketType::Rep,
        }
    }
}

/// What one receiver got from one sender incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first: u64,
    pub last: u64,
    pub count: u64,
}

// ----- messages -----------------------------------------------------------------------------

fn pad_byte(seq: u64, j: usize) -> u8 {
    b'a' + ((seq as usize).wrapping_add(j) % 26) as u8
}

/// Message `seq` of incarnation `inc`: frame `i` is `<inc> <seq> <i>/<parts>`, and frame 1
/// also carries `;` and [`PAD`] bytes that depend on `seq`. Every frame names its message, so
/// frames of two messages joined, or a message missing frames, are seen as torn.
pub fn frames(inc: u32, seq: u64, parts: usize) -> Vec<Vec<u8>> {
    (0..parts)
        .map(|i| {
            let mut frame = format!("{inc} {seq} {i}/{parts}").into_bytes();
            if i == 1 {
                frame.push(b';');
                frame.extend((0..PAD).map(|j| pad_byte(seq, j)));
            }
            frame
        })
        .collect()
}

/// `(inc, seq)` of a whole message made by [`frames`], or what is wrong with it.
pub fn parse(msg: &[Msg], parts: usize) -> Result<(u32, u64), String> {
    if msg.len() != parts {
        return Err(format!("{} frames, not {parts}", msg.len()));
    }
    let mut id = None;
    for (i, frame) in msg.iter().enumerate() {
        let bytes = frame.as_bytes();
        let (head, pad) = match bytes.iter().position(|&b| b == b';') {
            Some(at) => (&bytes[..at], Some(&bytes[at + 1..])),
            None => (bytes, None),
        };
        let head = std::str::from_utf8(head).map_err(|_| format!("frame {i} is not text"))?;
        let words: Vec<&str> = head.split(' ').collect();
        let (inc, seq) = match words[..] {
            [inc, seq, pos] if pos == format!("{i}/{parts}") => (inc.parse(), seq.parse()),
            _ => return Err(format!("frame {i} is {head:?}")),
        };
        let (Ok(inc), Ok(seq)) = (inc, seq) else {
            return Err(format!("frame {i} is {head:?}"));
        };
        let body_ok = match pad {
            Some(p) => {
                i == 1
                    && p.len() == PAD
                    && p.iter().enumerate().all(|(j, &b)| b == pad_byte(seq, j))
            }
            None => i != 1,
        };
        if !body_ok {
            return Err(format!("frame {i} of {inc}/{seq} has a wrong body"));
        }
        match id {
            None => id = Some((inc, seq)),
            Some(first) if first != (inc, seq) => {
                return Err(format!(
                    "frame {i} belongs to {inc}/{seq}, frame 0 to {}/{}",
                    first.0, first.1
                ))
            }
            Some(_) => {}
        }
    }
    id.ok_or_else(|| "no frames".to_string())
}

fn describe(msg: &[Msg]) -> String {
    let frames: Vec<String> = msg
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(m.as_bytes());
            text.chars().take(24).collect::<String>().replace(' ', "_")
        })
        .collect();
    frames.join("|")
}

// ----- reporting ----------------------------------------------------------------------------

/// Counts facts of each kind; prints the first [`REPORT_LIMIT`] of each.
#[derive(Default)]
struct Limited(BTreeMap<&'static str, u64>);

impl Limited {
    fn report(&mut self, kind: &'static str, detail: std::fmt::Arguments) {
        let n = self.0.entry(kind).or_default();
        *n += 1;
        if *n <= REPORT_LIMIT {
            fact!("{detail}");
        }
    }
}

/// True every [`PROGRESS_EVERY`].
struct Ticker(Instant);

impl Ticker {
    fn new() -> Ticker {
        Ticker(Instant::now())
    }

    fn due(&mut self) -> bool {
        if self.0.elapsed() >= PROGRESS_EVERY {
            self.0 = Instant::now();
            true
        } else {
            false
        }
    }
}

/// A token bucket: `rate` per second, at most a tenth of a second's worth saved up, so a
/// sender that was blocked does not burst.
struct Pace {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Pace {
    fn new(rate: f64) -> Pace {
        Pace {
            rate,
            tokens: 0.0,
            last: Instant::now(),
        }
    }

    /// Waits for at least one token; takes up to `max`.
    fn take(&mut self, max: u64) -> u64 {
        loop {
            let now = Instant::now();
            let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.rate / 10.0);
            self.last = now;
            if self.tokens >= 1.0 {
                let n = (self.tokens.floor() as u64).min(max);
                self.tokens -= n as f64;
                return n;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

// ----- the process --------------------------------------------------------------------------

/// The `soak_role` test: plays the role named in [`ROLE_VAR`], or returns at once.
pub fn run() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    if let Err(e) = play(&role) {
        fact!("error {e}");
        panic!("soak role {role}: {e}");
    }
}

fn play(role: &str) -> Result<(), String> {
    let kind = Kind::parse(role).ok_or_else(|| format!("unknown role {role:?}"))?;
    let inc: u32 = std::env::var(INC_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{INC_VAR} is not set to a number"))?;
    let stop = Arc::new(AtomicBool::new(false));
    watch_input(stop.clone());
    if std::env::var_os(SAMPLE_VAR).is_some() {
        sample(stop.clone());
    }
    let ctx = Context::new();
    let socket = open(&ctx, kind).map_err(|e| format!("socket: {e}"))?;
    let retries = attach(&socket)?;
    fact!(
        "ready endpoint={} bind_retries={retries}",
        socket.last_endpoint().unwrap_or_default()
    );
    match kind {
        Kind::Push | Kind::Pub => send(&socket, inc, &stop)?,
        Kind::Pull | Kind::Sub => receive(&socket, &stop)?,
        Kind::Req => request(&socket, inc, &stop)?,
        Kind::Rep => reply(&socket, inc, &stop)?,
    }
    // Closing must finish within LINGER: `done` says it did.
    drop(socket);
    drop(ctx);
    fact!("done");
    Ok(())
}

/// Sets `stop` when standard input closes (the driver is done, or gone), and ends the process
/// if it has not finished [`EXIT_GRACE`] later: no child outlives its driver for long.
fn watch_input(stop: Arc<AtomicBool>) {
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut input = std::io::stdin();
        while matches!(input.read(&mut buf), Ok(n) if n > 0) {}
        stop.store(true, Ordering::Release);
        thread::sleep(EXIT_GRACE);
        fact!(
            "error still running {} s after the input closed",
            EXIT_GRACE.as_secs()
        );
        std::process::exit(3);
    });
}

fn count_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Reports RSS, open descriptors and threads every second until `stop`.
fn sample(stop: Arc<AtomicBool>) {
    thread::spawn(move || {
        while !stop.load(Ordering::Acquire) {
            fact!(
                "sample rss_kib={} fds={} threads={}",
                rss_kib(),
                count_entries("/proc/self/fd"),
                count_entries("/proc/self/task")
            );
            thread::sleep(SAMPLE_EVERY);
        }
    });
}

fn open(ctx: &Context, kind: Kind) -> Result<Socket, Error> {
    let socket = ctx.socket(kind.socket_type())?;
    socket.set_linger(LINGER_MS)?;
    socket.set_sndtimeo(POLL_MS)?;
    socket.set_rcvtimeo(POLL_MS)?;
    match kind {
        Kind::Sub => socket.set_subscribe(b"")?,
        Kind::Req => {
            socket.set_req_relaxed(true)?;
            socket.set_req_correlate(true)?;
            socket.set_rcvtimeo(REQ_TIMEOUT_MS)?;
        }
        _ => {}
    }
    Ok(socket)
}

/// Binds or connects as the environment says; returns how often a bind was retried.
fn attach(socket: &Socket) -> Result<u32, String> {
    if let Ok(ep) = std::env::var(BIND_VAR) {
        let deadline = Instant::now() + BIND_RETRY;
        let mut retries = 0;
        loop {
            match socket.bind(&ep) {
                Ok(()) => return Ok(retries),
                // The port of a killed incarnation can be held for a moment by a connection
                // whose local port the kernel picked to be the same (TCP self-connect, or
                // another program): try again, for a bounded time.
                Err(Error::AddressInUse(_)) if Instant::now() < deadline => {
                    retries += 1;
                    thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(format!("bind {ep}: {e} (after {retries} retries)")),
            }
        }
    }
    let ep = std::env::var(CONNECT_VAR)
        .map_err(|_| format!("neither {BIND_VAR} nor {CONNECT_VAR} is set"))?;
    socket
        .connect(&ep)
        .map_err(|e| format!("connect {ep}: {e}"))?;
    Ok(0)
}

// ----- roles --------------------------------------------------------------------------------

/// PUSH, PUB: message after message at [`RATE`]; a send that times out (a PUSH with no peer)
/// is tried again with the same number, so what a PUSH sends has no hole of its making.
fn send(socket: &Socket, inc: u32, stop: &AtomicBool) -> Result<(), String> {
    let mut pace = Pace::new(RATE);
    let mut progress = Ticker::new();
    let (mut seq, mut blocked) = (0u64, 0u64);
    while !stop.load(Ordering::Acquire) {
        for _ in 0..pace.take(u64::MAX) {
            match socket.send_multipart(frames(inc, seq, PARTS), 0) {
                Ok(()) => seq += 1,
                Err(Error::TimedOut) => {
                    blocked += 1;
                    break;
                }
                Err(e) => return Err(format!("send {seq}: {e}")),
            }
        }
        if progress.due() {
            fact!("sent n={seq} blocked={blocked}");
        }
    }
    fact!("sent n={seq} blocked={blocked}");
    Ok(())
}

/// PULL, SUB: checks every message (whole, and per sender incarnation neither repeated nor
/// going back) and reports gaps; which gaps are allowed is the driver's business.
fn receive(socket: &Socket, stop: &AtomicBool) -> Result<(), String> {
    let mut spans: BTreeMap<u32, Span> = BTreeMap::new();
    let mut changed = BTreeSet::new();
    let (mut received, mut gaps, mut missing) = (0u64, 0u64, 0u64);
    let mut facts = Limited::default();
    let mut progress = Ticker::new();
    loop {
        let stopping = stop.load(Ordering::Acquire);
        match socket.recv_multipart(0) {
            Ok(msg) => match parse(&msg, PARTS) {
                Ok((sender, seq)) => {
                    received += 1;
                    changed.insert(sender);
                    match spans.get_mut(&sender) {
                        None => {
                            spans.insert(
                                sender,
                                Span {
                                    first: seq,
                                    last: seq,
                                    count: 1,
                                },
                            );
                        }
                        Some(span) if seq <= span.last => {
                            let what = if seq == span.last { "dup" } else { "backwards" };
                            facts.report(
                                what,
                                format_args!(
                                    "bad what={what} sender={sender} seq={seq} last={}",
                                    span.last
                                ),
                            );
                        }
                        Some(span) => {
                            if seq > span.last + 1 {
                                gaps += 1;
                                missing += seq - span.last - 1;
                                facts.report(
                                    "gap",
                                    format_args!(
                                        "gap sender={sender} after={} next={seq}",
                                        span.last
                                    ),
                                );
                            }
                            span.last = seq;
                            span.count += 1;
                        }
                    }
                }
                Err(what) => facts.report(
                    "torn",
                    format_args!("bad what=torn {what} frames={}", describe(&msg)),
                ),
            },
            Err(Error::TimedOut) => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
        if progress.due() || stopping {
            fact!("recv n={received} gaps={gaps} missing={missing}");
            for sender in std::mem::take(&mut changed) {
                let s = spans[&sender];
                fact!(
                    "span sender={sender} first={} last={} count={}",
                    s.first,
                    s.last,
                    s.count
                );
            }
        }
        if stopping {
            return Ok(());
        }
    }
}

/// Sends `request` until the socket takes it (or `stop`).
fn send_request(
    socket: &Socket,
    request: &[Vec<u8>],
    blocked: &mut u64,
    stop: &AtomicBool,
) -> Result<(), String> {
    while !stop.load(Ordering::Acquire) {
        match socket.send_multipart(request.iter().map(|f| f.as_slice()), 0) {
            Ok(()) => return Ok(()),
            Err(Error::TimedOut) => *blocked += 1,
            Err(e) => return Err(format!("send request: {e}")),
        }
    }
    Ok(())
}

/// REQ (relaxed, correlated): request after request, each resent when no reply comes within
/// [`REQ_TIMEOUT_MS`]; a reply must be the request, frame for frame, plus the REP's
/// incarnation.
fn request(socket: &Socket, inc: u32, stop: &AtomicBool) -> Result<(), String> {
    let mut pace = Pace::new(REQ_RATE);
    let mut progress = Ticker::new();
    let mut facts = Limited::default();
    let (mut seq, mut replies, mut resends, mut blocked) = (0u64, 0u64, 0u64, 0u64);
    // The REP incarnation that sent the last good reply, and its good replies so far.
    let mut rep: Option<(u32, u64)> = None;
    let mut request = frames(inc, seq, REQ_PARTS);
    send_request(socket, &request, &mut blocked, stop)?;
    while !stop.load(Ordering::Acquire) {
        match socket.recv_multipart(0) {
            Ok(reply) => {
                let from: Option<u32> = match &reply[..] {
                    [body @ .., last] if body.len() == REQ_PARTS => {
                        let echoed = body.iter().zip(&request).all(|(m, f)| m.as_bytes() == f);
                        let rep_inc = last.as_str().and_then(|s| s.parse().ok());
                        rep_inc.filter(|_| echoed)
                    }
                    _ => None,
                };
                match from {
                    Some(r) => {
                        replies += 1;
                        match &mut rep {
                            Some((current, n)) if *current == r => *n += 1,
                            _ => {
                                if let Some((old, n)) = rep {
                                    fact!("rep rep={old} replies={n}");
                                }
                                rep = Some((r, 1));
                            }
                        }
                    }
                    None => facts.report(
                        "badreply",
                        format_args!("bad what=badreply seq={seq} reply={}", describe(&reply)),
                    ),
                }
                pace.take(1);
                seq += 1;
                request = frames(inc, seq, REQ_PARTS);
                send_request(socket, &request, &mut blocked, stop)?;
            }
            // Lazy Pirate: no reply in time (the REP died, or the request died with a
            // connection); REQ_RELAXED lets the same request go out again.
            Err(Error::TimedOut) => {
                resends += 1;
                send_request(socket, &request, &mut blocked, stop)?;
            }
            Err(e) => return Err(format!("recv reply: {e}")),
        }
        if progress.due() {
            fact!("req n={replies} resends={resends} blocked={blocked}");
            if let Some((r, n)) = rep {
                fact!("rep rep={r} replies={n}");
            }
        }
    }
    fact!("req n={replies} resends={resends} blocked={blocked}");
    if let Some((r, n)) = rep {
        fact!("rep rep={r} replies={n}");
    }
    Ok(())
}

/// REP: answers every request with the request itself and its own incarnation; requests
/// must be whole, and per REQ incarnation never go back (a resend repeats the last one).
fn reply(socket: &Socket, inc: u32, stop: &AtomicBool) -> Result<(), String> {
    let mut progress = Ticker::new();
    let mut facts = Limited::default();
    let mut latest: BTreeMap<u32, u64> = BTreeMap::new();
    let (mut answered, mut blocked) = (0u64, 0u64);
    let me = inc.to_string();
    loop {
        let stopping = stop.load(Ordering::Acquire);
        match socket.recv_multipart(0) {
            Ok(mut msg) => {
                match parse(&msg, REQ_PARTS) {
                    Ok((req, seq)) => {
                        let last = latest.entry(req).or_insert(seq);
                        if seq < *last {
                            facts.report(
                                "backwards",
                                format_args!("bad what=backwards req={req} seq={seq} last={last}"),
                            );
                        }
                        *last = seq.max(*last);
                    }
                    Err(what) => facts.report(
                        "torn",
                        format_args!("bad what=torn {what} frames={}", describe(&msg)),
                    ),
                }
                msg.push(Msg::from(me.as_str()));
                match socket.send_multipart(msg, 0) {
                    Ok(()) => answered += 1,
                    Err(Error::TimedOut) => blocked += 1,
                    Err(e) => return Err(format!("send reply: {e}")),
                }
            }
            Err(Error::TimedOut) => {}
            Err(e) => return Err(format!("recv request: {e}")),
        }
        if progress.due() || stopping {
            fact!("answered n={answered} blocked={blocked}");
        }
        if stopping {
            return Ok(());
        }
    }
}
