//! The main table: the PUSH/PULL, fan-out and dealer rows, each run in alternating rounds
//! against both libraries and printed one line per row. The 64 KiB PUSH/PULL rows add a line
//! on sending without copies (over tcp, against the raw TCP stream) and, over inproc, one on
//! making the bodies alone. Every row adds its lines to the summary's verdicts and notes.

use crate::pushpull::{self, Body};
use crate::summary::{Goal, Unit, Verdict};
use crate::watchdog::Watchdog;
use crate::{api, dealer, fanout, Lib, Sample, RUN_DEADLINE};

const TRANSPORTS: [&str; 3] = ["tcp", "ipc", "inproc"];
/// (size, label, messages per run in a full run over tcp and ipc, over inproc): a run lasts
/// a few hundred milliseconds or more, so that one slow wake-up or a stolen time slice on a
/// shared machine does not decide it.
const SIZES: [(usize, &str, u64, u64); 4] = [
    (8, "8B", 3_000_000, 6_000_000),
    (64, "64B", 3_000_000, 6_000_000),
    (1024, "1KiB", 1_000_000, 2_000_000),
    (65536, "64KiB", 20_000, 100_000),
];
/// Raw TCP: the write sizes tried.
const RAW_TCP_WRITE_SIZES: [usize; 3] = [64 * 1024, 256 * 1024, 1024 * 1024];

/// The best of a side's runs, or the first failure.
#[derive(Default)]
struct Best {
    rate: Option<f64>,
    cpu_per_msg: Option<f64>,
    failure: Option<String>,
}

impl Best {
    fn add(&mut self, result: Result<Sample, String>) {
        match result {
            Ok(s) => {
                self.rate = Some(self.rate.map_or(s.rate, |r| r.max(s.rate)));
                if let Some(c) = s.cpu_per_msg {
                    self.cpu_per_msg = Some(self.cpu_per_msg.map_or(c, |b| b.min(c)));
                }
            }
            Err(e) => {
                if self.failure.is_none() {
                    self.failure = Some(e);
                }
            }
        }
    }
}

/// What a row of the main table measures.
#[derive(Clone, Copy)]
enum Kind {
    PushPull { transport: &'static str },
    Fanout,
    Dealer,
}

/// A row of the main table.
pub(crate) struct Row {
    pub(crate) name: String,
    kind: Kind,
    size: usize,
    /// Messages delivered per run: the count the rate and the CPU per message are over.
    delivered: u64,
}

impl Row {
    fn run(&self, lib: Lib) -> Result<Sample, String> {
        use api::{Libzmq, Zerosock};
        let (size, n) = (self.size, self.delivered);
        match (self.kind, lib) {
            (Kind::PushPull { transport }, _) => self.push_pull(lib, transport, Body::Copied),
            (Kind::Fanout, Lib::Zerosock) => fanout::run::<Zerosock>(size, n / fanout::SUBSCRIBERS),
            (Kind::Fanout, Lib::Libzmq) => fanout::run::<Libzmq>(size, n / fanout::SUBSCRIBERS),
            (Kind::Dealer, Lib::Zerosock) => dealer::run::<Zerosock>(size, n / dealer::DEALERS),
            (Kind::Dealer, Lib::Libzmq) => dealer::run::<Libzmq>(size, n / dealer::DEALERS),
        }
    }

    /// What zerosock's rate must be over libzmq's: 2x for PUSH/PULL over tcp and ipc up to
    /// 1 KiB, over inproc at every size, and for the fan-out; 1.5x for the 100 DEALERs. The
    /// 64 KiB rows over tcp and ipc have none (the tcp one is held against the raw stream).
    fn goal(&self) -> Goal {
        match self.kind {
            Kind::PushPull { transport } if transport != "inproc" && self.size > 1024 => Goal::None,
            Kind::PushPull { .. } | Kind::Fanout => Goal::AtLeast(2.0),
            Kind::Dealer => Goal::AtLeast(1.5),
        }
    }

