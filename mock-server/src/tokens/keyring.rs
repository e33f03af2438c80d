//! The access-token signing keys: one current key that signs, and keys retired by a rotation
//! that stay published in the JWKS, and keep verifying, until their overlap ends (virtual
//! time). This is how a resource server sees a real key rotation: tokens signed just before
//! it stay valid while the JWKS offers both keys.
//!
//! It owns which keys are live; the keys' crypto is `tokens::SigningKey`'s.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::tokens::SigningKey;

#[derive(Debug)]
struct Keys {
    current: Arc<SigningKey>,
    /// Retired keys with the virtual time (unix seconds) their overlap ends.
    retired: Vec<(Arc<SigningKey>, i64)>,
}

/// The server's signing keys.
#[derive(Debug)]
pub(crate) struct KeyRing {
    keys: Mutex<Keys>,
}

impl KeyRing {
    pub(crate) fn new(current: SigningKey) -> Self {
        Self {
            keys: Mutex::new(Keys {
                current: Arc::new(current),
                retired: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The keys that verify at `now`, current first.
    fn live(&self, now: i64) -> Vec<Arc<SigningKey>> {
        let mut keys = self.lock();
        keys.retired.retain(|(_, until)| *until > now);
        std::iter::once(keys.current.clone())
            .chain(keys.retired.iter().map(|(k, _)| k.clone()))
            .collect()
    }

    /// The current key (the one that signs).
    pub(crate) fn current(&self) -> Arc<SigningKey> {
        self.lock().current.clone()
    }

    /// Signs `claims` with the current key.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> String {
        self.current().sign(claims)
    }

    /// Verifies a token signed by any key live at `now`.
    pub(crate) fn verify<T: DeserializeOwned>(&self, token: &str, now: i64) -> Option<T> {
        self.live(now).iter().find_map(|key| key.verify(token))
    }

    /// The JWK Set of every key live at `now`.
    pub(crate) fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<serde_json::Value> =
            self.live(now).iter().map(|key| key.jwk_value()).collect();
        serde_json::json!({ "keys": keys })
    }

    /// Withdraws every retired key at once (a reset ends any rotation in progress).
    pub(crate) fn forget_retired(&self) {
        self.lock().retired.clear();
    }

    /// Makes a fresh key current; the old one stays live for `overlap_seconds` from `now`.
    /// Returns the new key's `kid`.
    pub(crate) fn rotate(&self, now: i64, overlap_seconds: i64) -> Result<String, Error> {
        let fresh = Arc::new(SigningKey::generate()?);
        let kid = fresh.kid().to_owned();
        let mut keys = self.lock();
        let old = std::mem::replace(&mut keys.current, fresh);
        keys.retired
            .push((old, now.saturating_add(overlap_seconds)));
        Ok(kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
    struct Claims {
        sub: String,
    }

    #[test]
    fn a_rotated_key_verifies_and_is_published_until_its_overlap_ends() {
        let ring = KeyRing::new(SigningKey::generate().expect("key"));
        let old = ring.sign(&Claims { sub: "a".into() });
        ring.rotate(100, 60).expect("rotates");
        let new = ring.sign(&Claims { sub: "b".into() });
        assert_eq!(ring.jwks(130)["keys"].as_array().map(Vec::len), Some(2));
        assert!(ring.verify::<Claims>(&old, 159).is_some());
        assert!(ring.verify::<Claims>(&new, 159).is_some());
        assert!(ring.verify::<Claims>(&old, 160).is_none());
        assert_eq!(ring.jwks(160)["keys"].as_array().map(Vec::len), Some(1));
        assert!(ring.verify::<Claims>(&new, 1_000).is_some());
    }
}
