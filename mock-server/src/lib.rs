//! A stateful, Prelude-compatible session server for testing session SDKs.
//!
//! It speaks the Prelude session API (`/v1/session/...`, JWKS) with real DPoP verification
//! (RFC 9449), single-use rotating refresh tokens and ES256 access tokens, and it is observable
//! and steerable through a control API (`/__mock/...`): users and login challenges, policy,
//! virtual clock, fault injection, a journal of every request and stats counters.
//!
//! ```no_run
//! # async fn run() -> Result<(), prelude_mock_server::Error> {
//! use prelude_mock_server::MockServer;
//!
//! let server = MockServer::start().await?;          // loopback, random port
//! let user = server.control().create_user("ada@example.com", "pw").await?;
//! let challenge = server.control().challenge_for(&user.id).await?;
//! // Point the SDK under test at server.url() and let it finalize `challenge`...
//! let stats = server.control().stats().await?;
//! assert_eq!(stats.reuse_detected, 0);
//! # Ok(()) }
//! ```
//!
//! For in-process tests without a socket, [`MockServerBuilder::router`] returns the axum
//! `Router`.
//!
//! Where things are: `routes/` (the Prelude API handlers), `http/` (error bodies, extractors,
//! middleware, CORS, the route enum, request capture, TLS, serving one connection with its
//! timeouts), `dpop/` (proof verification, nonces, the replay cache, the client-side [`proof`]
//! builder), `tokens/` (access and challenge tokens, JWKS, the signing keyring), `store/`
//! (users, sessions, rotation, OTP),
//! `control/` (the control API and who may use it, journal, stats, faults, [`ControlClient`]),
//! `secret.rs` ([`Secret`], a string that never prints). For test tooling:
//! [`raw`] (raw Prelude HTTP with a key of one's own) and [`headers`] (the wire's header names).

mod clock;
mod config;
mod control;
mod dpop;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
mod http;
mod jose;
pub mod raw;
mod routes;
mod secret;
mod server;
mod state;
mod store;
mod tokens;

pub use clock::ClockReading;
pub use config::{Limits, NonceMode, Policy, SeedUser, ServerConfig};
pub use control::client::ControlClient;
pub use control::faults::{Fault, FaultAction};
pub use control::journal::{Footprint, JournalEntry, Stats, Verdict};
pub use dpop::proof;
pub use dpop::replay::ReplayCache;
pub use dpop::{ProofSummary, verify_proof};
pub use error::{Error, ErrorKind};
pub use http::api_error::{ErrorBody, Reason};
pub use http::route::Route;
pub use http::tls::TlsInfo;
pub use http::wire::WireRequest;
pub use jose::EcJwk;
pub use secret::Secret;
pub use server::{MockServer, MockServerBuilder};
pub use store::{DeviceType, SessionRecord, SessionView, UserView};
