//! The journal (every Prelude request, what the server made of it) and the stats counters
//! derived from it: the oracle tests assert on ("the server saw exactly one refresh").
//!
//! Handlers fill a request-scoped [`Trace`]; the observing middleware turns it into one
//! [`JournalEntry`] when the request ends. Tokens never enter the journal, only fingerprints.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::dpop::ProofSummary;
use crate::http::api_error::Reason;
use crate::http::route::Route;
use crate::http::wire::WireRequest;

/// The server's verdict on a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Answered with a 2xx.
    Accepted,
    /// Answered with an error.
    Rejected,
    /// The connection was closed on purpose (fault injection); the client got no answer.
    Dropped,
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in the journal, from 1; also sent as `X-Request-Id`.
    pub seq: u64,
    /// Virtual time the request arrived (unix seconds).
    pub at: i64,
    /// Real time the request arrived, in milliseconds since the server started (monotonic):
    /// what gaps between a client's retries are measured with.
    #[serde(default)]
    pub received_ms: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// The Prelude route, when the path is one.
    pub route: Option<Route>,
    /// Status sent, or `None` when the connection was dropped.
    pub status: Option<u16>,
    /// Prelude error code of an error answer.
    pub code: Option<String>,
    /// Accepted, rejected or dropped.
    pub verdict: Verdict,
    /// Why it was rejected.
    pub reason: Option<Reason>,
    /// Human detail (error message, or what a fault did).
    pub detail: Option<String>,
    /// Session the request concerned.
    pub session_id: Option<String>,
    /// Generation of the refresh token presented (0 = issued at login).
    pub generation: Option<u64>,
    /// Fingerprint of the refresh token presented (never the token).
    pub refresh_token: Option<String>,
    /// The DPoP proof's claims and key thumbprint, when one was sent.
    pub dpop: Option<ProofSummary>,
    /// Whether this request rotated a refresh token (even if its answer was then dropped).
    pub rotated: bool,
    /// Whether this request got the same successor back within the reuse grace window.
    pub grace_reissue: bool,
    /// Headers and body as sent, redacted; only when the server records requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<WireRequest>,
    /// The request's `X-Device-Id`, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Fingerprint of the previous session's refresh token a login brought along
    /// (re-login: `X-Refresh-Token` on finalize).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_refresh_token: Option<String>,
    /// The session that login ended because of it (none when the token was not the same
    /// user's or no longer active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_session: Option<String>,
}

/// Counters over the journal since the last reset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests to Prelude routes.
    pub requests: u64,
    /// Requests per route.
    pub requests_by_route: BTreeMap<Route, u64>,
    /// Refreshes answered 200.
    pub refresh_ok: u64,
    /// Refresh tokens rotated (a rotation whose answer was dropped counts).
    pub rotations: u64,
    /// Parent tokens answered with the same successor inside the grace window.
    pub grace_reissues: u64,
    /// Rotated refresh tokens presented again (each revoked its session).
    pub reuse_detected: u64,
    /// DPoP proofs rejected as replays.
    pub replays_rejected: u64,
    /// Sessions created (finalize and legacy OTP check).
    pub sessions_created: u64,
    /// Successful logouts (`POST /revoke`).
    pub logouts: u64,
    /// Requests whose answer came from an injected fault.
    pub faults_injected: u64,
    /// Rejections per reason.
    pub rejections: BTreeMap<Reason, u64>,
    /// Requests per route that have arrived and not been answered yet (a gauge, not a count).
    #[serde(default)]
    pub in_flight: BTreeMap<Route, u64>,
    /// What the server holds in memory now (gauges), so a soak can show it stays bounded.
    #[serde(default)]
    pub footprint: Footprint,
}

/// Sizes of the server's growing structures, each with its bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footprint {
    /// Journal entries held (at most `limits.journal_capacity`).
    pub journal_entries: u64,
    /// Sessions, revoked ones included (until a reset).
    pub sessions: u64,
    /// Refresh tokens recognised (at most `limits.token_history` per session).
    pub refresh_tokens: u64,
    /// Proof ids held against replay (those whose `iat` is still inside the window).
    pub replay_cache: u64,
}

/// Request-scoped facts handlers add for the journal.
#[derive(Debug, Default)]
pub(crate) struct TraceData {
    pub(crate) session_id: Option<String>,
    pub(crate) generation: Option<u64>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) dpop: Option<ProofSummary>,
    pub(crate) rotated: bool,
    pub(crate) grace_reissue: bool,
    pub(crate) session_created: bool,
    pub(crate) previous_refresh_token: Option<String>,
    pub(crate) replaced_session: Option<String>,
}

/// Shared handle to a request's [`TraceData`], carried in request extensions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trace(Arc<Mutex<TraceData>>);

