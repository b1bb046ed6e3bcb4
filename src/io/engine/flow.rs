//! The pipe side of an engine: messages decoded from the peer go into the pipe to the
//! socket, messages the socket sent come out of it into the connection's output queue, and
//! no message is ever delivered torn in either direction.

use crate::command::SocketRef;
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{PipeEnds, Read, Wake, WriteError};
use crate::zmtp::Connection;
use std::sync::Arc;

/// Where the stream of messages from the socket to the peer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outbound {
    /// Between two messages.
    Idle,
    /// Frames of a message have gone to the connection; more of it follow.
    InMessage,
    /// The connection died in the middle of a message: the rest of it is dropped, so the
    /// peer never sees part of a message (the next connection starts with a whole one).
    Torn,
    /// The socket closed its side and everything it sent was taken (or, while the context
    /// stops, nothing is queued and nothing more can come). Nothing is read from the pipe
    /// any more.
    Finished,
}

pub(super) struct Flow {
    /// The pipe's id at the socket, and this side's ends.
    pub(super) pipe: Option<(u64, PipeEnds<Msg>)>,
    /// A decoded frame waiting for inbound credit (reading is paused meanwhile).
    pending_in: Option<Msg>,
    pub(super) outbound: Outbound,
}

impl Flow {
    pub(super) fn new(pipe: Option<(u64, PipeEnds<Msg>)>) -> Flow {
        Flow {
            pipe,
            pending_in: None,
            outbound: Outbound::Idle,
        }
    }

    /// The handshake is done: creates the pipe (accepted peers, IMMEDIATE connecters) and
    /// hands the socket its ends, or tells the socket who is at the other end of the pipe
    /// it already has (the pipe outlives connections).
    pub(super) fn attach(
        &mut self,
        socket: &SocketRef,
        endpoint_id: u64,
        peer: PeerInfo,
        wake: Arc<dyn Wake>,
    ) {
        if let Some((id, _)) = &self.pipe {
            socket
                .mailbox
                .post(crate::command::SocketCommand::PeerReady { id: *id, peer });
            return;
        }
        let pipe = crate::command::socket_pipe(
            &socket.mailbox,
            socket.options.send_capacity(socket.socket_type),
            socket.options.recv_capacity(socket.socket_type),
            wake,
        );
        self.pipe = Some(pipe.post_to_socket(peer, endpoint_id, false));
    }

    /// Retries the frame that waited for credit. Returns false if it still waits.
    pub(super) fn deliver_pending(&mut self) -> bool {
        match self.pending_in.take() {
            None => true,
            Some(msg) => self.deliver(msg),
        }
    }

    /// Hands one received frame to the socket. Returns false when the pipe is full (the
    /// frame is kept and reading pauses).
    pub(super) fn deliver(&mut self, msg: Msg) -> bool {
        let Some((_, ends)) = &mut self.pipe else {
            return true; // no pipe (yet): nothing can use it
        };
        match ends.out.write(msg) {
            Ok(()) => true,
            Err(WriteError::Full(msg)) => {
                self.pending_in = Some(msg);
                false
            }
            Err(WriteError::Closed(_)) => true,
        }
    }

    /// Hands the small frame at the front of `frame` to the socket, made where it will lie
    /// in the pipe, and returns its length (the caller skips it); `None` when the pipe is
    /// full: the frame stays and reading pauses.
    #[inline]
    pub(super) fn deliver_small(&mut self, frame: &[u8]) -> Option<usize> {
        if let Some((_, ends)) = &mut self.pipe {
            match ends.out.write_with(|| Connection::take_small_frame(frame)) {
                Ok(()) => {}
                Err(WriteError::Full(())) => return None,
                // The socket is gone: nothing can use the frame.
                Err(WriteError::Closed(())) => {}
            }
        }
        // Delivered, or skipped: no pipe (yet) or the socket is gone.
        Some(Connection::small_frame_len(frame))
    }

    pub(super) fn flush_in(&mut self) {
        if let Some((_, ends)) = &mut self.pipe {
            let _ = ends.out.flush();
        }
    }

    /// Moves whole messages from the socket into the output batch while it has room.
    pub(super) fn fill(&mut self, conn: &mut Connection, stopping: bool) {
        let Some((_, ends)) = &mut self.pipe else {
            return;
        };
        while conn.out_ref().has_room() {
            let outbound = &mut self.outbound;
            if *outbound == Outbound::Finished {
                return;
            }
            let taken = ends.inb.read_in_place(|msg| {
                if *outbound == Outbound::Torn {
                    if !msg.more() {
                        *outbound = Outbound::Idle;
                    }
                    return;
                }
                *outbound = if msg.more() {
                    Outbound::InMessage
                } else {
                    Outbound::Idle
                };
                match msg.subscription() {
                    Some(subscribe) => conn.send_subscription(subscribe, msg),
                    None => conn.send(msg),
                }
            });
            match taken {
                Read::Item(()) => {}
                Read::Empty => {
                    if stopping && self.outbound != Outbound::InMessage {
                        self.outbound = Outbound::Finished;
                    }
                    return;
                }
                Read::Closed => {
                    self.outbound = Outbound::Finished;
                    return;
                }
            }
        }
    }

    /// Without a connection: has the socket closed with nothing left to deliver? While the
    /// context stops, an empty pipe is enough (the socket can send nothing more).
    pub(super) fn check_out_finished(&mut self, stopping: bool) {
        if let Some((_, ends)) = &mut self.pipe {
            let drained = stopping && self.outbound == Outbound::Idle && ends.inb.is_drained();
            if drained || ends.inb.is_finished() {
                self.outbound = Outbound::Finished;
            }
        }
    }

    /// The connection went down: a message half received is dropped, never delivered, and
    /// the rest of a message half sent will be dropped too.
    pub(super) fn connection_lost(&mut self) {
        if let Some((_, ends)) = &mut self.pipe {
            ends.out.rollback();
            if self.pending_in.as_ref().is_some_and(|m| m.more()) {
                self.pending_in = None;
            }
            let _ = ends.out.flush();
        }
        if self.outbound == Outbound::InMessage {
            self.outbound = Outbound::Torn;
        }
    }

    /// Lets the pipe go (an IMMEDIATE connecter between connections).
    pub(super) fn detach(&mut self) {
        self.pipe = None;
        self.pending_in = None;
    }
}
