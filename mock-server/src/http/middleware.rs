//! Middleware around every route: journal recording and fault injection (`observe`), the
//! `Date` and `DPoP-Nonce` headers from the virtual clock (`stamp`), and the header and body
//! limits (`limit_headers`, `limit_body`).
//! CORS lives in `cors`, the control API's access rules in `control::guard`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::Reason;
use crate::config::Limits;
use crate::control::faults::{FaultAction, HeaderEdits, amend_body};
use crate::control::journal::{JournalEntry, Trace, Verdict};
use crate::http::api_error::{ApiError, Rejection};
use crate::http::extract::MAX_BODY;
use crate::http::route::Route;
use crate::http::time_fmt::http_date;
use crate::http::wire::WireRequest;
use crate::state::AppState;

/// Longest `X-Device-Id` the journal keeps (a UUID is 36 characters).
const MAX_DEVICE_ID: usize = 128;

/// Largest total size of request headers answered normally.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Lets a handler's middleware close the underlying connection abruptly (fault injection).
/// Inserted into every request's extensions by the server's connection loop.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionControl(pub(crate) Arc<Notify>);

impl ConnectionControl {
    fn kill(&self) {
        self.0.notify_one();
    }
}

/// Records one journal entry per non-control request and applies queued faults.
pub(crate) async fn observe(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/__mock") {
        return next.run(req).await;
    }
    let seq = state.journal.next_seq();
    let at = state.now();
    let received_ms = state.journal.elapsed_ms();
    let route = Route::from_path(&path);
    let _in_flight = route.map(|r| state.journal.in_flight(r));
    let method = req.method().to_string();
    let device_id = req
        .headers()
        .get(crate::headers::DEVICE_ID)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(MAX_DEVICE_ID).collect::<String>());
    let trace = Trace::default();
    req.extensions_mut().insert(trace.clone());
    let connection = req.extensions().get::<ConnectionControl>().cloned();
    let (req, request) = if state.record_requests {
        match capture(req, &state.limits).await {
            Ok(captured) => captured,
            Err(response) => return response,
        }
    } else {
        (req, None)
    };

    let mut fault = route.and_then(|r| state.faults.take(r));
    let injected = fault.is_some();
    // A delay composes with the next fault queued for the route (a slow error, a slow reset).
    while let Some(FaultAction::Delay { ms }) = fault {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        fault = route.and_then(|r| state.faults.take_next(r));
    }
    let edits = fault
        .as_ref()
        .and_then(|f| f.header_edits().ok())
        .filter(|e| !e.is_empty());
    let (mut response, drop_detail) = match fault {
        None | Some(FaultAction::Delay { .. }) => (Some(next.run(req).await), None),
        Some(FaultAction::Error {
            status,
            code,
            message,
            retry_after,
            pad_to,
            ..
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut message =
                message.unwrap_or_else(|| "error injected by the mock's fault API".into());
            if let Some(size) = pad_to {
                // The body is the message plus its code and type: pad the message to the size.
                let padding = size.saturating_sub(message.len());
                message.push(' ');
                message.extend(std::iter::repeat_n('.', padding));
            }
            let mut response = ApiError::injected(status, code, message).into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            (Some(response), None)
        }
        Some(FaultAction::Reset) => (
            None,
            Some("connection reset by fault before handling".to_owned()),
        ),
        Some(FaultAction::CommitThenDrop) => {
            let committed = next.run(req).await;
            let detail = format!(
                "commit_then_drop: handled ({}), then the connection was reset",
                committed.status()
            );
            (None, Some(detail))
        }
        Some(FaultAction::CommitThenDelay { ms }) => {
            let committed = next.run(req).await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (Some(committed), None)
        }
        Some(FaultAction::Amend {
            merge, merge_each, ..
        }) => {
            let handled = next.run(req).await;
            (
                Some(amend(handled, merge.as_ref(), &merge_each).await),
                None,
            )
        }
    };
    if let (Some(response), Some(edits)) = (response.as_mut(), edits) {
        // Applied by `stamp`, after `Date` and `DPoP-Nonce` are set.
        response.extensions_mut().insert(edits);
    }

    let data = trace.take();
    let rejection = response
        .as_ref()
        .and_then(|r| r.extensions().get::<Rejection>().cloned());
    let entry = JournalEntry {
        seq,
        at,
        received_ms,
        method,
        path,
        route,
        status: response.as_ref().map(|r| r.status().as_u16()),
        code: rejection.as_ref().map(|r| r.code.clone()),
        verdict: match &response {
            None => Verdict::Dropped,
            Some(r) if r.status().is_success() => Verdict::Accepted,
            Some(_) => Verdict::Rejected,
        },
        reason: rejection.as_ref().map(|r| r.reason),
        detail: drop_detail.or(rejection.map(|r| r.message)),
        session_id: data.session_id,
        generation: data.generation,
        refresh_token: data.refresh_token,
        dpop: data.dpop,
        rotated: data.rotated,
        grace_reissue: data.grace_reissue,
        request,
        device_id,
        previous_refresh_token: data.previous_refresh_token,
        replaced_session: data.replaced_session,
    };
    tracing::info!(
        seq,
        method = %entry.method,
        path = %entry.path,
        status = ?entry.status,
        reason = ?entry.reason,
        "request"
    );
    state.journal.record(entry, data.session_created, injected);
    state.events.journal();

    match response {
        Some(mut response) => {
            response
                .headers_mut()
                .insert("x-request-id", HeaderValue::from(seq));
            response
        }
        None => match connection {
            Some(connection) => {
                connection.kill();
                // The connection task drops this future together with the connection.
                std::future::pending().await
            }
            None => ApiError::new(
                Reason::InjectedFault,
                "this fault needs a real connection (in-process router)",
            )
            .into_response(),
        },
    }
}

