//! What a refresh yields: the access token and the profile read from its claims. Clients never
//! verify the signature (the backend does); they read `sub`, `sid` and the rest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Error;

/// Every claim of the access token.
pub type Profile = Map<String, Value>;

/// The signed-in user as of the last refresh. `Debug` redacts the access token.
#[derive(Clone, PartialEq)]
pub struct User {
    /// Bearer token for the app's backend.
    pub access_token: String,
    /// All claims of the access token (`sub`, `sid`, `scope`, custom claims, ...). Shared:
    /// every caller a coalesced refresh answers gets a copy of the `User`, and copying the
    /// claims for each would be most of what coalescing costs per caller.
    pub profile: Arc<Profile>,
    /// When the access token expires on the local clock (unix seconds, skew-corrected).
    pub expires_at: i64,
}

impl User {
    /// The user id (`sub`).
    pub fn user_id(&self) -> Option<&str> {
        self.profile.get("sub").and_then(Value::as_str)
    }

    /// The session id (`sid`).
    pub fn session_id(&self) -> Option<&str> {
        self.profile.get("sid").and_then(Value::as_str)
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("access_token", &"[redacted]")
            .field("sub", &self.user_id())
            .field("sid", &self.session_id())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Reads a JWT's claims without verifying it.
pub(crate) fn claims(token: &str) -> Result<Profile, Error> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::bad_response("the access token is not a JWT"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| Error::bad_response("the access token payload is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::bad_response(
            "the access token payload is not a JSON object",
        )),
    }
}
