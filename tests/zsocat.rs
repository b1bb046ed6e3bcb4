//! `examples/zsocat`, run as a program: argument checking, frames split and joined at the
//! separator, REQ/REP exchanges, SUB subscriptions, ROUTER routing ids, `--count`, and
//! waiting for delivery before exiting. Every child process is killed (and the test failed)
//! if it outlives its deadline.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use zerosock::{poll, Context, PollItem, Socket, SocketType, DONTWAIT, POLLIN};

const TIMEOUT_MS: i32 = 10_000;

/// The zsocat binary, built (or found up to date) with the profile of this test.
fn zsocat_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // This test runs from <target>/<profile>/deps; examples live in <profile>/examples.
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps/<test>")
            .to_path_buf();
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("<target>/tmp");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "--example", "zsocat", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build --example zsocat failed");
        let bin = profile_dir.join("examples").join("zsocat");
        assert!(bin.exists(), "{} not built", bin.display());
        bin
    })
}

/// A running zsocat: its input, and its output and error lines as they come.
struct Zsocat {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    deadline: Instant,
}

fn lines(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

impl Zsocat {
    /// Starts zsocat with `args`; it must be done within `secs`.
    fn start(args: &[&str], secs: u64) -> Zsocat {
        let mut child = Command::new(zsocat_bin())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start zsocat");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Zsocat {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            deadline: Instant::now() + Duration::from_secs(secs),
        }
    }

    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Writes `text` to its input and, with `close`, ends the input.
    fn input(&mut self, text: &str, close: bool) {
        let stdin = self.stdin.as_mut().expect("input still open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
        if close {
            self.stdin = None;
        }
    }

    /// The endpoint it reports having bound.
    fn bound(&self) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(self.left())
                .expect("zsocat reported no bound endpoint");
            if let Some(ep) = line.strip_prefix("zsocat: bound ") {
                return ep.to_string();
            }
        }
    }

    /// The next line it prints.
    fn line(&self) -> String {
        self.stdout
            .recv_timeout(self.left())
            .expect("zsocat printed nothing in time")
    }

    /// Waits for it to exit; returns its status, the rest of its output and its errors.
    fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        self.stdin = None;
        let mut err = Vec::new();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("zsocat did not exit in time");
            }
            // Wait for output (or its end) rather than sleeping blindly.
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(5)) {
                err.push(line);
            }
        };
        let out: Vec<String> = self.stdout.iter().collect();
        err.extend(self.stderr.iter());
        (status, out, err.join("\n"))
    }
}

impl Drop for Zsocat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sock(ctx: &Context, ty: SocketType) -> Socket {
    let s = ctx.socket(ty).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(TIMEOUT_MS).unwrap();
    s.set_sndtimeo(TIMEOUT_MS).unwrap();
    s
}

fn bind(ctx: &Context, ty: SocketType) -> (Socket, String) {
    let s = sock(ctx, ty);
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.last_endpoint().unwrap();
    (s, ep)
}

