//! Binding, connecting and letting go of endpoints: how a socket gets its pipes.

use super::{Core, EndpointKind, EndpointRecord, PipeTable};
use crate::command::{
    socket_pipe, Binder, IoCommand, IoWake, LateSocketWake, Pending, SocketRef, SocketWake,
};
use crate::error::{Error, Result};
use crate::monitor::EventKind;
use crate::options::Options;
use crate::pattern::Pattern;
use crate::peer::{check_compatible, PeerInfo};
use crate::pipe::Capacity;
use crate::socket_type::SocketType;
use crate::transport::{self, Endpoint, Host};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

impl Core {
    pub(super) fn socket_ref(&self, endpoint: &str) -> Arc<SocketRef> {
        Arc::new(SocketRef {
            id: self.id,
            mailbox: self.mailbox.clone(),
            socket_type: self.socket_type,
            options: self.options.clone(),
            monitor: self.monitor.clone(),
            endpoint: endpoint.to_string(),
            inproc: self.ctx.inproc_registry().clone(),
        })
    }

    /// What an inproc peer learns of us: what a READY would say.
    pub(super) fn our_peer_info(&self) -> PeerInfo {
        PeerInfo::ours(
            self.socket_type,
            &self.options.routing_id,
            &self.options.metadata,
        )
    }

    fn record(
        &mut self,
        kind: EndpointKind,
        given: &str,
        resolved: String,
        inproc: Option<String>,
    ) -> u64 {
        let id = self.ctx.next_id();
        self.endpoints.push(EndpointRecord {
            id,
            kind,
            given: given.to_string(),
            resolved: resolved.clone(),
            inproc,
        });
        self.last_endpoint = Some(resolved);
        id
    }

    // ----- endpoints ------------------------------------------------------------------

    pub(super) fn bind(&mut self, endpoint: &str) -> Result<()> {
        self.check_alive()?;
        let parsed = Endpoint::parse(endpoint)?;
        let listening = match parsed {
            Endpoint::Tcp { host, port } => transport::bind_tcp(&host, port, &self.options)
                .map(|(listener, addr)| (listener, format_tcp(addr))),
            Endpoint::Ipc(path) => transport::bind_ipc(path.as_deref())
                .map(|(listener, path)| (listener, format!("ipc://{}", path.display()))),
            Endpoint::Inproc(name) => return self.bind_inproc(endpoint, name),
        };
        let (listener, resolved) = match listening {
            Ok(bound) => bound,
            Err(e) => {
                self.monitor
                    .emit(EventKind::BindFailed(e.to_string()), endpoint);
                return Err(match e {
                    Error::Io(source) => Error::Endpoint {
                        endpoint: endpoint.to_string(),
                        source,
                    },
                    other => other,
                });
            }
        };
        let io = self.ctx.choose_io()?.clone();
        let socket = self.socket_ref(&resolved);
        let endpoint_id = self.record(EndpointKind::Bound, endpoint, resolved.clone(), None);
        self.monitor.emit(EventKind::Listening, &resolved);
        io.post(IoCommand::Listen {
            listener,
            socket,
            endpoint_id,
        });
        Ok(())
    }

    fn bind_inproc(&mut self, endpoint: &str, name: String) -> Result<()> {
        let endpoint_id = self.ctx.next_id();
        let binder = Binder {
            socket_id: self.id,
            mailbox: self.mailbox.clone(),
            peer: self.our_peer_info(),
            options: self.options.clone(),
            endpoint_id,
        };
        if !self.ctx.inproc().bind(&name, binder) {
            return Err(Error::AddressInUse(endpoint.to_string()));
        }
        self.endpoints.push(EndpointRecord {
            id: endpoint_id,
            kind: EndpointKind::Bound,
            given: endpoint.to_string(),
            resolved: endpoint.to_string(),
            inproc: Some(name),
        });
        self.last_endpoint = Some(endpoint.to_string());
        // Connects that were waiting for this name arrive as Attach commands.
        self.process_commands();
        Ok(())
    }

    pub(super) fn connect(&mut self, endpoint: &str) -> Result<()> {
        self.check_alive()?;
        let parsed = Endpoint::parse(endpoint)?;
        let invalid = |reason| Error::InvalidEndpoint {
            endpoint: endpoint.to_string(),
            reason,
        };
        match &parsed {
            Endpoint::Tcp {
                host: Host::Any, ..
            } => return Err(invalid("cannot connect to *")),
            Endpoint::Tcp { port: None, .. } => return Err(invalid("cannot connect to port *")),
            Endpoint::Ipc(None) => return Err(invalid("cannot connect to ipc://*")),
            Endpoint::Inproc(name) => return self.connect_inproc(endpoint, name.clone()),
            _ => {}
        }
        let io = self.ctx.choose_io()?.clone();
        let endpoint_id = self.record(EndpointKind::Connected, endpoint, parsed.to_string(), None);
        let pipe = if self.options.immediate {
            None
        } else {
            // Messages queue for this peer from now on, connected or not.
            let wake_io = IoWake::new(io.clone());
            let pipe = socket_pipe(
                &self.mailbox,
                self.options.send_capacity(self.socket_type),
                self.options.recv_capacity(self.socket_type),
                wake_io.clone(),
            );
            self.attach(pipe.id, pipe.socket_ends, None, endpoint_id, true, false);
            Some((pipe.id, pipe.other_ends, wake_io))
        };
        io.post(IoCommand::Connect {
            endpoint: parsed,
            socket: self.socket_ref(endpoint),
            endpoint_id,
            pipe,
        });
        Ok(())
    }

