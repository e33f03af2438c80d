//! The session state the client publishes on a `tokio::sync::watch` channel: it always has a
//! current value, and a receiver sees every change after it subscribed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::mpsc;

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
    /// A login is being finalized (between the challenge and the session).
    Establishing,
    /// The user was blocked or deleted; `code` is the server's (`auth_blocked`, ...).
    Terminated {
        /// The server's error code.
        code: String,
    },
}

/// A subscription to session-state *transitions*: each change is delivered once, in order,
/// with nothing coalesced (unlike [`SessionClient::state`](crate::SessionClient::state), which
/// keeps only the latest value). Drop it, or call [`Unsubscribe::unsubscribe`], to stop.
pub struct StateEvents {
    rx: mpsc::UnboundedReceiver<SessionState>,
    handle: Unsubscribe,
}

impl std::fmt::Debug for StateEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateEvents")
            .field("id", &self.handle.id)
            .finish_non_exhaustive()
    }
}

impl StateEvents {
    /// The next transition; `None` once unsubscribed (or the client is gone) and drained.
    pub async fn next(&mut self) -> Option<SessionState> {
        self.rx.recv().await
    }

    /// The next transition already delivered, without waiting.
    pub fn try_next(&mut self) -> Option<SessionState> {
        self.rx.try_recv().ok()
    }

    /// A handle that ends this subscription from elsewhere (e.g. another task).
    pub fn unsubscriber(&self) -> Unsubscribe {
        self.handle.clone()
    }
}

/// Ends a [`StateEvents`] subscription.
#[derive(Clone, Debug)]
pub struct Unsubscribe {
    id: u64,
    hub: Weak<Hub>,
}

impl Unsubscribe {
    /// Stops delivery; transitions after this call are not seen. Idempotent.
    pub fn unsubscribe(&self) {
        if let Some(hub) = self.hub.upgrade()
            && !hub.keep_on_unsubscribe
        {
            hub.lock().retain(|(id, _)| *id != self.id);
        }
    }
}

/// The subscribers of one client.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    next_id: AtomicU64,
    subscribers: Mutex<Vec<(u64, mpsc::UnboundedSender<SessionState>)>>,
    /// A broken variant: unsubscribing does nothing.
    keep_on_unsubscribe: bool,
    /// A broken variant: each transition goes to one subscriber, in turn.
    one_queue: bool,
    published: AtomicU64,
}

impl Hub {
    pub(crate) fn new(keep_on_unsubscribe: bool, one_queue: bool) -> Self {
        Self {
            keep_on_unsubscribe,
            one_queue,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, mpsc::UnboundedSender<SessionState>)>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn subscribe(self: &Arc<Self>) -> StateEvents {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().push((id, tx));
        StateEvents {
            rx,
            handle: Unsubscribe {
                id,
                hub: Arc::downgrade(self),
            },
        }
    }

    /// Delivers a transition to every subscriber still listening.
    pub(crate) fn publish(&self, state: &SessionState) {
        let mut subscribers = self.lock();
        if self.one_queue && !subscribers.is_empty() {
            let turn = self.published.fetch_add(1, Ordering::Relaxed);
            let index = usize::try_from(turn).unwrap_or(0) % subscribers.len();
            let _ = subscribers[index].1.send(state.clone());
            return;
        }
        subscribers.retain(|(_, tx)| tx.send(state.clone()).is_ok());
    }
}
