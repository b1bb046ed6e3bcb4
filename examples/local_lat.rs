//! Latency test, echoing side: the twin of libzmq's `perf/local_lat`.
//!
//! ```sh
//! local_lat <bind-to> <message-size> <roundtrip-count>
//! ```
//!
//! A REP socket binds `bind-to` and echoes `roundtrip-count` messages of `message-size` bytes
//! (`remote_lat` measures). Any message of another size is an error (exit 1). A gap of more
//! than 30 s between two requests is reported as an error instead of hanging.

mod perf;

use zerosock::{Context, Socket, SocketType};

/// The REP socket the tool echoes on, bound to `bind_to`.
pub fn bind(ctx: &Context, bind_to: &str) -> Result<Socket, String> {
    let rep = ctx.socket(SocketType::Rep).map_err(perf::at("socket"))?;
    rep.bind(bind_to).map_err(perf::at("bind"))?;
    Ok(rep)
}

/// Echoes `count` requests of `size` bytes on `rep`. The first may take as long as the
/// socket's RCVTIMEO allows; after it a silent peer is an error, not a hang.
pub fn run(rep: &Socket, size: usize, count: u64) -> Result<(), String> {
    for index in 0..count {
        let msg = rep.recv(0).map_err(perf::at("recv"))?;
        perf::check_size(index, msg.len(), size)?;
        rep.send(msg, 0).map_err(perf::at("send"))?;
        if index == 0 {
            rep.set_rcvtimeo(perf::STALL_TIMEOUT_MS)
                .map_err(perf::at("setsockopt"))?;
        }
    }
    Ok(())
}

fn main() {
    let perf::Args {
        endpoint,
        size,
        count,
    } = perf::args("local_lat <bind-to> <message-size> <roundtrip-count>", true);
    let ctx = Context::new();
    // Dropping the socket and the context then waits (LINGER) until the last reply is out.
    if let Err(e) = bind(&ctx, &endpoint).and_then(|rep| run(&rep, size, count)) {
        perf::exit_with(e);
    }
}
