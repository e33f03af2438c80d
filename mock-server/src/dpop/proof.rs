//! Building DPoP proofs from the client side: valid ones, and deliberately broken ones for
//! testing a server's rejection paths. Used by this crate's tests, the benches and the
//! conformance suite's server-side attacks. SDKs have their own signers; this is a test tool.
//!
//! ```
//! use prelude_mock_server::proof::ProofKey;
//!
//! let key = ProofKey::generate();
//! let url = "http://127.0.0.1:8910/v1/session/refresh";
//! let valid = key.proof("POST", url, 1_800_000_000);
//! let forged = key.builder("POST", url, 1_800_000_000).header("alg", "none".into()).build();
//! assert_ne!(valid, forged);
//! ```

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Map, Value, json};

use crate::jose::{EcJwk, b64, random_token};

/// A client's P-256 DPoP key. `Debug` shows only the thumbprint.
pub struct ProofKey {
    pair: EcdsaKeyPair,
    jwk: EcJwk,
    rng: SystemRandom,
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl ProofKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let pair =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key generation");
        let jwk = EcJwk::from_sec1(pair.public_key().as_ref()).expect("uncompressed P-256 point");
        Self {
            pair,
            jwk,
            rng: SystemRandom::new(),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &EcJwk {
        &self.jwk
    }

    /// RFC 7638 thumbprint (`jkt`) of the public key.
    pub fn thumbprint(&self) -> String {
        self.jwk.thumbprint()
    }

    /// ES256 signature (raw `r||s`, base64url) over `input`.
    pub fn sign(&self, input: &str) -> String {
        let signature = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .expect("ECDSA signing");
        b64(signature.as_ref())
    }

    /// A valid proof for `method url` issued at `iat` (unix seconds), with a fresh `jti`.
    pub fn proof(&self, method: &str, url: &str, iat: i64) -> String {
        self.builder(method, url, iat).build()
    }

    /// A proof to adjust before signing.
    pub fn builder(&self, method: &str, url: &str, iat: i64) -> ProofBuilder<'_> {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let claims = json!({"jti": random_token(16), "htm": method, "htu": url, "iat": iat});
        ProofBuilder {
            key: self,
            header: header.as_object().cloned().unwrap_or_default(),
            claims: claims.as_object().cloned().unwrap_or_default(),
        }
    }
}

/// A proof's JOSE header and claims, signed by [`build`](Self::build).
#[derive(Debug)]
#[must_use]
pub struct ProofBuilder<'a> {
    key: &'a ProofKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl ProofBuilder<'_> {
    /// Sets a JOSE header member (`typ`, `alg`, `jwk`, ...).
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    /// Removes a JOSE header member.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Sets a claim (`jti`, `htm`, `htu`, `iat`, `nonce`, ...).
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// Adds the server's nonce.
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", Value::String(nonce.into()))
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Signs the proof with the key.
    pub fn build(self) -> String {
        let input = format!(
            "{}.{}",
            b64(Value::Object(self.header).to_string()),
            b64(Value::Object(self.claims).to_string())
        );
        let signature = self.key.sign(&input);
        format!("{input}.{signature}")
    }
}
