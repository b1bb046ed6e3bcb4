//! Making a pipe with a socket at one end: every such pipe, whatever is at its other end (a
//! session of an I/O thread, another socket, the ZAP client), is made here.

use super::{SocketCommand, SocketMailbox, SocketWake};
use crate::msg::Msg;
use crate::peer::PeerInfo;
use crate::pipe::{pipe_pair, Capacity, PipeEnds, Wake};
use std::sync::Arc;

/// A new pipe between a socket and another party, not yet handed to either.
pub(crate) struct SocketPipe {
    /// The pipe's id at the socket (its wake-ups name it).
    pub(crate) id: u64,
    /// The socket's ends.
    pub(crate) socket_ends: PipeEnds<Msg>,
    /// The other party's ends.
    pub(crate) other_ends: PipeEnds<Msg>,
    socket: Arc<SocketMailbox>,
}

/// Makes a pipe between the socket behind `socket` and another party that `other` wakes
/// when it must look at the pipe again. `from_socket` limits what is queued from the socket
/// to the other party, `to_socket` the other way.
pub(crate) fn socket_pipe(
    socket: &Arc<SocketMailbox>,
    from_socket: Capacity,
    to_socket: Capacity,
    other: Arc<dyn Wake>,
) -> SocketPipe {
    let id = socket.next_pipe_id();
    let wake_socket = Arc::new(SocketWake {
        mailbox: socket.clone(),
        pipe: id,
    });
    let (socket_ends, other_ends) = pipe_pair(from_socket, to_socket, wake_socket, other);
    SocketPipe {
        id,
        socket_ends,
        other_ends,
        socket: socket.clone(),
    }
}

impl SocketPipe {
    /// Hands the socket its ends (it attaches them when it next looks at its mailbox), as
    /// a pipe to `peer` of its endpoint `endpoint_id`; `inproc` when the other party is a
    /// socket too. Returns the pipe's id at the socket and the other party's ends.
    pub(crate) fn post_to_socket(
        self,
        peer: PeerInfo,
        endpoint_id: u64,
        inproc: bool,
    ) -> (u64, PipeEnds<Msg>) {
        self.socket.post(SocketCommand::Attach {
            id: self.id,
            ends: self.socket_ends,
            peer,
            endpoint_id,
            inproc,
        });
        (self.id, self.other_ends)
    }
}
