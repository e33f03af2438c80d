//! [`SessionClient`]: login, coalesced refresh, authorised requests, logout and session
//! management over the Prelude session API.
//!
//! Concurrency model: one refresh at a time. Callers that find no fresh cached token join the
//! current refresh *flight* (a spawned task, so it completes even if every caller goes away)
//! or start one. Across processes sharing a [`FileStore`](crate::FileStore) the flight takes
//! the store's lock and re-reads the store first, so a token another process just rotated is
//! adopted instead of spent again. A wipe (logout, revoke) bumps an *epoch*; a flight that
//! finishes under an older epoch discards its result, so nothing resurrects a wiped session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use crate::broken::{self, BrokenVariant};
use crate::clock::{Clock, SystemClock};
use crate::dpop::{DpopSigner, SoftwareKey};
use crate::error::{Error, ErrorKind, transport};
use crate::http::{Answer, Dpop, Failure, RetryPolicy, exchange};
use crate::sessions::{RevokeTarget, SessionPage, parse_page};
use crate::state::{Hub, SessionState, StateEvents};
use crate::store::{MemoryStore, Store, StoredSession};
use crate::user::{Profile, User, claims};

type Flight<T> = Shared<BoxFuture<'static, Result<T, Error>>>;

/// Configures a [`SessionClient`].
#[must_use]
pub struct SessionClientBuilder {
    base_url: String,
    store: Arc<dyn Store>,
    signer: Option<Arc<dyn DpopSigner>>,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    leeway: Duration,
    retry: RetryPolicy,
    reuse_grace: Option<Duration>,
    proactive: bool,
    broken: Option<BrokenVariant>,
}

impl SessionClientBuilder {
    /// Where credentials live (default: in memory).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// A fixed DPoP key, e.g. a hardware key that never leaves its device. Default: a software
    /// P-256 key created at login and kept in the store.
    pub fn signer(mut self, signer: Arc<dyn DpopSigner>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The clock (default: the system clock). Tests pass a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The HTTP client (timeouts, TLS roots, proxies are yours to set).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Refresh this long before the access token expires (default 10 s).
    pub fn refresh_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Retries of transient failures (default: 3 attempts, 200 ms doubling, capped at 5 s).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Declares that the server returns the same successor when the immediate parent token
    /// is presented again within `grace` (Prelude's reuse grace window). Only then does the
    /// client re-send a refresh whose answer was lost; see the crate docs.
    pub fn server_reuse_grace(mut self, grace: Duration) -> Self {
        self.reuse_grace = Some(grace);
        self
    }

    /// Refreshes on its own shortly before the access token expires (the refresh margin:
    /// the leeway, at most a quarter of the token's lifetime), so callers rarely wait. The
    /// proactive refresh is an ordinary refresh flight: callers arriving meanwhile join it.
    /// Default off. Needs a tokio runtime.
    pub fn proactive_refresh(mut self, on: bool) -> Self {
        self.proactive = on;
        self
    }

    /// Switches on a deliberate defect, for proving that the conformance suite catches it.
    /// Only with the `broken-variants` feature, which nothing shipped enables.
    #[cfg(feature = "broken-variants")]
    #[doc(hidden)]
    pub fn broken(mut self, variant: BrokenVariant) -> Self {
        self.broken = Some(variant);
        self
    }

    /// Builds the client, loading any stored session.
    pub fn build(self) -> Result<SessionClient, Error> {
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .user_agent(format!(
                    "prelude-session/{} (Rust; {})",
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::OS
                ))
                .build()
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Transport,
                        format!("cannot build HTTP client: {e}"),
                    )
                })?,
        };
        let stored = self.store.load()?;
        let hub = Arc::new(Hub::new(broken::is(
            self.broken,
            BrokenVariant::UnsubscribeIgnored,
        )));
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            hub,
            proactive: self.proactive,
            proactive_task: Mutex::new(None),
            api: format!("{}/v1/session", self.base_url.trim_end_matches('/')),
            http,
            store: self.store,
            clock: self.clock,
            fixed_signer: self.signer,
            leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
            retry: self.retry,
            reuse_grace: self.reuse_grace,
            broken: self.broken,
            local: Mutex::new(Local::default()),
            refresh_flight: Mutex::new(None),
            logout_flight: Mutex::new(None),
            state: watch::Sender::new(SessionState::LoggedOut),
            disposed: AtomicBool::new(false),
            refresh_started: Mutex::new(None),
        });
        if let Some(session) = stored {
            inner.adopt(&mut inner.local(), session)?;
            inner.set_state(SessionState::LoggedIn);
            let user = inner.local().user.clone();
            if let Some(user) = user {
                inner.schedule_proactive(&user);
            }
        }
        Ok(SessionClient { inner })
    }
}

/// The in-memory mirror of the store plus what cannot be stored.
#[derive(Default)]
struct Local {
    session: Option<StoredSession>,
    user: Option<User>,
    signer: Option<Arc<dyn DpopSigner>>,
    /// Nonce seen before any session exists (first login).
    nonce: Option<String>,
    /// Clock skew seen before any session exists (from the password login's `Date`).
    skew: Option<i64>,
    /// A pending OTP login: its `X-Verification-Token` and PKCE verifier (both secret).
    otp: Option<PendingOtp>,
    epoch: u64,
}

