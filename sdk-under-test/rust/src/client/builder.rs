//! [`SessionClientBuilder`]: the client's configuration, and building a client from it
//! (loading any stored session).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{Inner, LocalSession, SessionClient};
use crate::broken::{self, BrokenVariant, UnusualVariant};
use crate::clock::{Clock, SystemClock};
use crate::dpop::DpopSigner;
use crate::error::{Error, ErrorKind};
use crate::http::{RetryPolicy, Transport};
use crate::state::{Hub, SessionState};
use crate::store::{MemoryStore, Store};

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
    unusual: Option<UnusualVariant>,
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

    /// Switches on a correct but unusual behaviour, for proving that the conformance suite
    /// passes it. Only with the `broken-variants` feature, which nothing shipped enables.
    #[cfg(feature = "broken-variants")]
    #[doc(hidden)]
    pub fn unusual(mut self, variant: UnusualVariant) -> Self {
        self.unusual = Some(variant);
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
        let is_broken = |variant| broken::is(self.broken, variant);
        let hub = Arc::new(Hub::new(
            is_broken(BrokenVariant::UnsubscribeIgnored),
            is_broken(BrokenVariant::SharedEventQueue),
        ));
        // Proofs name the server as the URL does once parsed: scheme and host in lower case
        // (RFC 3986 §6.2.2.1), whatever case the app configured.
        let base = if is_broken(BrokenVariant::HtuKeepsUrlCase) {
            self.base_url.clone()
        } else {
            reqwest::Url::parse(&self.base_url)
                .map_or_else(|_| self.base_url.clone(), |url| url.to_string())
        };
        // A store that cannot keep an id leaves the header out rather than failing calls.
        let device_id = if is_broken(BrokenVariant::DeviceIdPerLaunch) {
            crate::dpop::uuid_v4().ok()
        } else {
            self.store.device_id().unwrap_or_else(|e| {
                tracing::warn!("no device id: {e}");
                None
            })
        };
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            hub,
            proactive: self.proactive,
            proactive_task: Mutex::new(None),
            api: format!("{}/v1/session", base.trim_end_matches('/')),
            http: Transport {
                client: http,
                device_id,
            },
            store: self.store,
            clock: self.clock,
            fixed_signer: self.signer,
            leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
            retry: self.retry,
            reuse_grace: self.reuse_grace,
            broken: self.broken,
            unusual: self.unusual,
            local: Mutex::new(LocalSession::default()),
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
            unusual: None,
        }
    }
}
