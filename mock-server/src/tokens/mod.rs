//! Access and challenge tokens: ES256 JWTs signed with the server's P-256 key, and the JWKS
//! that publishes it. The key is parsed once; signing and verifying use aws-lc-rs directly.
//!
//! Which claims a token carries is decided here; whether a session is still alive is the
//! store's business.

pub(crate) mod keyring;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Error;
use crate::jose::{EcJwk, b64, split_compact};

/// Claims of an access token (spec §5).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) jti: String,
    pub(crate) sid: String,
    pub(crate) scope: String,
    /// Confirmation: the DPoP key the token is bound to, when binding is on (RFC 9449 §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<Confirmation>,
}

/// The `cnf` claim of a DPoP-bound access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Confirmation {
    /// RFC 7638 thumbprint of the session's DPoP key.
    pub(crate) jkt: String,
}

/// Claims of a login challenge token (spec §2.8), a `session-start` grant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ChallengeClaims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) jti: String,
    pub(crate) challenge_id: String,
    pub(crate) grant_mode: String,
    pub(crate) current_step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pkce_challenge: Option<String>,
}

/// The server's signing key, with its public JWK and `kid` (the JWK thumbprint).
pub(crate) struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    jwk: EcJwk,
    kid: String,
    /// Base64url of the JOSE header, which never changes.
    header_b64: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_pair(pair: EcdsaKeyPair) -> Result<Self, Error> {
        let jwk = EcJwk::from_sec1(pair.public_key().as_ref())
            .ok_or_else(|| Error::config("signing key is not an uncompressed P-256 key"))?;
        let kid = jwk.thumbprint();
        let header_b64 = b64(json!({"alg": "ES256", "typ": "JWT", "kid": kid}).to_string());
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
            jwk,
            kid,
            header_b64,
        })
    }

    /// A fresh random key.
    pub(crate) fn generate() -> Result<Self, Error> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| Error::config("cannot generate a P-256 key"))?;
        Self::from_pair(pair)
    }

    /// Parses a PEM-encoded P-256 private key (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`).
    pub(crate) fn from_pem(pem: &str) -> Result<Self, Error> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| Error::config("signing key PEM is not valid base64"))?;
        let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|e| Error::config(format!("signing key is not a P-256 private key: {e}")))?;
        Self::from_pair(pair)
    }

    /// The key as a PKCS#8 PEM, for saving it so tokens verify after a restart.
    pub(crate) fn to_pem(&self) -> Result<String, Error> {
        let der = self
            .pair
            .to_pkcs8v1()
            .map_err(|_| Error::config("cannot export signing key"))?;
        let text = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        Ok(format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ))
    }

    /// Signs `claims` as a compact JWT.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> String {
        // Serialising our own claim structs cannot fail.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!("{}.{}", self.header_b64, b64(payload));
        let signature = self
            .pair
            .sign(&self.rng, signing_input.as_bytes())
            .expect("ECDSA signing with a valid key");
        format!("{signing_input}.{}", b64(signature.as_ref()))
    }

    /// Verifies a JWT signed by this key and decodes its claims. `None` for anything else:
    /// other keys, other algorithms, bad structure, claims of another shape.
    pub(crate) fn verify<T: DeserializeOwned>(&self, token: &str) -> Option<T> {
        let jws = split_compact(token)?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&jws.header).ok()?;
        if header.get("alg").and_then(|v| v.as_str()) != Some("ES256")
            || header.get("kid").and_then(|v| v.as_str()) != Some(self.kid.as_str())
            || crate::jose::has_crit(&header)
        {
            return None;
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(jws.signing_input.as_bytes(), &jws.signature)
            .ok()?;
        serde_json::from_slice(&jws.payload).ok()
    }

    /// The public key as a JWK Set member.
    pub(crate) fn jwk_value(&self) -> serde_json::Value {
        json!({
            "kty": self.jwk.kty, "crv": self.jwk.crv, "x": self.jwk.x, "y": self.jwk.y,
            "kid": self.kid, "use": "sig", "alg": "ES256",
        })
    }

    /// The key id (its JWK thumbprint).
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        sub: String,
    }

    #[test]
    fn a_pem_round_trip_keeps_tokens_verifiable() {
        let key = SigningKey::generate().expect("key");
        let token = key.sign(&Claims {
            sub: "usr_1".into(),
        });
        let reloaded = SigningKey::from_pem(&key.to_pem().expect("pem")).expect("reload");
        assert_eq!(
            reloaded.verify::<Claims>(&token),
            Some(Claims {
                sub: "usr_1".into()
            })
        );
        let other = SigningKey::generate().expect("key");
        assert_eq!(other.verify::<Claims>(&token), None);
    }

    #[test]
    fn a_tampered_token_does_not_verify() {
        let key = SigningKey::generate().expect("key");
        let token = key.sign(&Claims {
            sub: "usr_1".into(),
        });
        let (head, _) = token.rsplit_once('.').expect("three parts");
        let forged_payload = b64(r#"{"sub":"usr_2"}"#);
        let parts: Vec<&str> = head.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            forged_payload,
            token.rsplit('.').next().unwrap_or("")
        );
        assert_eq!(key.verify::<Claims>(&forged), None);
        assert!(!format!("{key:?}").contains(&key.to_pem().expect("pem")[30..60]));
    }

    #[test]
    fn a_token_with_a_critical_extension_does_not_verify() {
        let key = SigningKey::generate().expect("key");
        let header =
            json!({"alg": "ES256", "typ": "JWT", "kid": key.kid, "crit": ["x-ext"], "x-ext": true});
        let input = format!("{}.{}", b64(header.to_string()), b64(r#"{"sub":"usr_1"}"#));
        let signature = key.pair.sign(&key.rng, input.as_bytes()).expect("signs");
        let token = format!("{input}.{}", b64(signature.as_ref()));
        assert_eq!(key.verify::<Claims>(&token), None);
    }
}
