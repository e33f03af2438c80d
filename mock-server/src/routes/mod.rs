//! The HTTP surface: Prelude routes, JWKS and the control API, assembled into one `Router` by
//! [`build`], plus the helpers handlers share (proof checks, bearer auth, token-pair answers).

pub(crate) mod login;
mod me;
mod session;
mod well_known;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::config::Policy;
use crate::control::journal::Trace;
use crate::dpop::{self, Expected, Presented, Verifier};
use crate::http::api_error::ApiError;
use crate::http::extract::MAX_BODY;
use crate::http::middleware;
use crate::http::route::Route;
use crate::http::time_fmt::{http_date, iso8601};
use crate::state::AppState;
use crate::tokens::AccessClaims;
use crate::{Reason, jose};

/// Builds the whole application for `state`.
pub(crate) fn build(state: AppState) -> Router {
    let prelude = Router::new()
        .route(Route::Refresh.path(), post(session::refresh))
        .route(Route::Revoke.path(), post(session::revoke))
        .route(Route::MeList.path(), get(me::list))
        .route(Route::MeRevoke.path(), post(me::revoke))
        .route(Route::LoginFinalize.path(), post(login::finalize))
        .route(Route::LoginPassword.path(), post(login::password))
        .route(Route::LoginOtp.path(), post(login::legacy_start))
        .route(Route::LoginOtpCheck.path(), post(login::legacy_check))
        .route(Route::LoginOtpRetry.path(), post(login::legacy_retry))
        .route(Route::Otp.path(), post(login::otp_start))
        .route(Route::OtpCheck.path(), post(login::otp_check))
        .route(Route::OtpRetry.path(), post(login::otp_retry))
        .route(Route::Jwks.path(), get(well_known::jwks));
    prelude
        .merge(crate::control::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::limit_body,
        ))
        .layer(axum::middleware::from_fn(middleware::limit_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(axum::middleware::from_fn(crate::http::cors::cors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::control::guard::guard,
        ))
        // Outermost, so preflights answered by the CORS layer carry the virtual Date too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::stamp,
        ))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(Reason::RouteNotFound, format!("no route {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Reason::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// A request's identity as DPoP sees it.
pub(crate) struct RequestLine<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl RequestLine<'_> {
    fn authority(&self) -> &str {
        self.headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost")
    }
}

/// A proof that passed verification.
pub(crate) struct VerifiedProof {
    /// RFC 7638 thumbprint of its key.
    pub(crate) jkt: String,
    /// Its `ath` claim.
    pub(crate) ath: Option<String>,
}

/// Verifies the request's DPoP proof, if any, recording its claims in the trace.
/// `None` when no proof was sent and none is required.
pub(crate) fn check_proof(
    state: &AppState,
    line: &RequestLine<'_>,
    trace: &Trace,
    policy: &Policy,
    required: bool,
) -> Result<Option<VerifiedProof>, ApiError> {
    let proof = match dpop::presented(line.headers).map_err(|r| proof_error(r, None))? {
        Presented::None if required => {
            return Err(ApiError::new(
                Reason::MissingProof,
                "this route needs a DPoP proof",
            ));
        }
        Presented::None => return Ok(None),
        Presented::One(proof) => proof,
    };
    let parsed = dpop::parse(proof).map_err(|error| {
        trace.update(|t| t.dpop = error.summary.map(|summary| *summary));
        proof_error(error.reason, None)
    })?;
    trace.update(|t| t.dpop = Some(parsed.summary()));
    let verifier = Verifier {
        nonces: &state.nonces,
        replay: &state.replay,
        policy,
        now: state.now(),
    };
    let expected = Expected {
        method: line.method.as_str(),
        scheme: state.scheme,
        authority: line.authority(),
        path: line.uri.path(),
    };
    verifier
        .verify(&parsed, &expected)
        .map_err(|r| proof_error(r, Some(&expected)))?;
    Ok(Some(VerifiedProof {
        ath: parsed.ath().map(str::to_owned),
        jkt: parsed.jkt,
    }))
}

fn proof_error(reason: Reason, expected: Option<&Expected<'_>>) -> ApiError {
    let message = match reason {
        Reason::MultipleProofs => "more than one DPoP header".to_owned(),
        Reason::MalformedProof => "DPoP proof is not a compact JWS of JSON objects".to_owned(),
        Reason::WrongProofType => "DPoP proof typ must be dpop+jwt".to_owned(),
        Reason::UnsupportedAlgorithm => "DPoP proof alg must be ES256".to_owned(),
        Reason::InvalidJwk => "DPoP proof jwk must be a public EC P-256 key".to_owned(),
        Reason::PrivateKeyInJwk => "DPoP proof jwk must not contain private key members".to_owned(),
        Reason::BadSignature => "DPoP proof signature does not verify".to_owned(),
        Reason::MissingClaim => "DPoP proof needs string jti, htm, htu and numeric iat".to_owned(),
        Reason::MethodMismatch => "DPoP proof htm does not match the request method".to_owned(),
        Reason::UrlMismatch => match expected {
            Some(e) => format!(
                "DPoP proof htu does not match {}://{}{}",
                e.scheme, e.authority, e.path
            ),
            None => "DPoP proof htu does not match the request URL".to_owned(),
        },
        Reason::IatTooOld => "DPoP proof iat is too old".to_owned(),
        Reason::IatInFuture => "DPoP proof iat is in the future".to_owned(),
        Reason::ReplayedProof => "DPoP proof jti was already used".to_owned(),
        Reason::NonceMissing => "DPoP proof must carry the server's nonce".to_owned(),
        Reason::NonceStale => "DPoP proof nonce is not current".to_owned(),
        Reason::AccessTokenHashMismatch => {
            "DPoP proof ath does not match the access token".to_owned()
        }
        _ => "invalid DPoP proof".to_owned(),
    };
    ApiError::new(reason, message)
}

/// The refresh token from `X-Refresh-Token`, else from the refresh cookie.
pub(crate) fn refresh_token<'a>(headers: &'a HeaderMap, cookie: &str) -> Option<&'a str> {
    headers
        .get(crate::headers::REFRESH_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or_else(|| cookie_value(headers, cookie))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

/// The authenticated caller of a bearer route.
pub(crate) struct Caller {
    pub(crate) user_id: String,
    pub(crate) sid: String,
}

/// Checks the access token (`Authorization: Bearer`, or `DPoP` for bound tokens) and the
/// optional DPoP proof. A DPoP-bound token (RFC 9449 §7) needs the `DPoP` scheme and a proof
/// by the bound key whose `ath` is the token's hash; an unbound token may come with a proof,
/// which must then be valid and signed by the session's key.
pub(crate) fn authenticate(
    state: &AppState,
    line: &RequestLine<'_>,
    trace: &Trace,
) -> Result<Caller, ApiError> {
    let (scheme, token) = line
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(scheme, token)| (scheme, token.trim()))
        .filter(|(scheme, token)| {
            !token.is_empty()
                && (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop"))
        })
        .ok_or_else(|| ApiError::new(Reason::MissingBearer, "an access token is required"))?;
    let now = state.now();
    let claims: AccessClaims = state
        .key
        .verify(token, now)
        .filter(|c: &AccessClaims| c.iss == state.issuer && c.aud == state.app_id)
        .ok_or_else(|| {
            ApiError::new(Reason::InvalidAccessToken, "the access token is not valid")
        })?;
    trace.update(|t| t.session_id = Some(claims.sid.clone()));
    if claims.exp <= now {
        return Err(ApiError::new(
            Reason::AccessTokenExpired,
            "the access token has expired",
        ));
    }
    if claims.nbf > now {
        return Err(ApiError::new(
            Reason::InvalidAccessToken,
            "the access token is not valid yet",
        ));
    }
    let bound = claims.cnf.as_ref().map(|c| c.jkt.as_str());
    if bound.is_some() && !scheme.eq_ignore_ascii_case("dpop") {
        return Err(ApiError::new(
            Reason::BoundTokenAsBearer,
            "this access token is DPoP-bound: send it with the DPoP scheme and a proof",
        ));
    }
    let policy = state.policy();
    let resource_error = |e: ApiError| {
        if policy.rfc9449_resource_errors {
            e.into_resource_challenge()
        } else {
            e
        }
    };
    let proof =
        check_proof(state, line, trace, &policy, bound.is_some()).map_err(resource_error)?;
    if bound.is_some() {
        let expected = token_hash(token);
        if proof.as_ref().and_then(|p| p.ath.as_deref()) != Some(expected.as_str()) {
            return Err(resource_error(ApiError::new(
                Reason::AccessTokenHashMismatch,
                "DPoP proof ath must be the base64url SHA-256 of the access token",
            )));
        }
    }
    let mut store = state.store();
    let user_id = store
        .check_access(&claims.sid, claims.iat, &claims.jti, now)
        .map_err(|reason| {
            let message = match reason {
                Reason::AccessTokenExpired => "the access token was expired by the server",
                Reason::UserBlocked => "the user is blocked",
                _ => "the session is no longer active",
            };
            ApiError::new(reason, message)
        })?;
    if let Some(proof) = proof {
        let pinned = bound.or_else(|| store.session_jkt(&claims.sid));
        if pinned != Some(proof.jkt.as_str()) {
            return Err(ApiError::new(
                Reason::KeyMismatch,
                "DPoP key is not the session's key",
            ));
        }
    }
    Ok(Caller {
        user_id,
        sid: claims.sid,
    })
}

/// `ath`: base64url SHA-256 of an access token (RFC 9449 §4.2).
fn token_hash(token: &str) -> String {
    jose::b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

/// Mints an access token for a session.
pub(crate) fn access_token(
    state: &AppState,
    user_id: &str,
    sid: &str,
    now: i64,
    policy: &Policy,
) -> (String, i64) {
    let exp = now.saturating_add(policy.access_token_ttl_seconds);
    let mut claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: user_id.to_owned(),
        aud: state.app_id.clone(),
        exp,
        iat: now,
        nbf: now,
        jti: jose::random_token(16),
        sid: sid.to_owned(),
        scope: "openid".into(),
        cnf: None,
    };
    let mut store = state.store();
    if policy.bind_access_tokens {
        claims.cnf = store
            .session_jkt(sid)
            .map(|jkt| crate::tokens::Confirmation {
                jkt: jkt.to_owned(),
            });
    }
    store.note_access_issued(sid, &claims.jti, now);
    drop(store);
    (state.key.sign(&claims), exp)
}

fn header_value(text: &str) -> HeaderValue {
    // Everything we put in headers is base64url, digits or fixed ASCII.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 200 token pair with the rotated refresh token in `X-Refresh-Token` and the refresh cookie.
pub(crate) fn token_pair(
    state: &AppState,
    access_token: String,
    expires_at: i64,
    refresh_token: &str,
    refresh_expires_at: i64,
) -> Response {
    let cookie = format!(
        "{}={refresh_token}; Path=/v1/session; Expires={}; HttpOnly; Secure; SameSite=Lax",
        state.refresh_cookie(),
        http_date(refresh_expires_at)
    );
    let mut response =
        axum::Json(json!({"access_token": access_token, "expires_at": expires_at})).into_response();
    let headers = response.headers_mut();
    headers.insert(crate::headers::REFRESH_TOKEN, header_value(refresh_token));
    headers.insert(
        crate::headers::REFRESH_TOKEN_EXPIRES_AT,
        header_value(&iso8601(refresh_expires_at)),
    );
    headers.insert(header::SET_COOKIE, header_value(&cookie));
    response
}

/// 204 that also expires the refresh cookie.
pub(crate) fn logged_out(state: &AppState) -> Response {
    let cookie = format!(
        "{}=; Path=/v1/session; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
        state.refresh_cookie()
    );
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, header_value(&cookie))],
    )
        .into_response()
}
