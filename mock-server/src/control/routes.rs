//! The control API under `/__mock/` (documented in `docs/control-api.md`): users and login
//! challenges, policy, clock, faults, session control, journal, stats, reset. Not journaled.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Reason;
use crate::clock::ClockReading;
use crate::config::Policy;
use crate::control::faults::Fault;
use crate::http::api_error::ApiError;
use crate::http::extract::Body;
use crate::http::route::Route;
use crate::routes::login::challenge_token;
use crate::state::AppState;
use crate::store::{Device, DeviceType};

/// The control routes. A successful change is announced to the dashboards (`ui::notify`),
/// on these routes only, so the Prelude routes' path pays nothing for it.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/__mock/users", get(users).post(create_user))
        .route("/__mock/users/{id}/terminate", post(terminate_user))
        .route("/__mock/challenges", post(create_challenge))
        .route(
            "/__mock/policy",
            get(policy).put(put_policy).patch(patch_policy),
        )
        .route("/__mock/clock", get(clock).put(set_clock))
        .route("/__mock/clock/advance", post(advance_clock))
        .route(
            "/__mock/faults",
            get(faults).post(add_fault).delete(clear_faults),
        )
        .route("/__mock/sessions", get(sessions).post(create_session))
        .route("/__mock/sessions/{id}/expire-access", post(expire_access))
        .route("/__mock/sessions/{id}/revoke", post(revoke_session))
        .route("/__mock/journal", get(journal).delete(clear_journal))
        .route("/__mock/stats", get(stats))
        .route("/__mock/signing-keys/rotate", post(rotate_signing_key))
        .route("/__mock/reset", post(reset))
        .merge(super::ui::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            super::ui::notify,
        ))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Reason::InvalidControlRequest, message)
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(Reason::NotFound, format!("no such {what}"))
}

async fn users(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"users": state.store().users()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    password: String,
    #[serde(default)]
    phone_number: Option<String>,
}

