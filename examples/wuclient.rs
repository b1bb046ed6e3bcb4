//! Weather update client, from chapter 1 of the ZeroMQ guide: a SUB socket subscribes to
//! one zip code, collects updates and reports the average temperature.
//!
//! ```sh
//! wuclient [endpoint] [zipcode] [updates]
//! ```
//!
//! Connects to `endpoint` (default `tcp://localhost:5556`), subscribes to `zipcode`
//! (default `10001`, as five digits) and averages `updates` updates (default 100). Pair it
//! with `wuserver`.

use zerosock::{Context, Error, Result, SocketType};

/// What the client saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// Updates received (all for the zip code subscribed to).
    pub updates: u32,
    /// Their average temperature.
    pub average_temperature: f64,
}

/// Subscribes to `zipcode` at `endpoint` and averages the temperature of `updates` updates.
pub fn run(ctx: &Context, endpoint: &str, zipcode: u32, updates: u32) -> Result<Report> {
    println!("Collecting updates from weather server...");
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect(endpoint)?;
    // The trailing space makes 1000 not match 10001.
    let filter = format!("{zipcode:05} ");
    subscriber.set_subscribe(filter.as_bytes())?;
    let mut total: i64 = 0;
    for _ in 0..updates {
        let update = subscriber.recv(0)?;
        let text = update
            .as_str()
            .ok_or(Error::WrongState("an update that is not text"))?;
        let mut fields = text.split(' ');
        let (Some(zip), Some(temperature)) = (fields.next(), fields.next()) else {
            return Err(Error::WrongState("a malformed update"));
        };
        if zip.parse::<u32>().ok() != Some(zipcode) {
            return Err(Error::WrongState("an update for another zip code"));
        }
        total += temperature
            .parse::<i64>()
            .map_err(|_| Error::WrongState("a malformed temperature"))?;
    }
    let average_temperature = total as f64 / f64::from(updates.max(1));
    println!("Average temperature for zipcode '{zipcode:05}' was {average_temperature:.1}F");
    Ok(Report {
        updates,
        average_temperature,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).map_or("tcp://localhost:5556", String::as_str);
    let zipcode = args
        .get(2)
        .map_or(10001, |n| n.parse().expect("zipcode: a number"));
    let updates = args
        .get(3)
        .map_or(100, |n| n.parse().expect("updates: a number"));
    let ctx = Context::new();
    if let Err(e) = run(&ctx, endpoint, zipcode, updates) {
        eprintln!("wuclient: {e}");
        std::process::exit(1);
    }
}
