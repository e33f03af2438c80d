//! DPoP proof verification (RFC 9449 §4.3) for the profile Prelude's SDKs use: ES256, public
//! EC P-256 `jwk` in the header, claims `jti htm htu iat` and optional `nonce`, no `ath`.
//!
//! Parsing ([`parse`]) and checking ([`Verifier::verify`]) are separate so the journal can
//! record a proof's claims even when it is rejected. Key binding to a session is not checked
//! here: the store owns sessions and compares thumbprints.
//!
//! Beside verification: `nonce` (derived server nonces), `replay` (the `jti` cache) and
//! `proof` (building proofs from the client side, for tests and attacks).

pub(crate) mod nonce;
pub mod proof;
pub(crate) mod replay;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use axum::http::{HeaderMap, Uri};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Policy;
use crate::http::api_error::Reason;
use crate::http::default_port;
use crate::jose::{EcJwk, has_crit, split_compact};
use nonce::NonceSource;
use replay::ReplayCache;

/// Largest proof accepted; real proofs are about 600 bytes.
const MAX_PROOF_LEN: usize = 8 * 1024;
/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The claims of a proof, as the journal shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofSummary {
    /// `jti` claim.
    pub jti: Option<String>,
    /// `htm` claim.
    pub htm: Option<String>,
    /// `htu` claim.
    pub htu: Option<String>,
    /// `iat` claim (unix seconds).
    pub iat: Option<i64>,
    /// `nonce` claim.
    pub nonce: Option<String>,
    /// RFC 7638 thumbprint of the proof's key.
    pub jkt: Option<String>,
    /// `ath` claim: hash of the access token the proof is presented with (RFC 9449 §4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
}

/// A proof whose structure is valid; its signature and claims are not checked yet.
pub(crate) struct ParsedProof {
    pub(crate) jkt: String,
    point: Vec<u8>,
    signing_input: String,
    signature: Vec<u8>,
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    nonce: Option<String>,
    ath: Option<String>,
}

impl ParsedProof {
    pub(crate) fn summary(&self) -> ProofSummary {
        ProofSummary {
            jti: Some(self.jti.clone()),
            htm: Some(self.htm.clone()),
            htu: Some(self.htu.clone()),
            iat: Some(self.iat),
            nonce: self.nonce.clone(),
            jkt: Some(self.jkt.clone()),
            ath: self.ath.clone(),
        }
    }

    /// The `ath` claim, when the proof has one.
    pub(crate) fn ath(&self) -> Option<&str> {
        self.ath.as_deref()
    }
}

/// What the proof must match: the request as the server received it.
pub(crate) struct Expected<'a> {
    pub(crate) method: &'a str,
    pub(crate) scheme: &'a str,
    pub(crate) authority: &'a str,
    pub(crate) path: &'a str,
}

/// Outcome of reading the `DPoP` header(s) of a request.
pub(crate) enum Presented<'a> {
    None,
    One(&'a str),
}

/// Returns the single `DPoP` header, or `MultipleProofs` / `MalformedProof`.
pub(crate) fn presented(headers: &HeaderMap) -> Result<Presented<'_>, Reason> {
    let mut values = headers.get_all(crate::headers::DPOP).iter();
    let Some(first) = values.next() else {
        return Ok(Presented::None);
    };
    if values.next().is_some() {
        return Err(Reason::MultipleProofs);
    }
    let text = first.to_str().map_err(|_| Reason::MalformedProof)?;
    Ok(Presented::One(text.trim()))
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, Reason> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Reason::MalformedProof),
    }
}

fn claim_str(claims: &Map<String, Value>, name: &str) -> Result<String, Reason> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(Reason::MissingClaim),
    }
}

/// Why a proof was rejected while parsing, with its claims when they could be read.
pub(crate) struct ParseError {
    pub(crate) reason: Reason,
    pub(crate) summary: Option<Box<ProofSummary>>,
}

