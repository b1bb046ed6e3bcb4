//! Socket types, their wire names and which pairs may talk (RFC 28/29/30/31 and libzmq).

use std::fmt;
use std::str::FromStr;

/// The pattern a socket implements. Names and compatibility follow libzmq.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketType {
    /// Exclusive pair: exactly one peer, both directions.
    Pair,
    /// Publisher: fan-out to subscribers, filtered by topic.
    Pub,
    /// Subscriber: receives what it subscribed to.
    Sub,
    /// Request: strict send/receive alternation.
    Req,
    /// Reply: answers requests.
    Rep,
    /// Asynchronous request: round-robin out, fair-queue in.
    Dealer,
    /// Asynchronous reply: routes by peer identity.
    Router,
    /// Pipeline sink: fair-queues from all pushers.
    Pull,
    /// Pipeline source: round-robins to all pullers.
    Push,
    /// Publisher that sees subscriptions.
    XPub,
    /// Subscriber that sends subscriptions as messages.
    XSub,
}

impl SocketType {
    /// The name sent in the `Socket-Type` property, as libzmq spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
        }
    }

    /// Every socket type, in libzmq's numbering order.
    pub fn all() -> &'static [SocketType] {
        &Self::ALL
    }

    const ALL: [SocketType; 11] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
    ];

    /// Parses a wire name (exact, as in the `Socket-Type` property).
    pub(crate) fn from_wire(name: &[u8]) -> Option<SocketType> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().as_bytes() == name)
    }

    /// Whether a peer of type `peer` may connect to a socket of this type.
    pub fn is_compatible(self, peer: SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Pair, Pair)
                | (Pub | XPub, Sub | XSub)
                | (Sub | XSub, Pub | XPub)
                | (Req, Rep | Router)
                | (Rep, Req | Dealer)
                | (Dealer, Rep | Dealer | Router)
                | (Router, Req | Dealer | Router)
                | (Pull, Push)
                | (Push, Pull)
        )
    }

    /// Whether this type announces an `Identity` in its READY command.
    pub(crate) fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a socket-type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown socket type {0:?}")]
pub struct UnknownSocketType(pub String);

impl FromStr for SocketType {
    type Err = UnknownSocketType;

    /// Parses a libzmq socket-type name in any case (`PUSH`, `sub`, `Dealer`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SocketType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSocketType(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_is_symmetric_and_matches_libzmq() {
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible(b), b.is_compatible(a), "{a} {b}");
            }
        }
        assert!(SocketType::Push.is_compatible(SocketType::Pull));
        assert!(!SocketType::Push.is_compatible(SocketType::Push));
        assert!(!SocketType::Pair.is_compatible(SocketType::Pull));
        assert_eq!("dealer".parse::<SocketType>(), Ok(SocketType::Dealer));
        assert!("nope".parse::<SocketType>().is_err());
        assert_eq!(SocketType::from_wire(b"XPUB"), Some(SocketType::XPub));
        assert_eq!(SocketType::from_wire(b"xpub"), None);
    }
}