struct Inner {
    /// This very `Inner`, for tasks that must not keep the client alive.
    me: std::sync::Weak<Inner>,
    hub: Arc<Hub>,
    proactive: bool,
    proactive_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// When the current refresh flight started (for one broken variant).
    refresh_started: Mutex<Option<Instant>>,
    api: String,
    http: reqwest::Client,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    fixed_signer: Option<Arc<dyn DpopSigner>>,
    leeway: i64,
    retry: RetryPolicy,
    reuse_grace: Option<Duration>,
    broken: Option<BrokenVariant>,
    local: Mutex<Local>,
    refresh_flight: Mutex<Option<Flight<User>>>,
    logout_flight: Mutex<Option<Flight<()>>>,
    state: watch::Sender<SessionState>,
    disposed: AtomicBool,
}

/// An OTP login between `start_otp_login` and a successful `check_otp`.
#[derive(Clone)]
struct PendingOtp {
    verification_token: String,
    code_verifier: String,
}

/// A cheap snapshot of the session for display, without network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Credentials are stored.
    pub logged_in: bool,
    /// `sid` of the cached access token.
    pub session_id: Option<String>,
    /// `sub` of the cached access token.
    pub user_id: Option<String>,
    /// Local expiry of the cached access token (unix seconds).
    pub access_expires_at: Option<i64>,
    /// A refresh is on the wire right now.
    pub refresh_in_flight: bool,
}

/// An async client for the Prelude session API. Cheap to clone; clones share everything.
///
/// ```no_run
/// # async fn run() -> Result<(), prelude_session::Error> {
/// use std::sync::Arc;
/// use prelude_session::{FileStore, SessionClient};
///
/// let client = SessionClient::builder("https://app.session.prelude.dev")
///     .store(Arc::new(FileStore::new("/home/ada/.config/app/session.json")))
///     .build()?;
/// if !client.is_logged_in() {
///     client.login_with_password("ada@example.com", "correct horse").await?;
/// }
/// let user = client.refresh().await?; // cached, or one coalesced network refresh
/// println!("signed in as {:?}", user.user_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClient")
            .field("api", &self.inner.api)
            .field("state", &*self.inner.state.borrow())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenPairBody {
    access_token: String,
    expires_at: i64,
}

/// A token-pair answer, validated.
struct TokenPair {
    user: User,
    refresh_token: String,
    refresh_expires_at: Option<String>,
    skew: i64,
}

/// Validates a finalize/refresh answer; nothing is stored unless all of it is right.
/// `skew` (local minus server clock) turns the server's `expires_at` into local time.
fn token_pair(answer: &Answer, now: i64, skew: i64, millis: bool) -> Result<TokenPair, Error> {
    let body: TokenPairBody = serde_json::from_slice(&answer.body)
        .map_err(|e| Error::bad_response(format!("token answer is not the expected JSON: {e}")))?;
    let refresh_token = answer
        .header("x-refresh-token")
        .ok_or_else(|| Error::bad_response("token answer has no X-Refresh-Token"))?
        .to_owned();
    let profile = claims(&body.access_token)?;
    let server_expiry = if millis {
        body.expires_at.saturating_mul(1000)
    } else {
        body.expires_at
    };
    let expires_at = server_expiry.saturating_add(skew);
    if expires_at <= now {
        return Err(Error::bad_response(
            "token answer's expires_at is in the past",
        ));
    }
    Ok(TokenPair {
        user: User {
            access_token: body.access_token,
            profile,
            expires_at,
        },
        refresh_token,
        refresh_expires_at: answer
            .header("x-refresh-token-expires-at")
            .map(str::to_owned),
        skew,
    })
}

impl Inner {
    fn is_broken(&self, variant: BrokenVariant) -> bool {
        broken::is(self.broken, variant)
    }

    /// Proof settings for one exchange.
    fn dpop(&self, signer: Arc<dyn DpopSigner>, nonce: Option<String>, skew: i64) -> Dpop {
        let follow_date = !self.is_broken(BrokenVariant::IgnoresClockSkew);
        Dpop {
            signer,
            nonce,
            skew: if follow_date { skew } else { 0 },
            nonce_retry: !self.is_broken(BrokenVariant::NoNonceRetry),
            follow_date,
        }
    }

    /// A validated token pair, its expiry on the local clock (corrected by the answer's `Date`).
    fn token_pair(&self, answer: &Answer, now: i64) -> Result<TokenPair, Error> {
        let skew = if self.is_broken(BrokenVariant::IgnoresClockSkew) {
            0
        } else {
            answer.skew(now)
        };
        token_pair(
            answer,
            now,
            skew,
            self.is_broken(BrokenVariant::ExpiryInMilliseconds),
        )
    }

    /// Keeps the clock skew an answer's `Date` reveals, for the first proof of a login.
    fn note_skew(&self, answer: &Answer, now: i64) {
        if self.is_broken(BrokenVariant::IgnoresClockSkew) {
            return;
        }
        if let Some(skew) = answer.server_skew(now) {
            self.local().skew = Some(skew);
        }
    }

