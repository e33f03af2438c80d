//! DPoP proofs (RFC 9449) signed by a key behind [`DpopSigner`], so the private key can live in
//! hardware and never be exported. [`SoftwareKey`] is the default: P-256 in memory, exported
//! into the credential store so the session survives a restart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Error, ErrorKind};

/// The public half of a P-256 key as a JWK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Always `EC`.
    pub kty: String,
    /// Always `P-256`.
    pub crv: String,
    /// x coordinate, base64url.
    pub x: String,
    /// y coordinate, base64url.
    pub y: String,
}

impl PublicJwk {
    /// From the 32-byte x and y coordinates.
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Self {
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: b64(x),
            y: b64(y),
        }
    }

    /// RFC 7638 thumbprint (`jkt`).
    pub fn thumbprint(&self) -> String {
        use sha2::Digest;
        let canonical = format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        );
        b64(sha2::Sha256::digest(canonical.as_bytes()))
    }
}

/// Signs DPoP proofs with an ES256 key the client cannot necessarily read.
///
/// Implement it for a Secure Enclave, TPM or HSM key; the client only needs the public JWK and
/// raw `r || s` signatures.
pub trait DpopSigner: Send + Sync + 'static {
    /// The public key.
    fn public_jwk(&self) -> PublicJwk;
    /// ES256 signature of `message` as raw `r || s` (64 bytes).
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], Error>;
    /// The private key as text for the credential store, or `None` for keys that must never
    /// leave their hardware (the default).
    fn export(&self) -> Option<String> {
        None
    }
}

/// An in-memory P-256 key (pure Rust). `Debug` shows only its thumbprint.
pub struct SoftwareKey {
    key: SigningKey,
    jwk: PublicJwk,
}

impl std::fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("jkt", &self.jwk.thumbprint())
            .finish_non_exhaustive()
    }
}

impl SoftwareKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, Error> {
        loop {
            let scalar = random_bytes::<32>()?;
            // Fails only for zero or a value above the group order: draw again.
            if let Ok(key) = SigningKey::from_slice(&scalar) {
                return Ok(Self::from_signing_key(key));
            }
        }
    }

    /// A key previously returned by [`DpopSigner::export`].
    pub fn from_exported(text: &str) -> Result<Self, Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| Error::new(ErrorKind::Store, "stored DPoP key is not base64url"))?;
        let key = SigningKey::from_slice(&bytes)
            .map_err(|_| Error::new(ErrorKind::Store, "stored DPoP key is not a P-256 key"))?;
        Ok(Self::from_signing_key(key))
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let point = key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        let jwk = PublicJwk::from_coordinates(&bytes[1..33], &bytes[33..65]);
        Self { key, jwk }
    }
}

impl DpopSigner for SoftwareKey {
    fn public_jwk(&self) -> PublicJwk {
        self.jwk.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], Error> {
        let signature: Signature = self.key.sign(message);
        let bytes = signature.to_bytes();
        let mut raw = [0u8; 64];
        raw.copy_from_slice(bytes.as_slice());
        Ok(raw)
    }

    fn export(&self) -> Option<String> {
        Some(b64(self.key.to_bytes()))
    }
}

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random UUID v4 (lowercase), the `jti` format the SDKs use.
pub(crate) fn uuid_v4() -> Result<String, Error> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `url` without its query and fragment: the `htu` of a proof (RFC 9449 §4.2).
pub(crate) fn htu(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Base64url SHA-256 of `text`: a proof's `ath` (RFC 9449 §4.2), a PKCE S256 challenge.
pub(crate) fn s256(text: &str) -> String {
    use sha2::Digest;
    b64(sha2::Sha256::digest(text.as_bytes()))
}

/// `N` random bytes from the OS.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::new(ErrorKind::Signing, format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// A proof for `method htu` at `iat`, with a fresh `jti`, the server's nonce when known, and
/// `ath` when it accompanies a DPoP-bound access token.
pub(crate) fn proof(
    signer: &dyn DpopSigner,
    method: &str,
    htu: &str,
    iat: i64,
    nonce: Option<&str>,
    ath: Option<&str>,
) -> Result<String, Error> {
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": signer.public_jwk()});
    let mut claims = json!({"jti": uuid_v4()?, "htm": method, "htu": htu, "iat": iat});
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(ath) = ath {
        claims["ath"] = json!(ath);
    }
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = signer.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", b64(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exported_key_signs_with_the_same_public_key() {
        let key = SoftwareKey::generate().expect("key");
        let again = SoftwareKey::from_exported(&key.export().expect("software keys export"))
            .expect("import");
        assert_eq!(key.public_jwk(), again.public_jwk());
        assert!(!format!("{key:?}").contains(&key.export().expect("export")));
    }

    #[test]
    fn a_proof_has_the_profile_the_sdks_use() {
        let key = SoftwareKey::generate().expect("key");
        let proof = proof(
            &key,
            "POST",
            "https://x/v1/session/refresh",
            10,
            Some("n"),
            None,
        )
        .expect("proof");
        let parts: Vec<&str> = proof.split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(header["typ"], "dpop+jwt");
        assert!(header["jwk"].get("d").is_none());
        assert_eq!(
            (claims["htm"].as_str(), claims["iat"].as_i64()),
            (Some("POST"), Some(10))
        );
        assert_eq!(claims["nonce"], "n");
        assert_eq!(claims["jti"].as_str().map(str::len), Some(36));
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).expect("b64").len(), 64);
    }
}
