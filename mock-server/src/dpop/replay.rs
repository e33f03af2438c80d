//! The DPoP `jti` replay cache (RFC 9449 §11.1).
//!
//! A proof can only pass the `iat` window until `iat + window`, so an entry is kept exactly that
//! long and then forgotten: memory is bounded by the rate of accepted proofs times the window.
//! Keys are 128-bit hashes of (key thumbprint, jti), so an attacker's long `jti` costs nothing.
//! Expired entries are swept in bulk whenever the table has doubled since the last sweep, which
//! keeps inserts amortised O(1) and the table at most about twice the live set.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest;

#[derive(Debug, Default)]
struct Inner {
    /// Key hash → last second at which a proof with this jti could still pass the iat window.
    entries: HashMap<u128, i64>,
    sweep_at: usize,
}

/// Remembers accepted proofs until they can no longer pass the `iat` window.
#[derive(Debug, Default)]
pub struct ReplayCache {
    inner: Mutex<Inner>,
}

const MIN_SWEEP: usize = 1024;

impl ReplayCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(jkt: &str, jti: &str) -> u128 {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(jkt.as_bytes());
        ctx.update(&[0]);
        ctx.update(jti.as_bytes());
        let hash = ctx.finish();
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash.as_ref()[..16]);
        u128::from_le_bytes(first)
    }

    /// Records the proof and returns `true` if it is new; `false` if it is a replay.
    /// `keep_until` is the last second at which the proof could pass the iat window.
    pub fn insert_if_new(&self, jkt: &str, jti: &str, keep_until: i64, now: i64) -> bool {
        let key = Self::key(jkt, jti);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.entries.len() >= inner.sweep_at {
            inner.entries.retain(|_, until| *until >= now);
            inner.sweep_at = (inner.entries.len() * 2).max(MIN_SWEEP);
        }
        match inner.entries.get(&key) {
            Some(until) if *until >= now => false,
            _ => {
                inner.entries.insert(key, keep_until);
                true
            }
        }
    }

    /// Number of remembered proofs (live or awaiting the next sweep).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_rejected_while_it_could_still_pass_the_window() {
        let cache = ReplayCache::new();
        assert!(cache.insert_if_new("k", "j1", 160, 100));
        assert!(!cache.insert_if_new("k", "j1", 160, 160));
        assert!(
            cache.insert_if_new("other-key", "j1", 160, 100),
            "same jti, other key"
        );
    }

    #[test]
    fn memory_stays_bounded_by_the_window() {
        let cache = ReplayCache::new();
        // 100 proofs a second for 1000 seconds with a 60 s window: never more than
        // about twice the live set (6,000) plus the minimum sweep size.
        for second in 0..1000i64 {
            for n in 0..100 {
                assert!(cache.insert_if_new("k", &format!("{second}-{n}"), second + 60, second));
            }
        }
        assert!(cache.len() <= 2 * 6_100 + MIN_SWEEP, "len {}", cache.len());
    }
}
