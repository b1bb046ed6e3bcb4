//! Socket option setters and getters, named after libzmq's options (`ZMQ_SNDHWM` is
//! `set_sndhwm`), with libzmq's units (milliseconds, `-1` for "forever") and defaults.

use super::Socket;
use crate::error::{Error, Result};
use crate::options::at_least;
use crate::pattern::{BytesOption, FlagOption, PatternOption};
use crate::zmtp::{Mechanism, Security};
use bytes::Bytes;

macro_rules! int_option {
    ($(#[$doc:meta])* $set:ident, $get:ident, $field:ident, $name:literal, $min:expr, $reason:literal) => {
        $(#[$doc])*
        ///
        /// # Errors
        #[doc = concat!("[`Error::InvalidOption`] for a value out of range: it ", $reason, ".")]
        pub fn $set(&self, value: i32) -> Result<()> {
            let value = at_least($name, value, $min, $reason)?;
            self.core.borrow_mut().options.$field = value;
            Ok(())
        }

        #[doc = concat!("The current `", $name, "`.")]
        pub fn $get(&self) -> i32 {
            self.core.borrow().options.$field
        }
    };
}

impl Socket {
    int_option!(
        /// `SNDHWM`: messages queued per peer before send blocks (or PUB drops); 0 means no
        /// limit. Default 1000. Applies to connections made after the call.
        set_sndhwm, sndhwm, sndhwm, "SNDHWM", 0, "must be >= 0"
    );
    int_option!(
        /// `RCVHWM`: messages queued per peer on the receiving side; 0 means no limit.
        /// Default 1000. Applies to connections made after the call.
        set_rcvhwm, rcvhwm, rcvhwm, "RCVHWM", 0, "must be >= 0"
    );
    int_option!(
        /// `SNDTIMEO`: how long a blocking send waits, in ms; -1 forever (default), 0 never.
        set_sndtimeo, sndtimeo, sndtimeo, "SNDTIMEO", -1, "must be >= -1"
    );
    int_option!(
        /// `RCVTIMEO`: how long a blocking receive waits, in ms; -1 forever (default), 0 never.
        set_rcvtimeo, rcvtimeo, rcvtimeo, "RCVTIMEO", -1, "must be >= -1"
    );
    int_option!(
        /// `LINGER`: how long, in ms, queued messages may take to go out after the socket is
        /// closed or the context terminated; -1 forever, 0 discard at once. Default 30000
        /// (libzmq's is -1; zerosock picks a finite default so nothing hangs forever).
        set_linger, linger, linger, "LINGER", -1, "must be >= -1"
    );
    int_option!(
        /// `RECONNECT_IVL`: ms before reconnecting after losing a peer; -1 never. Default 100.
        set_reconnect_ivl, reconnect_ivl, reconnect_ivl, "RECONNECT_IVL", -1, "must be >= -1"
    );
    int_option!(
        /// `RECONNECT_IVL_MAX`: upper bound of the doubling backoff, in ms; 0 (default)
        /// keeps `RECONNECT_IVL` fixed.
        set_reconnect_ivl_max, reconnect_ivl_max, reconnect_ivl_max, "RECONNECT_IVL_MAX", 0, "must be >= 0"
    );
    int_option!(
        /// `BACKLOG`: pending-connection queue of listeners bound after the call. Default 100.
        set_backlog, backlog, backlog, "BACKLOG", 0, "must be >= 0"
    );
    int_option!(
        /// `SNDBUF`: kernel send buffer size in bytes; -1 (default) leaves the OS default.
        set_sndbuf, sndbuf, sndbuf, "SNDBUF", -1, "must be >= -1"
    );
    int_option!(
        /// `RCVBUF`: kernel receive buffer size in bytes; -1 (default) leaves the OS default.
        set_rcvbuf, rcvbuf, rcvbuf, "RCVBUF", -1, "must be >= -1"
    );
    int_option!(
        /// `TCP_KEEPALIVE_CNT`: keepalive probes before giving up; -1 (default) OS default.
        set_tcp_keepalive_cnt, tcp_keepalive_cnt, tcp_keepalive_cnt, "TCP_KEEPALIVE_CNT", -1, "must be >= -1"
    );
    int_option!(
        /// `TCP_KEEPALIVE_IDLE`: seconds idle before probing; -1 (default) OS default.
        set_tcp_keepalive_idle, tcp_keepalive_idle, tcp_keepalive_idle, "TCP_KEEPALIVE_IDLE", -1, "must be >= -1"
    );
    int_option!(
        /// `TCP_KEEPALIVE_INTVL`: seconds between probes; -1 (default) OS default.
        set_tcp_keepalive_intvl, tcp_keepalive_intvl, tcp_keepalive_intvl, "TCP_KEEPALIVE_INTVL", -1, "must be >= -1"
    );
    int_option!(
        /// `HANDSHAKE_IVL`: ms a new connection may take to finish its handshake before it is
        /// closed; 0 disables the limit. Default 30000.
        set_handshake_ivl, handshake_ivl, handshake_ivl, "HANDSHAKE_IVL", 0, "must be >= 0"
    );
    int_option!(
        /// `HEARTBEAT_IVL`: ms between ZMTP PINGs on each connection; 0 (default) sends none.
        /// PINGs from peers are always answered.
        set_heartbeat_ivl, heartbeat_ivl, heartbeat_ivl, "HEARTBEAT_IVL", 0, "must be >= 0"
    );
    /// `HEARTBEAT_TTL`: ms the peer should wait for traffic before closing, sent in our
    /// PINGs in deciseconds; 0 (default) none, at most 6553599 (the wire field is 16 bits).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a value outside 0 to 6553599.
    pub fn set_heartbeat_ttl(&self, value: i32) -> Result<()> {
        if !(0..=6_553_599).contains(&value) {
            return Err(Error::InvalidOption {
                option: "HEARTBEAT_TTL",
                reason: "must be 0 to 6553599",
            });
        }
        self.core.borrow_mut().options.heartbeat_ttl = value;
        Ok(())
    }

    /// The current `HEARTBEAT_TTL`.
    pub fn heartbeat_ttl(&self) -> i32 {
        self.core.borrow().options.heartbeat_ttl
    }
    int_option!(
        /// `HEARTBEAT_TIMEOUT`: ms without any received byte after a PING before the
        /// connection is closed (then a connecting side reconnects); -1 (default) means
        /// `HEARTBEAT_IVL`.
        set_heartbeat_timeout, heartbeat_timeout, heartbeat_timeout, "HEARTBEAT_TIMEOUT", -1, "must be >= -1"
    );

    /// `TCP_KEEPALIVE`: -1 (default) leaves the OS default, 0 off, 1 on.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a value other than -1, 0 or 1.
    pub fn set_tcp_keepalive(&self, value: i32) -> Result<()> {
        if !(-1..=1).contains(&value) {
            return Err(Error::InvalidOption {
                option: "TCP_KEEPALIVE",
                reason: "must be -1, 0 or 1",
            });
        }
        self.core.borrow_mut().options.tcp_keepalive = value;
        Ok(())
    }

    /// The current `TCP_KEEPALIVE`.
    pub fn tcp_keepalive(&self) -> i32 {
        self.core.borrow().options.tcp_keepalive
    }

    /// `MAXMSGSIZE`: largest frame accepted from a peer, in bytes; -1 (default) no limit.
    /// A peer announcing a larger frame is disconnected before anything is allocated.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a value below -1.
    pub fn set_maxmsgsize(&self, value: i64) -> Result<()> {
        if value < -1 {
            return Err(Error::InvalidOption {
                option: "MAXMSGSIZE",
                reason: "must be >= -1",
            });
        }
        self.core.borrow_mut().options.maxmsgsize = value;
        Ok(())
    }

    /// The current `MAXMSGSIZE`.
    pub fn maxmsgsize(&self) -> i64 {
        self.core.borrow().options.maxmsgsize
    }

    /// `IMMEDIATE`: when true, messages queue only for peers whose connection is complete;
    /// when false (default), a connect queues at once.
    ///
    /// # Errors
    /// Never fails; the `Result` is there as for every other setter.
    pub fn set_immediate(&self, value: bool) -> Result<()> {
        self.core.borrow_mut().options.immediate = value;
        Ok(())
    }

    /// The current `IMMEDIATE`.
    pub fn immediate(&self) -> bool {
        self.core.borrow().options.immediate
    }

    /// `ROUTING_ID`: the identity announced to peers (REQ, DEALER, ROUTER), 1 to 255 bytes.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for an empty id or one longer than 255 bytes.
    pub fn set_routing_id(&self, id: &[u8]) -> Result<()> {
        if id.is_empty() || id.len() > 255 {
            return Err(Error::InvalidOption {
                option: "ROUTING_ID",
                reason: "must be 1 to 255 bytes",
            });
        }
        self.core.borrow_mut().options.routing_id = Bytes::copy_from_slice(id);
        Ok(())
    }

    /// The current `ROUTING_ID` (empty if none was set).
    pub fn routing_id(&self) -> Vec<u8> {
        self.core.borrow().options.routing_id.to_vec()
    }

    // ----- socket-type options ----------------------------------------------------------
    // These belong to the socket type's logic; on a socket type that does not have them
    // they fail with `Error::InvalidOption`, as libzmq fails with `EINVAL`. Their getters
    // fail the same way on the same socket types. libzmq itself reads back only
    // `INVERT_MATCHING` of these; zerosock reads back all but `SUBSCRIBE` and `UNSUBSCRIBE`.

    fn pattern_option(&self, option: PatternOption<'_>) -> Result<()> {
        self.core.borrow_mut().set_pattern_option(option)
    }

    fn pattern_flag(&self, option: FlagOption) -> Result<bool> {
        self.core
            .borrow()
            .pattern
            .flag(option)
            .ok_or_else(|| option.unsupported())
    }

    fn pattern_bytes(&self, option: BytesOption) -> Result<Vec<u8>> {
        self.core
            .borrow()
            .pattern
            .bytes(option)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| option.unsupported())
    }

    /// `SUBSCRIBE` (SUB): receive messages whose first frame starts with `topic`; the
    /// empty topic matches everything. Subscriptions are counted: subscribing twice needs
    /// two unsubscribes. On XPUB with `XPUB_MANUAL`: subscribes the peer of the last
    /// subscription message received to `topic`. Write-only, as in libzmq: there is no
    /// getter.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type other than SUB, XPUB and PUB, and on an XPUB or PUB without
    /// `XPUB_MANUAL`.
    pub fn set_subscribe(&self, topic: &[u8]) -> Result<()> {
        self.pattern_option(PatternOption::Subscribe(topic))
    }

    /// `UNSUBSCRIBE` (SUB): drops one subscription to `topic` (the publisher is told when
    /// the last one goes). On XPUB with `XPUB_MANUAL`: unsubscribes the peer of the last
    /// subscription message received. Write-only, as in libzmq: there is no getter.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type other than SUB, XPUB and PUB, and on an XPUB or PUB without
    /// `XPUB_MANUAL`.
    pub fn set_unsubscribe(&self, topic: &[u8]) -> Result<()> {
        self.pattern_option(PatternOption::Unsubscribe(topic))
    }

    /// `REQ_RELAXED` (REQ): allow a new request before the reply to the previous one came
    /// (the late reply is then discarded). Default false.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but REQ).
    pub fn set_req_relaxed(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::ReqRelaxed(on))
    }

    /// The current `REQ_RELAXED`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but REQ).
    pub fn req_relaxed(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::ReqRelaxed)
    }

    /// `REQ_CORRELATE` (REQ): prefix each request with a 4-byte request id and accept only
    /// the reply carrying the current one. Default false.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but REQ).
    pub fn set_req_correlate(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::ReqCorrelate(on))
    }

    /// The current `REQ_CORRELATE`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but REQ).
    pub fn req_correlate(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::ReqCorrelate)
    }

    /// `ROUTER_MANDATORY` (ROUTER): sending to an unknown routing id fails with
    /// [`Error::HostUnreachable`] instead of being dropped silently, and sending to a peer at
    /// its high-water mark blocks (or fails with [`Error::WouldBlock`]). Default false.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but ROUTER).
    pub fn set_router_mandatory(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::RouterMandatory(on))
    }

    /// The current `ROUTER_MANDATORY`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but ROUTER).
    pub fn router_mandatory(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::RouterMandatory)
    }

    /// `ROUTER_HANDOVER` (ROUTER): a new peer announcing a routing id already in use takes it
    /// over, and the old connection is closed. Default false (the newcomer gets a generated
    /// id).
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but ROUTER).
    pub fn set_router_handover(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::RouterHandover(on))
    }

    /// The current `ROUTER_HANDOVER`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but ROUTER).
    pub fn router_handover(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::RouterHandover)
    }

    /// `PROBE_ROUTER` (ROUTER, DEALER, REQ): send an empty message to every new peer, so a
    /// ROUTER peer learns our routing id at once. Default false.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but ROUTER, DEALER and REQ).
    pub fn set_probe_router(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::ProbeRouter(on))
    }

    /// The current `PROBE_ROUTER`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but ROUTER, DEALER and REQ).
    pub fn probe_router(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::ProbeRouter)
    }

    /// `CONNECT_ROUTING_ID` (ROUTER): the routing id, 1 to 255 bytes, to give the peer of
    /// the next [`Socket::connect`] (used by that connect only).
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but ROUTER), and for an id that is
    /// empty or longer than 255 bytes.
    pub fn set_connect_routing_id(&self, id: &[u8]) -> Result<()> {
        self.pattern_option(PatternOption::ConnectRoutingId(id))
    }

    /// The current `CONNECT_ROUTING_ID`: the routing id the next [`Socket::connect`] will
    /// give its peer, empty when none was set or the connect it was set for has used it.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but ROUTER).
    pub fn connect_routing_id(&self) -> Result<Vec<u8>> {
        self.pattern_bytes(BytesOption::ConnectRoutingId)
    }

    /// `XPUB_VERBOSE` (XPUB, PUB): pass every subscribe message to the application, not
    /// only those for new topics.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but XPUB and PUB).
    pub fn set_xpub_verbose(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::XpubVerbose(on))
    }

    /// The current `XPUB_VERBOSE` (also true while `XPUB_VERBOSER` is on).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but XPUB and PUB).
    pub fn xpub_verbose(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::XpubVerbose)
    }

    /// `XPUB_VERBOSER` (XPUB, PUB): pass every subscribe and unsubscribe message.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but XPUB and PUB).
    pub fn set_xpub_verboser(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::XpubVerboser(on))
    }

    /// The current `XPUB_VERBOSER`: true only while unsubscriptions are passed on too (a later
    /// `XPUB_VERBOSE` call turns them off).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but XPUB and PUB).
    pub fn xpub_verboser(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::XpubVerboser)
    }

    /// `XPUB_NODROP` (XPUB, PUB): when a subscriber is at its high-water mark, block (or
    /// fail with [`Error::WouldBlock`]) instead of dropping the message for it.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but XPUB and PUB).
    pub fn set_xpub_nodrop(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::XpubNodrop(on))
    }

    /// The current `XPUB_NODROP`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but XPUB and PUB).
    pub fn xpub_nodrop(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::XpubNodrop)
    }

    /// `XPUB_MANUAL` (XPUB): subscriptions are not applied; the application receives each
    /// and decides with [`Socket::set_subscribe`] / [`Socket::set_unsubscribe`].
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but XPUB and PUB).
    pub fn set_xpub_manual(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::XpubManual(on))
    }

    /// The current `XPUB_MANUAL`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but XPUB and PUB).
    pub fn xpub_manual(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::XpubManual)
    }

    /// `XPUB_WELCOME_MSG` (XPUB, PUB): a message sent to every new subscriber; empty for
    /// none (the default).
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but XPUB and PUB).
    pub fn set_xpub_welcome_msg(&self, msg: &[u8]) -> Result<()> {
        self.pattern_option(PatternOption::XpubWelcomeMsg(msg))
    }

    /// The current `XPUB_WELCOME_MSG`, empty for none.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but XPUB and PUB).
    pub fn xpub_welcome_msg(&self) -> Result<Vec<u8>> {
        self.pattern_bytes(BytesOption::XpubWelcomeMsg)
    }

    /// `INVERT_MATCHING` (PUB, XPUB, SUB): deliver the messages that match no subscription
    /// instead of those that do. Publishers and their subscribers should agree on it.
    ///
    /// # Errors
    /// [`Error::Terminated`] once the context is terminated; [`Error::InvalidOption`] on a
    /// socket type without the option (every type but PUB, XPUB, SUB and XSUB).
    pub fn set_invert_matching(&self, on: bool) -> Result<()> {
        self.pattern_option(PatternOption::InvertMatching(on))
    }

    /// The current `INVERT_MATCHING`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type without the option (those whose setter
    /// fails: every type but PUB, XPUB, SUB and XSUB).
    pub fn invert_matching(&self) -> Result<bool> {
        self.pattern_flag(FlagOption::InvertMatching)
    }

    /// `CONFLATE` (PULL, PUSH, SUB, PUB, DEALER): keep only the newest message per peer in
    /// the direction that carries data, ignoring the high-water marks; for connections made
    /// after the call. As in libzmq, it is for single-frame messages (a multipart message
    /// is kept whole, but only the newest). Subscriptions are never conflated.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] on a socket type other than PULL, PUSH, SUB, PUB and
    /// DEALER.
    pub fn set_conflate(&self, on: bool) -> Result<()> {
        use crate::SocketType::*;
        let mut core = self.core.borrow_mut();
        if !matches!(core.socket_type, Pull | Push | Sub | Pub | Dealer) {
            return Err(Error::InvalidOption {
                option: "CONFLATE",
                reason: "applies to PULL, PUSH, SUB, PUB and DEALER sockets",
            });
        }
        core.options.conflate = on;
        Ok(())
    }

    /// `METADATA`: an application property announced to peers in the handshake; they see it
    /// with [`crate::Msg::property`]. The name must start with `X-` (as libzmq requires), be
    /// at most 255 bytes and, as ZMTP property names are, use only letters, digits and
    /// `. + _ -`; the value is at most 2^32 - 1 bytes. Applies to connections made after the
    /// call.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a name or value outside those rules.
    pub fn set_metadata(&self, name: &str, value: &[u8]) -> Result<()> {
        let x_prefixed = name.len() > 2 && name[..2].eq_ignore_ascii_case("X-");
        let property_name = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._".contains(&b));
        if !x_prefixed || name.len() > 255 || !property_name {
            return Err(Error::InvalidOption {
                option: "METADATA",
                reason: "the name must start with X-, be at most 255 bytes and use only \
                         letters, digits and . + _ -",
            });
        }
        if u32::try_from(value.len()).is_err() {
            return Err(Error::InvalidOption {
                option: "METADATA",
                reason: "the value must be shorter than 4 GiB",
            });
        }
        let mut core = self.core.borrow_mut();
        core.options
            .metadata
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        core.options
            .metadata
            .push((name.to_string(), Bytes::copy_from_slice(value)));
        Ok(())
    }

    /// The value of the `METADATA` property `name` (matched without regard to case, as
    /// [`Socket::set_metadata`] replaces it), or `None` if none was set.
    pub fn metadata(&self, name: &str) -> Option<Vec<u8>> {
        self.core
            .borrow()
            .options
            .metadata
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.to_vec())
    }

    /// The current `CONFLATE`: false on the socket types without it (the setter refuses
    /// them), as libzmq reads it back there.
    pub fn conflate(&self) -> bool {
        self.core.borrow().options.conflate
    }

    // ----- security ---------------------------------------------------------------------
    // As in libzmq, the mechanism follows the last of these calls, applies to connections
    // made after it, and does not apply to inproc peers.

    /// `PLAIN_SERVER`: true makes the socket a PLAIN server (RFC 24): every peer must be a
    /// PLAIN client whose credentials the ZAP handler bound at `inproc://zeromq.zap.01`
    /// accepts; with no handler bound, every peer is refused (as libzmq does). False goes
    /// back to the NULL mechanism. A PLAIN socket never accepts a NULL peer.
    ///
    /// # Errors
    /// Never fails; the `Result` is there as for every other setter.
    pub fn set_plain_server(&self, on: bool) -> Result<()> {
        self.core.borrow_mut().options.security = if on {
            Security::PlainServer
        } else {
            Security::Null
        };
        Ok(())
    }

    /// Whether the socket is a PLAIN server.
    pub fn plain_server(&self) -> bool {
        self.core.borrow().options.security == Security::PlainServer
    }

    /// `PLAIN_USERNAME`: makes the socket a PLAIN client announcing this username (at most
    /// 255 bytes). The empty username goes back to the NULL mechanism, as libzmq's `NULL`
    /// value does.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a username longer than 255 bytes.
    pub fn set_plain_username(&self, username: &[u8]) -> Result<()> {
        let username = credential("PLAIN_USERNAME", username)?;
        let mut core = self.core.borrow_mut();
        let options = &mut core.options;
        options.plain_username = username;
        options.security = if options.plain_username.is_empty() {
            Security::Null
        } else {
            plain_client(options)
        };
        Ok(())
    }

    /// The current `PLAIN_USERNAME`.
    pub fn plain_username(&self) -> Vec<u8> {
        self.core.borrow().options.plain_username.to_vec()
    }

    /// `PLAIN_PASSWORD`: makes the socket a PLAIN client with this password (at most 255
    /// bytes, may be empty).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a password longer than 255 bytes.
    pub fn set_plain_password(&self, password: &[u8]) -> Result<()> {
        let password = credential("PLAIN_PASSWORD", password)?;
        let mut core = self.core.borrow_mut();
        let options = &mut core.options;
        options.plain_password = password;
        options.security = plain_client(options);
        Ok(())
    }

    /// The current `PLAIN_PASSWORD`.
    pub fn plain_password(&self) -> Vec<u8> {
        self.core.borrow().options.plain_password.to_vec()
    }

    /// `MECHANISM`: the security mechanism new connections use.
    pub fn mechanism(&self) -> Mechanism {
        match self.core.borrow().options.security {
            Security::Null => Mechanism::Null,
            Security::PlainClient { .. } | Security::PlainServer => Mechanism::Plain,
        }
    }

    /// `ZAP_DOMAIN`: the domain sent in ZAP requests (at most 255 bytes). With the NULL
    /// mechanism, a non-empty domain makes the socket ask the ZAP handler about every peer
    /// when a handler is bound (and refuse every peer when none is, with
    /// `ZAP_ENFORCE_DOMAIN`).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a domain longer than 255 bytes.
    pub fn set_zap_domain(&self, domain: &str) -> Result<()> {
        let domain = credential("ZAP_DOMAIN", domain.as_bytes())?;
        self.core.borrow_mut().options.zap_domain = domain;
        Ok(())
    }

    /// The current `ZAP_DOMAIN`.
    pub fn zap_domain(&self) -> String {
        String::from_utf8_lossy(&self.core.borrow().options.zap_domain).into_owned()
    }

    /// `ZAP_ENFORCE_DOMAIN`: with NULL and a `ZAP_DOMAIN`, refuse peers when no ZAP handler
    /// is bound instead of letting them in unauthenticated. Default false, as in libzmq.
    ///
    /// # Errors
    /// Never fails; the `Result` is there as for every other setter.
    pub fn set_zap_enforce_domain(&self, on: bool) -> Result<()> {
        self.core.borrow_mut().options.zap_enforce_domain = on;
        Ok(())
    }

    /// The current `ZAP_ENFORCE_DOMAIN`.
    pub fn zap_enforce_domain(&self) -> bool {
        self.core.borrow().options.zap_enforce_domain
    }
}

/// A PLAIN credential or ZAP domain: at most 255 bytes (one length byte on the wire).
fn credential(option: &'static str, value: &[u8]) -> Result<Bytes> {
    if value.len() > 255 {
        return Err(Error::InvalidOption {
            option,
            reason: "must be at most 255 bytes",
        });
    }
    Ok(Bytes::copy_from_slice(value))
}

fn plain_client(options: &crate::options::Options) -> Security {
    Security::PlainClient {
        username: options.plain_username.clone(),
        password: options.plain_password.clone(),
    }
}
