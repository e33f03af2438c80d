//! Login routes: email/password, finalize (which creates a session pinned to the DPoP key),
//! and both OTP generations (legacy `login/otp*`, current `otp*`).
//!
//! Step-up (`/otp` with a challenge token, `/refresh` with `step_up_token`) is not implemented
//! and answers 403 `not_configured`.

use aws_lc_rs::digest;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::{RequestLine, access_token, check_proof, cookie_value, refresh_token, token_pair};
use crate::control::journal::Trace;
use crate::http::api_error::ApiError;
use crate::http::extract::Body;
use crate::state::AppState;
use crate::store::{Device, NewSession, VerificationKind};
use crate::tokens::ChallengeClaims;
use crate::{Reason, jose};

/// Mints a `session-start` challenge token for a user (also used by the control API).
pub(crate) fn challenge_token(
    state: &AppState,
    user_id: &str,
    pkce_challenge: Option<String>,
    ttl: i64,
) -> String {
    let now = state.now();
    state.key.sign(&ChallengeClaims {
        iss: state.issuer.clone(),
        sub: user_id.to_owned(),
        exp: now.saturating_add(ttl),
        iat: now,
        jti: jose::random_token(16),
        challenge_id: format!("chl_{}", jose::random_token(12)),
        grant_mode: "session-start".into(),
        current_step: "completed".into(),
        pkce_challenge,
    })
}

fn device(headers: &HeaderMap) -> Device {
    let ua = ["x-sdk-user-agent", "user-agent"]
        .iter()
        .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .unwrap_or_default();
    let mut device = Device::from_user_agent(ua);
    device.install_id = headers
        .get(crate::headers::DEVICE_ID)
        .and_then(|v| v.to_str().ok())
        .map(|id| id.chars().take(128).collect());
    device
}

/// Creates a session for `user_id` pinned to the proof's key and answers with the token pair.
fn start_session(
    state: &AppState,
    trace: &Trace,
    headers: &HeaderMap,
    user_id: &str,
    jkt: &str,
) -> Result<Response, ApiError> {
    let policy = state.policy();
    let now = state.now();
    let (
        NewSession {
            session_id,
            user_id,
            refresh_token: token,
            expires_at,
        },
        previous,
        replaced,
    ) = {
        let mut store = state.store();
        let created = store
            .create_session(
                user_id,
                jkt,
                device(headers),
                now,
                policy.refresh_token_ttl_seconds,
            )
            .map_err(|reason| ApiError::new(reason, "cannot start a session for this user"))?;
        // A re-login may bring the previous session's refresh token (the native SDKs send it
        // as X-Refresh-Token): that session ends now, whichever key the new one is bound to
        // (the SDKs make a new key per login). A token of another user is ignored.
        let previous = refresh_token(headers, &state.refresh_cookie());
        let replaced = previous.and_then(|t| store.end_replaced_session(t, user_id, now));
        (created, previous.map(jose::fingerprint), replaced)
    };
    trace.update(|t| {
        t.session_id = Some(session_id.clone());
        t.generation = Some(0);
        t.session_created = true;
        t.previous_refresh_token = previous;
        t.replaced_session = replaced;
    });
    let (access, exp) = access_token(state, &user_id, &session_id, now, &policy);
    Ok(token_pair(state, access, exp, token.expose(), expires_at))
}

#[derive(Deserialize)]
pub(crate) struct FinalizeBody {
    challenge_token: String,
    #[serde(default)]
    code_verifier: Option<String>,
}

