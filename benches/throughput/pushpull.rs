//! PUSH/PULL over tcp, ipc and inproc: one sender thread, the receiver in the calling thread;
//! and the raw `std::net` TCP stream that is the ceiling for the 64 KiB tcp rows.

use crate::api::{Api, Fail, Kind, Opt};
use crate::{
    check, cpu_per_msg, cpu_ticks, endpoint, keep_open_until_done, peer_context, remove_ipc_file,
    stamp, timed_out, Sample, LINGER_MS, RCVTIMEO_MS, SNDTIMEO_MS,
};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// How the sender makes its messages.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Body {
    /// A fresh message per send, copied from the sender's buffer (as libzmq's `remote_thr`).
    Copied,
    /// A fresh buffer per send (`vec![0; size]`, the sequence number written into it) that
    /// the library takes over without a copy: what an application that builds each large
    /// message in a buffer of its own hands either library.
    Owned,
    /// A buffer per send that the library gives out, zeroed, the sequence number written
    /// into it (libzmq: `zmq_msg_init_size`, as its perf tools send; zerosock:
    /// `Msg::buffer`): what an application that builds each large message where it is sent
    /// from does.
    Built,
    /// Bodies sent without a copy: clones of `SHARED_RING` shared buffers in turn (the
    /// sequence number each carries is the message's modulo `SHARED_RING`).
    Shared,
}

const SHARED_RING: u64 = 16;

/// The raw stream's reads: as large as zerosock's large-message read buffers.
const RAW_READ: usize = 1024 * 1024;

