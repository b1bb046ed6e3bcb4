//! The I/O threads: one mio poll loop each, driving listeners and sessions (one per
//! connection or connect endpoint). The application threads reach them only through
//! [`IoMailbox`](crate::command::IoMailbox) commands; data moves through pipes.

mod busy_poll;
mod engine;
mod objects;
mod session;
mod thread;
mod zap_client;

pub(crate) use thread::spawn;