fn s256(verifier: &str) -> String {
    jose::b64(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

pub(crate) async fn finalize(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body<FinalizeBody>,
) -> Result<Response, ApiError> {
    let body = body.required()?;
    let policy = state.policy();
    let line = RequestLine {
        method: &method,
        uri: &uri,
        headers: &headers,
    };
    let jkt = check_proof(&state, &line, &trace, &policy, true)?
        .map(|p| p.jkt)
        .unwrap_or_default();
    let invalid = || ApiError::new(Reason::InvalidChallenge, "the challenge token is not valid");
    let claims: ChallengeClaims = state
        .key
        .verify(&body.challenge_token, state.now())
        .ok_or_else(invalid)?;
    if claims.grant_mode != "session-start" || claims.iss != state.issuer {
        return Err(invalid());
    }
    if claims.exp <= state.now() {
        return Err(ApiError::new(
            Reason::ChallengeExpired,
            "the challenge token has expired",
        ));
    }
    if let Some(challenge) = &claims.pkce_challenge {
        let matches = body
            .code_verifier
            .as_deref()
            .is_some_and(|v| s256(v) == *challenge);
        if !matches {
            return Err(ApiError::new(
                Reason::VerifierMismatch,
                "code_verifier does not match the challenge's PKCE challenge",
            ));
        }
    }
    if !state.store().spend_challenge(&claims.jti) {
        return Err(ApiError::new(
            Reason::ChallengeReused,
            "the challenge token was already used",
        ));
    }
    start_session(&state, &trace, &headers, &claims.sub, &jkt)
}

#[derive(Deserialize)]
pub(crate) struct PasswordBody {
    identifier: String,
    password: String,
}

pub(crate) async fn password(
    State(state): State<AppState>,
    body: Body<PasswordBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.required()?;
    let user_id = state
        .store()
        .check_password(&body.identifier, &body.password)
        .map_err(|reason| match reason {
            Reason::UserBlocked => ApiError::new(reason, "the user is blocked"),
            _ => ApiError::new(reason, "unknown identifier or wrong password"),
        })?;
    let ttl = state.policy().challenge_ttl_seconds;
    Ok(Json(
        json!({"challenge_token": challenge_token(&state, &user_id, None, ttl)}),
    ))
}

#[derive(Deserialize)]
pub(crate) struct Identifier {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Deserialize)]
pub(crate) struct OtpStartBody {
    #[serde(default)]
    identifier: Option<Identifier>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    challenge_token: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct OtpCheckBody {
    code: String,
    #[serde(default)]
    challenge_token: Option<String>,
}

fn step_up_unsupported() -> ApiError {
    ApiError::new(
        Reason::NotSupported,
        "step-up is not supported by this mock",
    )
}

/// Starts a verification and answers 204 with `X-Verification-Token` and the cookie.
fn start_otp(
    state: &AppState,
    body: Body<OtpStartBody>,
    kind: VerificationKind,
) -> Result<Response, ApiError> {
    let body = body.required()?;
    if body.challenge_token.is_some() {
        return Err(step_up_unsupported());
    }
    let identifier = body
        .identifier
        .ok_or_else(|| ApiError::new(Reason::MalformedBody, "identifier is required"))?;
    let now = state.now();
    let mut store = state.store();
    let user_id = store
        .user_for_identifier(&identifier.kind, &identifier.value)
        .map_err(|reason| {
            ApiError::new(
                reason,
                "identifier must be an email address or phone number",
            )
        })?;
    let code_challenge = body
        .code_challenge
        .filter(|_| kind == VerificationKind::Standalone);
    let id = store.start_verification(user_id, kind, code_challenge, now.saturating_add(600));
    drop(store);
    let cookie = format!(
        "{}={id}; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax",
        state.verification_cookie()
    );
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    if let (Ok(token), Ok(cookie)) = (HeaderValue::from_str(&id), HeaderValue::from_str(&cookie)) {
        headers.insert(crate::headers::VERIFICATION_TOKEN, token);
        headers.insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The pending verification named by `X-Verification-Token` or a verification cookie.
fn verification_id<'a>(state: &AppState, headers: &'a HeaderMap) -> Result<&'a str, ApiError> {
    let app = &state.app_id;
    headers
        .get(crate::headers::VERIFICATION_TOKEN)
        .and_then(|v| v.to_str().ok())
        .or_else(|| cookie_value(headers, &state.verification_cookie()))
        .or_else(|| cookie_value(headers, &format!("__Host-verification-login_{app}")))
        .ok_or_else(|| ApiError::new(Reason::InvalidVerification, "no pending OTP verification"))
}

fn check_code(
    state: &AppState,
    headers: &HeaderMap,
    code: &str,
    kind: VerificationKind,
) -> Result<String, ApiError> {
    let id = verification_id(state, headers)?;
    let now = state.now();
    state
        .store()
        .verification_alive(id, kind, now)
        .map_err(|r| ApiError::new(r, "no pending OTP verification"))?;
    if code != state.policy().otp_code {
        return Err(ApiError::new(Reason::BadCheckCode, "wrong code"));
    }
    Ok(id.to_owned())
}

fn retry_otp(
    state: &AppState,
    headers: &HeaderMap,
    kind: VerificationKind,
) -> Result<StatusCode, ApiError> {
    let id = verification_id(state, headers)?;
    state
        .store()
        .verification_alive(id, kind, state.now())
        .map_err(|r| ApiError::new(r, "no pending OTP verification"))?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn legacy_start(
    State(state): State<AppState>,
    body: Body<OtpStartBody>,
) -> Result<Response, ApiError> {
    start_otp(&state, body, VerificationKind::Legacy)
}

/// Legacy check finalizes directly (the JS SDK signs it and reads a token pair).
pub(crate) async fn legacy_check(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body<OtpCheckBody>,
) -> Result<Response, ApiError> {
    let body = body.required()?;
    let policy = state.policy();
    let line = RequestLine {
        method: &method,
        uri: &uri,
        headers: &headers,
    };
    let jkt = check_proof(&state, &line, &trace, &policy, true)?
        .map(|p| p.jkt)
        .unwrap_or_default();
    let id = check_code(&state, &headers, &body.code, VerificationKind::Legacy)?;
    let (user_id, _) = state
        .store()
        .complete_verification(&id, VerificationKind::Legacy, state.now())
        .map_err(|r| ApiError::new(r, "no pending OTP verification"))?;
    start_session(&state, &trace, &headers, &user_id, &jkt)
}

pub(crate) async fn legacy_retry(
    State(state): State<AppState>,
    headers: HeaderMap,
    _body: Body<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    retry_otp(&state, &headers, VerificationKind::Legacy)
}

pub(crate) async fn otp_start(
    State(state): State<AppState>,
    body: Body<OtpStartBody>,
) -> Result<Response, ApiError> {
    start_otp(&state, body, VerificationKind::Standalone)
}

/// Current check answers with a challenge token to finalize (PKCE-bound if started with one).
pub(crate) async fn otp_check(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body<OtpCheckBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.required()?;
    if body.challenge_token.is_some() {
        return Err(step_up_unsupported());
    }
    let id = check_code(&state, &headers, &body.code, VerificationKind::Standalone)?;
    let (user_id, code_challenge) = state
        .store()
        .complete_verification(&id, VerificationKind::Standalone, state.now())
        .map_err(|r| ApiError::new(r, "no pending OTP verification"))?;
    let ttl = state.policy().challenge_ttl_seconds;
    Ok(Json(
        json!({"challenge_token": challenge_token(&state, &user_id, code_challenge, ttl)}),
    ))
}

pub(crate) async fn otp_retry(
    State(state): State<AppState>,
    headers: HeaderMap,
    _body: Body<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    retry_otp(&state, &headers, VerificationKind::Standalone)
}