/// Checks a proof's structure and extracts what verification needs.
pub(crate) fn parse(proof: &str) -> Result<ParsedProof, ParseError> {
    let fail = |reason| ParseError {
        reason,
        summary: None,
    };
    if proof.len() > MAX_PROOF_LEN {
        return Err(fail(Reason::MalformedProof));
    }
    let jws = split_compact(proof).ok_or(fail(Reason::MalformedProof))?;
    let header = object(&jws.header).map_err(fail)?;
    let claims = object(&jws.payload).map_err(fail)?;

    let summary = || ProofSummary {
        jti: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
        htm: claims.get("htm").and_then(Value::as_str).map(str::to_owned),
        htu: claims.get("htu").and_then(Value::as_str).map(str::to_owned),
        iat: claims.get("iat").and_then(Value::as_i64),
        nonce: claims
            .get("nonce")
            .and_then(Value::as_str)
            .map(str::to_owned),
        jkt: None,
        ath: claims.get("ath").and_then(Value::as_str).map(str::to_owned),
    };
    let with_summary = |reason| ParseError {
        reason,
        summary: Some(Box::new(summary())),
    };

    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(with_summary(Reason::WrongProofType));
    }
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(with_summary(Reason::UnsupportedAlgorithm));
    }
    if has_crit(&header) {
        return Err(with_summary(Reason::UnsupportedCriticalHeader));
    }
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err(with_summary(Reason::InvalidJwk));
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(with_summary(Reason::PrivateKeyInJwk));
    }
    let jwk: EcJwk = serde_json::from_value(Value::Object(jwk.clone()))
        .map_err(|_| with_summary(Reason::InvalidJwk))?;
    let point = jwk
        .to_sec1()
        .ok_or_else(|| with_summary(Reason::InvalidJwk))?;
    let jkt = jwk.thumbprint();
    let with_key = |reason| ParseError {
        reason,
        summary: Some(Box::new(ProofSummary {
            jkt: Some(jkt.clone()),
            ..summary()
        })),
    };

    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| with_key(Reason::MissingClaim))?,
        _ => return Err(with_key(Reason::MissingClaim)),
    };
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(with_key(Reason::MissingClaim)),
    };
    let ath = match claims.get("ath") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(with_key(Reason::MissingClaim)),
    };
    Ok(ParsedProof {
        jti: claim_str(&claims, "jti").map_err(with_key)?,
        htm: claim_str(&claims, "htm").map_err(with_key)?,
        htu: claim_str(&claims, "htu").map_err(with_key)?,
        iat,
        nonce,
        ath,
        point,
        signing_input: jws.signing_input.to_owned(),
        signature: jws.signature,
        jkt,
    })
}

/// `host[:port]` lowercased, with the scheme's default port removed.
fn normalise_authority(scheme: &str, authority: &str) -> Option<String> {
    let parsed: axum::http::uri::Authority = authority.parse().ok()?;
    let host = parsed.host().to_ascii_lowercase();
    Some(match parsed.port_u16() {
        Some(port) if Some(port) != default_port(scheme) => format!("{host}:{port}"),
        _ => host,
    })
}

/// Compares `htu` with the request URL: scheme and host case-insensitively, default ports
/// ignored, query and fragment ignored (RFC 9449 §4.3 point 9).
fn htu_matches(htu: &str, expected: &Expected<'_>) -> bool {
    let without_fragment = htu.split('#').next().unwrap_or_default();
    let Ok(uri) = without_fragment.parse::<Uri>() else {
        return false;
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    let path = match uri.path() {
        "" => "/",
        p => p,
    };
    scheme == expected.scheme
        && path == expected.path
        && normalise_authority(&scheme, authority.as_str())
            == normalise_authority(expected.scheme, expected.authority)
}

/// Verifies proofs against the server's policy, nonces and replay cache.
pub(crate) struct Verifier<'a> {
    pub(crate) nonces: &'a NonceSource,
    pub(crate) replay: &'a ReplayCache,
    pub(crate) policy: &'a Policy,
    pub(crate) now: i64,
}

