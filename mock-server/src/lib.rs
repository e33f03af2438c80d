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

mod api_error;
mod clock;
mod config;
mod control_client;
mod cors;
mod dpop;
mod error;
mod extract;
mod faults;
mod jose;
mod journal;
mod keyring;
mod middleware;
mod nonce;
pub mod proof;
mod replay;
mod route;
mod routes;
mod server;
mod state;
mod store;
mod time_fmt;
mod tls;
mod tokens;
mod wire;

pub use api_error::{ErrorBody, Reason};
pub use clock::ClockReading;
pub use config::{NonceMode, Policy, SeedUser, ServerConfig};
pub use control_client::ControlClient;
pub use dpop::{ProofSummary, verify_proof};
pub use error::{Error, ErrorKind};
pub use faults::{Fault, FaultAction};
pub use jose::EcJwk;
pub use journal::{JournalEntry, Stats, Verdict};
pub use replay::ReplayCache;
pub use route::Route;
pub use server::{MockServer, MockServerBuilder};
pub use store::{DeviceType, SessionInfo, SessionView, UserView};
pub use tls::TlsInfo;
pub use wire::WireRequest;
