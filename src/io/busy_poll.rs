//! Adaptive busy polling: whether an I/O thread keeps polling without sleeping for a while
//! after it had work, before it blocks in the kernel.
//!
//! Waking a thread that sleeps in `epoll_wait` (or a core that went idle with it) costs tens
//! of microseconds on many machines, virtual ones most of all; in a request/reply exchange
//! that cost is paid at every hop. An I/O thread that keeps polling for a little while after
//! each burst of work sees the next message without that wake-up. It pays only while the
//! next event does come within the window, so the thread keeps score: every time it runs out
//! of work, the gap until its next event is a hit or a miss. It spins only while at least
//! `HIT_RATE` of the recent gaps were hits, so a thread whose events come further apart stops
//! spinning after a couple of misses and costs nothing more than a sleeping one; a steady
//! exchange keeps it awake between messages, and a spin that misses costs one window at most.
//!
//! A gap of up to twice the window is a hit. Sleeping makes gaps longer (the wake-ups it
//! costs are in them, on this side and the peer's), so an exchange whose two sides both
//! stopped spinning can show gaps longer than the window that spinning would bring back
//! under it; with hits counted only within the window, it would never start again.

use std::time::{Duration, Instant};

/// Fraction of recent gaps that must have been hits for the thread to spin.
const HIT_RATE: f32 = 0.8;
/// A gap of up to this many windows counts as a hit.
const HIT_GAP: u32 = 2;
/// Weight of the newest gap in the running score.
const NEWEST: f32 = 0.25;

pub(crate) struct BusyPoll {
    /// The window (zero: never spin).
    window: Duration,
    /// Running share of hits among recent gaps.
    score: f32,
    /// When the thread last ran out of work, if it has not had an event since.
    idle_since: Option<Instant>,
}

impl BusyPoll {
    pub(crate) fn new(window: Duration) -> BusyPoll {
        BusyPoll {
            window,
            score: 1.0,
            idle_since: None,
        }
    }

    /// The timeout for the next poll: zero while within the window of the last burst and
    /// spinning pays, else `idle` (the timers' wish). The first call after a burst starts
    /// the gap; the poll that ends it scores it.
    pub(crate) fn timeout(&mut self, now: Instant, idle: Option<Duration>) -> Option<Duration> {
        if self.window.is_zero() {
            return idle;
        }
        let since = *self.idle_since.get_or_insert(now);
        if self.score >= HIT_RATE && now.saturating_duration_since(since) < self.window {
            Some(Duration::ZERO)
        } else {
            idle
        }
    }

    /// A poll returned; `busy` if it had events. `now` (the clock) is read only when the
    /// poll ended a gap.
    pub(crate) fn after_poll(&mut self, now: impl FnOnce() -> Instant, busy: bool) {
        if !busy || self.window.is_zero() {
            return;
        }
        if let Some(since) = self.idle_since.take() {
            let hit = now().saturating_duration_since(since) <= self.window.saturating_mul(HIT_GAP);
            self.score += NEWEST * (f32::from(u8::from(hit)) - self.score);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_micros(200);
    const US: Duration = Duration::from_micros(1);

    /// Runs out of work at `t`, polls until an event arrives `gap` later; returns how long
    /// the thread spun and the time of the event.
    fn gap(b: &mut BusyPoll, t: Instant, gap: Duration) -> (Duration, Instant) {
        let mut now = t;
        let mut spun = Duration::ZERO;
        while now < t + gap {
            match b.timeout(now, None) {
                Some(Duration::ZERO) => {
                    b.after_poll(|| now, false);
                    now += US;
                    spun += US;
                }
                _ => now = t + gap,
            }
        }
        b.after_poll(|| now, true);
        (spun, now)
    }

    #[test]
    fn disabled_never_spins() {
        let mut b = BusyPoll::new(Duration::ZERO);
        let t = Instant::now();
        assert_eq!(b.timeout(t, None), None);
        assert_eq!(b.timeout(t, Some(WINDOW)), Some(WINDOW));
        assert_eq!(gap(&mut b, t, 10 * US).0, Duration::ZERO);
    }

    /// `rounds` gaps of `gap_len` under `window`: the thread must spin through each.
    fn assert_spins_through(window: Duration, gap_len: Duration, rounds: usize) {
        let mut b = BusyPoll::new(window);
        let mut t = Instant::now();
        for round in 0..rounds {
            let (spun, at) = gap(&mut b, t, gap_len);
            assert_eq!(spun, gap_len, "gap {round}");
            t = at;
        }
    }

    #[test]
    fn the_longest_window_neither_overflows_nor_stops() {
        assert_spins_through(Duration::MAX, 30 * US, 5);
    }

    #[test]
    fn a_steady_exchange_spins_through_every_gap() {
        assert_spins_through(WINDOW, 90 * US, 100);
    }

    #[test]
    fn spinning_stops_when_gaps_are_longer_than_the_window() {
        let mut b = BusyPoll::new(WINDOW);
        let mut t = Instant::now();
        let mut spins = Vec::new();
        for _ in 0..20 {
            // Each exchange: a short gap inside it, then a long one until the next.
            let (_, at) = gap(&mut b, t, 20 * US);
            let (spun, at) = gap(&mut b, at, Duration::from_millis(1));
            spins.push(spun.as_micros());
            t = at;
        }
        assert_eq!(spins[0], 200);
        assert!(spins[3..].iter().all(|&s| s == 0), "{spins:?}");
    }

    /// After long gaps (spinning off), ten gaps of `gap`: how long the thread spun in each.
    fn spins_after_long_gaps(gap_len: Duration) -> Vec<u128> {
        let mut b = BusyPoll::new(WINDOW);
        let mut t = Instant::now();
        for _ in 0..5 {
            t = gap(&mut b, t, Duration::from_millis(2)).1;
        }
        assert_eq!(gap(&mut b, t, Duration::from_millis(2)).0, Duration::ZERO);
        let mut spun = Vec::new();
        for _ in 0..10 {
            let (s, at) = gap(&mut b, t, gap_len);
            spun.push(s.as_micros());
            t = at;
        }
        spun
    }

    #[test]
    fn spinning_resumes_when_gaps_shrink_again() {
        let spun = spins_after_long_gaps(50 * US);
        assert_eq!(spun[0], 0);
        assert_eq!(*spun.last().unwrap(), 50, "{spun:?}");
    }

    /// Both sides asleep: round trips of 300 us. Spinning comes back (and would shorten
    /// them); each spin lasts at most the window.
    #[test]
    fn gaps_a_little_longer_than_the_window_restart_spinning() {
        let spun = spins_after_long_gaps(300 * US);
        assert_eq!(spun[0], 0);
        assert_eq!(*spun.last().unwrap(), 200, "{spun:?}");
    }
}
