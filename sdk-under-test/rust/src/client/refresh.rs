//! The refresh engine: when a cached access token is fresh enough, the one coalesced refresh
//! flight (store lock, re-read, one request, retries with backoff, what a lost answer means)
//! and validating the token pair it brings back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::FutureExt;
use reqwest::Method;
use serde::Deserialize;

use super::flight::start_flight;
use super::{Inner, LocalSession, SessionClient};
use crate::broken::{BrokenVariant, UnusualVariant};
use crate::dpop::DpopSigner;
use crate::error::{Error, ErrorKind};
use crate::http::{Answer, Failure, exchange};
use crate::state::SessionState;
use crate::store::StoredSession;
use crate::user::{User, claims};

#[derive(Deserialize)]
struct TokenPairBody {
    access_token: String,
    expires_at: i64,
}

/// A token-pair answer, validated.
pub(super) struct TokenPair {
    pub(super) user: User,
    pub(super) refresh_token: String,
    pub(super) refresh_expires_at: Option<String>,
    pub(super) skew: i64,
}

/// Validates a finalize/refresh answer; nothing is stored unless all of it is right.
/// `skew` (local minus server clock) turns the server's `expires_at` into local time.
pub(super) fn token_pair(
    answer: &Answer,
    now: i64,
    skew: i64,
    millis: bool,
) -> Result<TokenPair, Error> {
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
            profile: Arc::new(profile),
            expires_at,
        },
        refresh_token,
        refresh_expires_at: answer
            .header("x-refresh-token-expires-at")
            .map(str::to_owned),
        skew,
    })
}

/// How one refresh flight runs.
#[derive(Default)]
pub(super) struct Plan {
    /// Take the store's cross-process lock and re-read the store first (always, but for
    /// broken variants).
    pub(super) coordinate: bool,
    /// Refresh even if the cached token is still fresh (an early proactive refresh).
    pub(super) force: bool,
    /// Refresh this session with this key instead of the stored one (a broken variant's
    /// stale timer).
    pub(super) captured: Option<(StoredSession, Arc<dyn DpopSigner>)>,
}

