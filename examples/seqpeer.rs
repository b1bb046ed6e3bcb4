//! `seqpeer`: a sender of sequence-numbered multipart messages and a receiver that checks them,
//! for fault tests: links cut and restored while messages flow (see `.ci/netns-faults`).
//!
//! ```sh
//! seqpeer <push|pub> (--bind <ep> | --connect <ep>) [--count N] [--rate R] [options]
//! seqpeer <pull|sub> (--bind <ep> | --connect <ep>) [--count N] [--gaps RULE] [options]
//! ```
//!
//! * Message `seq` (0, 1, ... N-1) has `--parts` frames (default 3); frame `i` is the text
//!   `<seq> <i>/<parts>`, followed by `;` and `--size` bytes of padding when a size is given.
//!   Every frame carries the sequence number, so a torn message (frames of two messages
//!   joined, or a message missing frames) is seen as such.
//! * The sender waits until a connection has completed its handshake (and 200 ms more, for a
//!   SUB's subscription to arrive), then sends `--count` messages at `--rate` per second
//!   (0: as fast as it can), catching up at full speed after a send that blocked. A send
//!   blocked longer than `--send-timeout` ms fails the run. At the end it closes and waits
//!   up to `--linger` ms for the messages to go out.
//! * The receiver stops after message `count - 1` (then drains for 300 ms, to see anything
//!   arriving late), or after `--idle-timeout` ms without a message. It checks:
//!   no duplicate, no reordering, no torn or malformed message, the last message received,
//!   and gaps (sequence numbers never received) as `--gaps` allows: `none`; `per-disconnect`
//!   (default for pull): at most one run of consecutive missing numbers per disconnection the
//!   receiver saw before the last message; `any` (default for sub).
//!
//! Options, with their defaults: `--count 10000`, `--parts 3`, `--size 0`, `--linger 10000`;
//! `--hwm N` (SNDHWM and RCVHWM), `--heartbeat-ivl`, `--heartbeat-timeout`,
//! `--heartbeat-ttl`, `--reconnect-ivl` (ms; the library's defaults when not given); for the
//! sender `--rate 1000`, `--send-timeout 20000`; for the receiver `--gaps`,
//! `--idle-timeout 20000`, `--stall 500`.
//!
//! Why a PULL may see one gap per disconnection: when a connection dies with messages
//! already handed to it (written into the kernel's send buffer, or taken from the queue into
//! the connection's write batch), those messages die with it: ZMTP has no acknowledgement, so
//! nothing can tell the sender which of them arrived. Messages still queued on the connecting
//! side are delivered after the reconnect; a binding PUSH drops the queue it held for a peer
//! that is gone. Either way the lost messages are consecutive, so each disconnection costs at
//! most one run.
//!
//! Both roles set heartbeats, HWM and reconnect interval from the options below, and report
//! the socket's monitor events. Everything they report goes to standard output, one line
//! per fact, `seqpeer <what> key=value...`, times `t=` in milliseconds since the Unix epoch
//! (so processes in different network namespaces of one host can be compared):
//!
//! * `seqpeer start role=<r> t=<ms>`: the receiver is ready / the sender starts sending.
//! * `seqpeer event t=<ms> kind=<kind> endpoint=<ep> [detail=<..>]`: a monitor event
//!   (`connected`, `accepted`, `handshake_succeeded`, `disconnected`, `connect_retried`, ...).
//! * `seqpeer end t=<ms> sent=<n>`: the sender has sent its last message and closes.
//! * `seqpeer blocked from=<ms> to=<ms> seq=<n>`: a send that waited at least 200 ms.
//! * `seqpeer stall from=<ms> to=<ms> before=<seq> after=<seq>`: no message for more than
//!   `--stall` ms (default 500) between two messages.
//! * `seqpeer gap t=<ms> after=<seq> next=<seq> missing=<n>`, `seqpeer dup ...`,
//!   `seqpeer reorder ...`, `seqpeer torn ...`: as seen (the first 20 of each are printed).
//! * `seqpeer summary role=<r> ... result=ok|fail [reason=<a,b>]`: the last line. A sender
//!   reports `sent`, `disconnects`, `handshakes`, `max_block_ms`; a receiver `received`,
//!   `expected`, `gaps` (missing numbers below the highest received), `gap_runs`,
//!   `tail_missing`, `dups`, `reorders`, `torn`, `malformed`, `disconnects` (before the last
//!   message), `handshakes`, `last_seq`.
//!
//! Exit status: 0 when every check holds, 1 when one fails (or the socket fails), 2 for bad
//! arguments.

