//! The one place Prelude error bodies are rendered: `{"code","message","type"}` with the
//! spec's status for each code. Every rejection carries a typed [`Reason`], which the journal
//! and the stats record, so a test can tell *why* the server said no, not just what it said.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Why the server rejected a request. Each reason maps to one Prelude error code and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// No `DPoP` header on a route that needs one.
    MissingProof,
    /// More than one `DPoP` header.
    MultipleProofs,
    /// Not a compact JWS, bad base64url, or not JSON.
    MalformedProof,
    /// JOSE `typ` is not `dpop+jwt`.
    WrongProofType,
    /// `alg` is not ES256 (none, symmetric and other algorithms included).
    UnsupportedAlgorithm,
    /// `jwk` missing or not a public EC P-256 key.
    InvalidJwk,
    /// `jwk` carries private key material.
    PrivateKeyInJwk,
    /// The JOSE header names a critical extension (`crit`, RFC 7515 §4.1.11); this server
    /// understands none, so the proof is invalid however well it is signed.
    UnsupportedCriticalHeader,
    /// The signature does not verify against the embedded key.
    BadSignature,
    /// `jti`, `htm`, `htu` or `iat` missing or of the wrong type.
    MissingClaim,
    /// `htm` differs from the request method.
    MethodMismatch,
    /// `htu` differs from the request URL (compared without query and fragment).
    UrlMismatch,
    /// `iat` older than the window.
    IatTooOld,
    /// `iat` further in the future than the window.
    IatInFuture,
    /// A proof with this `jti` (and key) was already accepted.
    ReplayedProof,
    /// The nonce policy needs a nonce and the proof has none.
    NonceMissing,
    /// The proof's nonce is unknown or no longer accepted.
    NonceStale,
    /// The proof is signed by another key than the one pinned to the session.
    KeyMismatch,
    /// The proof's `ath` is missing or is not the hash of the access token it came with.
    AccessTokenHashMismatch,
    /// A DPoP-bound access token was presented with the `Bearer` scheme.
    BoundTokenAsBearer,
    /// Neither `X-Refresh-Token` nor the refresh cookie.
    MissingRefreshToken,
    /// The refresh token was never issued here.
    UnknownRefreshToken,
    /// A rotated refresh token was presented again outside the grace window; the session is revoked.
    RefreshTokenReused,
    /// The session was revoked (logout, revoke, reuse, control API).
    SessionRevoked,
    /// The session's absolute lifetime is over.
    SessionExpired,
    /// The user was terminated through the control API.
    UserBlocked,
    /// No usable `Authorization: Bearer` header.
    MissingBearer,
    /// The bearer token does not verify or is not ours.
    InvalidAccessToken,
    /// The bearer token is past `exp`, or was expired through the control API.
    AccessTokenExpired,
    /// The body is not the JSON the route expects.
    MalformedBody,
    /// The body is larger than the server accepts.
    BodyTooLarge,
    /// The request headers are larger than the server accepts.
    HeadersTooLarge,
    /// The client took longer than the server waits to send the request.
    RequestTimeout,
    /// The request is not valid HTTP (bad request line, header or URI).
    MalformedRequest,
    /// The control API refused the request's `Host` (DNS rebinding guard) or `Origin`.
    ControlForbidden,
    /// `limit` is not an integer in 1..=100.
    InvalidPaginationLimit,
    /// `offset` is not a non-negative integer.
    InvalidPaginationOffset,
    /// `target` is missing or not one of all, others, mine, session.
    InvalidTarget,
    /// `target=session` without a (non-blank) `session_id`.
    MissingSessionId,
    /// No such session for this user.
    SessionNotFound,
    /// Unknown route.
    RouteNotFound,
    /// Known route, wrong method.
    MethodNotAllowed,
    /// Unknown identifier or wrong password.
    InvalidCredentials,
    /// Malformed or foreign challenge token, or not a session-start grant.
    InvalidChallenge,
    /// Challenge token past `exp`.
    ChallengeExpired,
    /// Challenge token already finalized.
    ChallengeReused,
    /// PKCE `code_verifier` missing or not matching the challenge's `pkce_challenge`.
    VerifierMismatch,
    /// The identifier is not an email address or phone number.
    InvalidIdentifier,
    /// No pending OTP verification for this cookie or `X-Verification-Token`.
    InvalidVerification,
    /// Wrong OTP code.
    BadCheckCode,
    /// A feature this mock does not implement (step-up).
    NotSupported,
    /// The control API token is missing or wrong.
    ControlUnauthorized,
    /// The control API request is invalid.
    InvalidControlRequest,
    /// A user with this email already exists.
    UserExists,
    /// No such object in the control API.
    NotFound,
    /// The answer was injected by a fault.
    InjectedFault,
}