impl Inner {
    /// A validated token pair, its expiry on the local clock (corrected by the answer's `Date`).
    /// `held_skew` is the skew the client had before this answer.
    pub(super) fn token_pair(
        &self,
        answer: &Answer,
        now: i64,
        held_skew: i64,
    ) -> Result<TokenPair, Error> {
        let skew = if self.is_broken(BrokenVariant::IgnoresClockSkew) {
            0
        } else if self.is_broken(BrokenVariant::StickySkew) && held_skew != 0 {
            held_skew
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

    /// How long to wait after failed attempt `attempt`.
    pub(super) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if self.is_broken(BrokenVariant::NoBackoff) {
            return Duration::ZERO;
        }
        let retry_after = retry_after.filter(|_| !self.is_broken(BrokenVariant::IgnoresRetryAfter));
        let full_jitter = self.is_unusual(UnusualVariant::FullJitter);
        self.retry.delay_with(attempt, retry_after, full_jitter)
    }

    /// Whether a transient error answer (5xx, 429) is retried inside the call.
    pub(super) fn retries_transient_answers(&self) -> bool {
        !self.is_unusual(UnusualVariant::NoTransientRetry)
    }

    /// The token's lifetime from its claims, when it has a positive one.
    fn lifetime(user: &User) -> Option<i64> {
        let (exp, iat) = (user.profile.get("exp")?, user.profile.get("iat")?);
        exp.as_i64()
            .zip(iat.as_i64())
            .map(|(e, i)| e - i)
            .filter(|l| *l > 0)
    }

    /// How long before expiry a cached token counts as stale: the configured leeway, but at
    /// most a quarter of the token's lifetime, so short-lived tokens are still cached.
    pub(super) fn margin(&self, user: &User) -> i64 {
        let lifetime = Self::lifetime(user);
        if self.is_unusual(UnusualVariant::AlwaysFresh) {
            return lifetime.map_or(self.leeway, |l| l / 2);
        }
        lifetime.map_or(self.leeway, |l| self.leeway.min(l / 4))
    }

    /// How long before expiry the proactive refresh starts.
    pub(super) fn proactive_margin(&self, user: &User) -> i64 {
        if self.is_unusual(UnusualVariant::RefreshesEarly) {
            return Self::lifetime(user).map_or(self.leeway, |l| l / 2);
        }
        self.margin(user)
    }

    /// The cached user if its token is fresh beyond the leeway.
    pub(super) fn fresh_user(&self, local: &LocalSession) -> Option<User> {
        let user = local.user.as_ref()?;
        (user.expires_at > self.clock.now().saturating_add(self.margin(user))).then(|| user.clone())
    }

    /// The body of a refresh flight.
    pub(super) async fn refresh_now(self: Arc<Self>, plan: Plan) -> Result<User, Error> {
        let _lock = if plan.coordinate {
            self.store_lock().await?
        } else {
            None
        };
        let (epoch, signer, session) = if let Some((session, signer)) = plan.captured {
            (self.local().epoch, signer, session)
        } else {
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
            if !plan.force
                && let Some(user) = self.fresh_user(&local)
            {
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
            let mut refused = false;
            let error = match sent {
                Ok(answer) if answer.is_success() => {
                    let pair = self.token_pair(&answer, now, session.skew_seconds)?;
                    return self.commit(pair, epoch, &signer, dpop.nonce);
                }
                Ok(answer)
                    if answer.is_transient()
                        && retries_left
                        && self.retries_transient_answers() =>
                {
                    tokio::time::sleep(self.backoff(attempt, answer.retry_after())).await;
                    continue;
                }
                Ok(answer) => {
                    refused = matches!(answer.status, 400 | 401);
                    answer.error()
                }
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
            if !self.is_broken(BrokenVariant::NonceKeptOnlyOnSuccess) {
                self.remember_nonce(epoch, dpop.nonce);
            }
            if refused && self.is_broken(BrokenVariant::WipesOnRefusedRefresh) {
                let mut local = self.local();
                if local.epoch == epoch {
                    self.wipe(&mut local)?;
                }
            }
            if self.is_broken(BrokenVariant::ErrorEchoesSecrets) {
                return Err(error.with_detail(&format!("refresh token {token}")));
            }
            return Err(error);
        }
    }

    /// A fresh user: the cached one if it is fresh (unless `force`), otherwise the outcome of
    /// the one refresh flight, joined or started.
    pub(super) async fn refresh_shared(self: &Arc<Self>, force: bool) -> Result<User, Error> {
        let flight = {
            // Checked under the flight slot's lock: a flight that just ended has already
            // cached its token, so no second refresh starts for it.
            let mut slot = self
                .refresh_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if !force && let Some(user) = self.fresh_user(&self.local()) {
                return Ok(user);
            }
            let late = slot.is_some()
                && self.is_broken(BrokenVariant::CoalescesOnlySimultaneous)
                && self
                    .refresh_started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some_and(|t| t.elapsed() > Duration::from_millis(20));
            if self.is_broken(BrokenVariant::NoCoalescing) || late {
                None
            } else {
                Some(match slot.as_ref() {
                    Some(flight) => flight.clone(),
                    None => {
                        *self
                            .refresh_started
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                        let plan = Plan {
                            coordinate: true,
                            force,
                            captured: None,
                        };
                        let body = self.clone().refresh_now(plan).boxed();
                        start_flight(&mut slot, self, |inner| &inner.refresh_flight, body)
                    }
                })
            }
        };
        match flight {
            Some(flight) => flight.await,
            // Broken variants: a request of its own, outside the flight.
            None => self.clone().refresh_now(Plan::default()).await,
        }
    }
}

impl SessionClient {
    /// A fresh access token and profile: the cached one if it is valid beyond the leeway,
    /// otherwise one network refresh shared by every concurrent caller.
    pub async fn refresh(&self) -> Result<User, Error> {
        self.alive()?;
        self.inner.refresh_shared(false).await
    }
}
