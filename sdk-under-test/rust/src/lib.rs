//! Reference async client for the Prelude session API.
//!
//! It does what Prelude's own SDKs do, and the conformance suite measures other SDKs
//! against it:
//!
//! - **Coalesced refresh**: any number of concurrent [`SessionClient::refresh`] callers share
//!   one network request and its outcome; processes sharing a [`FileStore`] take its lock and
//!   re-read it first, so a single-use refresh token is never presented twice.
//! - **DPoP** (RFC 9449): every refresh, logout and login is signed by a key behind
//!   [`DpopSigner`] ([`SoftwareKey`] by default, a hardware key if you provide one); the
//!   server's nonce is kept from every answer, with one retry on `use_dpop_nonce`.
//! - **Rotation safety**: the rotated refresh token is stored durably before it is used or
//!   returned; a logout or revoke that races a refresh wins.
//! - **Wipe-first logout** and the spec's revoke wipe rules; a [`SessionState`] stream.
//!
//! # Lost refresh answers
//!
//! Transient failures are retried with capped exponential backoff and jitter: 5xx and 429
//! answers (the server answered, so it did not rotate), and requests that never left
//! (connection refused). A refresh that *may* have reached the server but whose answer was
//! lost (reset, timeout) is different: the server may already have rotated the token, and
//! presenting it again outside Prelude's reuse grace window revokes the whole session. So:
//!
//! - with [`SessionClientBuilder::server_reuse_grace`] set, the client re-sends it within the
//!   grace window and gets the same successor back;
//! - without it, the client does **not** re-send: `refresh` fails with
//!   [`ErrorKind::RefreshOutcomeUnknown`], the stored token is kept, and the next explicit
//!   `refresh` tries it once (it works if the lost request never reached the server; if it did,
//!   the server revokes the session and the state becomes [`SessionState::Expired`]).
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), prelude_session::Error> {
//! use prelude_session::{RevokeTarget, SessionClient};
//!
//! let client = SessionClient::builder("http://127.0.0.1:8910").build()?;
//! client.login_with_password("ada@example.com", "pw").await?;
//! let user = client.refresh().await?;
//! let page = client.list_sessions(Some(20), None).await?;
//! client.revoke_sessions(RevokeTarget::Others).await?;
//! client.logout().await?;
//! # Ok(()) }
//! ```

mod broken;
mod client;
mod clock;
mod dpop;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod sessions;
mod state;
mod store;
mod user;

#[doc(hidden)]
pub use broken::{BrokenVariant, UnusualVariant};
pub use client::{SessionClient, SessionClientBuilder, SessionSnapshot};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dpop::{DpopSigner, PublicJwk, SoftwareKey};
pub use error::{Error, ErrorKind};
pub use http::RetryPolicy;
pub use sessions::{DeviceSession, DeviceType, RevokeTarget, SessionPage};
pub use state::{SessionState, StateEvents, Unsubscribe};
pub use store::{FileStore, MemoryStore, Store, StoreLock, StoredSession};
pub use user::{Profile, User};
