//! The live dashboard at `/__mock/ui`: a page built into the binary (no CDN, works offline)
//! that reads and steers the server through the control API, and `/__mock/events`, the
//! server-sent events it updates from.
//!
//! The page's files are public (they hold no data), so a browser can load them without the
//! control token; everything they then ask for goes through the control API's guard like any
//! other call (Host check, same origin, bearer token). What the page does is in
//! `mock-server/ui/`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::events::Event;
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
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

/// `GET /__mock/events?since=SEQ`: the journal entries after `since` that the server still
/// holds, then every new one as it is recorded (`event: journal`), control changes
/// (`event: changed`, data = what changed), and `event: resync` when this stream fell
/// behind (read the journal again). Ends when the server shuts down.
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
    // Subscribe before reading the journal: an entry recorded in between comes both ways and
    // is sent once.
    let live = state.events.subscribe();
    let backlog = state.journal.entries(since, None);
    let sent: HashSet<u64> = backlog.iter().map(|e| e.seq).collect();
    let backlog = stream::iter(backlog.into_iter().map(|e| Ok(journal_event(&e))));
    let live = stream::unfold((live, sent), |(mut live, sent)| async move {
        loop {
            let event = match live.recv().await {
                Ok(Event::Journal(entry)) if sent.contains(&entry.seq) => continue,
                Ok(Event::Journal(entry)) => journal_event(&entry),
                Ok(Event::Changed(what)) => sse::Event::default().event("changed").data(what),
                Err(RecvError::Lagged(_)) => sse::Event::default().event("resync").data("lagged"),
                Ok(Event::Closed) | Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (live, sent)));
        }
    });
    Ok(Sse::new(backlog.chain(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn journal_event(entry: &super::journal::JournalEntry) -> sse::Event {
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
