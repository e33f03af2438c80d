//! Keeping the in-memory session and the store in step: adopting what another process
//! stored, committing a rotated token durably before anyone uses it, wiping (and bumping the
//! epoch so late flights cannot resurrect a session), taking the store's cross-process lock,
//! and keeping the server's latest DPoP nonce.

use std::sync::Arc;

use super::refresh::TokenPair;
use super::{Inner, LocalSession};
use crate::broken::BrokenVariant;
use crate::dpop::{DpopSigner, SoftwareKey};
use crate::error::{Error, ErrorKind};
use crate::state::SessionState;
use crate::store::{StoreLock, StoredSession};
use crate::user::{User, claims};

impl Inner {
    /// The key that signs for `session`: the configured signer, else its stored software key.
    pub(super) fn signer_for(&self, session: &StoredSession) -> Result<Arc<dyn DpopSigner>, Error> {
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
    pub(super) fn adopt(
        &self,
        local: &mut LocalSession,
        session: StoredSession,
    ) -> Result<(), Error> {
        let signer = self.signer_for(&session)?;
        let mut session = session;
        if self.is_broken(BrokenVariant::NonceNotPersisted) && session.dpop_nonce.is_none() {
            // The nonce lives in memory only: keep the one this instance holds.
            session.dpop_nonce = local
                .session
                .as_ref()
                .and_then(|s| s.dpop_nonce.clone())
                .or_else(|| local.nonce.clone());
        }
        local.user = match (&session.access_token, session.access_expires_at) {
            (Some(token), Some(expires_at)) => claims(token).ok().map(|profile| User {
                access_token: token.clone(),
                profile: Arc::new(profile),
                expires_at,
            }),
            _ => None,
        };
        local.signer = Some(signer);
        local.session = Some(session);
        Ok(())
    }

    /// Clears credentials everywhere; later results of older flights are discarded.
    pub(super) fn wipe(&self, local: &mut LocalSession) -> Result<(), Error> {
        self.wipe_as(local, true)
    }

    /// [`wipe`](Self::wipe); `publish: false` (a broken variant) tells no subscriber.
    pub(super) fn wipe_as(&self, local: &mut LocalSession, publish: bool) -> Result<(), Error> {
        local.epoch += 1;
        local.session = None;
        local.user = None;
        local.signer = None;
        local.nonce = None;
        self.cancel_proactive();
        let cleared = self.store.clear();
        if publish {
            self.set_state(SessionState::LoggedOut);
        } else {
            self.state.send_replace(SessionState::LoggedOut);
        }
        cleared
    }

    /// Stores a validated token pair, unless a wipe happened since `epoch`.
    pub(super) fn commit(
        &self,
        pair: TokenPair,
        epoch: u64,
        signer: &Arc<dyn DpopSigner>,
        nonce: Option<String>,
    ) -> Result<User, Error> {
        let mut local = self.local();
        if local.epoch != epoch && !self.is_broken(BrokenVariant::LateAnswerIgnoresWipe) {
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
        self.save(&session)?;
        local.session = Some(session);
        local.user = Some(pair.user.clone());
        local.signer = Some(signer.clone());
        drop(local);
        self.set_state(SessionState::LoggedIn);
        self.schedule_proactive(&pair.user);
        Ok(pair.user)
    }

    pub(super) async fn store_lock(&self) -> Result<Option<StoreLock>, Error> {
        if !self.store.lock_blocks() {
            return self.store.lock();
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.lock())
            .await
            .map_err(|e| Error::new(ErrorKind::Store, format!("store lock task failed: {e}")))?
    }

    /// Saves `session` in the store (without its nonce, for a broken variant).
    fn save(&self, session: &StoredSession) -> Result<(), Error> {
        if self.is_broken(BrokenVariant::NonceNotPersisted) {
            let without = StoredSession {
                dpop_nonce: None,
                ..session.clone()
            };
            return self.store.save(&without);
        }
        self.store.save(session)
    }

    /// Keeps a `DPoP-Nonce` from any answer (Bearer routes too) for the next proof.
    pub(super) fn note_nonce(
        &self,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
    ) {
        if status.is_success() && self.is_broken(BrokenVariant::IgnoresSuccessNonce) {
            return;
        }
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
    pub(super) fn remember_nonce(&self, epoch: u64, nonce: Option<String>) {
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
            if let Err(e) = self.save(&session) {
                tracing::warn!("could not store the DPoP nonce: {e}");
            }
        }
    }
}
