//! How long a connecter waits before connecting again: `RECONNECT_IVL`, doubled after each
//! failure up to `RECONNECT_IVL_MAX` (when that is set above it), back to `RECONNECT_IVL`
//! once a handshake succeeds, and up to one interval of random jitter added to each wait
//! (as libzmq does), so that many peers that lost the same server do not all come back in
//! the same instant.

use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    /// `RECONNECT_IVL`; `None` when reconnecting is off (`-1`).
    base: Option<Duration>,
    /// `RECONNECT_IVL_MAX`, when it lets the interval grow.
    max: Option<Duration>,
    /// The interval the next wait starts from.
    current: Duration,
}

impl Backoff {
    /// From the options' milliseconds: `ivl` < 0 turns reconnecting off, `max` <= `ivl`
    /// keeps the interval fixed.
    pub(crate) fn new(ivl_ms: i32, max_ms: i32) -> Backoff {
        let base = u64::try_from(ivl_ms).ok().map(Duration::from_millis);
        let max = u64::try_from(max_ms)
            .ok()
            .filter(|&m| m > 0 && i64::from(max_ms) > i64::from(ivl_ms))
            .map(Duration::from_millis);
        Backoff {
            base,
            max,
            current: base.unwrap_or_default(),
        }
    }

    /// The wait before the next attempt (`None` when reconnecting is off); the interval
    /// after it doubles, up to the maximum.
    pub(crate) fn next_delay(&mut self, random: u64) -> Option<Duration> {
        self.base?;
        let ivl = self.current;
        let ivl_ms = ivl.as_millis() as u64;
        let jitter = if ivl_ms > 0 { random % ivl_ms } else { 0 };
        if let Some(max) = self.max {
            self.current = (ivl * 2).min(max);
        }
        Some(ivl + Duration::from_millis(jitter))
    }

    /// A handshake succeeded: the next wait starts from `RECONNECT_IVL` again.
    pub(crate) fn reset(&mut self) {
        self.current = self.base.unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_with_jitter_below_one_interval() {
        let mut b = Backoff::new(100, 350);
        let ms = |d: Option<Duration>| d.unwrap().as_millis();
        assert_eq!(ms(b.next_delay(0)), 100);
        assert_eq!(ms(b.next_delay(99)), 200 + 99);
        assert_eq!(ms(b.next_delay(0)), 350);
        assert_eq!(ms(b.next_delay(349)), 350 + 349);
        b.reset();
        assert_eq!(ms(b.next_delay(100)), 100);
    }

    #[test]
    fn fixed_without_a_larger_maximum_and_off_below_zero() {
        let mut fixed = Backoff::new(100, 0);
        for _ in 0..5 {
            assert_eq!(fixed.next_delay(0), Some(Duration::from_millis(100)));
        }
        let mut same = Backoff::new(100, 100);
        assert_eq!(same.next_delay(0), Some(Duration::from_millis(100)));
        assert_eq!(same.next_delay(0), Some(Duration::from_millis(100)));
        let mut off = Backoff::new(-1, 1000);
        assert_eq!(off.next_delay(5), None);
        let mut zero = Backoff::new(0, 0);
        assert_eq!(zero.next_delay(7), Some(Duration::ZERO));
    }
}