    /// How long to wait after failed attempt `attempt`.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if self.is_broken(BrokenVariant::NoBackoff) {
            return Duration::ZERO;
        }
        let retry_after = retry_after.filter(|_| !self.is_broken(BrokenVariant::IgnoresRetryAfter));
        self.retry.delay(attempt, retry_after)
    }

    /// How long before expiry a cached token counts as stale: the configured leeway, but at
    /// most a quarter of the token's lifetime, so short-lived tokens are still cached.
    fn margin(&self, user: &User) -> i64 {
        let lifetime = match (user.profile.get("exp"), user.profile.get("iat")) {
            (Some(exp), Some(iat)) => exp.as_i64().zip(iat.as_i64()).map(|(e, i)| e - i),
            _ => None,
        };
        lifetime
            .filter(|l| *l > 0)
            .map_or(self.leeway, |l| self.leeway.min(l / 4))
    }

    fn local(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, state: SessionState) {
        let changed = self.state.send_if_modified(|current| {
            let changed = *current != state;
            current.clone_from(&state);
            changed
        });
        if changed {
            self.hub.publish(&state);
        }
    }

    /// Plans the proactive refresh for `user`'s token (replacing any planned one).
    fn schedule_proactive(&self, user: &User) {
        if !self.proactive || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let due = user.expires_at - self.margin(user) - self.clock.now();
        if due <= 0 {
            // Already stale (an invalidated cache, a restart after expiry): the next caller
            // refreshes; nothing goes on the wire without one.
            return;
        }
        let epoch = self.local().epoch;
        let me = self.me.clone();
        let task = tokio::spawn(async move {
            let wait = u64::try_from(due).unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            let Some(inner) = me.upgrade() else { return };
            if inner.disposed.load(Ordering::SeqCst) || inner.local().epoch != epoch {
                return;
            }
            if let Err(e) = (SessionClient { inner }).refresh().await {
                tracing::debug!("proactive refresh failed: {e}");
            }
        });
        let previous = self
            .proactive_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task);
        if let Some(previous) = previous {
            previous.abort();
        }
    }

    fn cancel_proactive(&self) {
        if let Some(task) = self
            .proactive_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }

    /// The key that signs for `session`: the configured signer, else its stored software key.
    fn signer_for(&self, session: &StoredSession) -> Result<Arc<dyn DpopSigner>, Error> {
        match (&self.fixed_signer, &session.dpop_key) {
            (Some(signer), _) => Ok(signer.clone()),
            (None, Some(key)) => Ok(Arc::new(SoftwareKey::from_exported(key)?)),
            (None, None) => Err(Error::new(
                ErrorKind::Store,
                "the stored session has no DPoP key and no signer is configured",
            )),
        }
    }

    /// Makes `session` the local one, with its signer and decoded user.
    fn adopt(&self, local: &mut Local, session: StoredSession) -> Result<(), Error> {
        let signer = self.signer_for(&session)?;
        local.user = match (&session.access_token, session.access_expires_at) {
            (Some(token), Some(expires_at)) => claims(token).ok().map(|profile| User {
                access_token: token.clone(),
                profile,
                expires_at,
            }),
            _ => None,
        };
        local.signer = Some(signer);
        local.session = Some(session);
        Ok(())
    }

    /// The cached user if its token is fresh beyond the leeway.
    fn fresh_user(&self, local: &Local) -> Option<User> {
        let user = local.user.as_ref()?;
        (user.expires_at > self.clock.now().saturating_add(self.margin(user))).then(|| user.clone())
    }

    /// Clears credentials everywhere; later results of older flights are discarded.
    fn wipe(&self, local: &mut Local) -> Result<(), Error> {
        local.epoch += 1;
        local.session = None;
        local.user = None;
        local.signer = None;
        local.nonce = None;
        self.cancel_proactive();
        let cleared = self.store.clear();
        self.set_state(SessionState::LoggedOut);
        cleared
    }

    /// Stores a validated token pair, unless a wipe happened since `epoch`.
    fn commit(
        &self,
        pair: TokenPair,
        epoch: u64,
        signer: &Arc<dyn DpopSigner>,
        nonce: Option<String>,
    ) -> Result<User, Error> {
        let mut local = self.local();
        if local.epoch != epoch {
            return Err(Error::new(
                ErrorKind::LoggedOut,
                "the session was wiped while refreshing",
            ));
        }
        let previous_key = local.session.as_ref().and_then(|s| s.dpop_key.clone());
        let session = StoredSession {
            refresh_token: pair.refresh_token,
            refresh_expires_at: pair.refresh_expires_at,
            access_token: Some(pair.user.access_token.clone()),
            access_expires_at: Some(pair.user.expires_at),
            dpop_key: signer.export().or(previous_key),
            dpop_nonce: nonce,
            skew_seconds: pair.skew,
        };
        // Durable before anyone can use the new token.
        self.store.save(&session)?;
        local.session = Some(session);
        local.user = Some(pair.user.clone());
        local.signer = Some(signer.clone());
        drop(local);
        self.set_state(SessionState::LoggedIn);
        self.schedule_proactive(&pair.user);
        Ok(pair.user)
    }

    async fn store_lock(&self) -> Result<Option<crate::store::StoreLock>, Error> {
        if !self.store.lock_blocks() {
            return self.store.lock();
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.lock())
            .await
            .map_err(|e| Error::new(ErrorKind::Store, format!("store lock task failed: {e}")))?
    }

    /// The body of a refresh flight; `coordinate` takes the store's lock first (always, but
    /// for broken variants).
    async fn refresh_now(self: Arc<Self>, coordinate: bool) -> Result<User, Error> {
        let _lock = if coordinate {
            self.store_lock().await?
        } else {
            None
        };
        let (epoch, signer, session) = {
            let mut local = self.local();
            // Another process sharing the store may have rotated or wiped meanwhile.
            match self.store.load()? {
                Some(stored) if local.session.as_ref() != Some(&stored) => {
                    self.adopt(&mut local, stored)?;
                }
                Some(_) => {}
                None => {
                    if local.session.is_some() {
                        self.wipe(&mut local)?;
                    }
                    return Err(Error::new(ErrorKind::NotLoggedIn, "no session is stored"));
                }
            }
            if let Some(user) = self.fresh_user(&local) {
                return Ok(user);
            }
            let (Some(signer), Some(session)) = (local.signer.clone(), local.session.clone())
            else {
                return Err(Error::new(ErrorKind::NotLoggedIn, "no session is stored"));
            };
            (local.epoch, signer, session)
        };
        let mut dpop = self.dpop(
            signer.clone(),
            session.dpop_nonce.clone(),
            session.skew_seconds,
        );
        let url = format!("{}/refresh", self.api);
        let token = session.refresh_token;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = self.clock.now();
            let sent = exchange(&self.http, Method::POST, &url, now, Some(&mut dpop), |r| {
                r.header("X-Refresh-Token", &token)
                    .header("Content-Type", "application/json")
            })
            .await;
            let retries_left = attempt < self.retry.max_attempts;
            let error = match sent {
                Ok(answer) if answer.is_success() => {
                    let pair = self.token_pair(&answer, now)?;
                    return self.commit(pair, epoch, &signer, dpop.nonce);
                }
                Ok(answer) if answer.is_transient() && retries_left => {
                    tokio::time::sleep(self.backoff(attempt, answer.retry_after())).await;
                    continue;
                }
                Ok(answer) => answer.error(),
                Err(Failure::NotSent(_)) if retries_left => {
                    tokio::time::sleep(self.backoff(attempt, None)).await;
                    continue;
                }
                Err(Failure::Unknown(_))
                    if self.is_broken(BrokenVariant::RetryRespendsToken) && retries_left =>
                {
                    tokio::time::sleep(self.backoff(attempt, None)).await;
                    continue;
                }
                Err(Failure::Unknown(error)) => {
                    // The server may have rotated the token. Sending it again is safe only
                    // inside its reuse grace window, where it answers with the same successor.
                    let remaining = self
                        .reuse_grace
                        .and_then(|g| g.checked_sub(started.elapsed()));
                    match remaining {
                        Some(remaining) if retries_left => {
                            tokio::time::sleep(self.backoff(attempt, None).min(remaining / 2))
                                .await;
                            continue;
                        }
                        _ => Error::new(
                            ErrorKind::RefreshOutcomeUnknown,
                            format!(
                                "the refresh may have reached the server but its answer was lost: {error}"
                            ),
                        ),
                    }
                }
                Err(failure) => failure.into_error(),
            };
            match error.kind() {
                ErrorKind::Unauthorized => self.set_state(SessionState::Expired),
                ErrorKind::Terminated => self.set_state(SessionState::Terminated {
                    code: error.code().unwrap_or("forbidden").to_owned(),
                }),
                _ => {}
            }
            self.remember_nonce(epoch, dpop.nonce);
            return Err(error);
        }
    }

    /// One authorised request with `user`'s access token; for a DPoP-bound token, one retry
    /// with a fresh proof on a `use_dpop_nonce` challenge.
    async fn send_authorized(
        &self,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
        user: &User,
    ) -> Result<reqwest::Response, Error> {
        let bound = user
            .profile
            .get("cnf")
            .and_then(|cnf| cnf.get("jkt"))
            .is_some()
            && !self.is_broken(BrokenVariant::BoundTokenAsBearer);
        if !bound {
            let response = build(&self.http)
                .bearer_auth(&user.access_token)
                .send()
                .await
                .map_err(|e| transport(&e))?;
            self.note_nonce(response.headers());
            return Ok(response);
        }
        let mut nonce_retry = !self.is_broken(BrokenVariant::NoResourceNonceRetry);
        loop {
            let mut request = build(&self.http).build().map_err(|e| transport(&e))?;
            let proof = self.resource_proof(&request, &user.access_token)?;
            let headers = request.headers_mut();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                header_value(&format!("DPoP {}", user.access_token))?,
            );
            headers.insert("dpop", header_value(&proof)?);
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| transport(&e))?;
            self.note_nonce(response.headers());
            let status = response.status().as_u16();
            if !(nonce_retry && matches!(status, 400 | 401)) {
                return Ok(response);
            }
            // Read the body to tell a nonce challenge from other errors, then hand the caller
            // an equivalent response.
            let headers = response.headers().clone();
            let answer = Answer::read(response).await.map_err(|e| transport(&e))?;
            if answer.code().as_deref() == Some("use_dpop_nonce")
                && headers.contains_key("dpop-nonce")
            {
                nonce_retry = false;
                continue;
            }
            let mut rebuilt = http::Response::new(answer.body);
            *rebuilt.status_mut() =
                reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_REQUEST);
            *rebuilt.headers_mut() = headers;
            return Ok(reqwest::Response::from(rebuilt));
        }
    }

    /// A proof for an authorised request with a DPoP-bound access token.
    fn resource_proof(
        &self,
        request: &reqwest::Request,
        access_token: &str,
    ) -> Result<String, Error> {
        let (signer, nonce, skew) = {
            let local = self.local();
            let session = local.session.as_ref();
            (
                local.signer.clone(),
                session
                    .and_then(|s| s.dpop_nonce.clone())
                    .or_else(|| local.nonce.clone()),
                session.map_or(0, |s| s.skew_seconds),
            )
        };
        let signer =
            signer.ok_or_else(|| Error::new(ErrorKind::NotLoggedIn, "no session is stored"))?;
        let url = request.url().as_str();
        let htu = if self.is_broken(BrokenVariant::HtuWithQuery) {
            url
        } else {
            crate::dpop::htu(url)
        };
        let ath = (!self.is_broken(BrokenVariant::ProofWithoutAth))
            .then(|| crate::dpop::s256(access_token));
        crate::dpop::proof(
            signer.as_ref(),
            request.method().as_str(),
            htu,
            self.clock.now() - skew,
            nonce.as_deref(),
            ath.as_deref(),
        )
    }

    /// Keeps a `DPoP-Nonce` from any answer (Bearer routes too) for the next proof.
    fn note_nonce(&self, headers: &reqwest::header::HeaderMap) {
        let nonce = headers
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if nonce.is_some() {
            let epoch = self.local().epoch;
            self.remember_nonce(epoch, nonce);
        }
    }

    /// Keeps the latest server nonce for the next proof (best effort).
    fn remember_nonce(&self, epoch: u64, nonce: Option<String>) {
        let mut local = self.local();
        if local.epoch != epoch || nonce.is_none() {
            return;
        }
        local.nonce.clone_from(&nonce);
        let Some(session) = local.session.as_mut() else {
            return;
        };
        if session.dpop_nonce != nonce {
            session.dpop_nonce = nonce;
            let session = session.clone();
            if let Err(e) = self.store.save(&session) {
                tracing::warn!("could not store the DPoP nonce: {e}");
            }
        }
    }

    /// The body of a logout flight: settle any refresh, wipe, then tell the server.
    async fn logout_now(self: Arc<Self>) -> Result<(), Error> {
        let refreshing = self
            .refresh_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(flight) = refreshing {
            let _settled = flight.await;
        }
        let _lock = self.store_lock().await?;
        let (snapshot, signer, wiped) = {
            let mut local = self.local();
            let stored = self.store.load().ok().flatten();
            let snapshot = stored.or_else(|| local.session.clone());
            let signer = snapshot
                .as_ref()
                .and_then(|s| self.signer_for(s).ok())
                .or_else(|| local.signer.clone());
            let keep = self.is_broken(BrokenVariant::NoWipeOnLogout)
                || self.is_broken(BrokenVariant::LogoutKeepsOnServerFailure);
            let wiped = if keep { Ok(()) } else { self.wipe(&mut local) };
            (snapshot, signer, wiped)
        };
        let (Some(session), Some(signer)) = (snapshot, signer) else {
            return wiped;
        };
        let mut dpop = self.dpop(signer, session.dpop_nonce.clone(), session.skew_seconds);
        let url = format!("{}/revoke", self.api);
        let now = self.clock.now();
        let sent = exchange(&self.http, Method::POST, &url, now, Some(&mut dpop), |r| {
            r.header("X-Refresh-Token", &session.refresh_token)
        })
        .await;
        // A failed wipe matters more than a failed server call: report it first.
        wiped?;
        match sent {
            Ok(answer)
                if answer.is_success()
                    && self.is_broken(BrokenVariant::LogoutKeepsOnServerFailure) =>
            {
                self.wipe(&mut self.local())
            }
            Ok(answer) if answer.is_success() => Ok(()),
            Ok(answer) => Err(answer.error()),
            Err(failure) => Err(failure.into_error()),
        }
    }
}