impl Verifier<'_> {
    /// The full §4.3 check list, cheapest first after the signature; records the `jti` last so
    /// a proof rejected for another reason does not burn its `jti`.
    pub(crate) fn verify(
        &self,
        proof: &ParsedProof,
        expected: &Expected<'_>,
    ) -> Result<(), Reason> {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &proof.point)
            .verify(proof.signing_input.as_bytes(), &proof.signature)
            .map_err(|_| Reason::BadSignature)?;
        if proof.htm != expected.method {
            return Err(Reason::MethodMismatch);
        }
        if !htu_matches(&proof.htu, expected) {
            return Err(Reason::UrlMismatch);
        }
        let window = self.policy.iat_window_seconds;
        if proof.iat < self.now.saturating_sub(window) {
            return Err(Reason::IatTooOld);
        }
        if proof.iat > self.now.saturating_add(window) {
            return Err(Reason::IatInFuture);
        }
        if self.nonces.current(self.now, self.policy).is_some() {
            let nonce = proof.nonce.as_deref().ok_or(Reason::NonceMissing)?;
            if !self.nonces.accepts(nonce, self.now, self.policy) {
                return Err(Reason::NonceStale);
            }
        }
        let keep_until = proof.iat.saturating_add(window);
        if !self
            .replay
            .insert_if_new(&proof.jkt, &proof.jti, keep_until, self.now)
        {
            return Err(Reason::ReplayedProof);
        }
        Ok(())
    }
}

/// Verifies a DPoP proof the way the server does (structure, ES256 signature, `htm`, `htu`,
/// `iat` window), without nonce or replay checks, and returns the key's thumbprint (`jkt`).
/// For tools and benchmarks that need the server's verdict on a proof without a server.
///
/// ```
/// use prelude_mock_server::{Reason, proof::ProofKey, verify_proof};
///
/// let key = ProofKey::generate();
/// let url = "http://127.0.0.1:8910/v1/session/refresh";
/// let proof = key.proof("POST", url, 1_000);
/// assert_eq!(verify_proof(&proof, "POST", url, 1_000, 60), Ok(key.thumbprint()));
/// assert_eq!(verify_proof(&proof, "GET", url, 1_000, 60), Err(Reason::MethodMismatch));
/// ```
pub fn verify_proof(
    proof: &str,
    method: &str,
    url: &str,
    now: i64,
    iat_window: i64,
) -> Result<String, Reason> {
    let parsed = parse(proof).map_err(|e| e.reason)?;
    let uri: Uri = url.parse().map_err(|_| Reason::UrlMismatch)?;
    let expected = Expected {
        method,
        scheme: uri.scheme_str().unwrap_or("http"),
        authority: uri.authority().map_or("", |a| a.as_str()),
        path: uri.path(),
    };
    let policy = Policy {
        iat_window_seconds: iat_window,
        ..Policy::default()
    };
    // Nonces are off here, so one source serves every call; a fresh cache per call means no replay check.
    static NONCES: std::sync::OnceLock<NonceSource> = std::sync::OnceLock::new();
    let (nonces, replay) = (NONCES.get_or_init(NonceSource::new), ReplayCache::new());
    Verifier {
        nonces,
        replay: &replay,
        policy: &policy,
        now,
    }
    .verify(&parsed, &expected)?;
    Ok(parsed.jkt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected<'static> {
        Expected {
            method: "POST",
            scheme: "http",
            authority: "127.0.0.1:8910",
            path: "/v1/session/refresh",
        }
    }

    #[test]
    fn htu_is_normalised_before_comparison() {
        let e = expected();
        assert!(htu_matches("http://127.0.0.1:8910/v1/session/refresh", &e));
        assert!(htu_matches(
            "HTTP://127.0.0.1:8910/v1/session/refresh?x=1#f",
            &e
        ));
        assert!(!htu_matches(
            "https://127.0.0.1:8910/v1/session/refresh",
            &e
        ));
        assert!(!htu_matches("http://127.0.0.1:8911/v1/session/refresh", &e));
        assert!(!htu_matches("http://127.0.0.1:8910/v1/session/revoke", &e));
        assert!(!htu_matches("/v1/session/refresh", &e));
        let default_port = Expected {
            authority: "Example.COM:80",
            ..expected()
        };
        assert!(htu_matches(
            "http://example.com/v1/session/refresh",
            &default_port
        ));
    }

    #[test]
    fn structure_errors_are_classified() {
        assert!(matches!(
            parse("nope"),
            Err(ParseError {
                reason: Reason::MalformedProof,
                summary: None
            })
        ));
        // {"typ":"JWT","alg":"ES256"} . {} . sig
        let wrong_typ = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.e30.AA";
        assert!(matches!(
            parse(wrong_typ),
            Err(ParseError {
                reason: Reason::WrongProofType,
                summary: Some(_)
            })
        ));
    }
}
