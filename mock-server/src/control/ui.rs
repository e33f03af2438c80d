//! The live dashboard at `/__mock/ui`: a page built into the binary (no CDN, works offline)
//! that reads and steers the server through the control API, and `/__mock/events`, the
//! server-sent events it updates from.
//!
//! The page's files are public (they hold no data), so a browser can load them without the
//! control token; everything they then ask for goes through the control API's guard like any
//! other call (Host check, same origin, bearer token). What the page does is in
//! `mock-server/ui/`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::events::Event;
use super::journal::JournalEntry;
use crate::Reason;
use crate::http::api_error::ApiError;
use crate::state::AppState;

/// The page's files: name, content type, body.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../ui/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../ui/app.css"),
    ),
];

/// Scripts and styles from the mock itself only, and never inside another site's frame: the
/// page can reset the server.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How often an idle event stream says it is alive (below the connection idle timeout).
const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/__mock/ui",
            get(|| async { Redirect::permanent("/__mock/ui/") }),
        )
        .route("/__mock/ui/", get(|| asset(Path("index.html".to_owned()))))
        .route("/__mock/ui/{file}", get(asset))
        .route("/__mock/events", get(events))
}

/// Whether `req` asks for one of the page's files, which need no control token.
pub(crate) fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && (path == "/__mock/ui" || path.starts_with("/__mock/ui/"))
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(name, ..)| *name == file) else {
        return ApiError::new(
            Reason::NotFound,
            format!("the dashboard has no file {file:?}"),
        )
        .into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Locks down every control-API answer, errors and redirects included: none may be framed,
/// sniffed into a script or page, or leak its URL onward. The page's own files carry their
/// CSP ([`CSP`]); every other answer gets one that allows nothing.
pub(crate) fn lock_down(headers: &mut axum::http::HeaderMap) {
    let defaults = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

/// Journal entries a stream takes from the journal at a time: all it holds of it.
const PAGE: usize = 256;

/// `GET /__mock/events?since=SEQ`: the journal entries after `since` that the server still
/// holds, then every new one as it is recorded (`event: journal`), control changes
/// (`event: changed`, data = what changed), and `event: resync` when this stream fell so far
/// behind that the journal dropped entries it had not sent (read the journal again). Ends when
/// the server shuts down.
///
/// A stream follows the journal by record-order position, a page at a time, so a subscriber
/// that stops reading pins at most one page of shared entries.
async fn events(
    State(state): State<AppState>,
    query: Result<Query<Since>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<sse::Event, Infallible>>>, ApiError> {
    let Query(Since { since }) = query.map_err(|e| {
        ApiError::new(
            Reason::InvalidControlRequest,
            format!("invalid events query: {e}"),
        )
    })?;
    // Subscribe before reading the journal: an entry recorded in between wakes the stream,
    // which then finds it in the journal.
    let follower = Follower {
        live: state.events.subscribe(),
        position: state.journal.oldest_position(),
        since,
        page: VecDeque::new(),
        state,
    };
    let events = stream::unfold(follower, |mut f| async move {
        let event = f.next().await?;
        Some((Ok(event), f))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One event stream's place in the journal.
struct Follower {
    live: broadcast::Receiver<Event>,
    /// Record-order position of the next entry to read.
    position: u64,
    since: u64,
    /// Entries read and not sent yet.
    page: VecDeque<Arc<JournalEntry>>,
    state: AppState,
}

impl Follower {
    /// The next event; `None` when the server shuts down.
    async fn next(&mut self) -> Option<sse::Event> {
        loop {
            if let Some(entry) = self.page.pop_front() {
                if entry.seq > self.since {
                    return Some(journal_event(&entry));
                }
                continue;
            }
            let page = self.state.journal.page(self.position, PAGE);
            self.position = page.next;
            self.page.extend(page.entries);
            if page.gap {
                return Some(sse::Event::default().event("resync").data("lagged"));
            }
            if !self.page.is_empty() {
                continue;
            }
            match self.live.recv().await {
                // The journal holds what woke us (a lag lost only wake-ups).
                Ok(Event::Journal) | Err(RecvError::Lagged(_)) => {}
                Ok(Event::Changed(what)) => {
                    return Some(sse::Event::default().event("changed").data(what));
                }
                Ok(Event::Closed) | Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn journal_event(entry: &JournalEntry) -> sse::Event {
    let data = serde_json::to_string(entry).unwrap_or_default();
    sse::Event::default()
        .event("journal")
        .id(entry.seq.to_string())
        .data(data)
}

/// Tells the dashboards what a successful control call changed (the first path segment
/// after `/__mock/`), so a change made elsewhere (a test, curl, another tab) shows at once.
pub(super) async fn notify(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let changes = req.method() != Method::GET
        && req.method() != Method::HEAD
        && req.method() != Method::OPTIONS;
    let topic = req
        .uri()
        .path()
        .strip_prefix("/__mock/")
        .and_then(|rest| rest.split('/').next())
        .filter(|topic| !topic.is_empty())
        .map(str::to_owned);
    let response = next.run(req).await;
    if changes
        && response.status().is_success()
        && let Some(topic) = topic
    {
        state.events.changed(&topic);
    }
    response
}