    /// One PUSH/PULL run of this row's size and count, with bodies made as `body` says.
    fn push_pull(&self, lib: Lib, transport: &str, body: Body) -> Result<Sample, String> {
        let (size, n) = (self.size, self.delivered);
        match lib {
            Lib::Zerosock => pushpull::run::<api::Zerosock>(transport, size, n, body),
            Lib::Libzmq => pushpull::run::<api::Libzmq>(transport, size, n, body),
        }
    }

    /// The transport of a 64 KiB PUSH/PULL row: such rows also send without copies, in the
    /// same rounds. `None` for every other row.
    fn zero_copy_transport(&self) -> Option<&'static str> {
        match self.kind {
            Kind::PushPull { transport } if self.size == 65536 => Some(transport),
            _ => None,
        }
    }

    /// The 64 KiB tcp row runs the raw TCP stream, its ceiling, in the same rounds, and the
    /// same stream while one more thread copies the bodies: the ceiling of a sender that
    /// copies them, on this machine's cores.
    fn with_raw(&self) -> bool {
        self.zero_copy_transport() == Some("tcp")
    }

    /// The 64 KiB inproc row (where nothing but the bodies bounds the row) measures, in the
    /// same rounds, the rate at which one thread makes the bodies alone: the ceiling of a
    /// sender that copies them or allocates them fresh.
    fn with_making(&self) -> bool {
        self.zero_copy_transport() == Some("inproc")
    }
}

/// Every row of the main table, counts already scaled by `divisor`.
pub(crate) fn main_rows(divisor: u64) -> Vec<Row> {
    let mut rows = Vec::new();
    for transport in TRANSPORTS {
        for (size, label, count, inproc_count) in SIZES {
            let count = if transport == "inproc" {
                inproc_count
            } else {
                count
            };
            rows.push(Row {
                name: format!("{transport}/{label}"),
                kind: Kind::PushPull { transport },
                size,
                delivered: (count / divisor).max(2),
            });
        }
    }
    for (size, label, published) in fanout::SIZES {
        rows.push(Row {
            name: fanout::row_name(label),
            kind: Kind::Fanout,
            size,
            delivered: (published / divisor).max(2) * fanout::SUBSCRIBERS,
        });
    }
    for (size, label, per_dealer) in dealer::SIZES {
        rows.push(Row {
            name: dealer::row_name(label),
            kind: Kind::Dealer,
            size,
            delivered: (per_dealer / divisor).max(2) * dealer::DEALERS,
        });
    }
    rows
}

/// Everything one row's rounds measured.
#[derive(Default)]
struct Measured {
    /// The row's own runs (copied bodies for PUSH/PULL), each library.
    zs: Best,
    lz: Best,
    /// 64 KiB PUSH/PULL rows: zerosock sending `Bytes` clones of a few buffers.
    zs_shared: Best,
    /// 64 KiB PUSH/PULL rows: owned buffers the library takes over, each library.
    zs_owned: Best,
    lz_owned: Best,
    /// 64 KiB PUSH/PULL rows: bodies built in buffers the library gives out, each library.
    zs_built: Best,
    lz_built: Best,
    /// The 64 KiB tcp row: the raw TCP stream in MB/s, alone and while one more thread copies
    /// the bodies; `None` for the other rows.
    raw: Option<Result<f64, String>>,
    raw_copying: Option<Result<f64, String>>,
    /// The 64 KiB inproc row: bodies one thread makes per second alone; zero for the others.
    making: Making,
}

