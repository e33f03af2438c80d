//! Logout: one shared flight that settles any refresh, wipes local credentials first, then
//! tells the server with a proof signed by a snapshot of the key.

use std::sync::Arc;

use futures_util::future::FutureExt;
use reqwest::Method;

use super::flight::start_flight;
use super::{Inner, SessionClient};
use crate::broken::BrokenVariant;
use crate::error::Error;
use crate::http::exchange;

impl Inner {
    /// The body of a logout flight: settle any refresh, wipe, then tell the server.
    pub(super) async fn logout_now(self: Arc<Self>) -> Result<(), Error> {
        // A refresh on the wire is settled first, so the revoke presents the token it
        // rotated to (and the store's lock, which a refresh holds, is free).
        let drain = !self.is_broken(BrokenVariant::LogoutDoesNotDrain);
        let refreshing = self
            .refresh_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|_| drain);
        if let Some(flight) = refreshing {
            let _settled = flight.await;
        }
        let _lock = if drain {
            self.store_lock().await?
        } else {
            None
        };
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
        let nonce = session
            .dpop_nonce
            .clone()
            .filter(|_| !self.is_broken(BrokenVariant::LogoutWithoutNonce));
        let mut dpop = self.dpop(signer, nonce, session.skew_seconds);
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

impl SessionClient {
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
}
