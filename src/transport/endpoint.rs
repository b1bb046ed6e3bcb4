//! Endpoint strings: `tcp://host:port`, `ipc:///path`, `inproc://name`.

use crate::error::{Error, Result};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Where a TCP endpoint points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    /// `*`: every interface (bind only).
    Any,
    /// An IP literal.
    Ip(IpAddr),
    /// A name to resolve (`localhost`, `example.org`).
    Name(String),
}

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `tcp://host:port`; port `None` is `*` (an ephemeral port, bind only).
    Tcp { host: Host, port: Option<u16> },
    /// `ipc://path`; `ipc://*` asks for a fresh path (bind only).
    Ipc(Option<PathBuf>),
    /// `inproc://name`.
    Inproc(String),
}

fn invalid(endpoint: &str, reason: &'static str) -> Error {
    Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason,
    }
}

impl Endpoint {
    /// Parses an endpoint string. Never panics, whatever the input.
    pub(crate) fn parse(s: &str) -> Result<Endpoint> {
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(invalid(s, "expected transport://address"));
        };
        match scheme {
            "tcp" => Self::parse_tcp(s, rest),
            "ipc" if cfg!(not(unix)) => Err(invalid(
                s,
                "ipc:// needs Unix domain sockets, which this platform lacks",
            )),
            "ipc" => {
                if rest.is_empty() {
                    Err(invalid(s, "empty ipc path"))
                } else if rest == "*" {
                    Ok(Endpoint::Ipc(None))
                } else if rest.len() > 107 {
                    Err(invalid(
                        s,
                        "ipc path longer than a Unix socket address allows",
                    ))
                } else if rest.contains('\0') {
                    Err(invalid(s, "ipc path contains NUL"))
                } else {
                    Ok(Endpoint::Ipc(Some(PathBuf::from(rest))))
                }
            }
            "inproc" => {
                if rest.is_empty() {
                    Err(invalid(s, "empty inproc name"))
                } else {
                    Ok(Endpoint::Inproc(rest.to_string()))
                }
            }
            "pgm" | "epgm" | "norm" | "udp" | "tipc" | "vmci" | "ws" | "wss" => {
                Err(invalid(s, "transport not supported"))
            }
            _ => Err(invalid(s, "unknown transport")),
        }
    }

    fn parse_tcp(s: &str, rest: &str) -> Result<Endpoint> {
        // libzmq allows `tcp://source;dest`; we do not support a source address.
        if rest.contains(';') {
            return Err(invalid(s, "source addresses are not supported"));
        }
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err(invalid(s, "expected host:port"));
        };
        let port = match port {
            "*" | "0" => None,
            p => match p.parse::<u16>() {
                Ok(p) if p != 0 => Some(p),
                _ => return Err(invalid(s, "bad port")),
            },
        };
        let host = if host == "*" {
            Host::Any
        } else if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let v6 = v6.split('%').next().unwrap_or(v6);
            Host::Ip(IpAddr::V6(
                v6.parse::<Ipv6Addr>()
                    .map_err(|_| invalid(s, "bad IPv6 address"))?,
            ))
        } else if host.is_empty() {
            return Err(invalid(s, "empty host"));
        } else if let Ok(ip) = host.parse::<Ipv4Addr>() {
            Host::Ip(IpAddr::V4(ip))
        } else if host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            Host::Name(host.to_string())
        } else {
            return Err(invalid(s, "bad host"));
        };
        Ok(Endpoint::Tcp { host, port })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => {
                f.write_str("tcp://")?;
                match host {
                    Host::Any => f.write_str("*")?,
                    Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
                    Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
                    Host::Name(n) => f.write_str(n)?,
                }
                match port {
                    Some(p) => write!(f, ":{p}"),
                    None => f.write_str(":*"),
                }
            }
            Endpoint::Ipc(Some(p)) => write!(f, "ipc://{}", p.display()),
            Endpoint::Ipc(None) => f.write_str("ipc://*"),
            Endpoint::Inproc(n) => write!(f, "inproc://{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_libzmq_accepts() {
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:5555").unwrap(),
            Endpoint::Tcp {
                host: Host::Ip("127.0.0.1".parse().unwrap()),
                port: Some(5555)
            }
        );
        assert_eq!(
            Endpoint::parse("tcp://*:5555").unwrap(),
            Endpoint::Tcp {
                host: Host::Any,
                port: Some(5555)
            }
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:*").unwrap().to_string(),
            "tcp://127.0.0.1:*"
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]:80").unwrap().to_string(),
            "tcp://[::1]:80"
        );
        assert!(matches!(
            Endpoint::parse("tcp://localhost:1").unwrap(),
            Endpoint::Tcp {
                host: Host::Name(_),
                ..
            }
        ));
        assert_eq!(
            Endpoint::parse("ipc:///tmp/x.sock").unwrap(),
            Endpoint::Ipc(Some("/tmp/x.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("inproc://a").unwrap(),
            Endpoint::Inproc("a".into())
        );
    }

    #[test]
    fn rejects_garbage_with_typed_errors() {
        for bad in [
            "",
            "tcp",
            "tcp://",
            "tcp://host",
            "tcp://:5",
            "tcp://h:99999",
            "tcp://h:-1",
            "tcp://[::1:5",
            "tcp://[zz]:5",
            "foo://x",
            "inproc://",
            "ipc://",
            "tcp://a b:1",
            "pgm://x",
            "tcp://a;b:1",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(Error::InvalidEndpoint { .. })),
                "{bad:?}"
            );
        }
    }
}