impl Measured {
    /// Every side that ran, named as its failure is printed.
    fn sides(&self) -> [(&'static str, &Best); 7] {
        [
            ("zerosock", &self.zs),
            ("libzmq", &self.lz),
            ("zerosock (shared bodies)", &self.zs_shared),
            ("zerosock (owned buffers)", &self.zs_owned),
            ("libzmq (owned buffers)", &self.lz_owned),
            ("zerosock (built bodies)", &self.zs_built),
            ("libzmq (built bodies)", &self.lz_built),
        ]
    }

    /// One library's result for bodies sent without copies, made as `body` says (owned
    /// buffers, or built in the library's buffers).
    fn without_copies(&mut self, lib: Lib, body: Body) -> &mut Best {
        match (lib, body == Body::Owned) {
            (Lib::Zerosock, true) => &mut self.zs_owned,
            (Lib::Libzmq, true) => &mut self.lz_owned,
            (Lib::Zerosock, false) => &mut self.zs_built,
            (Lib::Libzmq, false) => &mut self.lz_built,
        }
    }
}

/// How many bodies of the row's size one thread makes per second alone, the best of the
/// rounds, for each way of making them.
#[derive(Default)]
struct Making {
    /// Copied into a warm buffer.
    copies: f64,
    /// Fresh `vec![0; size]`s.
    owned: f64,
    /// Zeroed warm buffers.
    built: f64,
}

/// Runs and prints the throughput rows; true if any run failed.
pub(crate) fn main_table(
    rows: &[&Row],
    rounds: usize,
    raw_bytes: u64,
    watchdog: &Watchdog,
    verdicts: &mut Vec<Verdict>,
    notes: &mut Vec<String>,
) -> bool {
    print_header(rounds);
    let mut failed = false;
    for row in rows {
        let measured = measure_row(row, rounds, raw_bytes, watchdog);
        failed |= report_row(row, &measured, verdicts, notes);
    }
    failed
}

fn print_header(rounds: usize) {
    println!(
        "best of {rounds} alternating run(s) per side; ratio = zerosock/libzmq msg/s; \
         MB = 10^6 B; CPU = process user+sys per message (min over runs); fanout and dealer \
         rows count messages delivered (summed over subscribers / at the ROUTER)"
    );
    println!();
    println!(
        "{:<18} {:>9} {:>13} {:>13} {:>6} {:>10} {:>10} {:>11} {:>11}",
        "row",
        "messages",
        "zerosock/s",
        "libzmq/s",
        "ratio",
        "zs MB/s",
        "lz MB/s",
        "zs CPU/msg",
        "lz CPU/msg"
    );
}

// ----- measuring ---------------------------------------------------------------------------

/// Runs one row's rounds: in each, the raw stream and the making of bodies where the row
/// has them, its sends without copies, then its own runs, the library that goes first
/// alternating from round to round.
fn measure_row(row: &Row, rounds: usize, raw_bytes: u64, watchdog: &Watchdog) -> Measured {
    let mut m = Measured::default();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Lib::Zerosock, Lib::Libzmq]
        } else {
            [Lib::Libzmq, Lib::Zerosock]
        };
        if row.with_raw() {
            measure_raw_tcp(&mut m, row.size, raw_bytes, watchdog);
        }
        if row.with_making() {
            measure_making(&mut m.making, row, watchdog);
        }
        if let Some(transport) = row.zero_copy_transport() {
            measure_without_copies(&mut m, row, transport, order, watchdog);
        }
        measure_own_runs(&mut m, row, round, order, watchdog);
    }
    m
}

/// One round of the raw TCP stream, alone and with a thread copying `size`-byte bodies, at
/// each write size.
fn measure_raw_tcp(m: &mut Measured, size: usize, raw_bytes: u64, watchdog: &Watchdog) {
    watchdog.arm("raw TCP loopback", RUN_DEADLINE);
    for write_size in RAW_TCP_WRITE_SIZES {
        for (best, copying) in [(&mut m.raw, None), (&mut m.raw_copying, Some(size))] {
            let result = pushpull::raw_tcp(raw_bytes, write_size, copying);
            *best = Some(best_raw(result, best.take()));
        }
    }
    watchdog.disarm();
}

/// The best write size of the best round: the higher rate, an error only if every try
/// failed (the first error then).
fn best_raw(result: Result<f64, String>, best: Option<Result<f64, String>>) -> Result<f64, String> {
    match (result, best) {
        (Ok(r), Some(Ok(b))) => Ok(r.max(b)),
        (Ok(r), _) => Ok(r),
        (Err(_), Some(Ok(b))) => Ok(b),
        (Err(e), _) => Err(e),
    }
}

/// One round of making the row's bodies alone, each way, keeping the best rates.
fn measure_making(making: &mut Making, row: &Row, watchdog: &Watchdog) {
    watchdog.arm("making the bodies alone", RUN_DEADLINE);
    let (size, n) = (row.size, row.delivered);
    making.copies = making
        .copies
        .max(pushpull::making_bodies(size, n, Body::Copied));
    making.owned = making
        .owned
        .max(pushpull::making_bodies(size, n, Body::Owned));
    making.built = making
        .built
        .max(pushpull::making_bodies(size, n, Body::Built));
    watchdog.disarm();
}

