//! Compact JWS plumbing shared by DPoP verification and token minting: base64url, splitting,
//! EC P-256 public JWKs and their RFC 7638 thumbprints.
//!
//! It knows nothing of DPoP rules or token claims; `dpop` and `tokens` own those.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Encodes bytes as unpadded base64url.
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url; `None` on any other alphabet or padding.
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The three decoded parts of a compact JWS, plus the signing input they came from.
pub(crate) struct CompactJws<'a> {
    pub(crate) header: Vec<u8>,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) signing_input: &'a str,
}

/// Splits `header.payload.signature` and decodes each part.
pub(crate) fn split_compact(token: &str) -> Option<CompactJws<'_>> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(CompactJws {
        header: unb64(h)?,
        payload: unb64(p)?,
        signature: unb64(s)?,
        signing_input: &token[..h.len() + 1 + p.len()],
    })
}

/// RFC 7515 §4.1.11: a JWS whose header has `crit` names extensions the receiver must
/// understand. This server understands none, so any `crit` (even an empty or malformed one,
/// which the RFC forbids) makes the JWS invalid.
pub(crate) fn has_crit(header: &serde_json::Map<String, serde_json::Value>) -> bool {
    header.contains_key("crit")
}

/// A public EC P-256 key as a JWK (RFC 7517). Only the public members are modelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcJwk {
    /// Always `EC`.
    pub kty: String,
    /// Always `P-256`.
    pub crv: String,
    /// The x coordinate, base64url.
    pub x: String,
    /// The y coordinate, base64url.
    pub y: String,
}

impl EcJwk {
    /// Builds the JWK of an uncompressed SEC1 point (`0x04 || x || y`).
    pub(crate) fn from_sec1(point: &[u8]) -> Option<Self> {
        if point.len() != 65 || point[0] != 4 {
            return None;
        }
        Some(Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: b64(&point[1..33]),
            y: b64(&point[33..]),
        })
    }

    /// The uncompressed SEC1 point, if the members describe a P-256 key of the right size.
    pub(crate) fn to_sec1(&self) -> Option<Vec<u8>> {
        if self.kty != "EC" || self.crv != "P-256" {
            return None;
        }
        let (x, y) = (unb64(&self.x)?, unb64(&self.y)?);
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut point = Vec::with_capacity(65);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Some(point)
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        );
        b64(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }
}

/// A short, non-reversible fingerprint of a secret (first 8 bytes of SHA-256, hex), so the
/// journal can tell tokens apart without ever holding one.
pub(crate) fn fingerprint(secret: &str) -> String {
    let hash = digest::digest(&digest::SHA256, secret.as_bytes());
    hash.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Random bytes from the system RNG, base64url-encoded.
pub(crate) fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    // The system RNG only fails when the OS has no entropy source at all; nothing can go on then.
    aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator");
    b64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example_layout() {
        // RFC 7638 §3.1 uses an RSA key; for EC the member order is crv, kty, x, y. Check the
        // canonical form directly against a hand-computed SHA-256.
        let jwk = EcJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: "AA".into(),
            y: "AQ".into(),
        };
        let expected = b64(digest::digest(
            &digest::SHA256,
            br#"{"crv":"P-256","kty":"EC","x":"AA","y":"AQ"}"#,
        ));
        assert_eq!(jwk.thumbprint(), expected);
    }

    #[test]
    fn split_compact_rejects_wrong_part_counts_and_bad_base64() {
        assert!(split_compact("a.b").is_none());
        assert!(split_compact("e30.e30.AA.AA").is_none());
        assert!(split_compact("e30.e3$.AA").is_none());
        let jws = split_compact("e30.e30.AA").expect("valid");
        assert_eq!(jws.signing_input, "e30.e30");
        assert_eq!(jws.header, b"{}");
    }
}