use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zerosock::{Context, Error, EventKind, Monitor, Msg, Socket, SocketType};

const USAGE: &str = "usage: seqpeer <push|pull|pub|sub> (--bind <endpoint> | --connect <endpoint>) \
[--count N] [--rate R] [--parts P] [--size B] [--hwm N] [--heartbeat-ivl MS] \
[--heartbeat-timeout MS] [--heartbeat-ttl MS] [--reconnect-ivl MS] [--gaps none|per-disconnect|any] \
[--idle-timeout MS] [--send-timeout MS] [--stall MS] [--linger MS]";

/// How many lines of each kind of anomaly are printed (all are counted).
const REPORT_LIMIT: u64 = 20;
/// A send that waits this long is reported.
const BLOCK_REPORT: Duration = Duration::from_millis(200);
/// After the handshake, time for a SUB's subscription to reach the PUB.
const SETTLE: Duration = Duration::from_millis(200);
/// How long the sender waits for its first peer.
const PEER_WAIT: Duration = Duration::from_secs(15);
/// How long the receiver keeps reading after the last message.
const DRAIN_MS: i32 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Push,
    Pull,
    Pub,
    Sub,
}

impl Role {
    fn sends(self) -> bool {
        matches!(self, Role::Push | Role::Pub)
    }

    fn name(self) -> &'static str {
        match self {
            Role::Push => "push",
            Role::Pull => "pull",
            Role::Pub => "pub",
            Role::Sub => "sub",
        }
    }
}

/// Which gaps in the sequence the receiver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GapRule {
    None,
    PerDisconnect,
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Attach {
    Bind(String),
    Connect(String),
}

#[derive(Debug)]
struct Args {
    role: Role,
    attach: Attach,
    count: u64,
    rate: u64,
    parts: usize,
    size: usize,
    hwm: Option<i32>,
    heartbeat_ivl: Option<i32>,
    heartbeat_timeout: Option<i32>,
    heartbeat_ttl: Option<i32>,
    reconnect_ivl: Option<i32>,
    gaps: GapRule,
    idle_timeout: i32,
    send_timeout: i32,
    stall: Duration,
    linger: i32,
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("{name} needs a number, not {v:?}"))
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut role = None;
    let mut attach = None;
    let mut count = 10_000u64;
    let mut rate = 1000u64;
    let mut parts = 3usize;
    let mut size = 0usize;
    let mut hwm = None;
    let mut heartbeat_ivl = None;
    let mut heartbeat_timeout = None;
    let mut heartbeat_ttl = None;
    let mut reconnect_ivl = None;
    let mut gaps = None;
    let mut idle_timeout = 20_000;
    let mut send_timeout = 20_000;
    let mut stall = 500u64;
    let mut linger = 10_000;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--bind" | "--connect" => {
                let ep = value()?;
                let new = if arg == "--bind" {
                    Attach::Bind(ep)
                } else {
                    Attach::Connect(ep)
                };
                if attach.replace(new).is_some() {
                    return Err("give exactly one --bind or --connect".into());
                }
            }
            "--count" => count = number(arg, &value()?)?,
            "--rate" => rate = number(arg, &value()?)?,
            "--parts" => parts = number(arg, &value()?)?,
            "--size" => size = number(arg, &value()?)?,
            "--hwm" => hwm = Some(number(arg, &value()?)?),
            "--heartbeat-ivl" => heartbeat_ivl = Some(number(arg, &value()?)?),
            "--heartbeat-timeout" => heartbeat_timeout = Some(number(arg, &value()?)?),
            "--heartbeat-ttl" => heartbeat_ttl = Some(number(arg, &value()?)?),
            "--reconnect-ivl" => reconnect_ivl = Some(number(arg, &value()?)?),
            "--idle-timeout" => idle_timeout = number(arg, &value()?)?,
            "--send-timeout" => send_timeout = number(arg, &value()?)?,
            "--stall" => stall = number(arg, &value()?)?,
            "--linger" => linger = number(arg, &value()?)?,
            "--gaps" => {
                gaps = Some(match value()?.as_str() {
                    "none" => GapRule::None,
                    "per-disconnect" => GapRule::PerDisconnect,
                    "any" => GapRule::Any,
                    other => return Err(format!("unknown --gaps rule {other:?}")),
                })
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            name => {
                let r = match name.to_ascii_lowercase().as_str() {
                    "push" => Role::Push,
                    "pull" => Role::Pull,
                    "pub" => Role::Pub,
                    "sub" => Role::Sub,
                    _ => return Err(format!("unknown role {name:?}")),
                };
                if role.replace(r).is_some() {
                    return Err(format!("unexpected argument {name:?}"));
                }
            }
        }
    }
    let role = role.ok_or("missing role (push, pull, pub or sub)")?;
    let attach = attach.ok_or("one of --bind or --connect is required")?;
    if count == 0 || parts == 0 {
        return Err("--count and --parts must be at least 1".into());
    }
    if gaps.is_some() && role.sends() {
        return Err("--gaps is for the receiving roles".into());
    }
    let gaps = gaps.unwrap_or(match role {
        Role::Sub => GapRule::Any,
        _ => GapRule::PerDisconnect,
    });
    Ok(Args {
        role,
        attach,
        count,
        rate,
        parts,
        size,
        hwm,
        heartbeat_ivl,
        heartbeat_timeout,
        heartbeat_ttl,
        reconnect_ivl,
        gaps,
        idle_timeout,
        send_timeout,
        stall: Duration::from_millis(stall),
        linger,
    })
}