/// One round of the sends without copies: zerosock's shared bodies, then owned buffers and
/// bodies built in the library's buffers, each library in `order`.
fn measure_without_copies(
    m: &mut Measured,
    row: &Row,
    transport: &str,
    order: [Lib; 2],
    watchdog: &Watchdog,
) {
    watchdog.arm("zerosock shared bodies", RUN_DEADLINE);
    m.zs_shared
        .add(row.push_pull(Lib::Zerosock, transport, Body::Shared));
    watchdog.disarm();
    for (body, how) in [(Body::Owned, "owned"), (Body::Built, "built")] {
        for lib in order {
            watchdog.arm(&format!("{} {} {how}", lib.name(), row.name), RUN_DEADLINE);
            m.without_copies(lib, body)
                .add(row.push_pull(lib, transport, body));
            watchdog.disarm();
        }
    }
}

/// One round of the row's own runs, each library in `order`; a failure is printed at once.
fn measure_own_runs(
    m: &mut Measured,
    row: &Row,
    round: usize,
    order: [Lib; 2],
    watchdog: &Watchdog,
) {
    let name = &row.name;
    for lib in order {
        watchdog.arm(&format!("{} {name}", lib.name()), RUN_DEADLINE);
        let result = row.run(lib);
        watchdog.disarm();
        if let Err(e) = &result {
            eprintln!("{} {name} round {}: FAILED: {e}", lib.name(), round + 1);
        }
        match lib {
            Lib::Zerosock => m.zs.add(result),
            Lib::Libzmq => m.lz.add(result),
        }
    }
}

// ----- reporting ---------------------------------------------------------------------------

/// Prints a row's lines and adds its verdicts and notes; true if any of its runs failed.
fn report_row(
    row: &Row,
    m: &Measured,
    verdicts: &mut Vec<Verdict>,
    notes: &mut Vec<String>,
) -> bool {
    let mut failed = m.sides().iter().any(|(_, b)| b.failure.is_some());
    print_row_line(row, m);
    verdicts.push(versus(
        format!("{} msg/s", row.name),
        &m.zs,
        &m.lz,
        row.goal(),
    ));
    if row.zero_copy_transport().is_some() {
        failed |= print_without_copies(row, m, verdicts, notes);
        if row.with_making() {
            verdicts.push(versus(
                format!("{} owned msg/s", row.name),
                &m.zs_owned,
                &m.lz_owned,
                Goal::AtLeast(2.0),
            ));
            verdicts.push(versus(
                format!("{} built msg/s", row.name),
                &m.zs_built,
                &m.lz_built,
                Goal::AtLeast(2.0),
            ));
        }
    }
    if row.with_making() {
        add_making_notes(row, m, notes);
        print_making(m);
    }
    for (who, b) in m.sides() {
        if let Some(e) = &b.failure {
            println!("    {who} failed: {e}");
        }
    }
    failed
}

/// The row's line in the table: both libraries' rates, MB/s and CPU per message.
fn print_row_line(row: &Row, m: &Measured) {
    let (name, size) = (&row.name, row.size);
    let ratio = ratio_of(&m.zs, &m.lz);
    println!(
        "{name:<18} {:>9} {:>13} {:>13} {ratio:>6} {:>10} {:>10} {:>11} {:>11}",
        row.delivered,
        rate(&m.zs),
        rate(&m.lz),
        mbs(&m.zs, size),
        mbs(&m.lz, size),
        cpu(&m.zs),
        cpu(&m.lz)
    );
}