/// Stamps `Date` from the virtual clock and the current `DPoP-Nonce` on every response.
pub(crate) async fn stamp(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let now = state.now();
    let headers = response.headers_mut();
    if let Ok(date) = HeaderValue::from_str(&http_date(now)) {
        headers.insert(header::DATE, date);
    }
    if let Some(nonce) = state.nonces.current(now, &state.policy())
        && let Ok(nonce) = HeaderValue::from_str(&nonce)
    {
        headers.insert(crate::headers::DPOP_NONCE, nonce);
    }
    if let Some(edits) = response.extensions_mut().remove::<HeaderEdits>() {
        edits.apply(response.headers_mut());
    }
    response
}

/// The answer of an `amend` fault: a JSON object body with the patches merged in (any other
/// body is left as it is).
async fn amend(
    response: Response,
    merge: Option<&serde_json::Value>,
    each: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Response {
    if merge.is_none() && each.is_empty() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut json) if json.is_object() => {
            amend_body(&mut json, merge, each);
            parts.headers.remove(header::CONTENT_LENGTH);
            Bytes::from(serde_json::to_vec(&json).unwrap_or_default())
        }
        _ => bytes,
    };
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// Answers 431 with a Prelude error when the request headers are too large.
pub(crate) async fn limit_headers(req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::new(
            Reason::HeadersTooLarge,
            format!("request headers exceed {MAX_HEADER_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

/// The last line of "every answer is Prelude JSON": an error that a framework extractor
/// rendered as text (a path segment that is not UTF-8, say) is re-rendered, same status.
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let message = match String::from_utf8_lossy(&text).trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    ApiError::framework(status, message).into_response()
}

/// Reads the whole body up front, within the size limit and the body read timeout, so a
/// slow or oversized body gets its Prelude error here and handlers read from memory.
pub(crate) async fn limit_body(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match buffer(req, &state.limits).await {
        Ok((req, _)) => next.run(req).await,
        Err(error) => error.into_response(),
    }
}

async fn buffer(req: Request, limits: &Limits) -> Result<(Request, Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, MAX_BODY);
    let wait = Duration::from_millis(limits.body_read_timeout_ms);
    let bytes = match tokio::time::timeout(wait, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return Err(ApiError::new(
                Reason::BodyTooLarge,
                format!("the body is larger than {MAX_BODY} bytes, or was cut off"),
            ));
        }
        Err(_) => {
            return Err(ApiError::new(
                Reason::RequestTimeout,
                format!(
                    "the body did not arrive within {} ms",
                    limits.body_read_timeout_ms
                ),
            ));
        }
    };
    let req = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
    Ok((req, bytes))
}

/// Buffers the body so the request can be both recorded and handled.
async fn capture(
    req: Request,
    limits: &Limits,
) -> Result<(Request, Option<WireRequest>), Response> {
    let (req, bytes) = buffer(req, limits)
        .await
        .map_err(IntoResponse::into_response)?;
    let wire = WireRequest::capture(req.headers(), req.uri().query(), &bytes);
    Ok((req, Some(wire)))
}
