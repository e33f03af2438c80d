//! `GET /.well-known/jwks.json`: the public key access tokens verify with.

use axum::Json;
use axum::extract::State;

use crate::state::AppState;

pub(crate) async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.key.jwks(state.now()))
}
