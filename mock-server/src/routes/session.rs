//! `POST /v1/session/refresh` and `POST /v1/session/revoke` (logout): the routes that spend a
//! refresh token, both DPoP-bound to the session's key.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::{RequestLine, access_token, check_proof, logged_out, refresh_token, token_pair};
use crate::control::journal::Trace;
use crate::http::api_error::ApiError;
use crate::http::extract::Body;
use crate::state::AppState;
use crate::store::Spend;
use crate::{Reason, jose};

/// Optional refresh body; unknown members (Android sends `{}`) are ignored.
#[derive(Deserialize)]
pub(crate) struct RefreshBody {
    #[serde(default)]
    step_up_token: Option<String>,
}

fn spend(
    state: &AppState,
    line: &RequestLine<'_>,
    trace: &Trace,
    op: Spend,
) -> Result<crate::store::Spent, ApiError> {
    let policy = state.policy();
    let jkt = check_proof(state, line, trace, &policy, true)?
        .map(|p| p.jkt)
        .unwrap_or_default();
    let token = refresh_token(line.headers, &state.refresh_cookie()).ok_or_else(|| {
        ApiError::new(
            Reason::MissingRefreshToken,
            "send the refresh token in X-Refresh-Token",
        )
    })?;
    trace.update(|t| t.refresh_token = Some(jose::fingerprint(token)));
    let now = state.now();
    let result = state
        .store()
        .spend(token, &jkt, now, policy.reuse_grace_seconds, op);
    match result {
        Ok(spent) => {
            trace.update(|t| {
                t.session_id = Some(spent.session_id.clone());
                t.generation = Some(spent.generation);
                t.rotated = spent.rotated;
                t.grace_reissue = spent.grace_reissue;
            });
            Ok(spent)
        }
        Err((reason, facts)) => {
            trace.update(|t| {
                t.session_id = facts.session_id;
                t.generation = facts.generation;
            });
            let message = match reason {
                Reason::UnknownRefreshToken => "unknown refresh token",
                Reason::RefreshTokenReused => {
                    "refresh token was already used; the session has been revoked"
                }
                Reason::SessionRevoked => "the session has been revoked",
                Reason::SessionExpired => "the session has expired",
                Reason::UserBlocked => "the user is blocked",
                Reason::KeyMismatch => "DPoP key is not the key bound to this session",
                _ => "refresh token rejected",
            };
            Err(ApiError::new(reason, message))
        }
    }
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body<RefreshBody>,
) -> Result<Response, ApiError> {
    let line = RequestLine {
        method: &method,
        uri: &uri,
        headers: &headers,
    };
    if body.0.is_some_and(|b| b.step_up_token.is_some()) {
        return Err(ApiError::new(
            Reason::NotSupported,
            "step-up is not supported by this mock",
        ));
    }
    let spent = spend(&state, &line, &trace, Spend::Refresh)?;
    let now = state.now();
    let (token, exp) = access_token(
        &state,
        &spent.user_id,
        &spent.session_id,
        now,
        &state.policy(),
    );
    Ok(token_pair(
        &state,
        token,
        exp,
        spent.next_token.expose(),
        spent.expires_at,
    ))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    _body: Body<serde_json::Value>,
) -> Result<Response, ApiError> {
    let line = RequestLine {
        method: &method,
        uri: &uri,
        headers: &headers,
    };
    spend(&state, &line, &trace, Spend::Logout)?;
    Ok(logged_out(&state))
}
