//! The command line: which role, where to attach, and the options of the run.

use std::time::Duration;

/// The command line's form, printed for `--help` and with an argument error.
pub(crate) const USAGE: &str = "usage: seqpeer <push|pull|pub|sub> (--bind <endpoint> | --connect <endpoint>) \
[--count N] [--rate R] [--parts P] [--size B] [--hwm N] [--heartbeat-ivl MS] \
[--heartbeat-timeout MS] [--heartbeat-ttl MS] [--reconnect-ivl MS] [--gaps none|per-disconnect|any] \
[--idle-timeout MS] [--send-timeout MS] [--stall MS] [--linger MS]";

/// The socket type the peer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Push,
    Pull,
    Pub,
    Sub,
}

impl Role {
    /// True for the sending roles (PUSH and PUB).
    pub(crate) fn sends(self) -> bool {
        matches!(self, Role::Push | Role::Pub)
    }

    /// The role as given on the command line and printed in reports.
    pub(crate) fn name(self) -> &'static str {
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
pub(crate) enum GapRule {
    None,
    PerDisconnect,
    Any,
}

/// Where the socket attaches: an endpoint it binds or one it connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attach {
    Bind(String),
    Connect(String),
}

/// The parsed command line.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) role: Role,
    pub(crate) attach: Attach,
    pub(crate) count: u64,
    pub(crate) rate: u64,
    pub(crate) parts: usize,
    pub(crate) size: usize,
    pub(crate) hwm: Option<i32>,
    pub(crate) heartbeat_ivl: Option<i32>,
    pub(crate) heartbeat_timeout: Option<i32>,
    pub(crate) heartbeat_ttl: Option<i32>,
    pub(crate) reconnect_ivl: Option<i32>,
    pub(crate) gaps: GapRule,
    pub(crate) idle_timeout: i32,
    pub(crate) send_timeout: i32,
    pub(crate) stall: Duration,
    pub(crate) linger: i32,
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("{name} needs a number, not {v:?}"))
}

/// Parses the arguments after the program name; an error says what is wrong with them.
pub(crate) fn parse(args: &[String]) -> Result<Args, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Args {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv).unwrap()
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
}
