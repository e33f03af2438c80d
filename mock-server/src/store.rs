//! Users, sessions, refresh-token families, OTP verifications and spent challenges: all the
//! server's mutable session state, behind one lock so rotation is atomic.
//!
//! Each session owns a chain of refresh tokens (its family). Exactly one token of the chain is
//! current; presenting an older one is reuse and revokes the session, except the immediate
//! parent inside the grace window with the session's key, which gets the current token back.
//! The store does no crypto and no I/O: callers verify proofs and sign tokens outside the lock.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::api_error::Reason;
use crate::jose::random_token;
use crate::time_fmt::iso8601;

/// A user as the control API shows it (never the password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// `usr_…` id.
    pub id: String,
    /// Login email.
    pub email: String,
    /// Optional phone number.
    pub phone_number: Option<String>,
    /// Whether the user was terminated (refresh answers 403 `auth_blocked`).
    pub blocked: bool,
}

/// Device type of a session (spec §5). Prelude documents four values; [`DeviceType::Other`]
/// lets the control API create sessions with any other value, so a test can check that an
/// SDK folds types it does not know to `unknown` instead of failing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceType {
    /// Desktop browser or app.
    Desktop,
    /// Phone.
    Mobile,
    /// Tablet.
    Tablet,
    /// Not recognisable.
    Unknown,
    /// Any other value, sent as it is.
    Other(String),
}

impl DeviceType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Unknown => "unknown",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for DeviceType {
    fn from(value: &str) -> Self {
        match value {
            "desktop" => Self::Desktop,
            "mobile" => Self::Mobile,
            "tablet" => Self::Tablet,
            "unknown" => Self::Unknown,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for DeviceType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DeviceType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::from(text.as_str()))
    }
}

/// Device details guessed from the login request's user agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Device {
    pub(crate) model: String,
    pub(crate) kind: DeviceType,
    pub(crate) os_version: String,
}

impl Device {
    /// Plausible device data from `User-Agent` / `X-SDK-User-Agent`, in the shapes Prelude's
    /// SDKs send (`Prelude/0.3.0 (Apple; iOS 17.4)`, `... (Web)`, Android, browsers).
    pub(crate) fn from_user_agent(ua: &str) -> Self {
        let lower = ua.to_ascii_lowercase();
        let version_after = |marker: &str| {
            lower.find(marker).map(|i| {
                let rest = &ua[i + marker.len()..];
                let end = rest.find([';', ')', ' ']).unwrap_or(rest.len());
                rest[..end].replace('_', ".")
            })
        };
        let (model, kind, os_version) = if lower.contains("ipad") {
            (
                "iPad13,4",
                DeviceType::Tablet,
                version_after("ipados ").or(version_after("os ")),
            )
        } else if lower.contains("iphone") || lower.contains("ios") {
            (
                "iPhone15,2",
                DeviceType::Mobile,
                version_after("ios ").or(version_after("os ")),
            )
        } else if lower.contains("android") {
            ("Pixel 8", DeviceType::Mobile, version_after("android "))
        } else if lower.contains("(web)") || lower.contains("mozilla") {
            ("Web browser", DeviceType::Desktop, None)
        } else if lower.contains("macintosh")
            || lower.contains("macos")
            || lower.contains("windows")
            || lower.contains("linux")
        {
            ("Desktop", DeviceType::Desktop, None)
        } else {
            ("unknown", DeviceType::Unknown, None)
        };
        Self {
            model: model.into(),
            kind,
            os_version: os_version.unwrap_or_default(),
        }
    }
}

/// A session as `GET /v1/session/me/list` shows it (spec §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// `ses_…` id.
    pub id: String,
    /// e.g. `iPhone15,2`.
    pub device_model: String,
    /// desktop, mobile, tablet or unknown.
    pub device_type: DeviceType,
    /// e.g. `17.4`.
    pub os_version: String,
    /// ISO-3166 alpha-2.
    pub country_code: String,
    /// ISO-8601 UTC.
    pub created_at: String,
    /// ISO-8601 UTC.
    pub last_seen_at: String,
    /// ISO-8601 UTC: absolute refresh-token expiry.
    pub expires_at: String,
}

/// A session as the control API shows it: the wire view plus server-side state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `ses_…` id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Thumbprint of the pinned DPoP key.
    pub jkt: String,
    /// Generation of the current refresh token (0 = issued at login).
    pub generation: u64,
    /// Why the session ended, if it did.
    pub revoked: Option<Reason>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug)]
