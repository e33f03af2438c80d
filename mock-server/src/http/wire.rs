//! Request capture for the journal (opt-in, `record_requests`): the headers and JSON body a
//! client sent, with every secret replaced by its fingerprint or a placeholder before it is
//! stored, so SDK authors can see (and snapshot) what their SDK puts on the wire.
//!
//! This module only redacts; the observing middleware decides when to capture.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jose::fingerprint;

/// Body fields whose values are secrets (`code`: the OTP a user was sent).
const SECRET_FIELDS: [&str; 7] = [
    "challenge_token",
    "refresh_token",
    "access_token",
    "step_up_token",
    "password",
    "code_verifier",
    "code",
];

/// What a client sent, redacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRequest {
    /// Header names (lowercase) and values; secrets as `<fp:…>` fingerprints, the DPoP proof
    /// as `<dpop proof>` (its claims are in the entry's `dpop`).
    pub headers: BTreeMap<String, String>,
    /// Query string, if any.
    pub query: Option<String>,
    /// The JSON body with secret fields replaced; a non-JSON body as `"<N bytes>"`.
    pub body: Option<Value>,
}

impl WireRequest {
    pub(crate) fn capture(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Self {
        let mut out = BTreeMap::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            let redacted = match name.as_str() {
                "authorization" => match value.split_once(' ') {
                    Some((scheme, token)) => format!("{scheme} <fp:{}>", fingerprint(token)),
                    None => format!("<fp:{}>", fingerprint(&value)),
                },
                crate::headers::REFRESH_TOKEN | crate::headers::VERIFICATION_TOKEN => {
                    format!("<fp:{}>", fingerprint(&value))
                }
                crate::headers::DPOP => "<dpop proof>".to_owned(),
                "cookie" => value
                    .split(';')
                    .map(|c| match c.trim().split_once('=') {
                        Some((k, v)) => format!("{k}=<fp:{}>", fingerprint(v)),
                        None => c.trim().to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => value.into_owned(),
            };
            out.entry(name.as_str().to_owned())
                .and_modify(|v: &mut String| {
                    v.push_str(", ");
                    v.push_str(&redacted);
                })
                .or_insert(redacted);
        }
        let body = (!body.is_empty()).then(|| match serde_json::from_slice::<Value>(body) {
            Ok(mut json) => {
                redact(&mut json);
                json
            }
            Err(_) => Value::String(format!("<{} bytes>", body.len())),
        });
        Self {
            headers: out,
            query: query.map(str::to_owned),
            body,
        }
    }
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match field {
                    Value::String(secret) if SECRET_FIELDS.contains(&key.as_str()) => {
                        *field = Value::String(format!("<fp:{}>", fingerprint(secret)));
                    }
                    _ => redact(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_capture() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "Bearer secret-access".parse().expect("header"),
        );
        headers.insert("x-refresh-token", "secret-refresh".parse().expect("header"));
        headers.insert(
            "x-verification-token",
            "secret-verification".parse().expect("header"),
        );
        headers.insert("dpop", "secret.proof.sig".parse().expect("header"));
        headers.insert(
            "cookie",
            "__refresh_app=secret-cookie; theme=dark"
                .parse()
                .expect("header"),
        );
        let body = br#"{"challenge_token":"secret-challenge","password":"secret-pw","identifier":"ada@example.com","code":"secret-otp"}"#;
        let wire = WireRequest::capture(&headers, None, body);
        let text = serde_json::to_string(&wire).expect("json");
        assert!(!text.contains("secret"), "{text}");
        assert!(
            text.contains("ada@example.com"),
            "non-secret fields stay: {text}"
        );
        assert!(wire.headers["authorization"].starts_with("Bearer <fp:"));
    }
}