impl Trace {
    pub(crate) fn update(&self, f: impl FnOnce(&mut TraceData)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub(crate) fn take(&self) -> TraceData {
        std::mem::take(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    /// Shared, so an event stream's page of entries costs pointers, not copies.
    entries: VecDeque<Arc<JournalEntry>>,
    /// Entries ever recorded: the record-order position after the newest one (positions,
    /// unlike sequence numbers, are in the order entries were recorded).
    recorded: u64,
    stats: Stats,
}

impl Inner {
    /// The record-order position of the oldest entry held.
    fn oldest(&self) -> u64 {
        self.recorded - self.entries.len() as u64
    }
}

/// One page of the journal for a reader that follows it in record order ([`Journal::page`]).
pub(crate) struct Page {
    pub(crate) entries: Vec<Arc<JournalEntry>>,
    /// Where the next page starts.
    pub(crate) next: u64,
    /// Whether entries after the reader's position were dropped before it read them.
    pub(crate) gap: bool,
}

/// The journal and its counters.
#[derive(Debug)]
pub(crate) struct Journal {
    inner: Mutex<Inner>,
    started: std::time::Instant,
    /// Entries kept; the oldest are dropped first, so a mock left running stays bounded.
    capacity: usize,
}

/// Counts a request to a route as in flight until dropped (also when the connection is
/// killed and the handler future with it).
pub(crate) struct InFlight<'a> {
    journal: &'a Journal,
    route: Route,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut inner = self.journal.lock();
        if let Some(n) = inner.stats.in_flight.get_mut(&self.route) {
            *n = n.saturating_sub(1);
        }
    }
}

impl Journal {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            started: std::time::Instant::now(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves the next sequence number (the request id).
    pub(crate) fn next_seq(&self) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        inner.next_seq
    }

    /// Milliseconds since the server started (real, monotonic time).
    pub(crate) fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Marks a request to `route` as in flight until the guard is dropped.
    pub(crate) fn in_flight(&self, route: Route) -> InFlight<'_> {
        *self.lock().stats.in_flight.entry(route).or_default() += 1;
        InFlight {
            journal: self,
            route,
        }
    }

    pub(crate) fn record(&self, entry: JournalEntry, session_created: bool, fault: bool) {
        let mut inner = self.lock();
        let stats = &mut inner.stats;
        stats.requests += 1;
        if let Some(route) = entry.route {
            *stats.requests_by_route.entry(route).or_default() += 1;
        }
        if entry.route == Some(Route::Refresh) && entry.verdict == Verdict::Accepted {
            stats.refresh_ok += 1;
        }
        if entry.route == Some(Route::Revoke) && entry.verdict == Verdict::Accepted {
            stats.logouts += 1;
        }
        stats.rotations += u64::from(entry.rotated);
        stats.grace_reissues += u64::from(entry.grace_reissue);
        stats.sessions_created += u64::from(session_created);
        stats.faults_injected += u64::from(fault);
        if let Some(reason) = entry.reason {
            *stats.rejections.entry(reason).or_default() += 1;
            stats.reuse_detected += u64::from(reason == Reason::RefreshTokenReused);
            stats.replays_rejected += u64::from(reason == Reason::ReplayedProof);
        }
        while inner.entries.len() >= self.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(Arc::new(entry));
        inner.recorded += 1;
    }

    /// The record-order position of the oldest entry held (where a new reader starts).
    pub(crate) fn oldest_position(&self) -> u64 {
        self.lock().oldest()
    }

    /// Up to `limit` entries from record-order position `from` on.
    pub(crate) fn page(&self, from: u64, limit: usize) -> Page {
        let inner = self.lock();
        let oldest = inner.oldest();
        let start = from.max(oldest);
        let entries: Vec<_> = inner
            .entries
            .iter()
            .skip(usize::try_from(start - oldest).unwrap_or(usize::MAX))
            .take(limit)
            .cloned()
            .collect();
        Page {
            next: start + entries.len() as u64,
            entries,
            gap: from < oldest,
        }
    }

    /// Entries with `seq > since`, optionally for one route only.
    pub(crate) fn entries(&self, since: u64, route: Option<Route>) -> Vec<JournalEntry> {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.seq > since && (route.is_none() || e.route == route))
            .map(|e| JournalEntry::clone(e))
            .collect()
    }

    pub(crate) fn stats(&self) -> Stats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        stats.footprint.journal_entries = inner.entries.len() as u64;
        stats
    }

    /// Forgets entries and counters; sequence numbers keep growing so ids stay unique.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        let in_flight = std::mem::take(&mut inner.stats.in_flight);
        inner.stats = Stats {
            in_flight,
            ..Stats::default()
        };
    }
}