struct User {
    view: UserView,
    password: String,
}

#[derive(Debug)]
struct Session {
    id: String,
    user_id: String,
    jkt: String,
    device: Device,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    revoked: Option<Reason>,
    /// Access tokens issued before this second are refused (control API "expire now").
    access_not_before: i64,
    /// Access tokens issued after an `expire_access` but within its second (`iat` cannot
    /// tell them from the expired ones).
    fresh_access: Vec<String>,
    generation: u64,
    current_token: String,
    /// When the current token replaced its parent, for the grace window.
    rotated_at: i64,
}

impl Session {
    fn info(&self) -> SessionInfo {
        SessionInfo {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            jkt: self.jkt.clone(),
            generation: self.generation,
            revoked: self.revoked,
            created_at: self.created_at,
            expires_at: self.expires_at,
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

    fn active(&self, now: i64) -> bool {
        self.revoked.is_none() && self.expires_at > now
    }
}

/// Where a pending OTP verification came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VerificationKind {
    /// `POST /login/otp` (legacy; check finalizes directly).
    Legacy,
    /// `POST /otp` (current; check returns a challenge token).
    Standalone,
}

#[derive(Debug)]
struct Verification {
    user_id: String,
    kind: VerificationKind,
    code_challenge: Option<String>,
    expires_at: i64,
}

/// Facts about a presented refresh token, known even when it is rejected (for the journal).
#[derive(Clone, Debug, Default)]
pub(crate) struct TokenFacts {
    pub(crate) session_id: Option<String>,
    pub(crate) generation: Option<u64>,
}

/// A refresh or logout the store accepted.
#[derive(Clone, Debug)]
pub(crate) struct Spent {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    /// Generation of the token presented.
    pub(crate) generation: u64,
    /// The token the client should use next (new, or the same successor in the grace window).
    pub(crate) next_token: String,
    pub(crate) expires_at: i64,
    pub(crate) rotated: bool,
    pub(crate) grace_reissue: bool,
}

/// What a session-creating call needs back.
#[derive(Clone, Debug)]
pub(crate) struct NewSession {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) refresh_token: String,
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

/// Which refresh-token operation a presented token is resolved for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spend {
    Refresh,
    Logout,
}

/// All session state.
#[derive(Debug, Default)]
pub(crate) struct Store {
    users: HashMap<String, User>,
    email_index: HashMap<String, String>,
    sessions: HashMap<String, Session>,
    /// Every refresh token ever issued → (session id, generation).
    tokens: HashMap<String, (String, u64)>,
    verifications: HashMap<String, Verification>,
    spent_challenges: HashSet<String>,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_token(15).replace(['-', '_'], "x"))
}

fn normalise_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

impl Store {
    pub(crate) fn create_user(
        &mut self,
        email: &str,
        password: &str,
        phone_number: Option<String>,
    ) -> Result<UserView, Reason> {
        let key = normalise_email(email);
        if key.is_empty() || !key.contains('@') {
            return Err(Reason::InvalidIdentifier);
        }
        if self.email_index.contains_key(&key) {
            return Err(Reason::UserExists);
        }
        let view = UserView {
            id: new_id("usr"),
            email: key.clone(),
            phone_number,
            blocked: false,
        };
        self.email_index.insert(key, view.id.clone());
        self.users.insert(
            view.id.clone(),
            User {
                view: view.clone(),
                password: password.into(),
            },
        );
        Ok(view)
    }

    pub(crate) fn users(&self) -> Vec<UserView> {
        let mut users: Vec<UserView> = self.users.values().map(|u| u.view.clone()).collect();
        users.sort_by(|a, b| a.email.cmp(&b.email));
        users
    }

    pub(crate) fn user(&self, id: &str) -> Option<UserView> {
        self.users.get(id).map(|u| u.view.clone())
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<UserView> {
        let id = self.email_index.get(&normalise_email(email))?;
        self.user(id)
    }

    /// Finds the user for an OTP identifier, creating one on first use (OTP login signs up).
    pub(crate) fn user_for_identifier(
        &mut self,
        kind: &str,
        value: &str,
    ) -> Result<String, Reason> {
        let value = value.trim();
        match kind {
            "email_address" => match self.user_by_email(value) {
                Some(user) => Ok(user.id),
                None => Ok(self.create_user(value, &random_token(16), None)?.id),
            },
            "phone_number" => {
                let digits = value.strip_prefix('+').unwrap_or(value);
                if digits.len() < 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(Reason::InvalidIdentifier);
                }
                if let Some(user) = self
                    .users
                    .values()
                    .find(|u| u.view.phone_number.as_deref() == Some(value))
                {
                    return Ok(user.view.id.clone());
                }
                let email = format!("{digits}@phone.invalid");
                Ok(self
                    .create_user(&email, &random_token(16), Some(value.into()))?
                    .id)
            }
            _ => Err(Reason::InvalidIdentifier),
        }
    }

