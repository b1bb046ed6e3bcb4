//! A session's line to the ZAP handler: an inproc pipe to the socket bound at
//! `inproc://zeromq.zap.01` in the same context, made when a handshake needs a verdict and
//! dropped once it has one. The session speaks to it as a REQ would (an empty delimiter
//! first), so the handler may be a REP or a ROUTER, as with libzmq.

use super::mailbox::{IoMailbox, IoWake};
use super::objects::Key;
use crate::context::CtxInner;
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{pipe_pair, Capacity, PipeEnds, Read};
use crate::socket::{SocketCommand, SocketWake};
use crate::socket_type::SocketType;
use crate::zmtp::{ProtocolError, ZapReply, ZAP_ENDPOINT};
use bytes::Bytes;
use std::sync::{Arc, Weak};

/// A reply longer than this many frames is malformed; reading stops there (a handler cannot
/// make a session buffer without bound).
const MAX_REPLY_FRAMES: usize = 16;

pub(crate) struct ZapClient {
    ends: PipeEnds<Msg>,
    reply: Vec<Msg>,
}

impl ZapClient {
    /// Connects to the handler and sends `request`; `None` when no handler is bound (or the
    /// context is gone).
    pub(crate) fn send(
        ctx: &Weak<CtxInner>,
        request: Vec<Msg>,
        mailbox: &Arc<IoMailbox>,
        key: Key,
    ) -> Option<ZapClient> {
        let ctx = ctx.upgrade()?;
        let registry = ctx.inproc();
        let handler = registry.lookup(ZAP_ENDPOINT)?.clone();
        drop(registry);
        let wake_me = IoWake::new(mailbox.clone());
        wake_me.aim(key);
        let their_id = handler.mailbox.next_pipe_id();
        // No limit either way: a request and its reply are a handful of frames.
        let (mut ends, theirs) = pipe_pair(
            Capacity::Messages(0),
            Capacity::Messages(0),
            wake_me,
            Arc::new(SocketWake {
                mailbox: handler.mailbox.clone(),
                pipe: their_id,
            }),
        );
        for frame in request {
            // Unlimited capacity: a write fails only if the handler is already gone, and
            // then the reply never comes (the read sees the pipe closed).
            let _ = ends.out.write(frame);
        }
        let _ = ends.out.flush();
        handler.mailbox.post(SocketCommand::Attach {
            id: their_id,
            ends: theirs,
            peer: PeerInfo::ours(SocketType::Req, &Bytes::new(), &[]),
            endpoint_id: handler.endpoint_id,
            // The other end is this I/O thread's.
            inproc: false,
        });
        Some(ZapClient {
            ends,
            reply: Vec::new(),
        })
    }

    /// The verdict, once a whole reply has arrived.
    pub(crate) fn poll(&mut self) -> Option<Result<ZapReply, ProtocolError>> {
        loop {
            match self.ends.inb.read() {
                Read::Item(frame) => {
                    let more = frame.more();
                    self.reply.push(frame);
                    if !more {
                        return Some(ZapReply::parse(&self.reply));
                    }
                    if self.reply.len() > MAX_REPLY_FRAMES {
                        return Some(Err(ProtocolError::BadZapReply("not seven frames")));
                    }
                }
                Read::Empty => return None,
                Read::Closed => return Some(Err(ProtocolError::NoZapHandler)),
            }
        }
    }
}
