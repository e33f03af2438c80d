//! Session management on `/me`: listing the user's sessions and revoking them, with the
//! spec's wipe rules.

use super::SessionClient;
use crate::broken::BrokenVariant;
use crate::error::{Error, transport};
use crate::http::Answer;
use crate::sessions::{RevokeTarget, SessionPage, parse_page};

impl SessionClient {
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
            if answer.is_transient()
                && attempt < self.inner.retry.max_attempts
                && self.inner.retries_transient_answers()
            {
                tokio::time::sleep(self.inner.backoff(attempt, answer.retry_after())).await;
                continue;
            }
            if !answer.is_success() {
                return Err(answer.error());
            }
            return parse_page(
                &answer.body,
                self.inner.is_broken(BrokenVariant::StrictDeviceType),
                self.inner.is_broken(BrokenVariant::StrictListFields),
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
        let build = |http: &reqwest::Client| http.post(&url).query(&query);
        let response = if self
            .inner
            .is_broken(BrokenVariant::RevokeWithoutAutoRefresh)
        {
            let user = self.refresh().await?;
            self.inner.send_authorized(&build, &user).await?
        } else {
            self.authorized(build).await?
        };
        let answer = Answer::read(response).await.map_err(|e| transport(&e))?;
        if !answer.is_success() {
            if self.inner.is_broken(BrokenVariant::RevokeWipesOnFailure) {
                let mut local = self.inner.local();
                self.inner.wipe(&mut local)?;
            }
            return Err(answer.error());
        }
        let wipe = match &target {
            RevokeTarget::Mine => !self.inner.is_broken(BrokenVariant::NoWipeOnRevokeMine),
            RevokeTarget::All => true,
            RevokeTarget::Session(id) => own_sid.as_deref() == Some(id.as_str()),
            RevokeTarget::Others => false,
        };
        if wipe {
            let publish = !self.inner.is_broken(BrokenVariant::SilentRevokeWipe);
            let mut local = self.inner.local();
            self.inner.wipe_as(&mut local, publish)?;
        }
        Ok(())
    }
}
