//! Users, sessions, refresh-token families, OTP verifications and spent challenges: all the
//! server's mutable session state, behind one lock so rotation is atomic.
//!
//! Each session owns a chain of refresh tokens (its family). Exactly one token of the chain is
//! current; presenting an older one is reuse and revokes the session, except the immediate
//! parent inside the grace window with the session's key, which gets the current token back.
//! The store does no crypto and no I/O: callers verify proofs and sign tokens outside the lock.
//!
//! One file per concern: `users`, `sessions` (creation, listing, revocation), `rotation`
//! (spending a refresh token), `access_tokens` (early expiry), `otp` (verifications),
//! `device` (user-agent sniffing) and `views` (what the API and control API show).

mod access_tokens;
mod device;
mod otp;
mod rotation;
mod sessions;
mod users;
mod views;

use std::collections::{HashMap, HashSet};

use crate::jose::random_token;

pub(crate) use device::Device;
pub use device::DeviceType;
pub(crate) use otp::VerificationKind;
pub(crate) use rotation::{Spend, Spent};
pub(crate) use sessions::{NewSession, RevokeTarget};
pub use views::{SessionRecord, SessionView, UserView};

use otp::Verification;
use sessions::Session;
use users::User;

/// All session state. `Debug` shows counts only: the maps are keyed by live refresh tokens.
pub(crate) struct Store {
    /// Refresh tokens remembered per session ([`Limits::token_history`](crate::Limits)).
    token_history: usize,
    users: HashMap<String, User>,
    email_index: HashMap<String, String>,
    sessions: HashMap<String, Session>,
    /// Every refresh token ever issued → (session id, generation).
    tokens: HashMap<String, (String, u64)>,
    verifications: HashMap<String, Verification>,
    spent_challenges: HashSet<String>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new(crate::config::Limits::default().token_history)
    }
}

impl Store {
    pub(crate) fn new(token_history: usize) -> Self {
        Self {
            token_history: token_history.max(2),
            users: HashMap::new(),
            email_index: HashMap::new(),
            sessions: HashMap::new(),
            tokens: HashMap::new(),
            verifications: HashMap::new(),
            spent_challenges: HashSet::new(),
        }
    }

    /// Sessions and recognised refresh tokens held (for `/stats`).
    pub(crate) fn footprint(&self) -> (u64, u64) {
        (self.sessions.len() as u64, self.tokens.len() as u64)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("users", &self.users.len())
            .field("sessions", &self.sessions.len())
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_token(15).replace(['-', '_'], "x"))
}

fn normalise_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
