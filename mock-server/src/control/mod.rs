//! The control plane tests steer and observe the server with: the `/__mock/` routes (users,
//! challenges, policy, clock, faults, session control), the journal and stats they read, the
//! fault injector, and a typed client for all of it. Nothing here is part of Prelude's API.

pub(crate) mod client;
pub(crate) mod faults;
pub(crate) mod guard;
pub(crate) mod journal;
mod routes;

pub(crate) use routes::router;
