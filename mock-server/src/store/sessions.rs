//! Sessions: creation at login (pinned to a DPoP key), listing, revocation by target or by the
//! control API, and spent login challenges.

use std::collections::VecDeque;

use super::device::Device;
use super::views::{SessionRecord, SessionView};
use super::{Store, new_id};
use crate::Secret;
use crate::http::api_error::Reason;
use crate::http::time_fmt::iso8601;
use crate::jose::random_token;

#[derive(Debug)]
pub(super) struct Session {
    pub(super) id: String,
    pub(super) user_id: String,
    pub(super) jkt: String,
    pub(super) device: Device,
    pub(super) created_at: i64,
    pub(super) last_seen_at: i64,
    pub(super) expires_at: i64,
    pub(super) revoked: Option<Reason>,
    /// Access tokens issued before this second are refused (control API "expire now").
    pub(super) access_not_before: i64,
    /// Access tokens issued after an `expire_access` but within its second (`iat` cannot
    /// tell them from the expired ones).
    pub(super) fresh_access: Vec<String>,
    pub(super) generation: u64,
    /// When the current token replaced its parent, for the grace window.
    pub(super) rotated_at: i64,
    /// The refresh tokens still recognised, oldest first (the newest is the current one);
    /// older ones are forgotten.
    pub(super) history: VecDeque<Secret>,
}

impl Session {
    /// The session's current refresh token: the newest it remembers.
    pub(super) fn current_token(&self) -> Secret {
        self.history.back().cloned().unwrap_or_default()
    }

    fn record(&self) -> SessionRecord {
        SessionRecord {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            jkt: self.jkt.clone(),
            generation: self.generation,
            revoked: self.revoked,
            created_at: self.created_at,
            expires_at: self.expires_at,
            device: Some(self.view()),
            device_id: self.device.install_id.clone(),
        }
    }

    fn view(&self) -> SessionView {
        SessionView {
            id: self.id.clone(),
            device_model: self.device.model.clone(),
            device_type: self.device.kind.clone(),
            os_version: self.device.os_version.clone(),
            country_code: "US".into(),
            created_at: iso8601(self.created_at),
            last_seen_at: iso8601(self.last_seen_at),
            expires_at: iso8601(self.expires_at),
        }
    }

    pub(super) fn active(&self, now: i64) -> bool {
        self.revoked.is_none() && self.expires_at > now
    }
}

/// What a session-creating call needs back.
#[derive(Clone, Debug)]
pub(crate) struct NewSession {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) refresh_token: Secret,
    pub(crate) expires_at: i64,
}

/// What `me/revoke` targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RevokeTarget {
    All,
    Others,
    Mine,
    Session(String),
}

impl Store {
    /// Marks a challenge `jti` as spent; `false` if it already was.
    pub(crate) fn spend_challenge(&mut self, jti: &str) -> bool {
        self.spent_challenges.insert(jti.to_owned())
    }

    pub(crate) fn create_session(
        &mut self,
        user_id: &str,
        jkt: &str,
        device: Device,
        now: i64,
        ttl: i64,
    ) -> Result<NewSession, Reason> {
        let user = self.users.get(user_id).ok_or(Reason::InvalidChallenge)?;
        if user.view.blocked {
            return Err(Reason::UserBlocked);
        }
        let token = format!("rt_{}", random_token(32));
        let session = Session {
            id: new_id("ses"),
            user_id: user_id.into(),
            jkt: jkt.into(),
            device,
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(ttl),
            revoked: None,
            access_not_before: i64::MIN,
            fresh_access: Vec::new(),
            generation: 0,
            rotated_at: now,
            history: VecDeque::from([Secret::new(token.clone())]),
        };
        self.tokens.insert(token.clone(), (session.id.clone(), 0));
        let created = NewSession {
            session_id: session.id.clone(),
            user_id: user_id.into(),
            refresh_token: Secret::new(token),
            expires_at: session.expires_at,
        };
        self.sessions.insert(session.id.clone(), session);
        Ok(created)
    }

    pub(crate) fn session_jkt(&self, sid: &str) -> Option<&str> {
        self.sessions.get(sid).map(|s| s.jkt.as_str())
    }

    /// Active sessions of a user, most recently seen first, and the total count.
    pub(crate) fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
        limit: usize,
        offset: usize,
    ) -> (Vec<SessionView>, usize) {
        let mut sessions: Vec<&Session> = self
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.active(now))
            .collect();
        sessions.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then(a.id.cmp(&b.id)));
        let total = sessions.len();
        (
            sessions
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(Session::view)
                .collect(),
            total,
        )
    }

    pub(crate) fn revoke_target(
        &mut self,
        user_id: &str,
        caller_sid: &str,
        target: &RevokeTarget,
        now: i64,
    ) -> Result<usize, Reason> {
        if let RevokeTarget::Session(id) = target {
            let session = self
                .sessions
                .get_mut(id)
                .filter(|s| s.user_id == user_id && s.active(now))
                .ok_or(Reason::SessionNotFound)?;
            session.revoked = Some(Reason::SessionRevoked);
            return Ok(1);
        }
        let mut count = 0;
        for session in self
            .sessions
            .values_mut()
            .filter(|s| s.user_id == user_id && s.active(now))
        {
            let is_caller = session.id == caller_sid;
            let hit = match target {
                RevokeTarget::All => true,
                RevokeTarget::Others => !is_caller,
                RevokeTarget::Mine => is_caller,
                RevokeTarget::Session(_) => false,
            };
            if hit {
                session.revoked = Some(Reason::SessionRevoked);
                count += 1;
            }
        }
        Ok(count)
    }

    pub(crate) fn sessions(&self) -> Vec<SessionRecord> {
        let mut all: Vec<SessionRecord> = self.sessions.values().map(Session::record).collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        all
    }

    /// Ends the session `token` belongs to when a login of the same user brings it along
    /// (re-login), whichever key signed the login; the id of the session ended, if any.
    pub(crate) fn end_replaced_session(
        &mut self,
        token: &str,
        user_id: &str,
        now: i64,
    ) -> Option<String> {
        let (sid, _) = self.tokens.get(token)?;
        let session = self
            .sessions
            .get_mut(sid)
            .filter(|s| s.user_id == user_id && s.active(now))?;
        session.revoked = Some(Reason::SessionRevoked);
        Some(session.id.clone())
    }

    pub(crate) fn revoke_session(&mut self, sid: &str) -> Result<(), Reason> {
        let session = self.sessions.get_mut(sid).ok_or(Reason::NotFound)?;
        session.revoked.get_or_insert(Reason::SessionRevoked);
        Ok(())
    }
}
