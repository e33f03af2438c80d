//! Who may use the control API: the bearer token (compared in constant time), the `Host` the
//! request names (a DNS-rebinding guard), and the `Origin` of browser callers (no CORS unless
//! the origin is configured). It owns these checks for `/__mock` only; the Prelude routes are
//! open to any origin, as Prelude's are (see `http::cors`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::ServerConfig;
use crate::http::api_error::ApiError;
use crate::http::{cors, default_port};
use crate::state::AppState;
use crate::{Reason, Secret};

/// The control API's access rules, fixed at start-up.
#[derive(Debug)]
pub(crate) struct ControlAccess {
    token: Option<Secret>,
    origins: Vec<String>,
    hosts: Vec<String>,
}

impl ControlAccess {
    pub(crate) fn new(config: &ServerConfig) -> Self {
        Self {
            token: config.control_token.clone(),
            origins: config
                .control_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            hosts: config
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether `Authorization` carries the token (always true without one). Both sides are
    /// hashed first so the comparison's time does not even depend on the lengths.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let digest = |s: &str| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
        aws_lc_rs::constant_time::verify_slices_are_equal(
            digest(given).as_ref(),
            digest(expected.expose()).as_ref(),
        )
        .is_ok()
    }

    /// A rebinding attack reaches us under the attacker's own name; IP literals and loopback
    /// names cannot be rebound, configured names are the operator's choice.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        host.parse::<std::net::IpAddr>().is_ok()
            || host == "localhost"
            || host.ends_with(".localhost")
            || self.hosts.contains(&host)
    }

    /// Same-origin pages (a dashboard served by the mock itself) and configured origins.
    fn origin_allowed(&self, origin: &str, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.origins.iter().any(|o| o == "*" || *o == origin) {
            return true;
        }
        let Ok(uri) = origin.parse::<Uri>() else {
            return false;
        };
        uri.scheme_str() == Some(scheme)
            && uri.host() == Some(host)
            && uri.port_u16().or_else(|| default_port(scheme)) == port
    }
}

/// The host and port the request was addressed to: `:authority` on HTTP/2, `Host` on 1.1.
fn addressed_to(req: &Request) -> Option<(String, Option<u16>)> {
    if let Some(host) = req.uri().host() {
        return Some((host.to_ascii_lowercase(), req.uri().port_u16()));
    }
    let value = req.headers().get(header::HOST)?.to_str().ok()?;
    let authority: axum::http::uri::Authority = value.parse().ok()?;
    Some((authority.host().to_ascii_lowercase(), authority.port_u16()))
}

/// Applies the rules to every `/__mock` request, and locks its answer down
/// (`ui::lock_down`), refusals included; other paths pass untouched.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/__mock") {
        return next.run(req).await;
    }
    let mut response = check(&state, req, next).await;
    super::ui::lock_down(response.headers_mut());
    response
}

async fn check(state: &AppState, req: Request, next: Next) -> Response {
    let access = &state.control;
    let forbidden =
        |message: &str| ApiError::new(Reason::ControlForbidden, message).into_response();
    // No Host at all is no browser (HTTP/1.0, or the in-process router): nothing to rebind.
    let (host, port) = addressed_to(&req).unwrap_or_default();
    // Brackets are part of an IPv6 authority but not of the address.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if !host.is_empty() && !access.host_allowed(bare) {
        return forbidden(&format!(
            "the control API does not answer to host {host:?}; add it with --allowed-host"
        ));
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("null").to_owned());
    if let Some(origin) = &origin
        && !access.origin_allowed(
            origin,
            state.scheme,
            &host,
            port.or_else(|| default_port(state.scheme)),
        )
    {
        // Refused outright, not just left without CORS headers: a cross-origin form POST
        // would otherwise still reset or steer the server without reading the answer.
        return forbidden(&format!(
            "the control API does not answer pages from {origin}; add it with --control-origin"
        ));
    }
    let mut response = if cors::is_preflight(&req) {
        cors::preflight()
    } else if crate::control::is_public(req.method(), req.uri().path())
        || access.authorized(req.headers())
    {
        next.run(req).await
    } else {
        ApiError::new(
            Reason::ControlUnauthorized,
            "the control API needs its bearer token",
        )
        .into_response()
    };
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        cors::allow(response.headers_mut(), origin);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(origins: &[&str], hosts: &[&str]) -> ControlAccess {
        ControlAccess::new(&ServerConfig {
            control_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..ServerConfig::default()
        })
    }

    #[test]
    fn only_names_that_cannot_be_rebound_or_were_configured_are_hosts() {
        let access = access(&[], &["Mock.Internal"]);
        for host in [
            "127.0.0.1",
            "::1",
            "10.0.0.7",
            "localhost",
            "a.localhost",
            "mock.internal",
        ] {
            assert!(access.host_allowed(host), "{host}");
        }
        for host in [
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
        ] {
            assert!(!access.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn origins_are_the_mock_itself_or_configured_ones() {
        let access = access(&["https://dash.example/"], &[]);
        let port = Some(8910);
        assert!(access.origin_allowed("http://127.0.0.1:8910", "http", "127.0.0.1", port));
        assert!(access.origin_allowed("https://DASH.example", "http", "127.0.0.1", port));
        assert!(!access.origin_allowed("http://127.0.0.1:8911", "http", "127.0.0.1", port));
        assert!(!access.origin_allowed("https://127.0.0.1:8910", "http", "127.0.0.1", port));
        assert!(!access.origin_allowed("null", "http", "127.0.0.1", port));
        let any = ControlAccess::new(&ServerConfig {
            control_origins: vec!["*".into()],
            ..ServerConfig::default()
        });
        assert!(any.origin_allowed("https://anything.example", "http", "127.0.0.1", port));
    }
}
