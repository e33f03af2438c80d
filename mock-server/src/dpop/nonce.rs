//! DPoP nonces (RFC 9449 §8), derived rather than stored: the nonce for a time slot is an HMAC of
//! the slot number under a per-server secret, so "accept the last K nonces" needs no memory.
//!
//! It decides which nonce is current and which are still accepted; answering with
//! `use_dpop_nonce` is the caller's job.

use aws_lc_rs::hmac;

use crate::config::{NonceMode, Policy};
use crate::jose::b64;

pub(crate) struct NonceSource {
    key: hmac::Key,
}

impl NonceSource {
    pub(crate) fn new() -> Self {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret).expect("system random number generator");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        }
    }

    fn nonce_for_slot(&self, slot: i64) -> String {
        let tag = hmac::sign(&self.key, &slot.to_be_bytes());
        b64(&tag.as_ref()[..18])
    }

    fn slot(now: i64, policy: &Policy) -> i64 {
        match policy.nonce_mode {
            NonceMode::Rotating => now.div_euclid(policy.nonce_rotation_seconds.max(1)),
            _ => 0,
        }
    }

    /// The nonce to hand out now, or `None` when nonces are off.
    pub(crate) fn current(&self, now: i64, policy: &Policy) -> Option<String> {
        (policy.nonce_mode != NonceMode::Off).then(|| self.nonce_for_slot(Self::slot(now, policy)))
    }

    /// Whether `nonce` is acceptable now (always true when nonces are off).
    pub(crate) fn accepts(&self, nonce: &str, now: i64, policy: &Policy) -> bool {
        let slot = Self::slot(now, policy);
        let history = match policy.nonce_mode {
            NonceMode::Off => return true,
            NonceMode::Required => 1,
            NonceMode::Rotating => i64::from(policy.nonce_history),
        };
        (0..history).any(|back| {
            let expected = self.nonce_for_slot(slot - back);
            aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), nonce.as_bytes())
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotating_nonces_stay_valid_for_the_configured_history() {
        let source = NonceSource::new();
        let policy = Policy {
            nonce_mode: NonceMode::Rotating,
            nonce_rotation_seconds: 10,
            nonce_history: 2,
            ..Policy::default()
        };
        let first = source.current(1_000, &policy).expect("nonce");
        assert!(source.accepts(&first, 1_009, &policy));
        assert!(
            source.accepts(&first, 1_019, &policy),
            "previous slot still accepted"
        );
        assert!(
            !source.accepts(&first, 1_020, &policy),
            "two slots back is stale"
        );
        assert_ne!(source.current(1_010, &policy), Some(first));
    }

    #[test]
    fn off_mode_hands_out_nothing_and_accepts_anything() {
        let source = NonceSource::new();
        let policy = Policy::default();
        assert_eq!(source.current(0, &policy), None);
        assert!(source.accepts("whatever", 0, &policy));
    }
}
