//! [`SessionClient`]: login, coalesced refresh, authorised requests, logout and session
//! management over the Prelude session API.
//!
//! Concurrency model: one refresh at a time. Callers that find no fresh cached token join the
//! current refresh *flight* (a spawned task, so it completes even if every caller goes away)
//! or start one. Across processes sharing a [`FileStore`](crate::FileStore) the flight takes
//! the store's lock and re-reads the store first, so a token another process just rotated is
//! adopted instead of spent again. A wipe (logout, revoke) bumps an *epoch*; a flight that
//! finishes under an older epoch discards its result, so nothing resurrects a wiped session.
//!
//! Files: `builder` (configuration), `flight` (shared flights), `refresh` (the refresh engine),
//! `proactive` (the refresh timer), `sync` (memory and store in step), `login`, `logout`,
//! `authorized` (requests with the access token), `me` (listing and revoking sessions).

mod authorized;
mod builder;
mod flight;
mod login;
mod logout;
mod me;
mod proactive;
mod refresh;
mod sync;

/// The token-pair parser, for the fuzz targets.
#[cfg(fuzzing)]
pub(crate) fn refresh_token_pair(
    answer: &crate::http::Answer,
    now: i64,
    skew: i64,
) -> Result<(), Error> {
    refresh::token_pair(answer, now, skew, false).map(drop)
}

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::broken::{self, BrokenVariant, UnusualVariant};
use crate::clock::Clock;
use crate::dpop::DpopSigner;
use crate::error::{Error, ErrorKind};
use crate::http::{Dpop, Quirks, RetryPolicy, Transport};
use crate::state::{Hub, SessionState, StateEvents};
use crate::store::{Store, StoredSession};
use crate::user::{Profile, User};

pub use builder::SessionClientBuilder;
use flight::Flight;
use login::PendingOtp;

/// The in-memory mirror of the store plus what cannot be stored.
#[derive(Default)]
struct LocalSession {
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

/// Everything the clones of one client share.
struct Inner {
    /// This very `Inner`, for tasks that must not keep the client alive.
    me: std::sync::Weak<Inner>,
    hub: Arc<Hub>,
    proactive: bool,
    proactive_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// When the current refresh flight started (for one broken variant).
    refresh_started: Mutex<Option<Instant>>,
    api: String,
    http: Transport,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    fixed_signer: Option<Arc<dyn DpopSigner>>,
    leeway: i64,
    retry: RetryPolicy,
    reuse_grace: Option<Duration>,
    broken: Option<BrokenVariant>,
    unusual: Option<UnusualVariant>,
    local: Mutex<LocalSession>,
    refresh_flight: Mutex<Option<Flight<User>>>,
    logout_flight: Mutex<Option<Flight<()>>>,
    state: watch::Sender<SessionState>,
    disposed: AtomicBool,
}

/// A cheap snapshot of the session for display, without network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSnapshot {
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

impl Inner {
    fn is_broken(&self, variant: BrokenVariant) -> bool {
        broken::is(self.broken, variant)
    }

    fn is_unusual(&self, variant: UnusualVariant) -> bool {
        broken::is_unusual(self.unusual, variant)
    }

    /// Proof settings for one exchange.
    fn dpop(&self, signer: Arc<dyn DpopSigner>, nonce: Option<String>, skew: i64) -> Dpop {
        let follow_date = !self.is_broken(BrokenVariant::IgnoresClockSkew);
        let nonce_retries = if self.is_broken(BrokenVariant::NoNonceRetry) {
            0
        } else if self.is_broken(BrokenVariant::NonceRetryLoops) {
            5
        } else {
            1
        };
        Dpop {
            signer,
            nonce,
            skew: if follow_date { skew } else { 0 },
            nonce_retries,
            follow_date,
            quirks: Quirks {
                retry_any_invalid_proof: self.is_broken(BrokenVariant::RetriesAnyInvalidProof),
                sticky_skew: self.is_broken(BrokenVariant::StickySkew),
                ignore_success_nonce: self.is_broken(BrokenVariant::IgnoresSuccessNonce),
            },
        }
    }

    fn local(&self) -> MutexGuard<'_, LocalSession> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, state: SessionState) {
        let changed = self.state.send_if_modified(|current| {
            let changed = *current != state;
            current.clone_from(&state);
            changed
        });
        let unpublished = self.is_broken(BrokenVariant::NoExpiredEvent)
            && matches!(
                state,
                SessionState::Expired | SessionState::Terminated { .. }
            );
        if changed && !unpublished {
            self.hub.publish(&state);
        }
    }
}

impl SessionClient {
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
        self.inner
            .local()
            .user
            .as_ref()
            .map(|u| (*u.profile).clone())
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
    pub fn snapshot(&self) -> SessionSnapshot {
        let in_flight = self
            .inner
            .refresh_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let local = self.inner.local();
        let user = local.user.as_ref();
        SessionSnapshot {
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

    /// Releases the client: every later call returns [`ErrorKind::Disposed`]. It neither
    /// revokes nor wipes; idempotent.
    pub fn dispose(&self) {
        self.inner.disposed.store(true, Ordering::SeqCst);
        self.inner.cancel_proactive();
    }
}
