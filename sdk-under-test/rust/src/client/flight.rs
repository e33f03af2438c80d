//! Shared flights: one spawned task whose outcome every concurrent caller awaits (a refresh,
//! a logout). The task runs to the end even if every caller goes away.

use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use super::Inner;
use crate::error::{Error, ErrorKind};

/// One flight's outcome, awaitable by any number of callers.
pub(super) type Flight<T> = Shared<BoxFuture<'static, Result<T, Error>>>;

/// Where a kind of flight is kept on [`Inner`] (the refresh flight, the logout flight).
pub(super) type FlightSlot<T> = fn(&Inner) -> &Mutex<Option<Flight<T>>>;

/// Starts `body` as the flight in `slot` (whose lock the caller holds as `guard`). The task
/// empties the slot when it ends, after `body` has stored its result.
pub(super) fn start_flight<T: Clone + Send + Sync + 'static>(
    guard: &mut Option<Flight<T>>,
    inner: &Arc<Inner>,
    slot: FlightSlot<T>,
    body: BoxFuture<'static, Result<T, Error>>,
) -> Flight<T> {
    let task = tokio::spawn({
        let inner = inner.clone();
        async move {
            let result = body.await;
            *slot(&inner).lock().unwrap_or_else(|p| p.into_inner()) = None;
            result
        }
    });
    let flight = async move {
        task.await.unwrap_or_else(|e| {
            Err(Error::new(
                ErrorKind::Transport,
                format!("task failed: {e}"),
            ))
        })
    }
    .boxed()
    .shared();
    *guard = Some(flight.clone());
    flight
}
