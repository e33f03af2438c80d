//! Request extractors that fail with Prelude errors instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::Reason;
use crate::http::api_error::ApiError;

/// Largest body a route accepts.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// An optional JSON body: an empty (or all-whitespace) body is `None`, whatever the
/// `Content-Type` says, because browsers send empty bodies labelled `application/json`.
pub(crate) struct Body<T>(pub(crate) Option<T>);

impl<T> Body<T> {
    /// The body, or `MalformedBody` when the route needs one.
    pub(crate) fn required(self) -> Result<T, ApiError> {
        self.0
            .ok_or_else(|| ApiError::new(Reason::MalformedBody, "a JSON body is required"))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    Reason::BodyTooLarge,
                    format!("body exceeds {MAX_BODY} bytes"),
                )
            } else {
                ApiError::new(Reason::MalformedBody, "the body could not be read")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| Self(Some(v)))
            .map_err(|e| {
                ApiError::new(
                    Reason::MalformedBody,
                    format!("body is not the JSON this route expects: {e}"),
                )
            })
    }
}
