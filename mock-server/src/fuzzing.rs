//! Entry points for the fuzz targets in `fuzz/`, compiled only with `--cfg fuzzing` (which
//! `cargo fuzz` sets): the JWS parsers a hostile client reaches, without a socket. Whole
//! requests are fuzzed through [`MockServerBuilder::router`](crate::MockServerBuilder::router).

use std::sync::OnceLock;

use crate::tokens::{AccessClaims, ChallengeClaims, SigningKey};

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("a P-256 key"))
}

/// Parses and verifies `token` as the server does for access tokens and challenge tokens,
/// and, when it is JSON, signs it as claims: what verifies must be what was signed. Never
/// panics.
pub fn jwt(token: &str) {
    let _ = key().verify::<AccessClaims>(token);
    let _ = key().verify::<ChallengeClaims>(token);
    let _ = key().verify::<serde_json::Value>(token);
    let _ = crate::jose::split_compact(token);
    if let Ok(claims) = serde_json::from_str::<serde_json::Value>(token) {
        let signed = key().sign(&claims);
        // Compared with the signed text read back, not with `claims`: serde_json's float
        // parsing does not round-trip every float (found by this target: 3.33…e41), and
        // the server only ever signs integers.
        let text = serde_json::to_vec(&claims).expect("a Value serialises");
        let expected = serde_json::from_slice::<serde_json::Value>(&text).ok();
        assert_eq!(key().verify::<serde_json::Value>(&signed), expected);
    }
}
