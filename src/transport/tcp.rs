//! TCP: listeners and non-blocking connects, with the socket options libzmq applies.

use super::{Host, Listener, Stream};
use crate::error::{Error, Result};
use crate::options::Options;
use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

fn apply_buffers(socket: &Socket, options: &Options) -> io::Result<()> {
    if options.sndbuf >= 0 {
        socket.set_send_buffer_size(options.sndbuf as usize)?;
    }
    if options.rcvbuf >= 0 {
        socket.set_recv_buffer_size(options.rcvbuf as usize)?;
    }
    Ok(())
}

/// Applies TCP_KEEPALIVE and friends (`-1` leaves the OS default).
fn apply_keepalive(socket: &Socket, options: &Options) -> io::Result<()> {
    match options.tcp_keepalive {
        0 => socket.set_keepalive(false)?,
        1 => {
            let mut ka = TcpKeepalive::new();
            if options.tcp_keepalive_idle > 0 {
                ka = ka.with_time(Duration::from_secs(options.tcp_keepalive_idle as u64));
            }
            if options.tcp_keepalive_intvl > 0 {
                ka = ka.with_interval(Duration::from_secs(options.tcp_keepalive_intvl as u64));
            }
            // Windows sets the probe count only system-wide.
            #[cfg(not(windows))]
            if options.tcp_keepalive_cnt > 0 {
                ka = ka.with_retries(options.tcp_keepalive_cnt as u32);
            }
            socket.set_tcp_keepalive(&ka)?;
        }
        _ => {}
    }
    Ok(())
}

/// Resolves a host (blocking: call it off the I/O thread for names).
pub(crate) fn resolve(host: &Host, port: u16) -> io::Result<Vec<SocketAddr>> {
    match host {
        Host::Any => Ok(vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
        )]),
        Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
        Host::Name(name) => Ok((name.as_str(), port).to_socket_addrs()?.collect()),
    }
}

/// Binds and listens. Returns the listener and the address actually bound (for `*` ports).
pub(crate) fn bind_tcp(
    host: &Host,
    port: Option<u16>,
    options: &Options,
) -> Result<(Listener, SocketAddr)> {
    let addrs = resolve(host, port.unwrap_or(0))?;
    let mut last_err = None;
    for addr in addrs {
        match bind_one(addr, options) {
            Ok(bound) => return Ok(bound),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        Error::Io(io::Error::new(
            io::ErrorKind::NotFound,
            "host resolved to no address",
        ))
    }))
}

fn bind_one(addr: SocketAddr, options: &Options) -> Result<(Listener, SocketAddr)> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    apply_buffers(&socket, options)?;
    if let Err(e) = socket.bind(&SockAddr::from(addr)) {
        if e.kind() == io::ErrorKind::AddrInUse {
            return Err(Error::AddressInUse(addr.to_string()));
        }
        return Err(e.into());
    }
    socket.listen(options.backlog.max(1))?;
    socket.set_nonblocking(true)?;
    let local = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound to a non-IP address"))?;
    let std_listener: std::net::TcpListener = socket.into();
    Ok((
        Listener::Tcp(mio::net::TcpListener::from_std(std_listener)),
        local,
    ))
}

/// Starts a non-blocking connect; completion is signalled by writability.
pub(crate) fn connect_tcp(addr: SocketAddr, options: &Options) -> io::Result<Stream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_nodelay(true)?;
    super::no_sigpipe(socket2::SockRef::from(&socket))?;
    apply_buffers(&socket, options)?;
    apply_keepalive(&socket, options)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if super::platform::connect_in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    let std_stream: std::net::TcpStream = socket.into();
    Ok(Stream::Tcp(mio::net::TcpStream::from_std(std_stream)))
}

/// Applies per-connection options to an accepted stream.
#[cfg_attr(not(unix), allow(irrefutable_let_patterns))]
pub(crate) fn configure_accepted(stream: &Stream, options: &Options) -> io::Result<()> {
    if let Stream::Tcp(s) = stream {
        let sock = socket2::SockRef::from(s);
        apply_buffers(&sock, options)?;
        apply_keepalive(&sock, options)?;
    }
    Ok(())
}
