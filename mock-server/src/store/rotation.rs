//! Rotation: spending a refresh token. Exactly one token of a session's chain is current; an
//! older one is reuse and revokes the session, except the immediate parent inside the grace
//! window with the session's key, which gets the current token back.

use super::Store;
use crate::Secret;
use crate::http::api_error::Reason;
use crate::jose::random_token;

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
    pub(crate) next_token: Secret,
    pub(crate) expires_at: i64,
    pub(crate) rotated: bool,
    pub(crate) grace_reissue: bool,
}

/// Which refresh-token operation a presented token is resolved for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spend {
    Refresh,
    Logout,
}

impl Store {
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
            next_token: session.current_token(),
            expires_at: session.expires_at,
            rotated: false,
            grace_reissue: grace_parent,
        };
        match op {
            Spend::Logout => session.revoked = Some(Reason::SessionRevoked),
            Spend::Refresh if current => {
                let next = format!("rt_{}", random_token(32));
                session.generation += 1;
                session.rotated_at = now;
                self.tokens
                    .insert(next.clone(), (session_id, session.generation));
                let next = Secret::new(next);
                // Remember a bounded history, so a session refreshed for days stays small.
                session.history.push_back(next.clone());
                while session.history.len() > self.token_history {
                    if let Some(forgotten) = session.history.pop_front() {
                        self.tokens.remove(forgotten.expose());
                    }
                }
                spent.next_token = next;
                spent.rotated = true;
            }
            Spend::Refresh => {}
        }
        Ok(spent)
    }
}
