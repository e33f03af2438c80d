//! Live notifications for the dashboard: every journal entry as it is recorded, the journal
//! being cleared, and changes made through the control API (policy, clock, faults, ...).
//! Served as server-sent events by [`super::ui`].
//!
//! Publishing costs nothing while nobody listens: an entry is cloned only for subscribers.

use tokio::sync::broadcast;

use super::journal::JournalEntry;

/// Events a slow subscriber may fall behind by before it is told it lagged (it then
/// catches up from the journal itself, so nothing is lost while the journal holds it).
const BACKLOG: usize = 1024;

/// One notification.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// A request was journaled.
    Journal(Box<JournalEntry>),
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

    /// Whether anyone listens (so an entry is worth cloning).
    pub(crate) fn listening(&self) -> bool {
        self.0.receiver_count() > 0
    }

    /// Publishes an entry. Call it after the journal recorded it: a new subscriber reads
    /// the journal after subscribing, so it sees the entry one way or the other.
    pub(crate) fn journal(&self, entry: JournalEntry) {
        let _ = self.0.send(Event::Journal(Box::new(entry)));
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
