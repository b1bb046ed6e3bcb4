//! Connecting to an endpoint without blocking the caller: an IP address is connected to at
//! once (the connect completes in the background, signalled by writability), a host name
//! is resolved on a thread of its own first, so that a slow resolver stalls nobody.

use super::{connect_ipc, connect_tcp, resolve, Endpoint, Host, Stream};
use crate::options::Options;
use std::io;
use std::net::SocketAddr;

/// A connect under way.
pub(crate) enum Dial {
    /// The stream exists; its connect completes (or fails) when it becomes writable.
    Connecting(Stream),
    /// The name is being resolved; `resolved` will be called with the addresses.
    Resolving,
}

/// Starts connecting to `endpoint`. For a host name, `resolved` is called on the resolver's
/// thread with the result, which [`connect_resolved`] takes on.
pub(crate) fn dial(
    endpoint: &Endpoint,
    options: &Options,
    resolved: impl FnOnce(io::Result<Vec<SocketAddr>>) + Send + 'static,
) -> io::Result<Dial> {
    match endpoint {
        Endpoint::Tcp {
            host: Host::Ip(ip),
            port: Some(port),
        } => connect_tcp(SocketAddr::new(*ip, *port), options).map(Dial::Connecting),
        Endpoint::Tcp {
            host: host @ Host::Name(_),
            port: Some(port),
        } => {
            let (host, port) = (host.clone(), *port);
            std::thread::Builder::new()
                .name("zerosock-resolve".into())
                .spawn(move || resolved(resolve(&host, port)))?;
            Ok(Dial::Resolving)
        }
        Endpoint::Ipc(Some(path)) => connect_ipc(path).map(Dial::Connecting),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "endpoint cannot be connected",
        )),
    }
}

/// Connects to the first address a name resolved to.
pub(crate) fn connect_resolved(
    resolved: io::Result<Vec<SocketAddr>>,
    options: &Options,
) -> io::Result<Stream> {
    let addr = resolved?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "name resolved to no address"))?;
    connect_tcp(addr, options)
}
