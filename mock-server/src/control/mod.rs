//! The control plane tests steer and observe the server with: the `/__mock/` routes (users,
//! challenges, policy, clock, faults, session control), the journal and stats they read, the
//! fault injector, a typed client for all of it, and the live dashboard at `/__mock/ui`.
//! Nothing here is part of Prelude's API.

pub(crate) mod client;
pub(crate) mod events;
pub(crate) mod faults;
pub(crate) mod guard;
pub(crate) mod journal;
mod routes;
mod ui;

pub(crate) use routes::router;
pub(crate) use ui::is_public;