/// The 64 KiB PUSH/PULL rows' second line: the rates without copies, and over tcp each way
/// of sending as a share of the raw stream (with the verdicts and the note that go with
/// them). True if the raw stream failed.
fn print_without_copies(
    row: &Row,
    m: &Measured,
    verdicts: &mut Vec<Verdict>,
    notes: &mut Vec<String>,
) -> bool {
    let mut failed = false;
    let mut line = format!(
        "    without copies: owned buffers zerosock {}/s, libzmq {}/s, ratio {}; \
         built in the library's buffers zerosock {}/s, libzmq {}/s, ratio {}; \
         shared (zerosock) {}/s, {}x libzmq owned",
        rate(&m.zs_owned),
        rate(&m.lz_owned),
        ratio_of(&m.zs_owned, &m.lz_owned),
        rate(&m.zs_built),
        rate(&m.lz_built),
        ratio_of(&m.zs_built, &m.lz_built),
        rate(&m.zs_shared),
        ratio_of(&m.zs_shared, &m.lz_owned),
    );
    match &m.raw {
        Some(Ok(r)) => line.push_str(&raw_stream_shares(row, m, *r, verdicts)),
        Some(Err(e)) => {
            failed = true;
            line.push_str(&format!("; raw TCP loopback FAILED: {e}"));
        }
        None => {}
    }
    match (&m.raw, &m.raw_copying) {
        (Some(Ok(r)), Some(Ok(c))) => line.push_str(&copying_stream_share(row, m, *r, *c, notes)),
        (_, Some(Err(e))) => {
            failed = true;
            line.push_str(&format!("; raw TCP with a copying thread FAILED: {e}"));
        }
        _ => {}
    }
    println!("{line}");
    failed
}

/// Zerosock's copied and shared sends against the raw stream's `raw` MB/s, as verdicts; the
/// part of the line giving each way of sending as a share of the raw stream.
fn raw_stream_shares(row: &Row, m: &Measured, raw: f64, verdicts: &mut Vec<Verdict>) -> String {
    let (name, size) = (&row.name, row.size);
    for (how, b) in [("copied", &m.zs), ("shared", &m.zs_shared)] {
        verdicts.push(Verdict {
            what: format!("{name} {how} / raw TCP, MB/s"),
            zerosock: mbs(b, size),
            reference: format!("{raw:.1}"),
            result: b.rate.map(|z| z * size as f64 / 1e6 / raw),
            unit: Unit::Percent,
            goal: Goal::AtLeast(0.9),
        });
    }
    let raw_rate = raw * 1e6 / size as f64;
    format!(
        "; raw TCP loopback {raw:.1} MB/s: zerosock copied {}, owned {}, built {}, \
         shared {}",
        share(&m.zs, raw_rate),
        share(&m.zs_owned, raw_rate),
        share(&m.zs_built, raw_rate),
        share(&m.zs_shared, raw_rate)
    )
}

/// Zerosock's copied sends against the raw stream while one more thread copies (`copying`
/// MB/s, the raw stream alone `raw`), as a note; the part of the line saying so.
fn copying_stream_share(
    row: &Row,
    m: &Measured,
    raw: f64,
    copying: f64,
    notes: &mut Vec<String>,
) -> String {
    let (name, size) = (&row.name, row.size);
    let share_copied = share(&m.zs, copying * 1e6 / size as f64);
    notes.push(format!(
        "{name}: the raw stream while one more thread copied the bodies it \
         carried (as a copying sender does) moved {copying:.1} MB/s, {:.0} % of the \
         raw stream; zerosock copied reached {share_copied} of that",
        copying / raw * 100.0
    ));
    format!(
        "; the raw stream while one more thread copies a {size}-byte body per \
         {size} bytes written {copying:.1} MB/s: zerosock copied {share_copied} of that"
    )
}

/// The 64 KiB inproc row's summary notes, one per way of making the bodies.
fn add_making_notes(row: &Row, m: &Measured, notes: &mut Vec<String>) {
    let making = &m.making;
    for (how, what, ceiling, zs, lz) in [
        ("copied", "copying them", making.copies, &m.zs, &m.lz),
        (
            "owned",
            "allocating them as fresh zeroed Vecs",
            making.owned,
            &m.zs_owned,
            &m.lz_owned,
        ),
        (
            "built",
            "zeroing them in warm buffers",
            making.built,
            &m.zs_built,
            &m.lz_built,
        ),
    ] {
        if let Some(note) = beyond_the_bodies(&row.name, how, what, ceiling, zs, lz) {
            notes.push(note);
        }
    }
}