async fn create_user(
    State(state): State<AppState>,
    body: Body<NewUser>,
) -> Result<Response, ApiError> {
    let user = body.required()?;
    let created = state
        .store()
        .create_user(&user.email, &user.password, user.phone_number)
        .map_err(|reason| match reason {
            Reason::UserExists => ApiError::new(reason, "a user with this email already exists"),
            _ => invalid("email must be an email address"),
        })?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn terminate_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store()
        .block_user(&id)
        .map_err(|_| not_found("user"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewChallenge {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// S256 PKCE challenge the finalize call must answer with its `code_verifier`.
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    ttl_seconds: Option<i64>,
}

async fn create_challenge(
    State(state): State<AppState>,
    body: Body<NewChallenge>,
) -> Result<Json<Value>, ApiError> {
    let request = body.required()?;
    let user = {
        let store = state.store();
        match (&request.user_id, &request.email) {
            (Some(id), None) => store.user(id),
            (None, Some(email)) => store.user_by_email(email),
            _ => return Err(invalid("give exactly one of user_id and email")),
        }
    };
    let user = user.ok_or_else(|| not_found("user"))?;
    let ttl = request
        .ttl_seconds
        .unwrap_or(state.policy().challenge_ttl_seconds);
    if ttl <= 0 {
        return Err(invalid("ttl_seconds must be positive"));
    }
    let token = challenge_token(&state, &user.id, request.code_challenge, ttl);
    Ok(Json(json!({"challenge_token": token, "user_id": user.id})))
}

async fn policy(State(state): State<AppState>) -> Json<Policy> {
    Json(state.policy())
}

fn apply_policy(state: &AppState, policy: Policy) -> Result<Json<Policy>, ApiError> {
    policy.validate().map_err(invalid)?;
    state.set_policy(policy.clone());
    Ok(Json(policy))
}

async fn put_policy(
    State(state): State<AppState>,
    body: Body<Policy>,
) -> Result<Json<Policy>, ApiError> {
    apply_policy(&state, body.required()?)
}

/// Merges the given members into the current policy.
async fn patch_policy(
    State(state): State<AppState>,
    body: Body<serde_json::Map<String, Value>>,
) -> Result<Json<Policy>, ApiError> {
    let patch = body.required()?;
    let mut current = serde_json::to_value(state.policy())
        .map_err(|_| invalid("policy could not be serialised"))?;
    if let Value::Object(members) = &mut current {
        members.extend(patch);
    }
    let policy: Policy =
        serde_json::from_value(current).map_err(|e| invalid(format!("invalid policy: {e}")))?;
    apply_policy(&state, policy)
}

async fn clock(State(state): State<AppState>) -> Json<ClockReading> {
    Json(state.clock.reading())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetClock {
    now: i64,
    #[serde(default)]
    frozen: Option<bool>,
}

async fn set_clock(
    State(state): State<AppState>,
    body: Body<SetClock>,
) -> Result<Json<ClockReading>, ApiError> {
    let request = body.required()?;
    let frozen = request.frozen.unwrap_or(state.clock.reading().frozen);
    state.clock.set(request.now, frozen);
    Ok(Json(state.clock.reading()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(
    State(state): State<AppState>,
    body: Body<Advance>,
) -> Result<Json<ClockReading>, ApiError> {
    state.clock.advance(body.required()?.seconds);
    Ok(Json(state.clock.reading()))
}

async fn faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"faults": state.faults.list()}))
}

async fn add_fault(
    State(state): State<AppState>,
    body: Body<Fault>,
) -> Result<StatusCode, ApiError> {
    let fault = body.required()?;
    fault.validate().map_err(invalid)?;
    state.faults.push(fault);
    Ok(StatusCode::CREATED)
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

async fn sessions(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"sessions": state.store().sessions()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDeviceSession {
    user_id: String,
    /// Guessed from it like a login's `User-Agent` when the fields below are absent.
    #[serde(default)]
    user_agent: Option<String>,
    /// Any string: values Prelude does not document test how SDKs fold unknown types.
    #[serde(default)]
    device_type: Option<String>,
    #[serde(default)]
    device_model: Option<String>,
    #[serde(default)]
    os_version: Option<String>,
}

/// Creates a session for another device of a user, as if it had logged in elsewhere (its DPoP
/// key is a random thumbprint no client holds).
async fn create_session(
    State(state): State<AppState>,
    body: Body<NewDeviceSession>,
) -> Result<Response, ApiError> {
    let request = body.required()?;
    let mut device = Device::from_user_agent(request.user_agent.as_deref().unwrap_or_default());
    if let Some(kind) = request.device_type {
        device.kind = DeviceType::from(kind.as_str());
    }
    if let Some(model) = request.device_model {
        device.model = model;
    }
    if let Some(version) = request.os_version {
        device.os_version = version;
    }
    let now = state.now();
    let ttl = state.policy().refresh_token_ttl_seconds;
    let jkt = crate::jose::random_token(32);
    let created = state
        .store()
        .create_session(&request.user_id, &jkt, device, now, ttl)
        .map_err(|_| not_found("active user"))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"session_id": created.session_id, "user_id": created.user_id})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotate {
    /// How long the retired key stays published and verifying (virtual seconds).
    #[serde(default = "default_overlap")]
    overlap_seconds: i64,
}

fn default_overlap() -> i64 {
    3600
}

/// Makes a fresh access-token signing key current; the old one stays in the JWKS and keeps
/// verifying for the overlap.
async fn rotate_signing_key(
    State(state): State<AppState>,
    body: Body<Rotate>,
) -> Result<Json<Value>, ApiError> {
    let overlap = body.0.map_or_else(default_overlap, |r| r.overlap_seconds);
    if overlap < 0 {
        return Err(invalid("overlap_seconds must not be negative"));
    }
    let kid = state
        .key
        .rotate(state.now(), overlap)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Json(json!({"kid": kid, "overlap_seconds": overlap})))
}

async fn expire_access(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    state
        .store()
        .expire_access(&id, now)
        .map_err(|_| not_found("session"))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store()
        .revoke_session(&id)
        .map_err(|_| not_found("session"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct JournalQuery {
    #[serde(default)]
    since: u64,
    #[serde(default)]
    route: Option<Route>,
}

async fn journal(
    State(state): State<AppState>,
    query: Result<Query<JournalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| invalid(format!("invalid journal query: {e}")))?;
    Ok(Json(
        json!({"entries": state.journal.entries(query.since, query.route)}),
    ))
}

async fn clear_journal(State(state): State<AppState>) -> StatusCode {
    state.journal.clear();
    StatusCode::NO_CONTENT
}

async fn stats(State(state): State<AppState>) -> Response {
    let mut stats = state.journal.stats();
    let (sessions, refresh_tokens) = state.store().footprint();
    stats.footprint.sessions = sessions;
    stats.footprint.refresh_tokens = refresh_tokens;
    stats.footprint.replay_cache = state.replay.len() as u64;
    let mut response = Json(stats).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn reset(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    state.reset().map_err(|e| invalid(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}
