//! `zsocat`: netcat for zerosock sockets — try any socket type from a shell, or talk to any
//! ZeroMQ program.
//!
//! ```sh
//! zsocat <TYPE> [--bind <endpoint>]... [--connect <endpoint>]... [--subscribe <prefix>]...
//!        (--send | --recv) [--count N] [--separator <s>]
//! ```
//!
//! * `TYPE` is a libzmq socket-type name in any case (`PUSH`, `sub`, `Dealer`).
//! * `--send`: each line of standard input is one message, split into frames at the
//!   separator when one is given (`a||b` with `--separator '|'` is three frames, the middle
//!   one empty). A REQ sends each line as a request and prints the reply as a line; a REP
//!   prints each request and answers it with the next line. At the end of input zsocat exits
//!   once everything sent has been delivered (it lingers as long as that takes).
//! * `--recv`: prints each message received as one line, its frames joined by the separator
//!   (`|` when none is given). A ROUTER prints the routing id as the first frame; a REP
//!   answers every request with an empty reply. A frame that is not printable UTF-8 is
//!   printed as `0x` and its bytes in hex.
//! * `--count N`: stop after N messages (sent, requests made, or received).
//! * `--subscribe <prefix>` (SUB): receive only messages starting with a prefix; a SUB
//!   without it subscribes to everything.
//! * Each bound endpoint is reported on standard error as `zsocat: bound <endpoint>`, with
//!   wildcards resolved (`tcp://127.0.0.1:*` gives the port chosen).
//!
//! Bad arguments print the usage and exit with status 2; a failure of the socket (bind,
//! connect, send, receive) exits with status 1.

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::process::exit;
use zerosock::{Context, Msg, Socket, SocketType};

const USAGE: &str = "usage: zsocat <TYPE> [--bind <endpoint>]... [--connect <endpoint>]... \
[--subscribe <prefix>]... (--send | --recv) [--count N] [--separator <s>]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Send,
    Recv,
}

#[derive(Debug)]
struct Args {
    socket_type: SocketType,
    binds: Vec<String>,
    connects: Vec<String>,
    subscribes: Vec<String>,
    mode: Mode,
    count: Option<u64>,
    separator: Option<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut socket_type = None;
    let mut binds = Vec::new();
    let mut connects = Vec::new();
    let mut subscribes = Vec::new();
    let mut mode = None;
    let mut count = None;
    let mut separator = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--bind" => binds.push(value("--bind")?),
            "--connect" => connects.push(value("--connect")?),
            "--subscribe" => subscribes.push(value("--subscribe")?),
            "--count" => {
                let v = value("--count")?;
                count = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("--count needs a number, not {v:?}"))?,
                );
            }
            "--separator" => {
                let v = value("--separator")?;
                if v.is_empty() {
                    return Err("--separator cannot be empty".into());
                }
                separator = Some(v);
            }
            "--send" | "--recv" => {
                let m = if arg == "--send" {
                    Mode::Send
                } else {
                    Mode::Recv
                };
                if mode.replace(m).is_some_and(|old| old != m) {
                    return Err("--send and --recv exclude each other".into());
                }
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            name => {
                if socket_type.is_some() {
                    return Err(format!("unexpected argument {name:?}"));
                }
                socket_type = Some(name.parse::<SocketType>().map_err(|e| e.to_string())?);
            }
        }
    }
    let socket_type = socket_type.ok_or("missing socket TYPE")?;
    let mode = mode.ok_or("one of --send or --recv is required")?;
    if binds.is_empty() && connects.is_empty() {
        return Err("at least one --bind or --connect is required".into());
    }
    if !subscribes.is_empty() && socket_type != SocketType::Sub {
        return Err("--subscribe is for SUB sockets".into());
    }
    let (can_send, can_recv) = match socket_type {
        SocketType::Pull | SocketType::Sub => (false, true),
        SocketType::Push | SocketType::Pub => (true, false),
        // A REQ must send before it can receive: --send makes requests and prints replies.
        SocketType::Req => (true, false),
        _ => (true, true),
    };
    if mode == Mode::Send && !can_send {
        return Err(format!("a {socket_type} socket cannot --send"));
    }
    if mode == Mode::Recv && !can_recv {
        return Err(format!("a {socket_type} socket cannot --recv"));
    }
    Ok(Args {
        socket_type,
        binds,
        connects,
        subscribes,
        mode,
        count,
        separator,
    })
}

