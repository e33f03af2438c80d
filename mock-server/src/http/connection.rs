//! Serving one accepted connection: the TLS handshake, HTTP/1.1 or HTTP/2 through hyper, the
//! timeouts that free a connection a client holds without using it, the abrupt close that
//! fault injection asks for, and Prelude error JSON in place of hyper's own empty answers to
//! requests it cannot parse. It owns no routing; the application is the `Router` it is given.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::Reason;
use crate::config::Limits;
use crate::http::api_error::ApiError;
use crate::http::middleware::ConnectionControl;

/// At shutdown, how long a connection with nothing in flight must stay quiet before it is
/// closed (long enough for an answer already handled to be written).
const SHUTDOWN_QUIET: Duration = Duration::from_millis(100);

/// Serves `stream` until the client closes it, a timeout frees it, a fault kills it, or the
/// server shuts down (`watcher` for hyper's graceful close, `stopping` to close an idle
/// connection at once: an HTTP/2 client may keep one open after GOAWAY).
pub(crate) async fn serve(
    stream: TcpStream,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    watcher: Watcher,
    stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    // A second descriptor of the same socket, to turn the close into a reset when a fault
    // kills the connection; normal closes keep the default graceful behaviour.
    let Some((stream, twin)) = split_twin(stream) else {
        return;
    };
    let activity = Activity::new();
    let control = ConnectionControl::default();
    let kill = control.0.clone();
    let in_flight = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(control.clone());
        let busy = in_flight.busy();
        let app = app.clone();
        async move {
            let response = app.oneshot(req).await;
            drop(busy);
            response
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // Every answer of the router carries `Date` from the virtual clock (`stamp`); hyper's own
    // would put the real time back on an answer a fault left without one.
    builder
        .http1()
        .timer(TokioTimer::new())
        .auto_date_header(false)
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms));
    builder.http2().auto_date_header(false);
    let served = async {
        match tls {
            None => {
                let stream = Watched::new(stream, activity.clone(), true);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let _ = watcher.watch(conn.into_owned()).await;
            }
            Some(acceptor) => {
                let handshake = tokio::time::timeout(
                    Duration::from_millis(limits.header_read_timeout_ms),
                    acceptor.accept(Watched::new(stream, activity.clone(), false)),
                );
                let Ok(Ok(stream)) = handshake.await else {
                    return;
                };
                let stream = Watched::new(stream, activity.clone(), true);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let _ = watcher.watch(conn.into_owned()).await;
            }
        }
    };
    tokio::select! {
        () = served => {}
        () = activity.idle_for(Duration::from_millis(limits.idle_timeout_ms)) => {
            tracing::debug!("closing a connection idle for {} ms", limits.idle_timeout_ms);
        }
        () = activity.drained(stopping) => {}
        () = kill.notified() => {
            let _ = socket2::SockRef::from(&twin).set_linger(Some(Duration::ZERO));
        }
    }
    drop(twin);
}

fn split_twin(stream: TcpStream) -> Option<(TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std().ok()?;
    let twin = std_stream.try_clone().ok()?;
    Some((TcpStream::from_std(std_stream).ok()?, twin))
}

/// When a connection last moved a byte, and how many of its requests are being handled.
#[derive(Clone)]
struct Activity(Arc<ActivityInner>);

struct ActivityInner {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

/// A request being handled; the connection is not idle while one exists.
struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

impl Activity {
    fn new() -> Self {
        Self(Arc::new(ActivityInner {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }))
    }

    fn touch(&self) {
        let ms = self.0.start.elapsed().as_millis() as u64;
        self.0.last_ms.fetch_max(ms, Ordering::AcqRel);
    }

