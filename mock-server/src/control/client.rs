//! A typed client for the control API (`/__mock/...`), usable against any server that offers
//! it: the handle of an in-process [`MockServer`](crate::MockServer) or a remote base URL.

use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::clock::ClockReading;
use crate::config::Policy;
use crate::control::faults::Fault;
use crate::control::journal::{JournalEntry, Stats};
use crate::http::api_error::ErrorBody;
use crate::http::route::Route;
use crate::http::tls::TlsInfo;
use crate::store::{SessionRecord, UserView};
use crate::{Error, ErrorKind, Secret};

/// Client for the control API of a mock server.
///
/// ```no_run
/// # async fn run() -> Result<(), prelude_mock_server::Error> {
/// use prelude_mock_server::{ControlClient, Route};
///
/// let control = ControlClient::new("http://127.0.0.1:8910", None, None)?;
/// let user = control.create_user("ada@example.com", "pw").await?;
/// let challenge = control.challenge_for(&user.id).await?;
/// // ... let an SDK finalize `challenge` and refresh ...
/// assert_eq!(control.stats().await?.requests_by_route.get(&Route::Refresh), Some(&1));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ControlClient {
    base: String,
    token: Option<Secret>,
    http: reqwest::Client,
}

impl std::fmt::Debug for ControlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ControlClient {
    /// A client for the server at `base_url` (without `/__mock`), with the control token if
    /// the server requires one, trusting `tls`'s certificate if given.
    pub fn new(
        base_url: &str,
        token: Option<Secret>,
        tls: Option<&TlsInfo>,
    ) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder();
        if let Some(tls) = tls {
            let cert = reqwest::Certificate::from_pem(tls.cert_pem.as_bytes())
                .map_err(|e| Error::new(ErrorKind::Tls, format!("bad certificate: {e}")))?;
            builder = builder.tls_certs_only([cert]);
        }
        let http = builder
            .build()
            .map_err(|e| Error::new(ErrorKind::Tls, format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            base: format!("{}/__mock", base_url.trim_end_matches('/')),
            token,
            http,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, Error> {
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ErrorBody>(&body) {
            Ok(error) => Error::api(status.as_u16(), error.code, error.message),
            Err(_) => Error::api(status.as_u16(), "unknown".into(), body),
        })
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, Error> {
        Ok(self.send(request).await?.json().await?)
    }

    async fn no_content(&self, request: RequestBuilder) -> Result<(), Error> {
        self.send(request).await.map(drop)
    }

    async fn field<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        name: &str,
    ) -> Result<T, Error> {
        let mut value: Value = self.json(request).await?;
        serde_json::from_value(value[name].take())
            .map_err(|e| Error::new(ErrorKind::Decode, format!("control API `{name}`: {e}")))
    }

    /// Creates a user who can log in with `password`.
    pub async fn create_user(&self, email: &str, password: &str) -> Result<UserView, Error> {
        let body = json!({"email": email, "password": password});
        self.json(self.request(Method::POST, "/users").json(&body))
            .await
    }

    /// All users.
    pub async fn users(&self) -> Result<Vec<UserView>, Error> {
        self.field(self.request(Method::GET, "/users"), "users")
            .await
    }

    /// Terminates a user: their next refresh gets 403 `auth_blocked`.
    pub async fn terminate_user(&self, user_id: &str) -> Result<(), Error> {
        self.no_content(self.request(Method::POST, &format!("/users/{user_id}/terminate")))
            .await
    }

    /// Mints a login challenge token for `user_id`, ready for `login/finalize`.
    pub async fn challenge_for(&self, user_id: &str) -> Result<String, Error> {
        self.challenge(json!({"user_id": user_id})).await
    }

    /// Mints a challenge bound to a PKCE S256 `code_challenge`: finalize needs the verifier.
    pub async fn challenge_with_pkce(
        &self,
        user_id: &str,
        code_challenge: &str,
    ) -> Result<String, Error> {
        self.challenge(json!({"user_id": user_id, "code_challenge": code_challenge}))
            .await
    }

    async fn challenge(&self, body: Value) -> Result<String, Error> {
        self.field(
            self.request(Method::POST, "/challenges").json(&body),
            "challenge_token",
        )
        .await
    }

    /// The current policy.
    pub async fn policy(&self) -> Result<Policy, Error> {
        self.json(self.request(Method::GET, "/policy")).await
    }

    /// Replaces the policy.
    pub async fn set_policy(&self, policy: &Policy) -> Result<Policy, Error> {
        self.json(self.request(Method::PUT, "/policy").json(policy))
            .await
    }

    /// Reads the policy, lets `change` edit it, and writes it back.
    pub async fn update_policy(&self, change: impl FnOnce(&mut Policy)) -> Result<Policy, Error> {
        let mut policy = self.policy().await?;
        change(&mut policy);
        self.set_policy(&policy).await
    }

    /// Virtual now.
    pub async fn clock(&self) -> Result<ClockReading, Error> {
        self.json(self.request(Method::GET, "/clock")).await
    }

    /// Sets virtual now (unix seconds); `frozen` stops it from following the system clock.
    pub async fn set_clock(&self, now: i64, frozen: bool) -> Result<ClockReading, Error> {
        let body = json!({"now": now, "frozen": frozen});
        self.json(self.request(Method::PUT, "/clock").json(&body))
            .await
    }

    /// Moves virtual time by `seconds`.
    pub async fn advance_clock(&self, seconds: i64) -> Result<ClockReading, Error> {
        let body = json!({"seconds": seconds});
        self.json(self.request(Method::POST, "/clock/advance").json(&body))
            .await
    }

    /// Queues a fault.
    pub async fn add_fault(&self, fault: &Fault) -> Result<(), Error> {
        self.no_content(self.request(Method::POST, "/faults").json(fault))
            .await
    }

    /// Faults still pending.
    pub async fn faults(&self) -> Result<Vec<Fault>, Error> {
        self.field(self.request(Method::GET, "/faults"), "faults")
            .await
    }

    /// Drops all pending faults.
    pub async fn clear_faults(&self) -> Result<(), Error> {
        self.no_content(self.request(Method::DELETE, "/faults"))
            .await
    }

    /// All sessions with their server-side state.
    pub async fn sessions(&self) -> Result<Vec<SessionRecord>, Error> {
        self.field(self.request(Method::GET, "/sessions"), "sessions")
            .await
    }

    /// Creates a session for another device of `user_id`, as if it had logged in elsewhere,
    /// with `device_type` verbatim (any string) and device data guessed from `user_agent`.
    /// Returns the session id.
    pub async fn create_device_session(
        &self,
        user_id: &str,
        device_type: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<String, Error> {
        let mut body = json!({"user_id": user_id});
        if let Some(kind) = device_type {
            body["device_type"] = json!(kind);
        }
        if let Some(ua) = user_agent {
            body["user_agent"] = json!(ua);
        }
        self.field(
            self.request(Method::POST, "/sessions").json(&body),
            "session_id",
        )
        .await
    }

    /// Rotates the access-token signing key; the old key stays published and verifying for
    /// `overlap_seconds` of virtual time. Returns the new key's `kid`.
    pub async fn rotate_signing_key(&self, overlap_seconds: i64) -> Result<String, Error> {
        let body = json!({"overlap_seconds": overlap_seconds});
        self.field(
            self.request(Method::POST, "/signing-keys/rotate")
                .json(&body),
            "kid",
        )
        .await
    }

    /// Refuses every access token of the session issued so far (next `/me/*` call → 401).
    pub async fn expire_access(&self, session_id: &str) -> Result<(), Error> {
        self.no_content(self.request(
            Method::POST,
            &format!("/sessions/{session_id}/expire-access"),
        ))
        .await
    }

    /// Revokes a session.
    pub async fn revoke_session(&self, session_id: &str) -> Result<(), Error> {
        self.no_content(self.request(Method::POST, &format!("/sessions/{session_id}/revoke")))
            .await
    }

    /// Journal entries after `since` (0 for all), optionally for one route.
    pub async fn journal(
        &self,
        since: u64,
        route: Option<Route>,
    ) -> Result<Vec<JournalEntry>, Error> {
        #[derive(Serialize)]
        struct Query {
            since: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            route: Option<Route>,
        }
        let request = self
            .request(Method::GET, "/journal")
            .query(&Query { since, route });
        self.field(request, "entries").await
    }

    /// Empties the journal and the stats.
    pub async fn clear_journal(&self) -> Result<(), Error> {
        self.no_content(self.request(Method::DELETE, "/journal"))
            .await
    }

    /// The counters.
    pub async fn stats(&self) -> Result<Stats, Error> {
        self.json(self.request(Method::GET, "/stats")).await
    }

    /// Back to the start-up state (seed users, initial policy, empty journal).
    pub async fn reset(&self) -> Result<(), Error> {
        self.no_content(self.request(Method::POST, "/reset")).await
    }
}
