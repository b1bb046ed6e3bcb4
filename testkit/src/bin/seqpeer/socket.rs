//! The peer's socket: opened with the run's options, then bound or connected.

use crate::args::{Args, Attach, Role};
use zerosock::{Context, Error, Socket, SocketType};

/// A socket of the role's type with the options of `args` set.
pub(crate) fn open(ctx: &Context, args: &Args) -> Result<Socket, Error> {
    let socket_type = match args.role {
        Role::Push => SocketType::Push,
        Role::Pull => SocketType::Pull,
        Role::Pub => SocketType::Pub,
        Role::Sub => SocketType::Sub,
    };
    let socket = ctx.socket(socket_type)?;
    if let Some(hwm) = args.hwm {
        socket.set_sndhwm(hwm)?;
        socket.set_rcvhwm(hwm)?;
    }
    if let Some(v) = args.heartbeat_ivl {
        socket.set_heartbeat_ivl(v)?;
    }
    if let Some(v) = args.heartbeat_timeout {
        socket.set_heartbeat_timeout(v)?;
    }
    if let Some(v) = args.heartbeat_ttl {
        socket.set_heartbeat_ttl(v)?;
    }
    if let Some(v) = args.reconnect_ivl {
        socket.set_reconnect_ivl(v)?;
    }
    socket.set_linger(args.linger)?;
    socket.set_sndtimeo(args.send_timeout)?;
    socket.set_rcvtimeo(args.idle_timeout)?;
    if args.role == Role::Sub {
        socket.set_subscribe(b"")?;
    }
    Ok(socket)
}

/// Binds or connects `socket` as `attach` says.
pub(crate) fn attach(socket: &Socket, attach: &Attach) -> Result<(), String> {
    match attach {
        Attach::Bind(ep) => socket.bind(ep).map_err(|e| format!("bind {ep}: {e}")),
        Attach::Connect(ep) => socket.connect(ep).map_err(|e| format!("connect {ep}: {e}")),
    }
}
