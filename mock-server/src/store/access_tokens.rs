//! Access tokens: whether one may still be used, and the control API's "expire now" (with the
//! tokens issued in the same second as an exception).

use super::Store;
use crate::http::api_error::Reason;

impl Store {
    /// Checks that an access token for `sid`, issued at `iat`, may still be used.
    pub(crate) fn check_access(
        &mut self,
        sid: &str,
        iat: i64,
        jti: &str,
        now: i64,
    ) -> Result<String, Reason> {
        let session = self
            .sessions
            .get_mut(sid)
            .ok_or(Reason::InvalidAccessToken)?;
        if !session.active(now) {
            return Err(Reason::SessionRevoked);
        }
        if iat < session.access_not_before && !session.fresh_access.iter().any(|j| j == jti) {
            return Err(Reason::AccessTokenExpired);
        }
        let user_id = session.user_id.clone();
        if self.users.get(&user_id).is_none_or(|u| u.view.blocked) {
            return Err(Reason::UserBlocked);
        }
        session.last_seen_at = now;
        Ok(user_id)
    }

    /// Refuses every access token of the session issued up to now.
    pub(crate) fn expire_access(&mut self, sid: &str, now: i64) -> Result<(), Reason> {
        let session = self.sessions.get_mut(sid).ok_or(Reason::NotFound)?;
        session.access_not_before = now.saturating_add(1);
        session.fresh_access.clear();
        Ok(())
    }

    /// Records an access token issued for `sid` at `now`, so that one issued right after
    /// an `expire_access` in the same second stays valid.
    pub(crate) fn note_access_issued(&mut self, sid: &str, jti: &str, now: i64) {
        if let Some(session) = self.sessions.get_mut(sid)
            && session.access_not_before > now
        {
            session.fresh_access.push(jti.to_owned());
        }
    }
}
