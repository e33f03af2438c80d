//! The session state the client publishes on a `tokio::sync::watch` channel: it always has a
//! current value, and a receiver sees every change after it subscribed.

/// Where the session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionState {
    /// No credentials stored.
    LoggedOut,
    /// Credentials stored; the last refresh (if any) succeeded.
    LoggedIn,
    /// The server refused the refresh token (401): log in again.
    Expired,
    /// The user was blocked or deleted; `code` is the server's (`auth_blocked`, ...).
    Terminated {
        /// The server's error code.
        code: String,
    },
}
