//! CORS for browser SDKs (spec: browser-client.md): reflect the Origin with credentials on
//! every response, errors included, answer preflights, and expose the headers SDKs read.
//! The control API is not open this way: `control::guard` decides which origins it answers
//! and uses [`preflight`] and [`allow`] for those.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type, DPoP, X-Refresh-Token, \
     X-SDK-User-Agent, X-Verification-Token, X-App-Id, X-Device-Id";
const EXPOSE_HEADERS: &str = "DPoP-Nonce, X-Refresh-Token, X-Refresh-Token-Expires-At, X-Verification-Token, Date, X-Request-Id";

pub(crate) async fn cors(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/__mock") {
        return next.run(req).await;
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut response = if is_preflight(&req) {
        preflight()
    } else {
        next.run(req).await
    };
    if let Some(origin) = origin {
        allow(response.headers_mut(), origin);
    }
    response
}

/// Whether `req` is a CORS preflight (an `OPTIONS` asking about another method).
pub(crate) fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a CORS preflight: every method and header the API uses, cached 10 minutes.
pub(crate) fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// Lets `origin` read the answer, with credentials.
pub(crate) fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    // `*` does not work with credentials: reflect the caller's origin instead.
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}