fn frames(s: &Socket) -> Vec<String> {
    s.recv_multipart(0)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

#[test]
fn bad_arguments_print_usage_and_fail() {
    bounded(120, || {
        let cases: &[&[&str]] = &[
            &[],
            &["NOPE", "--bind", "tcp://127.0.0.1:*", "--send"],
            &["push", "--bind", "tcp://127.0.0.1:*"],
            &["push", "--send"],
            &["push", "--bind", "tcp://127.0.0.1:*", "--send", "--recv"],
            &["pull", "--bind", "tcp://127.0.0.1:*", "--send"],
            &["pub", "--bind", "tcp://127.0.0.1:*", "--recv"],
            &["req", "--bind", "tcp://127.0.0.1:*", "--recv"],
            &[
                "pull",
                "--bind",
                "tcp://127.0.0.1:*",
                "--recv",
                "--count",
                "x",
            ],
            &["pull", "--bind", "tcp://127.0.0.1:*", "--recv", "--count"],
            &[
                "pull",
                "--bind",
                "tcp://127.0.0.1:*",
                "--recv",
                "--subscribe",
                "a",
            ],
            &[
                "pull",
                "--bind",
                "tcp://127.0.0.1:*",
                "--recv",
                "--separator",
                "",
            ],
            &[
                "pull",
                "--bind",
                "tcp://127.0.0.1:*",
                "--recv",
                "--frobnicate",
            ],
        ];
        for args in cases {
            let (status, out, err) = Zsocat::start(args, 30).finish();
            assert_eq!(status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("usage: zsocat"), "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}");
        }
        // A socket failure (here: an address that cannot be bound) is status 1.
        let (status, _, err) =
            Zsocat::start(&["pull", "--bind", "tcp://256.0.0.1:1", "--recv"], 30).finish();
        assert_eq!(status.code(), Some(1), "{err}");
        assert!(err.contains("bind"), "{err}");
    });
}

#[test]
fn send_splits_lines_into_frames_and_exits_after_delivery() {
    bounded(60, || {
        let ctx = Context::new();
        let (pull, ep) = bind(&ctx, SocketType::Pull);
        let mut push = Zsocat::start(
            &["PUSH", "--connect", &ep, "--send", "--separator", "|"],
            30,
        );
        push.input("a||b\nhello\n\n|\n", true);
        assert_eq!(frames(&pull), ["a", "", "b"]);
        assert_eq!(frames(&pull), ["hello"]);
        assert_eq!(frames(&pull), [""]);
        assert_eq!(frames(&pull), ["", ""]);
        let (status, out, err) = push.finish();
        assert!(status.success(), "{err}");
        assert!(out.is_empty());
        // Without a separator a line is one frame, whatever it holds.
        let mut push = Zsocat::start(&["push", "--connect", &ep, "--send"], 30);
        push.input("x|y\n", true);
        assert_eq!(frames(&pull), ["x|y"]);
        assert!(push.finish().0.success());
    });
}

#[test]
fn recv_prints_one_line_per_message_between_two_zsocats() {
    bounded(60, || {
        let pull = Zsocat::start(
            &[
                "pull",
                "--bind",
                "tcp://127.0.0.1:*",
                "--recv",
                "--count",
                "3",
                "--separator",
                ",",
            ],
            30,
        );
        let ep = pull.bound();
        let mut push = Zsocat::start(
            &["push", "--connect", &ep, "--send", "--separator", "|"],
            30,
        );
        push.input("a||b\nhello\nx|y\n", true);
        let (status, out, err) = pull.finish();
        assert!(status.success(), "{err}");
        assert_eq!(out, ["a,,b", "hello", "x,y"]);
        assert!(push.finish().0.success());
    });
}

#[test]
fn count_stops_sending_and_receiving() {
    bounded(60, || {
        let ctx = Context::new();
        let (pull, ep) = bind(&ctx, SocketType::Pull);
        let mut push = Zsocat::start(&["push", "--connect", &ep, "--send", "--count", "2"], 30);
        push.input("1\n2\n3\n4\n", false);
        let (status, _, err) = push.finish();
        assert!(status.success(), "{err}");
        assert_eq!(frames(&pull), ["1"]);
        assert_eq!(frames(&pull), ["2"]);
        assert!(pull.recv(DONTWAIT).is_err(), "only two were sent");
    });
}

#[test]
fn req_prints_each_reply_and_rep_answers_with_lines() {
    bounded(60, || {
        let ctx = Context::new();
        let (rep, ep) = bind(&ctx, SocketType::Rep);
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let request = frames(&rep);
                let reply: Vec<String> = request.iter().map(|f| f.to_uppercase()).collect();
                rep.send_multipart(reply, 0).unwrap();
            }
            rep
        });
        let mut req = Zsocat::start(&["req", "--connect", &ep, "--send", "--separator", "|"], 30);
        req.input("one\ntwo|2\n", true);
        assert_eq!(req.line(), "ONE");
        assert_eq!(req.line(), "TWO|2");
        let (status, _, err) = req.finish();
        assert!(status.success(), "{err}");
        drop(server.join().unwrap());

        // A REP with --send prints each request and answers with the next line.
        let mut rep = Zsocat::start(&["rep", "--bind", "tcp://127.0.0.1:*", "--send"], 30);
        let ep = rep.bound();
        let client = sock(&ctx, SocketType::Req);
        client.connect(&ep).unwrap();
        rep.input("first answer\n", true);
        client.send("question", 0).unwrap();
        assert_eq!(frames(&client), ["first answer"]);
        assert_eq!(rep.line(), "question");
        // Out of input: the next request is printed, and zsocat ends.
        client.send("another", 0).unwrap();
        let (status, out, err) = rep.finish();
        assert!(status.success(), "{err}");
        assert_eq!(out, ["another"]);
    });
}

