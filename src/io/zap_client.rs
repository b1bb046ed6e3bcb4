//! A session's line to the ZAP handler: an inproc pipe to the socket bound at
//! `inproc://zeromq.zap.01` in the same context, made when a handshake needs a verdict and
//! dropped once it has one. The session speaks to it as a REQ would (an empty delimiter
//! first), so the handler may be a REP or a ROUTER, as with libzmq.

use crate::command::{socket_pipe, InprocRegistry, IoMailbox, IoWake, Key};
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{Capacity, PipeEnds, Read};
use crate::socket_type::SocketType;
use crate::zmtp::{ProtocolError, ZapReply, ZAP_ENDPOINT};
use bytes::Bytes;
use std::sync::Arc;

/// A reply longer than this many frames is malformed; reading stops there (a handler cannot
/// make a session buffer without bound).
const MAX_REPLY_FRAMES: usize = 16;

pub(crate) struct ZapClient {
    ends: PipeEnds<Msg>,
    reply: Vec<Msg>,
}

impl ZapClient {
    /// Connects to the handler bound in `inproc` and sends `request`; `None` when no
    /// handler is bound.
    pub(crate) fn send(
        inproc: &InprocRegistry,
        request: Vec<Msg>,
        mailbox: &Arc<IoMailbox>,
        key: Key,
    ) -> Option<ZapClient> {
        let handler = inproc.lock().lookup(ZAP_ENDPOINT)?.clone();
        let wake_me = IoWake::new(mailbox.clone());
        wake_me.aim(key);
        // No limit either way: a request and its reply are a handful of frames.
        let mut pipe = socket_pipe(
            &handler.mailbox,
            Capacity::Messages(0),
            Capacity::Messages(0),
            wake_me,
        );
        for frame in request {
            // Unlimited capacity: a write fails only if the handler is already gone, and
            // then the reply never comes (the read sees the pipe closed).
            let _ = pipe.other_ends.out.write(frame);
        }
        let _ = pipe.other_ends.out.flush();
        // The other end is this I/O thread's, not a socket's: not inproc.
        let peer = PeerInfo::ours(SocketType::Req, &Bytes::new(), &[]);
        let (_, ends) = pipe.post_to_socket(peer, handler.endpoint_id, false);
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