impl Reason {
    /// HTTP status and Prelude error code for this reason.
    pub fn status_and_code(self) -> (StatusCode, &'static str) {
        use Reason::*;
        match self {
            MissingProof => (StatusCode::UNAUTHORIZED, "missing_dpop_proof"),
            MultipleProofs
            | MalformedProof
            | WrongProofType
            | UnsupportedAlgorithm
            | InvalidJwk
            | PrivateKeyInJwk
            | UnsupportedCriticalHeader
            | BadSignature
            | MissingClaim
            | MethodMismatch
            | UrlMismatch
            | IatTooOld
            | IatInFuture
            // 400, as at an OAuth token endpoint (RFC 9449 §5) and in Prelude's SDK fixtures;
            // the policy's `rfc9449_resource_errors` answers 401 on `/me/*` instead (§7.1).
            | ReplayedProof
            | AccessTokenHashMismatch => (StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
            NonceMissing | NonceStale => (StatusCode::BAD_REQUEST, "use_dpop_nonce"),
            KeyMismatch => (StatusCode::UNAUTHORIZED, "dpop_key_mismatch"),
            MissingRefreshToken | UnknownRefreshToken | RefreshTokenReused | SessionRevoked
            | SessionExpired | MissingBearer | InvalidAccessToken | AccessTokenExpired
            | BoundTokenAsBearer | InvalidCredentials | ControlUnauthorized => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            UserBlocked => (StatusCode::FORBIDDEN, "auth_blocked"),
            MalformedBody | InvalidTarget | MissingSessionId | InvalidControlRequest => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "bad_request"),
            HeadersTooLarge => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "bad_request"),
            RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "bad_request"),
            MalformedRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            ControlForbidden => (StatusCode::FORBIDDEN, "forbidden"),
            InvalidPaginationLimit => (StatusCode::BAD_REQUEST, "invalid_pagination_limit"),
            InvalidPaginationOffset => (StatusCode::BAD_REQUEST, "invalid_pagination_offset"),
            SessionNotFound | RouteNotFound | NotFound => (StatusCode::NOT_FOUND, "not_found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "bad_request"),
            InvalidChallenge => (StatusCode::BAD_REQUEST, "invalid_challenge_token"),
            ChallengeExpired => (StatusCode::BAD_REQUEST, "expired_challenge_token"),
            ChallengeReused => (StatusCode::CONFLICT, "token_reused"),
            VerifierMismatch => (StatusCode::BAD_REQUEST, "token_mismatch"),
            InvalidIdentifier => (StatusCode::BAD_REQUEST, "invalid_identifier"),
            InvalidVerification => (StatusCode::BAD_REQUEST, "invalid_verification_token"),
            BadCheckCode => (StatusCode::UNAUTHORIZED, "bad_check_code"),
            NotSupported => (StatusCode::FORBIDDEN, "not_configured"),
            UserExists => (StatusCode::CONFLICT, "identifier_already_exists"),
            InjectedFault => (StatusCode::SERVICE_UNAVAILABLE, "internal"),
        }
    }
}