    fn busy(&self) -> Busy {
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Resolves once the server is stopping and the connection has finished its requests
    /// and written their answers.
    async fn drained(&self, mut stopping: watch::Receiver<bool>) {
        if stopping.wait_for(|stop| *stop).await.is_err() {
            return std::future::pending().await;
        }
        self.idle_for(SHUTDOWN_QUIET).await;
    }

    /// Resolves once no byte has moved and no request was in flight for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.0.start + Duration::from_millis(self.0.last_ms.load(Ordering::Acquire));
            let quiet = last.elapsed();
            if quiet >= limit && self.0.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            // Quiet but busy: look again a whole period later.
            tokio::time::sleep(limit.checked_sub(quiet).unwrap_or(limit)).await;
        }
    }
}

/// A stream stamping activity on every read and write and rewriting hyper's automatic
/// answers to unparsable requests (`400`, `414`, `431` with no body) into Prelude error JSON.
///
/// hyper answers those itself, before any service runs, with an empty body. The only way to
/// give the client the error body every other rejection has is at the byte level. The
/// pattern is unambiguous: the application never answers 4xx without a JSON body, and an
/// HTTP/2 frame never starts with `HTTP/1.1 `.
struct Watched<S> {
    inner: S,
    activity: Activity,
    /// Off under TLS on the raw socket (the rewrite applies to the plaintext inside).
    rewrite: bool,
    /// A rewritten answer still to be written, and how far it got.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> Watched<S> {
    fn new(inner: S, activity: Activity, rewrite: bool) -> Self {
        Self {
            inner,
            activity,
            rewrite,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> Watched<S> {
    /// Writes what is left of a rewritten answer; `Ready(Ok)` once nothing is pending.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n =
                std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.drain(cx))?;
        self.activity.touch();
        if self.rewrite
            && let Some(json) = json_for_automatic_answer(buf)
        {
            // Report hyper's bytes as written; ours go out in their place, now or on the
            // flush hyper always follows a write with.
            self.pending = Some((json, 0));
            if let Poll::Ready(Err(e)) = self.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// If `head` is hyper's bodiless answer to a request it could not parse, the same answer with
/// a Prelude error body and `Connection: close` (hyper closes the connection after it).
fn json_for_automatic_answer(head: &[u8]) -> Option<Vec<u8>> {
    let (reason, message) = match head.get(..13)? {
        b"HTTP/1.1 400 " => (
            Reason::MalformedRequest,
            "the request is not valid HTTP/1.1",
        ),
        b"HTTP/1.1 414 " => (Reason::MalformedRequest, "the request URI is too long"),
        b"HTTP/1.1 431 " => (
            Reason::HeadersTooLarge,
            "the request has too many or too large headers",
        ),
        _ => return None,
    };
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, rest) = text.split_once("\r\n")?;
    let headers = rest.strip_suffix("\r\n\r\n")?;
    if !headers
        .split("\r\n")
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"))
    {
        return None;
    }
    let body = serde_json::to_string(&ApiError::new(reason, message).body()).ok()?;
    let date = headers
        .split("\r\n")
        .find(|h| {
            h.get(..5)
                .is_some_and(|name| name.eq_ignore_ascii_case("date:"))
        })
        .map(|h| format!("{h}\r\n"))
        .unwrap_or_default();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n{date}\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::api_error::ErrorBody;

    #[test]
    fn hyper_bodiless_parse_error_answers_become_prelude_json() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 22 Nov 2026 10:00:00 GMT\r\n\r\n";
        let answer =
            String::from_utf8(json_for_automatic_answer(head).expect("rewritten")).expect("utf-8");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("date: Sun, 22 Nov 2026"));
        let body: ErrorBody = serde_json::from_str(body).expect("Prelude error JSON");
        assert_eq!(body.code, "bad_request");
    }

    #[test]
    fn answers_with_a_body_and_other_statuses_are_left_alone() {
        assert!(
            json_for_automatic_answer(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 57\r\n\r\n")
                .is_none()
        );
        assert!(
            json_for_automatic_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none()
        );
        assert!(json_for_automatic_answer(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00").is_none());
    }
}