    fn connect_inproc(&mut self, endpoint: &str, name: String) -> Result<()> {
        let endpoint_id = self.ctx.next_id();
        let mut registry = self.ctx.inproc();
        match registry.lookup(&name).cloned() {
            Some(binder) => {
                check_compatible(self.socket_type, binder.peer.socket_type)
                    .map_err(|refused| Error::Protocol(refused.into()))?;
                let my_id = self.mailbox.next_pipe_id();
                let wake_me = Arc::new(SocketWake {
                    mailbox: self.mailbox.clone(),
                    pipe: my_id,
                });
                let pipe = socket_pipe(
                    &binder.mailbox,
                    inproc_capacity(
                        (&binder.options, binder.peer.socket_type),
                        (&self.options, self.socket_type),
                    ),
                    inproc_capacity(
                        (&self.options, self.socket_type),
                        (&binder.options, binder.peer.socket_type),
                    ),
                    wake_me,
                );
                let (_, mine) = pipe.post_to_socket(self.our_peer_info(), binder.endpoint_id, true);
                drop(registry);
                self.attach(my_id, mine, Some(binder.peer), endpoint_id, true, true);
            }
            None => {
                // Connect before bind: queue now, the binder picks its ends up when it binds.
                let late = LateSocketWake::new();
                let pipe = socket_pipe(
                    &self.mailbox,
                    self.options.send_capacity(self.socket_type),
                    self.options.recv_capacity(self.socket_type),
                    late.clone(),
                );
                registry.add_pending(
                    &name,
                    Pending {
                        ends: pipe.other_ends,
                        peer: self.our_peer_info(),
                        wake: late,
                    },
                );
                drop(registry);
                self.attach(pipe.id, pipe.socket_ends, None, endpoint_id, true, true);
            }
        }
        self.endpoints.push(EndpointRecord {
            id: endpoint_id,
            kind: EndpointKind::Connected,
            given: endpoint.to_string(),
            resolved: endpoint.to_string(),
            inproc: None,
        });
        self.last_endpoint = Some(endpoint.to_string());
        Ok(())
    }

    pub(super) fn remove_endpoint(&mut self, endpoint: &str, kind: EndpointKind) -> Result<()> {
        self.check_alive()?;
        let pos = self
            .endpoints
            .iter()
            .position(|e| {
                std::mem::discriminant(&e.kind) == std::mem::discriminant(&kind)
                    && (e.given == endpoint || e.resolved == endpoint)
            })
            .ok_or_else(|| Error::EndpointNotFound(endpoint.to_string()))?;
        let record = self.endpoints.remove(pos);
        if let Some(name) = &record.inproc {
            self.ctx.inproc().unbind(name, self.id);
        }
        let socket_id = self.id;
        let endpoint_id = record.id;
        match (&record.kind, &record.inproc) {
            (EndpointKind::Bound, None) => self.ctx.broadcast_and_wait(|done| IoCommand::Unbind {
                socket_id,
                endpoint_id,
                done: Some(done),
            }),
            _ => self.ctx.broadcast(|| IoCommand::Unbind {
                socket_id,
                endpoint_id,
                done: None,
            }),
        }
        for idx in self.pipes.of_endpoint(record.id) {
            Pattern::<PipeTable>::detach(&mut self.pattern, idx);
            self.pipes.remove(idx);
        }
        Ok(())
    }
}

/// Inproc pipes get the sender's SNDHWM plus the receiver's RCVHWM, as in libzmq (zero on
/// either side means no limit); `CONFLATE` on either side keeps only the newest message.
fn inproc_capacity(
    (sender, sender_type): (&Options, SocketType),
    (receiver, receiver_type): (&Options, SocketType),
) -> Capacity {
    if sender.send_capacity(sender_type) == Capacity::LatestOnly
        || receiver.recv_capacity(receiver_type) == Capacity::LatestOnly
    {
        Capacity::LatestOnly
    } else if sender.sndhwm <= 0 || receiver.rcvhwm <= 0 {
        Capacity::Messages(0)
    } else {
        Capacity::Messages(sender.sndhwm as u64 + receiver.rcvhwm as u64)
    }
}

fn format_tcp(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("tcp://{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("tcp://[{ip}]:{}", addr.port()),
    }
}