/// The error family Prelude puts in `type`, derived from the status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        429 => "rate_limited",
        500..=599 => "internal",
        _ => "bad_request",
    }
}

/// The Prelude error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine code clients branch on (`unauthorized`, `invalid_dpop_proof`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Error family (`bad_request`, `unauthorized`, ...).
    #[serde(rename = "type")]
    pub kind: String,
}

/// What the journal middleware reads back from an error response.
#[derive(Clone, Debug)]
pub(crate) struct Rejection {
    pub(crate) reason: Reason,
    pub(crate) code: String,
    pub(crate) message: String,
}

/// An error answer from a handler. Renders as Prelude error JSON.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    reason: Reason,
    /// `WWW-Authenticate` for a resource server's DPoP challenge (RFC 9449 §7.1).
    www_authenticate: Option<String>,
}

impl ApiError {
    /// The standard answer for `reason`, with a human message.
    pub(crate) fn new(reason: Reason, message: impl Into<String>) -> Self {
        let (status, code) = reason.status_and_code();
        Self {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            reason,
            www_authenticate: None,
        }
    }

    /// The same error as a resource server answers it under RFC 9449 §7.1 and §9: a DPoP
    /// error (`use_dpop_nonce`, `invalid_dpop_proof`) becomes 401 with
    /// `WWW-Authenticate: DPoP error="…"`; the JSON body stays. Other errors are unchanged.
    pub(crate) fn into_resource_challenge(mut self) -> Self {
        if matches!(&*self.code, "use_dpop_nonce" | "invalid_dpop_proof") {
            self.status = StatusCode::UNAUTHORIZED;
            self.www_authenticate = Some(format!(
                "DPoP error=\"{}\", error_description=\"{}\", algs=\"ES256\"",
                self.code,
                self.message.replace(['"', '\\'], "'")
            ));
        }
        self
    }

    /// A framework's own error answer (an extractor's rejection), re-rendered as Prelude JSON
    /// with the same status.
    pub(crate) fn framework(status: StatusCode, message: String) -> Self {
        // The code agrees with `type` where Prelude has a code of that family.
        let code = match status.as_u16() {
            500..=599 => "internal",
            401 => "unauthorized",
            404 => "not_found",
            _ => "bad_request",
        };
        Self {
            status,
            code: Cow::Borrowed(code),
            message,
            reason: Reason::MalformedRequest,
            www_authenticate: None,
        }
    }

    /// An answer with a status and code chosen by a fault injection.
    pub(crate) fn injected(status: StatusCode, code: String, message: String) -> Self {
        Self {
            status,
            code: Cow::Owned(code),
            message,
            reason: Reason::InjectedFault,
            www_authenticate: None,
        }
    }
}

impl ApiError {
    /// The JSON body this error renders as.
    pub(crate) fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_string(),
            message: self.message.clone(),
            kind: error_type(self.status).to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(challenge) = self
            .www_authenticate
            .as_deref()
            .and_then(|c| axum::http::HeaderValue::from_str(c).ok())
        {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, challenge);
        }
        response.extensions_mut().insert(Rejection {
            reason: self.reason,
            code: self.code.into_owned(),
            message: self.message,
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpop_failures_map_to_the_spec_codes() {
        assert_eq!(
            Reason::NonceStale.status_and_code(),
            (StatusCode::BAD_REQUEST, "use_dpop_nonce")
        );
        assert_eq!(Reason::KeyMismatch.status_and_code().1, "dpop_key_mismatch");
        assert_eq!(
            Reason::MissingProof.status_and_code().1,
            "missing_dpop_proof"
        );
        assert_eq!(
            Reason::ReplayedProof.status_and_code().1,
            "invalid_dpop_proof"
        );
        assert_eq!(error_type(StatusCode::SERVICE_UNAVAILABLE), "internal");
    }
}
