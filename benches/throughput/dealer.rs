//! Many DEALERs to one ROUTER over tcp, in one context with one I/O thread: the ROUTER binds
//! and receives in the calling thread; `DEALERS` DEALERs connect, driven by `THREADS` sender
//! threads that each own `DEALERS / THREADS` of them and send round-robin over their sockets,
//! one single-frame message per send. HWMs are the defaults (1000), so a send waits when its
//! DEALER's queue is full; nothing is ever dropped.
//!
//! Start: each DEALER has routing id `d` + its index byte and first sends a one-byte hello;
//! once the ROUTER has one hello from every DEALER (all connected), it starts the clock and
//! lets the threads go. Each message body carries its sequence number (first 8 bytes) and its
//! DEALER's index (byte 8); the ROUTER checks that the routing-id frame names the DEALER the
//! body says, the size, and that every DEALER's sequence runs 0, 1, ... without a gap. The
//! rate is all messages over the time from the start to the last arrival.

use crate::api::{Api, Fail, Kind, Opt};
use crate::{
    cpu_per_msg, cpu_ticks, peer_context, stamp, Sample, LINGER_MS, RCVTIMEO_MS, RUN_DEADLINE,
    SNDTIMEO_MS,
};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

pub(crate) const DEALERS: u64 = 100;
const THREADS: u64 = 4;
/// (size, label, messages per DEALER per run in a full run).
pub(crate) const SIZES: [(usize, &str, u64); 1] = [(64, "64B", 10_000)];
const HELLO: &[u8] = b"!";

/// Row name for one size.
pub(crate) fn row_name(label: &str) -> String {
    format!("tcp/dealer{DEALERS}-{label}")
}

fn routing_id(index: u64) -> [u8; 2] {
    [b'd', index as u8]
}

type SenderThread = JoinHandle<Result<(), String>>;

/// What the ROUTER tells the sender threads.
enum Signal {
    Go,
    Done,
}

pub(crate) fn run<A: Api>(size: usize, per_dealer: u64) -> Result<Sample, String> {
    assert!(DEALERS <= 256 && DEALERS % THREADS == 0 && size >= 9);
    let ctx = A::context();
    let router = A::socket(&ctx, Kind::Router)?;
    A::set(&router, Opt::RcvTimeo(RCVTIMEO_MS))?;
    A::set(&router, Opt::Linger(LINGER_MS))?;
    let ep = A::bind(&router, "tcp://127.0.0.1:*")?;

    // The DEALERs share a context of their own (one process of clients).
    let dealer_ctx = peer_context::<A>(&ctx, "tcp");
    let mut senders: Vec<(mpsc::Sender<Signal>, SenderThread)> = Vec::new();
    let per_thread = DEALERS / THREADS;
    for t in 0..THREADS {
        let mut dealers = Vec::new();
        for index in t * per_thread..(t + 1) * per_thread {
            let dealer = A::socket(&dealer_ctx, Kind::Dealer)?;
            A::set(&dealer, Opt::RoutingId(&routing_id(index)))?;
            A::set(&dealer, Opt::SndTimeo(SNDTIMEO_MS))?;
            A::set(&dealer, Opt::Linger(LINGER_MS))?;
            A::connect(&dealer, &ep)?;
            dealers.push((index, dealer));
        }
        let (signal, signals) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            send_all::<A>(&dealers, size, per_dealer, &signals)
                .map_err(|e| format!("{} sender thread {t}: {e}", A::name()))
        });
        senders.push((signal, handle));
    }

    let received = receive_hellos::<A>(&router).and_then(|()| {
        let cpu_before = cpu_ticks();
        let start = Instant::now();
        for (signal, _) in &senders {
            let _ = signal.send(Signal::Go);
        }
        receive_all::<A>(&router, size, per_dealer)?;
        Ok((cpu_before, start.elapsed()))
    });
    // Dropping a thread's channel without `Go` makes it stop before sending anything.
    let mut sent = Ok(());
    for (signal, handle) in senders {
        let _ = signal.send(Signal::Done);
        drop(signal);
        let r = handle
            .join()
            .unwrap_or_else(|_| Err(format!("{} sender thread panicked", A::name())));
        if sent.is_ok() {
            sent = r;
        }
    }
    let cpu_after = cpu_ticks();
    drop(router);
    drop(ctx);
    drop(dealer_ctx);

    let (cpu_before, elapsed) = received?;
    sent?;
    let total = DEALERS * per_dealer;
    Ok(Sample {
        rate: total as f64 / elapsed.as_secs_f64().max(1e-9),
        cpu_per_msg: cpu_per_msg(cpu_before, cpu_after, total),
    })
}

