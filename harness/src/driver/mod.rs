//! The driver layer: one trait the steps call, whatever SDK is under test.
//!
//! - [`InProcess`] drives the reference Rust client directly;
//! - [`Adapter`] drives any program that speaks the adapter protocol on stdin/stdout;
//! - [`Drivers`] lends one driver per scenario, so scenarios can run side by side;
//! - [`serve`] is the other side of that protocol: it exposes any driver as an adapter (the
//!   `reference-adapter` binary is `serve` over [`InProcess`]).

mod adapter;
mod in_process;
pub(crate) mod lines;
mod pool;
mod serve;

use futures_util::future::BoxFuture;
use serde_json::Value;

pub use adapter::{Adapter, stop_adapters};
pub(crate) use adapter::{AdapterChild, Spawned, spawn};
pub use in_process::InProcess;
pub use pool::Drivers;
pub(crate) use pool::Lease;
pub use serve::serve;

use crate::protocol::{Hello, Op, SdkError};

/// Something that can run adapter-protocol operations on an SDK.
///
/// Calls may run concurrently (that is how bursts reach the SDK); each is answered on its
/// own.
pub trait Driver: Send + Sync {
    /// What the SDK declared about itself.
    fn hello(&self) -> &Hello;

    /// Runs `op` on the client instance named `client`.
    fn call(&self, client: String, op: Op) -> BoxFuture<'_, Result<Value, SdkError>>;

    /// What the SDK logged since the last call (an adapter's stderr), oldest first; the
    /// runner takes it after each scenario and shows it with a failure.
    fn take_log(&self) -> Vec<String> {
        Vec::new()
    }
}