/// The 64 KiB inproc row's third line: the rate at which one thread makes the bodies alone,
/// each way, and each library's rate as a share of it.
fn print_making(m: &Measured) {
    let Making {
        copies,
        owned,
        built,
    } = m.making;
    println!(
        "    making the bodies alone (one thread, no library, no receiver): copies \
         {copies:.0}/s (zerosock copied {}, libzmq {}), fresh Vecs \
         {owned:.0}/s (zerosock owned {}, libzmq {}), zeroed warm buffers \
         {built:.0}/s (zerosock built {}, libzmq {})",
        share(&m.zs, copies),
        share(&m.lz, copies),
        share(&m.zs_owned, owned),
        share(&m.lz_owned, owned),
        share(&m.zs_built, built),
        share(&m.lz_built, built),
    );
}

/// A summary note on one way of making 64 KiB bodies over inproc, where nothing but making
/// them bounds a sender: the rate at which one thread makes them alone (`ceiling`, no library,
/// no receiver) against libzmq's rate, so the share of it 2x libzmq needs; the share zerosock
/// reached; and each library's own time per message, what a message took beyond making its
/// body (`1/rate - 1/ceiling`). `None` when a side has no rate or the bodies were not made.
fn beyond_the_bodies(
    name: &str,
    how: &str,
    making: &str,
    ceiling: f64,
    zs: &Best,
    lz: &Best,
) -> Option<String> {
    let (z, l) = (zs.rate?, lz.rate?);
    if ceiling <= 0.0 {
        return None;
    }
    let own_ns = |rate: f64| (1e9 / rate - 1e9 / ceiling).max(0.0);
    let (z_own, l_own) = (own_ns(z), own_ns(l));
    let times = if z_own > 0.0 {
        format!("{:.1}x", l_own / z_own)
    } else {
        "-".to_string()
    };
    Some(format!(
        "{name} {how}: one thread {making}, no library, made {ceiling:.0}/s, {:.2}x \
         libzmq's rate (2x libzmq needs {:.0} % of it); zerosock reached {:.0} %. Own time per \
         message beyond making the body: zerosock {z_own:.0} ns, libzmq {l_own:.0} ns ({times})",
        ceiling / l,
        2.0 * l / ceiling * 100.0,
        z / ceiling * 100.0,
    ))
}

// ----- formatting --------------------------------------------------------------------------

/// A side's best rate in msg/s, or `FAILED`.
fn rate(b: &Best) -> String {
    b.rate
        .map_or("FAILED".to_string(), |r| format!("{}", r as u64))
}

/// A side's best rate in MB/s for `size`-byte messages, or `-`.
fn mbs(b: &Best, size: usize) -> String {
    b.rate
        .map_or("-".to_string(), |r| format!("{:.1}", r * size as f64 / 1e6))
}

/// A side's lowest CPU time per message, or `-`.
fn cpu(b: &Best) -> String {
    b.cpu_per_msg.map_or("-".to_string(), format_cpu)
}

/// A side's rate as a share of `of` msg/s.
fn share(b: &Best, of: f64) -> String {
    b.rate
        .map_or("-".to_string(), |r| format!("{:.0} %", r / of * 100.0))
}

/// A line of the summary comparing zerosock's rate with libzmq's.
fn versus(what: String, zs: &Best, lz: &Best, goal: Goal) -> Verdict {
    Verdict {
        what,
        zerosock: rate(zs),
        reference: rate(lz),
        result: quotient(zs, lz),
        unit: Unit::Times,
        goal,
    }
}

/// `a / b`, if both sides have a rate.
fn quotient(a: &Best, b: &Best) -> Option<f64> {
    match (a.rate, b.rate) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// `a / b` with two decimals, or `-` when either side has no rate.
fn ratio_of(a: &Best, b: &Best) -> String {
    quotient(a, b).map_or("-".to_string(), |r| format!("{r:.2}"))
}

fn format_cpu(secs: f64) -> String {
    let ns = secs * 1e9;
    if ns >= 10_000.0 {
        format!("{:.1} us", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}
