//! The closing table: one line per target of the performance goals, with this run's figures,
//! the result compared with the goal, and whether the run met it.

/// What a result must be to meet its goal.
#[derive(Clone, Copy)]
pub(crate) enum Goal {
    /// A ratio (zerosock over the reference) of at least this.
    AtLeast(f64),
    /// A ratio of at most this (latency, where lower is better).
    AtMost(f64),
    /// No goal: shown for context.
    None,
}

/// How a result is shown.
#[derive(Clone, Copy)]
pub(crate) enum Unit {
    /// `2.41x`
    Times,
    /// `97 %`
    Percent,
}

/// One line of the summary.
pub(crate) struct Verdict {
    /// The row and what is compared, e.g. `tcp/8B msg/s`.
    pub(crate) what: String,
    /// zerosock's figure, formatted with its unit.
    pub(crate) zerosock: String,
    /// The reference's figure (libzmq's, the raw stream's, ...), formatted with its unit.
    pub(crate) reference: String,
    /// zerosock's figure over the reference's, if both sides have one.
    pub(crate) result: Option<f64>,
    pub(crate) unit: Unit,
    pub(crate) goal: Goal,
}

impl Verdict {
    fn met(&self) -> &'static str {
        match (self.result, self.goal) {
            (None, Goal::AtLeast(_) | Goal::AtMost(_)) => "FAILED",
            (Some(r), Goal::AtLeast(g)) if r >= g => "yes",
            (Some(r), Goal::AtMost(g)) if r <= g => "yes",
            (_, Goal::None) => "-",
            _ => "no",
        }
    }
}

fn show(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Times => format!("{value:.2}x"),
        Unit::Percent => format!("{:.0} %", value * 100.0),
    }
}

/// Prints the summary table, then `notes` (what a reader needs to judge a line).
pub(crate) fn print(verdicts: &[Verdict], notes: &[String]) {
    if verdicts.is_empty() {
        return;
    }
    println!();
    println!(
        "summary: each target in this run; result = zerosock / reference (libzmq; the raw TCP \
         stream; for memory, the queues' worth of messages, the goal leaving room for {} MiB \
         of fixed buffers)",
        crate::rss::FIXED_BUFFERS_MIB
    );
    println!();
    println!(
        "{:<40} {:>16} {:>16} {:>8} {:>9} {:>4}",
        "target", "zerosock", "reference", "result", "goal", "met"
    );
    for v in verdicts {
        let goal = match v.goal {
            Goal::AtLeast(g) => format!(">= {}", show(g, v.unit)),
            Goal::AtMost(g) => format!("<= {}", show(g, v.unit)),
            Goal::None => "-".to_string(),
        };
        println!(
            "{:<40} {:>16} {:>16} {:>8} {:>9} {:>4}",
            v.what,
            v.zerosock,
            v.reference,
            v.result.map_or("-".to_string(), |r| show(r, v.unit)),
            goal,
            v.met()
        );
    }
    let missed = verdicts.iter().filter(|v| v.met() == "no").count();
    println!();
    println!(
        "{} of {} targets met in this run",
        verdicts.iter().filter(|v| v.met() == "yes").count(),
        verdicts
            .iter()
            .filter(|v| !matches!(v.goal, Goal::None))
            .count()
    );
    for note in notes {
        println!("{note}");
    }
    if missed > 0 {
        println!("(a missed target is not an error; the tables above show the whole run)");
    }
}
