//! HTTP plumbing around the handlers: the Prelude error bodies (one place), extractors that
//! fail with them, the typed route enum, middleware (journal, faults, `Date`/`DPoP-Nonce`,
//! header and body limits), CORS, request capture, wire time formats, TLS, and serving one
//! connection (timeouts, hyper's own rejections as JSON).
//! The handlers themselves are in `routes` (Prelude API) and `control` (control API).

pub(crate) mod api_error;
pub(crate) mod connection;
pub(crate) mod cors;
pub(crate) mod extract;
pub(crate) mod middleware;
pub(crate) mod route;
pub(crate) mod time_fmt;
pub(crate) mod tls;
pub(crate) mod wire;

/// The port a URL of `scheme` means when it names none.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}