    pub(crate) fn check_password(&self, email: &str, password: &str) -> Result<String, Reason> {
        let id = self
            .email_index
            .get(&normalise_email(email))
            .ok_or(Reason::InvalidCredentials)?;
        let user = self.users.get(id).ok_or(Reason::InvalidCredentials)?;
        let same = aws_lc_rs::constant_time::verify_slices_are_equal(
            user.password.as_bytes(),
            password.as_bytes(),
        );
        if same.is_err() {
            return Err(Reason::InvalidCredentials);
        }
        if user.view.blocked {
            return Err(Reason::UserBlocked);
        }
        Ok(id.clone())
    }

    pub(crate) fn block_user(&mut self, id: &str) -> Result<(), Reason> {
        let user = self.users.get_mut(id).ok_or(Reason::NotFound)?;
        user.view.blocked = true;
        Ok(())
    }

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
            current_token: token.clone(),
            rotated_at: now,
        };
        self.tokens.insert(token.clone(), (session.id.clone(), 0));
        let created = NewSession {
            session_id: session.id.clone(),
            user_id: user_id.into(),
            refresh_token: token,
            expires_at: session.expires_at,
        };
        self.sessions.insert(session.id.clone(), session);
        Ok(created)
    }

    /// Resolves a presented refresh token and, for a refresh, rotates it; for a logout, revokes
    /// the session. All checks and the state change happen under the caller's one lock, so of
    /// concurrent requests presenting the same token exactly one wins.
    pub(crate) fn spend(
        &mut self,
        token: &str,
        jkt: &str,
        now: i64,
        grace: i64,
        op: Spend,
    ) -> Result<Spent, (Reason, TokenFacts)> {
        let Some((session_id, generation)) = self.tokens.get(token).cloned() else {
            return Err((Reason::UnknownRefreshToken, TokenFacts::default()));
        };
        let facts = TokenFacts {
            session_id: Some(session_id.clone()),
            generation: Some(generation),
        };
        let fail = |reason| Err((reason, facts.clone()));
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return fail(Reason::UnknownRefreshToken);
        };
        if session.revoked.is_some() {
            return fail(Reason::SessionRevoked);
        }
        if session.expires_at <= now {
            return fail(Reason::SessionExpired);
        }
        if self
            .users
            .get(&session.user_id)
            .is_none_or(|u| u.view.blocked)
        {
            return fail(Reason::UserBlocked);
        }
        // A token used with another key is not reuse by its holder: refuse it, keep the session.
        if session.jkt != jkt {
            return fail(Reason::KeyMismatch);
        }
        let current = generation == session.generation;
        let grace_parent = generation + 1 == session.generation
            && grace > 0
            && now.saturating_sub(session.rotated_at) <= grace;
        if !current && !grace_parent {
            session.revoked = Some(Reason::RefreshTokenReused);
            return fail(Reason::RefreshTokenReused);
        }
        session.last_seen_at = now;
        let mut spent = Spent {
            session_id: session_id.clone(),
            user_id: session.user_id.clone(),
            generation,
            next_token: session.current_token.clone(),
            expires_at: session.expires_at,
            rotated: false,
            grace_reissue: grace_parent,
        };
        match op {
            Spend::Logout => session.revoked = Some(Reason::SessionRevoked),
            Spend::Refresh if current => {
                let next = format!("rt_{}", random_token(32));
                session.generation += 1;
                session.current_token = next.clone();
                session.rotated_at = now;
                self.tokens
                    .insert(next.clone(), (session_id, session.generation));
                spent.next_token = next;
                spent.rotated = true;
            }
            Spend::Refresh => {}
        }
        Ok(spent)
    }

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

    pub(crate) fn sessions(&self) -> Vec<SessionInfo> {
        let mut all: Vec<SessionInfo> = self.sessions.values().map(Session::info).collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        all
    }

    pub(crate) fn revoke_session(&mut self, sid: &str) -> Result<(), Reason> {
        let session = self.sessions.get_mut(sid).ok_or(Reason::NotFound)?;
        session.revoked.get_or_insert(Reason::SessionRevoked);
        Ok(())
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

    pub(crate) fn start_verification(
        &mut self,
        user_id: String,
        kind: VerificationKind,
        code_challenge: Option<String>,
        expires_at: i64,
    ) -> String {
        let id = format!("vrf_{}", random_token(24));
        self.verifications.insert(
            id.clone(),
            Verification {
                user_id,
                kind,
                code_challenge,
                expires_at,
            },
        );
        id
    }

    /// Checks that a verification exists, is of `kind` and has not expired.
    pub(crate) fn verification_alive(
        &self,
        id: &str,
        kind: VerificationKind,
        now: i64,
    ) -> Result<(), Reason> {
        match self.verifications.get(id) {
            Some(v) if v.kind == kind && v.expires_at > now => Ok(()),
            _ => Err(Reason::InvalidVerification),
        }
    }

    /// Consumes a verification once its code was right: (user id, PKCE challenge).
    pub(crate) fn complete_verification(
        &mut self,
        id: &str,
        kind: VerificationKind,
        now: i64,
    ) -> Result<(String, Option<String>), Reason> {
        self.verification_alive(id, kind, now)?;
        let v = self
            .verifications
            .remove(id)
            .ok_or(Reason::InvalidVerification)?;
        Ok((v.user_id, v.code_challenge))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_session() -> (Store, String) {
        let mut store = Store::default();
        let user = store
            .create_user("ada@example.com", "pw", None)
            .expect("user");
        let device = Device::from_user_agent("Prelude/0.3.0 (Apple; iOS 17.4)");
        let session = store
            .create_session(&user.id, "jkt1", device, 100, 1000)
            .expect("session");
        (store, session.refresh_token)
    }

    #[test]
    fn a_refresh_rotates_and_the_old_token_is_then_reuse() {
        let (mut store, t0) = store_with_session();
        let spent = store
            .spend(&t0, "jkt1", 101, 0, Spend::Refresh)
            .expect("rotates");
        assert!(spent.rotated && spent.next_token != t0);
        let (reason, facts) = store
            .spend(&t0, "jkt1", 102, 0, Spend::Refresh)
            .expect_err("reuse");
        assert_eq!(reason, Reason::RefreshTokenReused);
        assert_eq!(facts.generation, Some(0));
        let (reason, _) = store
            .spend(&spent.next_token, "jkt1", 103, 0, Spend::Refresh)
            .expect_err("revoked");
        assert_eq!(
            reason,
            Reason::SessionRevoked,
            "reuse revoked the whole family"
        );
    }

    #[test]
    fn the_grace_window_returns_the_same_successor_to_the_parent_only() {
        let (mut store, t0) = store_with_session();
        let t1 = store
            .spend(&t0, "jkt1", 100, 5, Spend::Refresh)
            .expect("rotate")
            .next_token;
        let again = store
            .spend(&t0, "jkt1", 104, 5, Spend::Refresh)
            .expect("grace");
        assert!(again.grace_reissue && !again.rotated);
        assert_eq!(again.next_token, t1);
        let t2 = store
            .spend(&t1, "jkt1", 104, 5, Spend::Refresh)
            .expect("rotate")
            .next_token;
        assert_ne!(t2, t1);
        let (reason, _) = store
            .spend(&t0, "jkt1", 104, 5, Spend::Refresh)
            .expect_err("grandparent");
        assert_eq!(reason, Reason::RefreshTokenReused);
    }

    #[test]
    fn another_key_is_refused_without_revoking() {
        let (mut store, t0) = store_with_session();
        let (reason, _) = store
            .spend(&t0, "other", 101, 0, Spend::Refresh)
            .expect_err("mismatch");
        assert_eq!(reason, Reason::KeyMismatch);
        assert!(store.spend(&t0, "jkt1", 101, 0, Spend::Refresh).is_ok());
    }

    #[test]
    fn device_data_is_guessed_from_the_sdk_user_agents() {
        let ios = Device::from_user_agent("Prelude/0.3.0 (Apple; iOS 17.4)");
        assert_eq!(
            (ios.kind.clone(), ios.os_version.as_str()),
            (DeviceType::Mobile, "17.4")
        );
        let web = Device::from_user_agent("Prelude/0.6.0 Core/0.1.9 (Web)");
        assert_eq!(web.kind, DeviceType::Desktop);
        assert_eq!(Device::from_user_agent("curl/8").kind, DeviceType::Unknown);
    }
}
