//! Weather update server, from chapter 1 of the ZeroMQ guide: a PUB socket publishes random
//! weather updates, `"<zipcode> <temperature> <relhumidity>"`, the zip code as five digits.
//!
//! ```sh
//! wuserver [endpoint] [zipcodes] [updates]
//! ```
//!
//! Binds `endpoint` (default `tcp://*:5556`) and publishes `updates` updates (default: until
//! interrupted) for zip codes drawn from `0..zipcodes` (default 100000, as in the guide;
//! fewer make a subscriber's zip code come up more often). Pair it with `wuclient`.

use std::time::{SystemTime, UNIX_EPOCH};
use zerosock::{Context, Error, Result, SocketType};

/// A small xorshift generator: the updates need variety, not quality.
pub struct Random(u64);

impl Random {
    /// Seeded from the clock.
    pub fn new() -> Random {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Random(nanos | 1)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(n.max(1))) as u32
    }
}

impl Default for Random {
    fn default() -> Self {
        Random::new()
    }
}

/// Publishes weather updates on a PUB socket bound to `endpoint`: `updates` of them
/// (`None`: until the context terminates), zip codes in `0..zipcodes`. Returns how many
/// were published.
pub fn run(ctx: &Context, endpoint: &str, zipcodes: u32, updates: Option<u64>) -> Result<u64> {
    let publisher = ctx.socket(SocketType::Pub)?;
    publisher.bind(endpoint)?;
    let mut random = Random::new();
    let mut sent = 0;
    while updates.map_or(true, |n| sent < n) {
        let zipcode = random.below(zipcodes);
        let temperature = random.below(215) as i32 - 80;
        let relhumidity = random.below(50) + 10;
        let update = format!("{zipcode:05} {temperature} {relhumidity}");
        match publisher.send(update, 0) {
            Ok(()) => sent += 1,
            Err(Error::Terminated) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://*:5556", String::as_str);
    let zipcodes = args
        .get(2)
        .map_or(100_000, |n| n.parse().expect("zipcodes: a number"));
    let updates = args.get(3).map(|n| n.parse().expect("updates: a number"));
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, zipcodes, updates) {
        eprintln!("wuserver: {e}");
        std::process::exit(1);
    }
}
