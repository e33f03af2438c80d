//! The proactive refresh: a timer that refreshes shortly before the access token expires,
//! as an ordinary refresh flight, cancelled by a wipe or a newer token.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Inner, SessionClient};
use crate::user::User;

impl Inner {
    /// Plans the proactive refresh for `user`'s token (replacing any planned one).
    pub(super) fn schedule_proactive(&self, user: &User) {
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

    pub(super) fn cancel_proactive(&self) {
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
