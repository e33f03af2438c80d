//! `GET /v1/session/me/list` and `POST /v1/session/me/revoke`: bearer-authenticated views of
//! the caller's own sessions.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::{RequestLine, authenticate};
use crate::Reason;
use crate::control::journal::Trace;
use crate::http::api_error::ApiError;
use crate::http::extract::Body;
use crate::state::AppState;
use crate::store::RevokeTarget;

type QueryMap = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

fn query(q: QueryMap) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(map)| map)
        .map_err(|_| ApiError::new(Reason::MalformedBody, "the query string is not valid"))
}

fn number(
    params: &HashMap<String, String>,
    name: &str,
    default: i64,
    valid: impl Fn(i64) -> bool,
    reason: Reason,
) -> Result<i64, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(default);
    };
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| valid(*n))
        .ok_or_else(|| {
            let message = match reason {
                Reason::InvalidPaginationLimit => "limit must be an integer from 1 to 100",
                _ => "offset must be a non-negative integer",
            };
            ApiError::new(reason, message)
        })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    params: QueryMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = authenticate(
        &state,
        &RequestLine {
            method: &method,
            uri: &uri,
            headers: &headers,
        },
        &trace,
    )?;
    let params = query(params)?;
    let limit = number(
        &params,
        "limit",
        10,
        |n| (1..=100).contains(&n),
        Reason::InvalidPaginationLimit,
    )?;
    let offset = number(
        &params,
        "offset",
        0,
        |n| n >= 0,
        Reason::InvalidPaginationOffset,
    )?;
    let (sessions, total) = state.store().list_sessions(
        &caller.user_id,
        state.now(),
        usize::try_from(limit).unwrap_or(10),
        usize::try_from(offset).unwrap_or(usize::MAX),
    );
    Ok(Json(
        json!({"sessions": sessions, "total": total, "limit": limit, "offset": offset}),
    ))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    params: QueryMap,
    _body: Body<serde_json::Value>,
) -> Result<Response, ApiError> {
    let caller = authenticate(
        &state,
        &RequestLine {
            method: &method,
            uri: &uri,
            headers: &headers,
        },
        &trace,
    )?;
    let params = query(params)?;
    let target = match params.get("target").map(String::as_str) {
        Some("all") => RevokeTarget::All,
        Some("others") => RevokeTarget::Others,
        Some("mine") => RevokeTarget::Mine,
        Some("session") => match params.get("session_id").map(|s| s.trim()) {
            Some(id) if !id.is_empty() => RevokeTarget::Session(id.to_owned()),
            _ => {
                return Err(ApiError::new(
                    Reason::MissingSessionId,
                    "target=session needs a session_id",
                ));
            }
        },
        _ => {
            return Err(ApiError::new(
                Reason::InvalidTarget,
                "target must be one of all, others, mine, session",
            ));
        }
    };
    state
        .store()
        .revoke_target(&caller.user_id, &caller.sid, &target, state.now())
        .map_err(|reason| ApiError::new(reason, "no such active session for this user"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
