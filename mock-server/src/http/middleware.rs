//! Middleware around every route: journal recording and fault injection (`observe`), the
//! `Date` and `DPoP-Nonce` headers from the virtual clock (`stamp`), the header-size limit,
//! and the control API's bearer token. CORS lives in `cors`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::Reason;
use crate::control::faults::FaultAction;
use crate::control::journal::{JournalEntry, Trace, Verdict};
use crate::http::api_error::{ApiError, Rejection};
use crate::http::route::Route;
use crate::http::time_fmt::http_date;
use crate::http::wire::WireRequest;
use crate::state::AppState;

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
    let trace = Trace::default();
    req.extensions_mut().insert(trace.clone());
    let connection = req.extensions().get::<ConnectionControl>().cloned();
    let (req, request) = if state.record_requests {
        match capture(req).await {
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
        fault = route.and_then(|r| state.faults.take(r));
    }
    let (response, drop_detail) = match fault {
        None | Some(FaultAction::Delay { .. }) => (Some(next.run(req).await), None),
        Some(FaultAction::Error {
            status,
            code,
            message,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let message =
                message.unwrap_or_else(|| "error injected by the mock's fault API".into());
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
    };

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
    response
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

/// Requires `Authorization: Bearer <control token>` when the server has one.
pub(crate) async fn control_auth(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &state.control_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let ok = aws_lc_rs::constant_time::verify_slices_are_equal(
            given.as_bytes(),
            expected.as_bytes(),
        )
        .is_ok();
        if !ok {
            return ApiError::new(
                Reason::ControlUnauthorized,
                "the control API needs its bearer token",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Buffers the body so the request can be both recorded and handled.
async fn capture(req: Request) -> Result<(Request, Option<WireRequest>), Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::http::extract::MAX_BODY + 1)
        .await
        .map_err(|_| {
            ApiError::new(Reason::BodyTooLarge, "request body is too large").into_response()
        })?;
    let wire = WireRequest::capture(&parts.headers, parts.uri.query(), &bytes);
    Ok((
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        Some(wire),
    ))
}