/// Milliseconds since the Unix epoch: comparable across processes on one host.
fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Prints one report line; standard output is line buffered, so a script reading it sees
/// each line at once, and lines from two threads never mix.
macro_rules! report {
    ($($arg:tt)*) => { println!("seqpeer {}", format_args!($($arg)*)) };
}

// ----- monitor ------------------------------------------------------------------------------

/// What the monitor thread counted, read by the main thread.
#[derive(Default)]
struct Counters {
    disconnects: AtomicU64,
    handshakes: AtomicU64,
    stop: AtomicBool,
}

fn kind_name(kind: &EventKind) -> (&'static str, Option<String>) {
    match kind {
        EventKind::Connected => ("connected", None),
        EventKind::ConnectDelayed => ("connect_delayed", None),
        EventKind::ConnectRetried(d) => ("connect_retried", Some(d.as_millis().to_string())),
        EventKind::Listening => ("listening", None),
        EventKind::BindFailed(e) => ("bind_failed", Some(format!("{e:?}"))),
        EventKind::Accepted => ("accepted", None),
        EventKind::AcceptFailed(e) => ("accept_failed", Some(format!("{e:?}"))),
        EventKind::Closed => ("closed", None),
        EventKind::Disconnected => ("disconnected", None),
        EventKind::HandshakeSucceeded => ("handshake_succeeded", None),
        EventKind::HandshakeFailedProtocol(e) => {
            ("handshake_failed_protocol", Some(format!("{e:?}")))
        }
        EventKind::HandshakeFailedAuth(s) => ("handshake_failed_auth", Some(s.to_string())),
        EventKind::MonitorStopped => ("monitor_stopped", None),
        other => ("other", Some(format!("{other:?}"))),
    }
}

/// Prints every monitor event with the time it arrived, and counts the ones the checks use,
/// until `counters.stop` is set.
fn watch(monitor: Monitor, counters: Arc<Counters>) -> thread::JoinHandle<()> {
    thread::spawn(move || loop {
        let Some(event) = monitor.recv(Some(Duration::from_millis(50))) else {
            if counters.stop.load(Ordering::Acquire) {
                if monitor.dropped() > 0 {
                    report!("events_dropped n={}", monitor.dropped());
                }
                return;
            }
            continue;
        };
        let t = now_ms();
        match event.kind {
            EventKind::Disconnected => {
                counters.disconnects.fetch_add(1, Ordering::AcqRel);
            }
            EventKind::HandshakeSucceeded => {
                counters.handshakes.fetch_add(1, Ordering::AcqRel);
            }
            _ => {}
        }
        let (kind, detail) = kind_name(&event.kind);
        match detail {
            Some(d) => report!(
                "event t={t} kind={kind} endpoint={} detail={d}",
                event.endpoint
            ),
            None => report!("event t={t} kind={kind} endpoint={}", event.endpoint),
        }
    })
}

