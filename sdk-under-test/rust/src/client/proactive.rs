//! The proactive refresh: a timer that refreshes shortly before the access token expires,
//! as an ordinary refresh flight, cancelled by a wipe or a newer token.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Inner;
use super::refresh::Plan;
use crate::broken::{BrokenVariant, UnusualVariant};
use crate::user::User;

/// How long until `due` (unix seconds) from `now_millis`; `None` when it has passed.
///
/// Aimed in milliseconds: `due` is a whole second, and "now" read in whole seconds would put
/// the timer up to a second late, past the expiry of a short-lived token.
fn delay(due: i64, now_millis: i64) -> Option<Duration> {
    let millis = due.saturating_mul(1000).saturating_sub(now_millis);
    u64::try_from(millis)
        .ok()
        .filter(|m| *m > 0)
        .map(Duration::from_millis)
}

impl Inner {
    /// Plans the proactive refresh for `user`'s token (replacing any planned one).
    pub(super) fn schedule_proactive(&self, user: &User) {
        if !self.proactive || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let (epoch, skew, captured) = {
            let local = self.local();
            let captured = local.session.clone().zip(local.signer.clone());
            (
                local.epoch,
                local.session.as_ref().map_or(0, |s| s.skew_seconds),
                captured,
            )
        };
        let mut expires_at = user.expires_at;
        if self.is_broken(BrokenVariant::ProactiveOnDeviceClock) {
            // The server's `exp`, read as if the device's clock were the server's.
            expires_at -= skew;
        }
        let due = expires_at - self.proactive_margin(user);
        let Some(wait) = delay(due, self.clock.now_millis()) else {
            // Already stale (an invalidated cache, a restart after expiry): the next caller
            // refreshes; nothing goes on the wire without one.
            return;
        };
        let stale_timer = self.is_broken(BrokenVariant::ProactiveOutlivesWipe);
        // Early: refresh although callers are still served the cached token.
        let early = self.is_unusual(UnusualVariant::RefreshesEarly);
        let me = self.me.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(inner) = me.upgrade() else { return };
            let refreshed = if stale_timer {
                let plan = Plan {
                    force: true,
                    captured,
                    ..Plan::default()
                };
                inner.refresh_now(plan).await
            } else if inner.disposed.load(Ordering::SeqCst) || inner.local().epoch != epoch {
                return;
            } else {
                inner.refresh_shared(early).await
            };
            if let Err(e) = refreshed {
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

    pub(super) fn cancel_proactive(&self) {
        if self.is_broken(BrokenVariant::ProactiveOutlivesWipe) {
            return;
        }
        if let Some(task) = self
            .proactive_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_counts_the_part_of_the_second_already_gone() {
        // 96.9 s now, due at 99 s: 2.1 s, not the 3 s whole seconds would give.
        assert_eq!(delay(99, 96_900), Some(Duration::from_millis(2_100)));
    }

    #[test]
    fn a_due_time_already_past_plans_nothing() {
        assert_eq!(delay(99, 99_000), None);
        assert_eq!(delay(99, 120_000), None);
    }
}