#[test]
fn sub_subscribes_to_everything_or_to_its_prefixes() {
    bounded(60, || {
        let ctx = Context::new();
        let (publisher, ep) = bind(&ctx, SocketType::Pub);
        for (args, expect_prefix) in [
            (vec!["SUB", "--connect", &ep, "--recv", "--count", "3"], ""),
            (
                vec![
                    "sub",
                    "--connect",
                    &ep,
                    "--recv",
                    "--count",
                    "3",
                    "--subscribe",
                    "yes",
                    "--subscribe",
                    "also",
                ],
                "yes",
            ),
        ] {
            let sub = Zsocat::start(&args, 30);
            // Publish until zsocat has printed three messages (its subscription takes a
            // moment to arrive); every line must be one of ours, filtered.
            let mut got = Vec::new();
            let mut n = 0;
            while got.len() < 3 {
                assert!(sub.left() > Duration::ZERO, "SUB got only {got:?}");
                publisher.send(format!("no {n}"), 0).unwrap();
                publisher
                    .send_multipart([format!("yes {n}"), "x".into()], 0)
                    .unwrap();
                n += 1;
                if let Ok(line) = sub.stdout.recv_timeout(Duration::from_millis(2)) {
                    got.push(line);
                }
            }
            let (status, rest, err) = sub.finish();
            assert!(status.success(), "{err}");
            got.extend(rest);
            assert_eq!(got.len(), 3, "{got:?}");
            for line in &got {
                assert!(line.starts_with(expect_prefix), "{line:?}");
                assert!(
                    line.starts_with("no ") || line.ends_with("|x"),
                    "frames joined by the default separator: {line:?}"
                );
            }
        }
    });
}

#[test]
fn router_prints_the_routing_id_first() {
    bounded(60, || {
        let ctx = Context::new();
        let router = Zsocat::start(
            &[
                "Router",
                "--bind",
                "tcp://127.0.0.1:*",
                "--recv",
                "--count",
                "2",
                "--separator",
                ",",
            ],
            30,
        );
        let ep = router.bound();
        let named = sock(&ctx, SocketType::Dealer);
        named.set_routing_id(b"bob").unwrap();
        named.connect(&ep).unwrap();
        named.send_multipart(["hi", "there"], 0).unwrap();
        assert_eq!(router.line(), "bob,hi,there");
        let anonymous = sock(&ctx, SocketType::Dealer);
        anonymous.connect(&ep).unwrap();
        anonymous.send_multipart(["x", "\u{1}"], 0).unwrap();
        // A generated id is 0x00 and four bytes, shown in hex, as is a control character.
        let line = router.line();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(
            fields[0].starts_with("0x00") && fields[0].len() == 12,
            "{line}"
        );
        assert_eq!(&fields[1..], ["x", "0x01"]);
        assert!(router.finish().0.success());
    });
}

#[test]
fn waits_for_a_late_peer_before_exiting() {
    bounded(60, || {
        let ctx = Context::new();
        let ep = ipc_endpoint("zsocat-late");
        let mut push = Zsocat::start(&["push", "--connect", &ep, "--send"], 30);
        push.input("late\n", true);
        // Nobody listens yet: zsocat must not exit before delivering.
        let pull = sock(&ctx, SocketType::Pull);
        assert!(
            push.child.try_wait().unwrap().is_none(),
            "exited with a message undelivered"
        );
        pull.bind(&ep).unwrap();
        let mut items = [PollItem::from_socket(&pull, POLLIN)];
        assert_eq!(poll(&mut items, TIMEOUT_MS as i64).unwrap(), 1);
        assert_eq!(frames(&pull), ["late"]);
        let (status, _, err) = push.finish();
        assert!(status.success(), "{err}");
    });
}