// ----- messages -----------------------------------------------------------------------------

/// The frames of message `seq`.
fn frames(seq: u64, parts: usize, size: usize) -> Vec<String> {
    (0..parts)
        .map(|i| {
            let mut f = format!("{seq} {i}/{parts}");
            if size > 0 {
                f.push(';');
                f.extend(std::iter::repeat('x').take(size));
            }
            f
        })
        .collect()
}

/// One frame's `(seq, index, parts)`, if it has the form `frames` gives it.
fn parse_frame(frame: &[u8]) -> Option<(u64, usize, usize)> {
    let text = std::str::from_utf8(frame).ok()?;
    let head = text.split(';').next()?;
    let (seq, pos) = head.split_once(' ')?;
    let (index, parts) = pos.split_once('/')?;
    Some((seq.parse().ok()?, index.parse().ok()?, parts.parse().ok()?))
}

/// What a received message is.
#[derive(Debug, PartialEq, Eq)]
enum Received {
    /// Whole: every frame present, each carrying the same number.
    Whole(u64),
    /// Well-formed frames that do not make one message (mixed numbers, missing or extra
    /// frames, frames out of place).
    Torn(String),
    /// A frame that is not of our format.
    Malformed(String),
}

fn classify(msg: &[Msg], parts: usize) -> Received {
    let mut seqs = Vec::with_capacity(msg.len());
    for (pos, frame) in msg.iter().enumerate() {
        let Some((seq, index, of)) = parse_frame(frame) else {
            return Received::Malformed(format!("frame {pos} is {:?}", frame.to_vec()));
        };
        if of != parts {
            return Received::Malformed(format!("frame {pos} says {of} parts, not {parts}"));
        }
        if index != pos {
            return Received::Torn(format!("frame {pos} is part {index} of {seq}"));
        }
        seqs.push(seq);
    }
    let first = seqs[0];
    if seqs.iter().any(|&s| s != first) {
        return Received::Torn(format!("frames of {seqs:?}"));
    }
    if msg.len() != parts {
        return Received::Torn(format!("{} frames of {first}, not {parts}", msg.len()));
    }
    Received::Whole(first)
}

// ----- sockets ------------------------------------------------------------------------------

fn open(ctx: &Context, args: &Args) -> Result<Socket, Error> {
    let socket_type = match args.role {
        Role::Push => SocketType::Push,
        Role::Pull => SocketType::Pull,
        Role::Pub => SocketType::Pub,
        Role::Sub => SocketType::Sub,
    };
    let socket = ctx.socket(socket_type)?;
    if let Some(hwm) = args.hwm {
        socket.set_sndhwm(hwm)?;
        socket.set_rcvhwm(hwm)?;
    }
    if let Some(v) = args.heartbeat_ivl {
        socket.set_heartbeat_ivl(v)?;
    }
    if let Some(v) = args.heartbeat_timeout {
        socket.set_heartbeat_timeout(v)?;
    }
    if let Some(v) = args.heartbeat_ttl {
        socket.set_heartbeat_ttl(v)?;
    }
    if let Some(v) = args.reconnect_ivl {
        socket.set_reconnect_ivl(v)?;
    }
    socket.set_linger(args.linger)?;
    socket.set_sndtimeo(args.send_timeout)?;
    socket.set_rcvtimeo(args.idle_timeout)?;
    if args.role == Role::Sub {
        socket.set_subscribe(b"")?;
    }
    Ok(socket)
}

fn attach(socket: &Socket, attach: &Attach) -> Result<(), String> {
    match attach {
        Attach::Bind(ep) => socket.bind(ep).map_err(|e| format!("bind {ep}: {e}")),
        Attach::Connect(ep) => socket.connect(ep).map_err(|e| format!("connect {ep}: {e}")),
    }
}