/// A frame as text: itself if it is printable UTF-8, else `0x` and its bytes in hex.
fn render(frame: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(frame) {
        Ok(s) if !s.chars().any(char::is_control) => Cow::Borrowed(s),
        _ => {
            let mut hex = String::with_capacity(2 + 2 * frame.len());
            hex.push_str("0x");
            for b in frame {
                hex.push_str(&format!("{b:02x}"));
            }
            Cow::Owned(hex)
        }
    }
}

/// One line of input as the frames of a message.
fn frames<'l>(line: &'l str, separator: Option<&str>) -> Vec<&'l str> {
    match separator {
        Some(sep) => line.split(sep).collect(),
        None => vec![line],
    }
}

struct Output {
    out: std::io::Stdout,
    separator: String,
}

impl Output {
    /// Prints a message as one line and flushes it, so a reader sees it at once.
    fn message(&mut self, parts: &[Msg]) -> std::io::Result<()> {
        let line = parts
            .iter()
            .map(|p| render(p))
            .collect::<Vec<_>>()
            .join(&self.separator);
        let mut out = self.out.lock();
        writeln!(out, "{line}")?;
        out.flush()
    }
}

/// Reads lines of standard input without their line ending; `None` at the end.
fn next_line(input: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => {
            if line.ends_with('\n') {
                line.pop();
                if line.ends_with('\r') {
                    line.pop();
                }
            }
            Ok(Some(line))
        }
        Err(e) => Err(format!("reading standard input: {e}")),
    }
}

fn run(args: &Args) -> Result<(), String> {
    let ctx = Context::new();
    let socket = ctx
        .socket(args.socket_type)
        .map_err(|e| format!("socket: {e}"))?;
    // Exit only once everything sent is delivered.
    socket.set_linger(-1).map_err(|e| e.to_string())?;
    if args.socket_type == SocketType::Sub {
        if args.subscribes.is_empty() {
            socket.set_subscribe(b"").map_err(|e| e.to_string())?;
        }
        for prefix in &args.subscribes {
            socket
                .set_subscribe(prefix.as_bytes())
                .map_err(|e| e.to_string())?;
        }
    }
    for endpoint in &args.binds {
        socket
            .bind(endpoint)
            .map_err(|e| format!("bind {endpoint}: {e}"))?;
        eprintln!(
            "zsocat: bound {}",
            socket.last_endpoint().unwrap_or_else(|| endpoint.clone())
        );
    }
    for endpoint in &args.connects {
        socket
            .connect(endpoint)
            .map_err(|e| format!("connect {endpoint}: {e}"))?;
    }
    let mut output = Output {
        out: std::io::stdout(),
        separator: args.separator.clone().unwrap_or_else(|| "|".into()),
    };
    let result = exchange(&socket, args, &mut output);
    // Dropping the socket and then the context waits until what was sent is delivered.
    drop(socket);
    drop(ctx);
    result
}

fn exchange(socket: &Socket, args: &Args, output: &mut Output) -> Result<(), String> {
    let sep = args.separator.as_deref();
    let limit = args.count.unwrap_or(u64::MAX);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let recv = |what: &str| socket.recv_multipart(0).map_err(|e| format!("{what}: {e}"));
    let print = |output: &mut Output, parts: &[Msg]| {
        output
            .message(parts)
            .map_err(|e| format!("writing standard output: {e}"))
    };
    let mut done = 0u64;
    while done < limit {
        match (args.mode, args.socket_type) {
            (Mode::Send, SocketType::Rep) => {
                let request = recv("recv")?;
                print(output, &request)?;
                let Some(line) = next_line(&mut input)? else {
                    return Ok(());
                };
                socket
                    .send_multipart(frames(&line, sep), 0)
                    .map_err(|e| format!("send: {e}"))?;
            }
            (Mode::Send, ty) => {
                let Some(line) = next_line(&mut input)? else {
                    return Ok(());
                };
                socket
                    .send_multipart(frames(&line, sep), 0)
                    .map_err(|e| format!("send: {e}"))?;
                if ty == SocketType::Req {
                    let reply = recv("recv reply")?;
                    print(output, &reply)?;
                }
            }
            (Mode::Recv, ty) => {
                let message = recv("recv")?;
                print(output, &message)?;
                if ty == SocketType::Rep {
                    socket.send("", 0).map_err(|e| format!("send: {e}"))?;
                }
            }
        }
        done += 1;
    }
    Ok(())
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
            eprintln!("zsocat: {e}\n{USAGE}");
            exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("zsocat: {e}");
        exit(1);
    }
}