fn send_all<A: Api>(
    dealers: &[(u64, A::Sock)],
    size: usize,
    per_dealer: u64,
    signals: &mpsc::Receiver<Signal>,
) -> Result<(), String> {
    for (index, dealer) in dealers {
        A::send(dealer, HELLO, false)
            .map_err(|e| format!("hello from DEALER {index}: {}", e.describe()))?;
    }
    if !matches!(signals.recv(), Ok(Signal::Go)) {
        return Ok(());
    }
    let mut buf = vec![0x5au8; size];
    for seq in 0..per_dealer {
        stamp(&mut buf, seq);
        for (index, dealer) in dealers {
            buf[8] = *index as u8;
            A::send(dealer, &buf, false).map_err(|e| {
                format!(
                    "send of message {seq} from DEALER {index}: {}",
                    e.describe()
                )
            })?;
        }
    }
    // Stay open until the ROUTER has everything.
    let _ = signals.recv_timeout(RUN_DEADLINE);
    Ok(())
}

/// Receives one frame, naming `what` it waited for if it fails.
fn recv<A: Api>(
    router: &A::Sock,
    msg: &mut A::Msg,
    what: &dyn Fn() -> String,
) -> Result<(), String> {
    match A::recv(router, msg) {
        Ok(()) => Ok(()),
        Err(Fail::Again) => Err(format!(
            "{} {} did not arrive within {RCVTIMEO_MS} ms",
            A::name(),
            what()
        )),
        Err(Fail::Other(e)) => Err(format!("receiving {}: {e}", what())),
    }
}

/// The DEALER index a routing-id frame names.
fn dealer_index(id: &[u8]) -> Result<usize, String> {
    match id {
        [b'd', i] if u64::from(*i) < DEALERS => Ok(usize::from(*i)),
        _ => Err(format!("unexpected routing id {id:?}")),
    }
}

fn receive_hellos<A: Api>(router: &A::Sock) -> Result<(), String> {
    let (mut id, mut body) = (A::msg(), A::msg());
    let mut seen = vec![false; DEALERS as usize];
    for n in 0..DEALERS {
        let what = || format!("hello {n} of {DEALERS}");
        recv::<A>(router, &mut id, &what)?;
        recv::<A>(router, &mut body, &what)?;
        let index = dealer_index(&id)?;
        if &body[..] != HELLO || seen[index] {
            return Err(format!(
                "{}: unexpected {} bytes from DEALER {index} before the start",
                A::name(),
                body.len()
            ));
        }
        seen[index] = true;
    }
    Ok(())
}

fn receive_all<A: Api>(router: &A::Sock, size: usize, per_dealer: u64) -> Result<(), String> {
    let (mut id, mut body) = (A::msg(), A::msg());
    let mut next = vec![0u64; DEALERS as usize];
    let total = DEALERS * per_dealer;
    for n in 0..total {
        let what = || format!("message {n} of {total}");
        recv::<A>(router, &mut id, &what)?;
        recv::<A>(router, &mut body, &what)?;
        let index = dealer_index(&id)?;
        if body.len() != size {
            return Err(format!(
                "{}: message from DEALER {index} has {} bytes, expected {size}",
                A::name(),
                body.len()
            ));
        }
        let seq = u64::from_le_bytes(body[..8].try_into().unwrap());
        if usize::from(body[8]) != index || seq != next[index] {
            return Err(format!(
                "{}: DEALER {index} (routing id) sent message {seq} stamped for DEALER {}, \
                 expected its message {}",
                A::name(),
                body[8],
                next[index]
            ));
        }
        next[index] += 1;
    }
    Ok(())
}
