//! Numbers that must differ between sockets, peers and runs: the first request id of a REQ,
//! the first generated routing id of a ROUTER, reconnect jitter. Not for secrets: they come
//! from the standard library's per-process hash keys mixed with the time and a counter.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A number that differs from call to call and from process to process.
pub(crate) fn random_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_differ() {
        let drawn: std::collections::HashSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(drawn.len(), 1000);
    }
}