fn verdict(failures: &[&str]) -> String {
    if failures.is_empty() {
        "result=ok".into()
    } else {
        format!("result=fail reason={}", failures.join(","))
    }
}

// ----- sender -------------------------------------------------------------------------------

fn send(args: &Args) -> Result<bool, String> {
    let ctx = Context::new();
    let socket = open(&ctx, args).map_err(|e| format!("socket: {e}"))?;
    let counters = Arc::new(Counters::default());
    let watcher = watch(socket.monitor(), counters.clone());
    attach(&socket, &args.attach)?;

    let waited = Instant::now();
    while counters.handshakes.load(Ordering::Acquire) == 0 {
        if waited.elapsed() > PEER_WAIT {
            return Err(format!("no peer within {} s", PEER_WAIT.as_secs()));
        }
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(SETTLE);

    report!("start role={} t={}", args.role.name(), now_ms());
    let start = Instant::now();
    let mut max_block = Duration::ZERO;
    let mut failure = None;
    let mut sent = 0u64;
    for seq in 0..args.count {
        // Rate 0: no pacing.
        if let Some(ns) = seq.saturating_mul(1_000_000_000).checked_div(args.rate) {
            let due = start + Duration::from_nanos(ns);
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        }
        let msg = frames(seq, args.parts, args.size);
        let (before, before_ms) = (Instant::now(), now_ms());
        match socket.send_multipart(msg.iter().map(String::as_str), 0) {
            Ok(()) => sent += 1,
            Err(Error::TimedOut) => {
                failure = Some("send_timeout");
                report!("send_timeout seq={seq} ms={}", args.send_timeout);
                break;
            }
            Err(e) => return Err(format!("send {seq}: {e}")),
        }
        let took = before.elapsed();
        max_block = max_block.max(took);
        if took >= BLOCK_REPORT {
            report!("blocked from={before_ms} to={} seq={seq}", now_ms());
        }
    }
    let duration = start.elapsed();
    report!("end t={} sent={sent}", now_ms());
    // Closing waits (up to LINGER) until what was sent is on the wire.
    drop(socket);
    drop(ctx);
    counters.stop.store(true, Ordering::Release);
    let _ = watcher.join();
    let failures: Vec<&str> = failure.into_iter().collect();
    report!(
        "summary role={} sent={sent} disconnects={} handshakes={} max_block_ms={} duration_ms={} {}",
        args.role.name(),
        counters.disconnects.load(Ordering::Acquire),
        counters.handshakes.load(Ordering::Acquire),
        max_block.as_millis(),
        duration.as_millis(),
        verdict(&failures),
    );
    Ok(failures.is_empty())
}

// ----- receiver -----------------------------------------------------------------------------

/// The receiver's bookkeeping: which numbers were seen, and every anomaly.
struct Tally {
    seen: Vec<bool>,
    highest: Option<u64>,
    received: u64,
    dups: u64,
    reorders: u64,
    torn: u64,
    malformed: u64,
    gaps_seen: u64,
    last: Option<(Instant, u128, u64)>,
    stall: Duration,
}

impl Tally {
    fn new(count: u64, stall: Duration) -> Tally {
        Tally {
            seen: vec![false; count as usize],
            highest: None,
            received: 0,
            dups: 0,
            reorders: 0,
            torn: 0,
            malformed: 0,
            gaps_seen: 0,
            last: None,
            stall,
        }
    }

    /// Books one message; returns its number if it was whole.
    fn book(&mut self, msg: &[Msg], parts: usize) -> Option<u64> {
        let (now, t) = (Instant::now(), now_ms());
        let seq = match classify(msg, parts) {
            Received::Whole(seq) if seq < self.seen.len() as u64 => seq,
            Received::Whole(seq) => {
                self.malformed += 1;
                if self.malformed <= REPORT_LIMIT {
                    report!("malformed t={t} what=\"number {seq} beyond --count\"");
                }
                return None;
            }
            Received::Torn(what) => {
                self.torn += 1;
                if self.torn <= REPORT_LIMIT {
                    report!("torn t={t} what=\"{what}\"");
                }
                return None;
            }
            Received::Malformed(what) => {
                self.malformed += 1;
                if self.malformed <= REPORT_LIMIT {
                    report!("malformed t={t} what=\"{what}\"");
                }
                return None;
            }
        };
        if let Some((at, at_ms, before)) = self.last {
            if now.duration_since(at) > self.stall {
                report!("stall from={at_ms} to={t} before={before} after={seq}");
            }
        }
        self.last = Some((now, t, seq));
        self.received += 1;
        let highest = self.highest.unwrap_or(0);
        if self.seen[seq as usize] {
            self.dups += 1;
            if self.dups <= REPORT_LIMIT {
                report!("dup t={t} seq={seq} highest={highest}");
            }
            return Some(seq);
        }
        self.seen[seq as usize] = true;
        match self.highest {
            Some(h) if seq < h => {
                self.reorders += 1;
                if self.reorders <= REPORT_LIMIT {
                    report!("reorder t={t} seq={seq} highest={h}");
                }
            }
            _ => {
                let next_expected = self.highest.map_or(0, |h| h + 1);
                if seq > next_expected {
                    self.gaps_seen += 1;
                    if self.gaps_seen <= REPORT_LIMIT {
                        let after = self.highest.map_or("none".into(), |h| h.to_string());
                        report!(
                            "gap t={t} after={after} next={seq} missing={}",
                            seq - next_expected
                        );
                    }
                }
                self.highest = Some(seq);
            }
        }
        Some(seq)
    }

    /// `(missing numbers below the highest received, runs of them, missing after it)`.
    fn gaps(&self) -> (u64, u64, u64) {
        let Some(highest) = self.highest else {
            return (0, 0, self.seen.len() as u64);
        };
        let below = &self.seen[..=highest as usize];
        let missing = below.iter().filter(|s| !**s).count() as u64;
        let runs = below
            .iter()
            .enumerate()
            .filter(|&(i, s)| !*s && (i == 0 || below[i - 1]))
            .count() as u64;
        (missing, runs, self.seen.len() as u64 - 1 - highest)
    }
}

fn receive(args: &Args) -> Result<bool, String> {
    let ctx = Context::new();
    let socket = open(&ctx, args).map_err(|e| format!("socket: {e}"))?;
    let counters = Arc::new(Counters::default());
    let watcher = watch(socket.monitor(), counters.clone());
    attach(&socket, &args.attach)?;
    report!("start role={} t={}", args.role.name(), now_ms());

    let mut tally = Tally::new(args.count, args.stall);
    let mut draining = false;
    // Disconnections up to the last message: the one at the sender's close allows no gap.
    let mut disconnects = 0;
    let idle = loop {
        match socket.recv_multipart(0) {
            Ok(msg) => {
                if tally.book(&msg, args.parts) == Some(args.count - 1) && !draining {
                    draining = true;
                    disconnects = counters.disconnects.load(Ordering::Acquire);
                    socket
                        .set_rcvtimeo(DRAIN_MS)
                        .map_err(|e| format!("set RCVTIMEO: {e}"))?;
                }
            }
            // Timed out: idle for too long, or done draining after the last message.
            Err(Error::TimedOut) => break !draining,
            Err(e) => return Err(format!("recv: {e}")),
        }
    };
    drop(socket);
    drop(ctx);
    counters.stop.store(true, Ordering::Release);
    let _ = watcher.join();

    if !draining {
        disconnects = counters.disconnects.load(Ordering::Acquire);
    }
    let (gaps, gap_runs, tail_missing) = tally.gaps();
    let mut failures = Vec::new();
    if tally.dups > 0 {
        failures.push("dups");
    }
    if tally.reorders > 0 {
        failures.push("reorders");
    }
    if tally.torn > 0 {
        failures.push("torn");
    }
    if tally.malformed > 0 {
        failures.push("malformed");
    }
    if idle || tail_missing > 0 {
        failures.push("last_not_received");
    }
    let gaps_ok = match args.gaps {
        GapRule::None => gaps == 0,
        GapRule::PerDisconnect => gap_runs <= disconnects,
        GapRule::Any => true,
    };
    if !gaps_ok {
        failures.push("gaps");
    }
    report!(
        "summary role={} received={} expected={} gaps={gaps} gap_runs={gap_runs} \
tail_missing={tail_missing} dups={} reorders={} torn={} malformed={} disconnects={disconnects} \
handshakes={} last_seq={} {}",
        args.role.name(),
        tally.received,
        args.count,
        tally.dups,
        tally.reorders,
        tally.torn,
        tally.malformed,
        counters.handshakes.load(Ordering::Acquire),
        tally.highest.map_or("none".into(), |h| h.to_string()),
        verdict(&failures),
    );
    Ok(failures.is_empty())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let args = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("seqpeer: {e}\n{USAGE}");
            exit(2);
        }
    };
    let outcome = if args.role.sends() {
        send(&args)
    } else {
        receive(&args)
    };
    match outcome {
        Ok(true) => {}
        Ok(false) => exit(1),
        Err(e) => {
            eprintln!("seqpeer: {e}");
            report!("summary role={} result=fail reason=error", args.role.name());
            exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Run by `cargo test` through `tests/seqpeer.rs` (cargo does not test examples).
    use super::*;

    fn msg(frames: &[&str]) -> Vec<Msg> {
        frames.iter().map(|f| Msg::from(*f)).collect()
    }

    fn args(line: &str) -> Args {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv).unwrap()
    }

    #[test]
    fn frames_round_trip_and_torn_messages_are_seen() {
        let whole: Vec<Msg> = frames(42, 3, 5).into_iter().map(Msg::from).collect();
        assert_eq!(classify(&whole, 3), Received::Whole(42));
        for torn in [
            &["1 0/3", "1 1/3", "2 2/3"][..],
            &["1 0/3", "1 1/3"],
            &["1 0/3", "2 0/3", "2 1/3"],
            &["1 0/3", "1 1/3", "1 2/3", "1 2/3"],
        ] {
            assert!(
                matches!(classify(&msg(torn), 3), Received::Torn(_)),
                "{torn:?}"
            );
        }
        assert!(matches!(
            classify(&msg(&["hello"]), 1),
            Received::Malformed(_)
        ));
        assert!(matches!(
            classify(&msg(&["1 0/2", "1 1/2"]), 3),
            Received::Malformed(_)
        ));
    }

    #[test]
    fn tally_counts_gaps_dups_and_reorders() {
        let mut t = Tally::new(10, Duration::from_secs(60));
        for seq in [0, 1, 4, 5, 5, 3, 8] {
            let m: Vec<Msg> = frames(seq, 1, 0).into_iter().map(Msg::from).collect();
            t.book(&m, 1);
        }
        assert_eq!((t.received, t.dups, t.reorders), (7, 1, 1));
        // Missing below 8: 2, 6, 7 in two runs; 9 is missing after it.
        assert_eq!(t.gaps(), (3, 2, 1));
    }

    #[test]
    fn arguments_are_checked() {
        let parse_line = |line: &str| {
            let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
            parse(&argv)
        };
        assert!(parse_line("push").is_err(), "no endpoint");
        assert!(parse_line("push --bind a --connect b").is_err());
        assert!(parse_line("push --connect a --gaps any").is_err());
        assert!(parse_line("pull --connect a --count 0").is_err());
        assert!(parse_line("dealer --connect a").is_err());
        assert_eq!(args("pull --bind a").gaps, GapRule::PerDisconnect);
        assert_eq!(args("SUB --bind a").gaps, GapRule::Any);
    }

    #[test]
    fn a_clean_run_passes_every_check() {
        let path = std::env::temp_dir().join(format!("seqpeer-{}.ipc", std::process::id()));
        let ep = format!("ipc://{}", path.display());
        let common = "--count 2000 --parts 3 --size 16 --idle-timeout 10000";
        let pull = args(&format!("pull --bind {ep} --gaps none {common}"));
        let push = args(&format!("push --connect {ep} --rate 0 {common}"));
        let receiver = thread::spawn(move || receive(&pull));
        assert_eq!(send(&push), Ok(true));
        assert_eq!(receiver.join().unwrap(), Ok(true));
        let _ = std::fs::remove_file(path);
    }
}