/// A header value from text we built (tokens and proofs are ASCII).
fn header_value(text: &str) -> Result<reqwest::header::HeaderValue, Error> {
    reqwest::header::HeaderValue::from_str(text)
        .map_err(|_| Error::bad_response("the access token is not a valid header value"))
}

type Slot<T> = fn(&Inner) -> &Mutex<Option<Flight<T>>>;

/// Starts `body` as the flight in `slot` (whose lock the caller holds as `guard`). The task
/// empties the slot when it ends, after `body` has stored its result.
fn start_flight<T: Clone + Send + Sync + 'static>(
    guard: &mut Option<Flight<T>>,
    inner: &Arc<Inner>,
    slot: Slot<T>,
    body: BoxFuture<'static, Result<T, Error>>,
) -> Flight<T> {
    let task = tokio::spawn({
        let inner = inner.clone();
        async move {
            let result = body.await;
            *slot(&inner).lock().unwrap_or_else(|p| p.into_inner()) = None;
            result
        }
    });
    let flight = async move {
        task.await.unwrap_or_else(|e| {
            Err(Error::new(
                ErrorKind::Transport,
                format!("task failed: {e}"),
            ))
        })
    }
    .boxed()
    .shared();
    *guard = Some(flight.clone());
    flight
}

impl SessionClient {
    /// Starts configuring a client for the API at `base_url` (e.g.
    /// `https://{app}.session.prelude.dev`; `/v1/session` is appended).
    pub fn builder(base_url: impl Into<String>) -> SessionClientBuilder {
        SessionClientBuilder {
            base_url: base_url.into(),
            store: Arc::new(MemoryStore::new()),
            signer: None,
            clock: Arc::new(SystemClock),
            http: None,
            leeway: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            reuse_grace: None,
            proactive: false,
            broken: None,
        }
    }