/// One run of `count` messages of `size` bytes from a PUSH (its own thread and, except over
/// inproc, its own context) to a PULL (this thread), the same code for both libraries.
pub(crate) fn run<A: Api>(
    transport: &str,
    size: usize,
    count: u64,
    body: Body,
) -> Result<Sample, String> {
    let ctx = A::context();
    let pull = A::socket(&ctx, Kind::Pull)?;
    A::set(&pull, Opt::RcvTimeo(RCVTIMEO_MS))?;
    let ep = A::bind(&pull, &endpoint(transport, A::LIB))?;

    let cpu_before = cpu_ticks();
    let push_ctx = peer_context::<A>(&ctx, transport);
    let push = A::socket(&push_ctx, Kind::Push)?;
    A::set(&push, Opt::SndTimeo(SNDTIMEO_MS))?;
    A::set(&push, Opt::Linger(LINGER_MS))?;
    A::connect(&push, &ep)?;
    let (done, wait_done) = std::sync::mpsc::channel::<()>();
    let sender = std::thread::spawn(move || -> Result<(), String> {
        let failed =
            |seq: u64, e: Fail| format!("{} send of message {seq}: {}", A::name(), e.describe());
        let mut buf = vec![0x5au8; size];
        if body == Body::Copied {
            for seq in 0..count {
                stamp(&mut buf, seq);
                A::send(&push, &buf, false).map_err(|e| failed(seq, e))?;
            }
        } else if body == Body::Owned {
            for seq in 0..count {
                let mut owned = vec![0; size];
                stamp(&mut owned, seq);
                A::send_owned(&push, owned).map_err(|e| failed(seq, e))?;
            }
        } else if body == Body::Built {
            for seq in 0..count {
                A::send_built(&push, size, seq).map_err(|e| failed(seq, e))?;
            }
        } else {
            let ring = (0..SHARED_RING)
                .map(|seq| {
                    stamp(&mut buf, seq);
                    A::share(&buf)
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{}: no zero-copy send", A::name()))?;
            for seq in 0..count {
                A::send_shared(&push, &ring[(seq % SHARED_RING) as usize])
                    .map_err(|e| failed(seq, e))?;
            }
        }
        keep_open_until_done(&wait_done);
        drop(push);
        drop(push_ctx);
        Ok(())
    });

    let mut msg = A::msg();
    let mut recv = |seq: u64| -> Result<(), String> {
        match A::recv(&pull, &mut msg) {
            Ok(()) if body == Body::Shared => check(&msg, size, seq % SHARED_RING),
            Ok(()) => check(&msg, size, seq),
            Err(Fail::Again) => Err(timed_out(seq, count)),
            Err(Fail::Other(e)) => Err(format!("{} recv of message {seq}: {e}", A::name())),
        }
    };
    let received = (|| -> Result<Duration, String> {
        recv(0)?;
        let start = Instant::now();
        for seq in 1..count {
            recv(seq)?;
        }
        Ok(start.elapsed())
    })();
    let _ = done.send(());
    let sent = sender
        .join()
        .unwrap_or_else(|_| Err(format!("{} sender thread panicked", A::name())));
    let cpu_after = cpu_ticks();
    drop(pull);
    drop(ctx);
    remove_ipc_file(&ep);

    let elapsed = received?;
    sent?;
    Ok(Sample {
        rate: count as f64 / elapsed.as_secs_f64().max(1e-9),
        cpu_per_msg: cpu_per_msg(cpu_before, cpu_after, count),
    })
}

// ----- making the bodies alone -------------------------------------------------------------

/// Bodies per second that one thread makes the way a `Copied` or `Owned` sender makes them,
/// with no library and no receiver: the most a sender that makes its bodies so can send.
/// Copies go into two buffers in turn, written once before the clock starts (a library's
/// best case: a warm buffer that a reused message hands back), each at the same offset in
/// its page as the source (a destination just past its source within a page copies many
/// times slower, see `zerosock`'s `body_pool`); built bodies are those two buffers zeroed in
/// turn; owned bodies are fresh `vec![0; size]`s, freed on the same thread.
pub(crate) fn making_bodies(size: usize, count: u64, body: Body) -> f64 {
    let start = Instant::now();
    if body == Body::Owned {
        for seq in 0..count {
            let mut owned = vec![0; size];
            stamp(&mut owned, seq);
            drop(std::hint::black_box(owned));
        }
    } else {
        let mut maker = Maker::new(size);
        for seq in 0..count {
            maker.make(seq, body);
        }
    }
    count as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

/// A source and two warm destinations, each at the same offset in its page.
struct Maker {
    stores: [Vec<u8>; 3],
    size: usize,
}

impl Maker {
    const PAGE: usize = 4096;

    fn new(size: usize) -> Maker {
        Maker {
            stores: [(); 3].map(|_| vec![0x5au8; size + Self::PAGE]),
            size,
        }
    }

    /// Body `seq`: the source copied into the next destination (`Copied`) or the next
    /// destination zeroed (`Built`), the sequence number written in.
    fn make(&mut self, seq: u64, body: Body) {
        fn page_aligned(v: &mut [u8], size: usize) -> &mut [u8] {
            let at = v.as_ptr().align_offset(Maker::PAGE);
            &mut v[at..at + size]
        }
        let [src, dst0, dst1] = &mut self.stores;
        let dst = page_aligned(if seq % 2 == 0 { dst0 } else { dst1 }, self.size);
        if body == Body::Built {
            dst.fill(0);
            stamp(dst, seq);
        } else {
            let src = page_aligned(src, self.size);
            stamp(src, seq);
            dst.copy_from_slice(src);
        }
        std::hint::black_box(dst);
    }
}

// ----- raw TCP -----------------------------------------------------------------------------

/// MB/s of one `std::net` loopback stream carrying `total` bytes in writes of `write_size`,
/// read `RAW_READ` bytes at a time; timed from the first byte's arrival to the last's.
/// With `copying`, one more thread copies a body of that size for each as many bytes
/// written (at most `COPIED_AHEAD` bodies ahead, yielding its core while it waits), as a
/// sending application that copies each body into its message does: the ceiling of such a
/// sender when the stream and the copies share the machine's cores.
pub(crate) fn raw_tcp(
    total: u64,
    write_size: usize,
    copying: Option<usize>,
) -> Result<f64, String> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    const COPIED_AHEAD: u64 = 16;
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let copier = copying.map(|size| {
        let (written, done) = (written.clone(), done.clone());
        std::thread::spawn(move || {
            let mut maker = Maker::new(size);
            let mut seq = 0;
            while !done.load(Ordering::Relaxed) {
                if seq * size as u64 > written.load(Ordering::Relaxed) + COPIED_AHEAD * size as u64
                {
                    std::thread::yield_now();
                    continue;
                }
                maker.make(seq, Body::Copied);
                seq += 1;
            }
        })
    });
    let result = raw_stream(total, write_size, written);
    done.store(true, Ordering::Relaxed);
    if let Some(copier) = copier {
        copier
            .join()
            .map_err(|_| "raw TCP copier panicked".to_string())?;
    }
    result
}

fn raw_stream(
    total: u64,
    write_size: usize,
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<f64, String> {
    let io = |what: &'static str| move |e: std::io::Error| format!("raw TCP {what}: {e}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("bind"))?;
    let addr = listener.local_addr().map_err(io("local_addr"))?;
    let writer = std::thread::spawn(move || -> Result<(), String> {
        let mut stream = std::net::TcpStream::connect(addr).map_err(io("connect"))?;
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(io("set_write_timeout"))?;
        let buf = vec![0x5au8; write_size];
        let mut left = total;
        while left > 0 {
            let n = left.min(write_size as u64) as usize;
            stream.write_all(&buf[..n]).map_err(io("write"))?;
            written.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            left -= n as u64;
        }
        Ok(())
    });
    let (mut stream, _) = listener.accept().map_err(io("accept"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io("set_read_timeout"))?;
    let mut buf = vec![0u8; RAW_READ];
    let mut got = 0u64;
    let mut start = None;
    while got < total {
        let n = stream.read(&mut buf).map_err(io("read"))?;
        if n == 0 {
            return Err(format!(
                "raw TCP: stream ended after {got} of {total} bytes"
            ));
        }
        start.get_or_insert_with(Instant::now);
        got += n as u64;
    }
    let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
    writer
        .join()
        .unwrap_or_else(|_| Err("raw TCP writer panicked".to_string()))?;
    Ok(total as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6)
}
