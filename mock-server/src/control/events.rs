//! Live notifications for the dashboard: every journal entry as it is recorded, the journal
//! being cleared, and changes made through the control API (policy, clock, faults, ...).
//! Served as server-sent events by [`super::ui`].
//!
//! A journal event carries no entry: it wakes the streams, which read the entries from the
//! journal itself, a page at a time. So a subscriber that never reads holds one page of
//! shared entries, not a copy of the journal, and publishing costs nothing while nobody
//! listens.

use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before its receiver lags (harmless: it reads
/// the journal from its own position, and is told to resync only when the journal dropped
/// entries it had not read).
const BACKLOG: usize = 1024;

/// One notification.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// A request was journaled.
    Journal,
    /// A control call changed state; the page re-reads what it names (`policy`, `clock`,
    /// `faults`, `sessions`, `users`, `journal`, `reset`, ...).
    Changed(String),
    /// The server is shutting down: streams end.
    Closed,
}

/// The broadcast side, shared by the server's handlers.
#[derive(Clone, Debug)]
pub(crate) struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Self(broadcast::channel(BACKLOG).0)
    }
}

impl Events {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }

    /// Says an entry was recorded. Call it after the journal recorded it: a stream reads
    /// the journal after it wakes, so it sees the entry.
    pub(crate) fn journal(&self) {
        if self.0.receiver_count() > 0 {
            let _ = self.0.send(Event::Journal);
        }
    }

    pub(crate) fn changed(&self, what: &str) {
        if self.0.receiver_count() > 0 {
            let _ = self.0.send(Event::Changed(what.to_owned()));
        }
    }

    pub(crate) fn close(&self) {
        let _ = self.0.send(Event::Closed);
    }
}