    fn alive(&self) -> Result<(), Error> {
        if self.inner.disposed.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Disposed, "this client was disposed"));
        }
        Ok(())
    }

    /// The session state; `changed().await` on the receiver to be notified, drop it to
    /// unsubscribe.
    pub fn state(&self) -> watch::Receiver<SessionState> {
        self.inner.state.subscribe()
    }

    /// Every state transition from now on, once each and in order (see [`StateEvents`]).
    pub fn subscribe(&self) -> StateEvents {
        self.inner.hub.subscribe()
    }

    /// Whether credentials are stored (local check, no network).
    pub fn is_logged_in(&self) -> bool {
        self.inner.local().session.is_some()
    }

    /// The cached access token, even if expired (no network).
    pub fn access_token(&self) -> Option<String> {
        self.inner
            .local()
            .user
            .as_ref()
            .map(|u| u.access_token.clone())
    }

    /// The cached access token's claims (no network).
    pub fn profile(&self) -> Option<Profile> {
        self.inner.local().user.as_ref().map(|u| u.profile.clone())
    }

    /// `sid` of the cached access token (no network).
    pub fn session_id(&self) -> Option<String> {
        self.inner
            .local()
            .user
            .as_ref()
            .and_then(|u| u.session_id().map(str::to_owned))
    }

    /// Local expiry of the cached access token, unix seconds (no network).
    pub fn access_token_expires_at(&self) -> Option<i64> {
        self.inner.local().user.as_ref().map(|u| u.expires_at)
    }

    /// Everything above at once, plus whether a refresh is in flight.
    pub fn session_info(&self) -> SessionInfo {
        let in_flight = self
            .inner
            .refresh_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let local = self.inner.local();
        let user = local.user.as_ref();
        SessionInfo {
            logged_in: local.session.is_some(),
            session_id: user.and_then(|u| u.session_id().map(str::to_owned)),
            user_id: user.and_then(|u| u.user_id().map(str::to_owned)),
            access_expires_at: user.map(|u| u.expires_at),
            refresh_in_flight: in_flight,
        }
    }

    /// Marks the cached access token expired (it stays readable) so the next call refreshes.
    /// Local only: no network, the refresh token is untouched.
    pub fn invalidate_cache(&self) {
        let expired = self.inner.clock.now() - 1;
        let mut local = self.inner.local();
        if let Some(user) = local.user.as_mut() {
            user.expires_at = expired;
        }
        if let Some(session) = local.session.as_mut() {
            session.access_expires_at = session.access_expires_at.map(|_| expired);
            let session = session.clone();
            if let Err(e) = self.inner.store.save(&session) {
                tracing::warn!("could not store the invalidated cache: {e}");
            }
        }
    }

    /// A fresh access token and profile: the cached one if it is valid beyond the leeway,
    /// otherwise one network refresh shared by every concurrent caller.
    pub async fn refresh(&self) -> Result<User, Error> {
        self.alive()?;
        let flight = {
            // Checked under the flight slot's lock: a flight that just ended has already
            // cached its token, so no second refresh starts for it.
            let mut slot = self
                .inner
                .refresh_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(user) = self.inner.fresh_user(&self.inner.local()) {
                return Ok(user);
            }
            let late = slot.is_some()
                && self
                    .inner
                    .is_broken(BrokenVariant::CoalescesOnlySimultaneous)
                && self
                    .inner
                    .refresh_started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some_and(|t| t.elapsed() > Duration::from_millis(20));
            if self.inner.is_broken(BrokenVariant::NoCoalescing) || late {
                None
            } else {
                Some(match slot.as_ref() {
                    Some(flight) => flight.clone(),
                    None => {
                        *self
                            .inner
                            .refresh_started
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                        let body = self.inner.clone().refresh_now(true).boxed();
                        start_flight(&mut slot, &self.inner, |inner| &inner.refresh_flight, body)
                    }
                })
            }
        };
        match flight {
            Some(flight) => flight.await,
            // Broken variants: a request of its own, outside the flight.
            None => self.inner.clone().refresh_now(false).await,
        }
    }

    /// Exchanges a login challenge token for a session pinned to this client's DPoP key.
    /// `code_verifier` is needed when the challenge is PKCE-bound. The state is
    /// [`SessionState::Establishing`] meanwhile, and goes back to what it was on failure.
    pub async fn finalize_login(
        &self,
        challenge_token: &str,
        code_verifier: Option<&str>,
    ) -> Result<User, Error> {
        self.alive()?;
        let before = self.inner.state.borrow().clone();
        self.inner.set_state(SessionState::Establishing);
        let finalized = self.finalize(challenge_token, code_verifier).await;
        if finalized.is_err() {
            self.inner.set_state(before);
        }
        finalized
    }

    async fn finalize(
        &self,
        challenge_token: &str,
        code_verifier: Option<&str>,
    ) -> Result<User, Error> {
        let signer: Arc<dyn DpopSigner> = match &self.inner.fixed_signer {
            Some(signer) => signer.clone(),
            None => Arc::new(SoftwareKey::generate()?),
        };
        let (epoch, nonce, skew, previous) = {
            let local = self.inner.local();
            let session = local.session.as_ref();
            (
                local.epoch,
                session
                    .and_then(|s| s.dpop_nonce.clone())
                    .or_else(|| local.nonce.clone()),
                session.map_or(local.skew.unwrap_or(0), |s| s.skew_seconds),
                session.map(|s| s.refresh_token.clone()),
            )
        };
        let mut body = json!({"challenge_token": challenge_token});
        if let Some(verifier) = code_verifier {
            body["code_verifier"] = json!(verifier);
        }
        let mut dpop = self.inner.dpop(signer.clone(), nonce, skew);
        let url = format!("{}/login/finalize", self.inner.api);
        let now = self.inner.clock.now();
        let answer = exchange(
            &self.inner.http,
            Method::POST,
            &url,
            now,
            Some(&mut dpop),
            |r| {
                let r = r.json(&body);
                // The server ends the previous session once the new one exists.
                match &previous {
                    Some(token) => r.header("X-Refresh-Token", token),
                    None => r,
                }
            },
        )
        .await
        .map_err(Failure::into_error)?;
        self.inner.local().nonce.clone_from(&dpop.nonce);
        if !answer.is_success() {
            return Err(answer.error());
        }
        let pair = self.inner.token_pair(&answer, now)?;
        self.inner.commit(pair, epoch, &signer, dpop.nonce)
    }

    /// Email/password login: gets a challenge token, then finalizes it.
    pub async fn login_with_password(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<User, Error> {
        self.alive()?;
        #[derive(Deserialize)]
        struct Challenge {
            challenge_token: String,
        }
        let url = format!("{}/login/email/password", self.inner.api);
        let body = json!({"identifier": identifier, "password": password});
        let now = self.inner.clock.now();
        let answer = exchange(&self.inner.http, Method::POST, &url, now, None, |r| {
            r.json(&body)
        })
        .await
        .map_err(Failure::into_error)?;
        self.inner.note_skew(&answer, now);
        if !answer.is_success() {
            return Err(answer.error());
        }
        let challenge: Challenge = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::bad_response(format!("password login answer: {e}")))?;
        self.finalize_login(&challenge.challenge_token, None).await
    }

    /// Starts an OTP login (Prelude's `POST /otp`): the server sends a code to `identifier`,
    /// an email address or a phone number (`+…`). Finish with [`check_otp`](Self::check_otp).
    pub async fn start_otp_login(&self, identifier: &str) -> Result<(), Error> {
        self.alive()?;
        let kind = if identifier.trim_start().starts_with('+') {
            "phone_number"
        } else {
            "email_address"
        };
        let code_verifier = crate::dpop::b64(crate::dpop::random_bytes::<32>()?);
        let code_challenge = crate::dpop::s256(&code_verifier);
        let body = json!({
            "identifier": {"type": kind, "value": identifier},
            "code_challenge": code_challenge,
        });
        let answer = self.otp_call("/otp", None, Some(&body)).await?;
        let verification_token = answer
            .header("x-verification-token")
            .ok_or_else(|| Error::bad_response("OTP start answer has no X-Verification-Token"))?
            .to_owned();
        self.inner.local().otp = Some(PendingOtp {
            verification_token,
            code_verifier,
        });
        Ok(())
    }

    /// Checks the code of the pending OTP login and, if it is right, finalizes the login.
    /// A wrong code fails with the server's `bad_check_code` and keeps the login pending.
    pub async fn check_otp(&self, code: &str) -> Result<User, Error> {
        self.alive()?;
        #[derive(Deserialize)]
        struct Challenge {
            challenge_token: String,
        }
        let pending = self.pending_otp()?;
        let body = json!({"code": code});
        let answer = self
            .otp_call("/otp/check", Some(&pending.verification_token), Some(&body))
            .await?;
        let challenge: Challenge = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::bad_response(format!("OTP check answer: {e}")))?;
        let user = self
            .finalize_login(&challenge.challenge_token, Some(&pending.code_verifier))
            .await?;
        self.inner.local().otp = None;
        Ok(user)
    }

    /// Asks the server to send the pending OTP login's code again.
    pub async fn retry_otp(&self) -> Result<(), Error> {
        self.alive()?;
        let pending = self.pending_otp()?;
        self.otp_call("/otp/retry", Some(&pending.verification_token), None)
            .await
            .map(drop)
    }

    fn pending_otp(&self) -> Result<PendingOtp, Error> {
        self.inner.local().otp.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "no OTP login is pending: call start_otp_login first",
            )
        })
    }

    /// One unauthenticated OTP request; an error answer becomes the error.
    async fn otp_call(
        &self,
        path: &str,
        verification: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, Error> {
        let url = format!("{}{path}", self.inner.api);
        let now = self.inner.clock.now();
        let answer = exchange(&self.inner.http, Method::POST, &url, now, None, |r| {
            let r = match verification {
                Some(token) => r.header("X-Verification-Token", token),
                None => r,
            };
            match body {
                Some(body) => r.json(body),
                None => r,
            }
        })
        .await
        .map_err(Failure::into_error)?;
        self.inner.note_skew(&answer, now);
        if !answer.is_success() {
            return Err(answer.error());
        }
        Ok(answer)
    }

    /// Logs out: concurrent callers share one logout; local credentials are wiped first, then
    /// the server is told. Local state is gone even when the server call fails (its error is
    /// returned). With nothing stored it does nothing and succeeds.
    pub async fn logout(&self) -> Result<(), Error> {
        self.alive()?;
        let flight = {
            let mut slot = self
                .inner
                .logout_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(flight) => flight.clone(),
                None => {
                    let body = self.inner.clone().logout_now().boxed();
                    start_flight(&mut slot, &self.inner, |inner| &inner.logout_flight, body)
                }
            }
        };
        flight.await
    }

    /// Sends a request built by `build` with the access token: as `Bearer`, or, when the
    /// token is DPoP-bound (its `cnf.jkt` claim, RFC 9449 §7), with the `DPoP` scheme and a
    /// proof carrying its `ath`. On 401 it refreshes (joining any refresh in flight) and
    /// retries once; if that refresh fails, the original 401 response is returned.
    pub async fn authorized(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        self.alive()?;
        let user = self.refresh().await?;
        let first = self.inner.send_authorized(&build, &user).await?;
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        // Invalidate only if no sibling call has refreshed since this token was read.
        let still_current = self
            .inner
            .local()
            .user
            .as_ref()
            .is_some_and(|u| u.access_token == user.access_token);
        if still_current {
            self.invalidate_cache();
        }
        match self.refresh().await {
            Ok(fresh) => self.inner.send_authorized(&build, &fresh).await,
            Err(_) => Ok(first),
        }
    }

    /// One page of the user's active sessions (`limit` 1..=100, default 10 server-side).
    pub async fn list_sessions(
        &self,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<SessionPage, Error> {
        let url = format!("{}/me/list", self.inner.api);
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(("limit", limit));
        }
        if let Some(offset) = offset {
            query.push(("offset", offset));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let response = self.authorized(|http| http.get(&url).query(&query)).await?;
            let answer = Answer::read(response).await.map_err(|e| transport(&e))?;
            if answer.is_transient() && attempt < self.inner.retry.max_attempts {
                tokio::time::sleep(self.inner.backoff(attempt, answer.retry_after())).await;
                continue;
            }
            if !answer.is_success() {
                return Err(answer.error());
            }
            return parse_page(
                &answer.body,
                self.inner.is_broken(BrokenVariant::StrictDeviceType),
            );
        }
    }

    /// Revokes sessions. After success, local credentials are wiped for `All`, `Mine`, and
    /// `Session(id)` when `id` is this session; `Others` never wipes. A failure wipes nothing.
    pub async fn revoke_sessions(&self, target: RevokeTarget) -> Result<(), Error> {
        self.alive()?;
        let query = match &target {
            RevokeTarget::Session(id)
                if self.inner.is_broken(BrokenVariant::RevokeBlankSessionSent) =>
            {
                vec![("target", "session".into()), ("session_id", id.clone())]
            }
            _ => target.query()?,
        };
        let own_sid = self.session_id();
        let url = format!("{}/me/revoke", self.inner.api);
        let response = self
            .authorized(|http| http.post(&url).query(&query))
            .await?;
        let answer = Answer::read(response).await.map_err(|e| transport(&e))?;
        if !answer.is_success() {
            return Err(answer.error());
        }
        let wipe = match &target {
            RevokeTarget::Mine => !self.inner.is_broken(BrokenVariant::NoWipeOnRevokeMine),
            RevokeTarget::All => true,
            RevokeTarget::Session(id) => own_sid.as_deref() == Some(id.as_str()),
            RevokeTarget::Others => false,
        };
        if wipe {
            let mut local = self.inner.local();
            self.inner.wipe(&mut local)?;
        }
        Ok(())
    }

    /// Releases the client: every later call returns [`ErrorKind::Disposed`]. It neither
    /// revokes nor wipes; idempotent.
    pub fn dispose(&self) {
        self.inner.disposed.store(true, Ordering::SeqCst);
        self.inner.cancel_proactive();
    }
}
