//! The state every handler shares: configuration, policy, clock, signing key, store, replay
//! cache, nonces, journal and faults. Cheap to clone (one `Arc`).

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::clock::Clock;
use crate::config::{Policy, SeedUser, ServerConfig};
use crate::control::faults::Faults;
use crate::control::journal::Journal;
use crate::dpop::nonce::NonceSource;
use crate::dpop::replay::ReplayCache;
use crate::store::Store;
use crate::tokens::SigningKey;
use crate::tokens::keyring::KeyRing;
use crate::{Error, Reason};

pub(crate) struct Shared {
    pub(crate) app_id: String,
    pub(crate) issuer: String,
    /// `http` or `https`: what `htu` must say.
    pub(crate) scheme: &'static str,
    pub(crate) control: crate::control::guard::ControlAccess,
    pub(crate) record_requests: bool,
    pub(crate) limits: crate::config::Limits,
    seed_users: Vec<SeedUser>,
    initial_policy: Policy,
    policy: RwLock<Policy>,
    pub(crate) clock: Clock,
    pub(crate) key: KeyRing,
    store: Mutex<Store>,
    pub(crate) replay: ReplayCache,
    pub(crate) nonces: NonceSource,
    pub(crate) journal: Journal,
    pub(crate) faults: Faults,
    pub(crate) events: crate::control::events::Events,
}

/// Handle to the shared state.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub(crate) fn new(
        config: &ServerConfig,
        key: SigningKey,
        scheme: &'static str,
        frozen_clock: Option<i64>,
    ) -> Result<Self, Error> {
        config.policy.validate().map_err(Error::config)?;
        config.limits.validate().map_err(Error::config)?;
        let state = Self(Arc::new(Shared {
            app_id: config.app_id().to_owned(),
            issuer: config.issuer(),
            scheme,
            control: crate::control::guard::ControlAccess::new(config),
            record_requests: config.record_requests,
            limits: config.limits.clone(),
            seed_users: config.users.clone(),
            initial_policy: config.policy.clone(),
            policy: RwLock::new(config.policy.clone()),
            clock: Clock::new(frozen_clock),
            key: KeyRing::new(key),
            store: Mutex::new(Store::new(config.limits.token_history)),
            replay: ReplayCache::new(),
            nonces: NonceSource::new(),
            journal: Journal::new(config.limits.journal_capacity),
            faults: Faults::default(),
            events: crate::control::events::Events::default(),
        }));
        state.seed()?;
        Ok(state)
    }

    fn seed(&self) -> Result<(), Error> {
        let mut store = self.store();
        for user in &self.seed_users {
            store
                .create_user(
                    &user.email,
                    user.password.expose(),
                    user.phone_number.clone(),
                )
                .map_err(|reason| match reason {
                    Reason::UserExists => Error::config(format!("duplicate user {}", user.email)),
                    _ => Error::config(format!("invalid user email {}", user.email)),
                })?;
        }
        Ok(())
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn policy(&self) -> Policy {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.0.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn refresh_cookie(&self) -> String {
        format!("__refresh_{}", self.app_id)
    }

    pub(crate) fn verification_cookie(&self) -> String {
        format!("__verification-login_{}", self.app_id)
    }

    /// Back to the start-up state: seed users only, initial policy, empty journal and faults.
    /// The current signing key and the clock are kept; keys retired by a rotation are not.
    pub(crate) fn reset(&self) -> Result<(), Error> {
        *self.store() = Store::new(self.limits.token_history);
        self.key.forget_retired();
        self.set_policy(self.initial_policy.clone());
        self.replay.clear();
        self.journal.clear();
        self.faults.clear();
        self.seed()
    }
}
