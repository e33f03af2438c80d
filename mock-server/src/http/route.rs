//! The Prelude routes the server implements, as a typed enum: the journal, the stats and the
//! fault injector name routes with it instead of with path strings.

use serde::{Deserialize, Serialize};

/// A Prelude route of the mock server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Route {
    /// `POST /v1/session/refresh`
    Refresh,
    /// `POST /v1/session/revoke` (logout)
    Revoke,
    /// `GET /v1/session/me/list`
    MeList,
    /// `POST /v1/session/me/revoke`
    MeRevoke,
    /// `POST /v1/session/login/finalize`
    LoginFinalize,
    /// `POST /v1/session/login/email/password`
    LoginPassword,
    /// `POST /v1/session/login/otp`
    LoginOtp,
    /// `POST /v1/session/login/otp/check`
    LoginOtpCheck,
    /// `POST /v1/session/login/otp/retry`
    LoginOtpRetry,
    /// `POST /v1/session/otp`
    Otp,
    /// `POST /v1/session/otp/check`
    OtpCheck,
    /// `POST /v1/session/otp/retry`
    OtpRetry,
    /// `GET /.well-known/jwks.json`
    Jwks,
}

impl Route {
    /// Every route, for building the router and for documentation.
    pub const ALL: [Route; 13] = [
        Route::Refresh,
        Route::Revoke,
        Route::MeList,
        Route::MeRevoke,
        Route::LoginFinalize,
        Route::LoginPassword,
        Route::LoginOtp,
        Route::LoginOtpCheck,
        Route::LoginOtpRetry,
        Route::Otp,
        Route::OtpCheck,
        Route::OtpRetry,
        Route::Jwks,
    ];

    /// The route's path on the server.
    pub fn path(self) -> &'static str {
        match self {
            Route::Refresh => "/v1/session/refresh",
            Route::Revoke => "/v1/session/revoke",
            Route::MeList => "/v1/session/me/list",
            Route::MeRevoke => "/v1/session/me/revoke",
            Route::LoginFinalize => "/v1/session/login/finalize",
            Route::LoginPassword => "/v1/session/login/email/password",
            Route::LoginOtp => "/v1/session/login/otp",
            Route::LoginOtpCheck => "/v1/session/login/otp/check",
            Route::LoginOtpRetry => "/v1/session/login/otp/retry",
            Route::Otp => "/v1/session/otp",
            Route::OtpCheck => "/v1/session/otp/check",
            Route::OtpRetry => "/v1/session/otp/retry",
            Route::Jwks => "/.well-known/jwks.json",
        }
    }

    /// The route serving `path`, if any.
    pub fn from_path(path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.path() == path)
    }
}
