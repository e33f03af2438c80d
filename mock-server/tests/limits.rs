//! What a hostile or broken client cannot do to the server: get an answer that is not Prelude
//! error JSON (hyper's own rejections included), hold a connection by sending slowly or
//! nothing at all, take more connections than the cap, or grow the journal without bound.
//! Timeouts are set short here; the bounds the tests wait for are generous hang guards.

mod common;

use std::time::Duration;

use common::{builder, expect_error, http};
use prelude_mock_server::{Fault, FaultAction, Limits, MockServer, Route};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GUARD: Duration = Duration::from_secs(10);

async fn server_with(limits: Limits) -> MockServer {
    builder().limits(limits).start().await.expect("server")
}

/// Sends raw bytes and reads until the server closes the connection.
async fn exchange(server: &MockServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Status and JSON body of a raw HTTP/1.1 answer.
fn parse(answer: &str) -> (u16, Value) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    let status = head[9..12].parse().expect("status");
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: body of {answer:?}"));
    (status, body)
}

#[tokio::test]
async fn too_many_headers_get_431_as_prelude_json() {
    let server = server_with(Limits::default()).await;
    let mut request = String::from("GET /v1/session/me/list HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        request.push_str(&format!("X-Filler-{i}: y\r\n"));
    }
    request.push_str("\r\n");
    let (status, body) = parse(&exchange(&server, request.as_bytes()).await);
    assert_eq!(status, 431);
    assert_eq!(body["code"], "bad_request");
}

#[tokio::test]
async fn a_request_line_that_is_not_http_gets_400_as_prelude_json() {
    let server = server_with(Limits::default()).await;
    for garbage in [
        &b"HELLO THERE\r\n\r\n"[..],
        b"GET /v1 HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\n\r\n",
    ] {
        let (status, body) = parse(&exchange(&server, garbage).await);
        assert_eq!(status, 400, "{garbage:?}");
        assert_eq!(body["type"], "bad_request");
    }
}

#[tokio::test]
async fn a_body_that_arrives_too_slowly_gets_408_as_prelude_json() {
    let server = server_with(Limits {
        body_read_timeout_ms: 200,
        ..Limits::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    stream
        .write_all(
            b"POST /v1/session/login/email/password HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"ident",
        )
        .await
        .expect("write");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(GUARD, stream.read(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let (status, body) = parse(&String::from_utf8_lossy(&answer[..n]));
    assert_eq!(status, 408);
    assert_eq!(body["code"], "bad_request");
    let journal = server.control().journal(0, None).await.expect("journal");
    assert_eq!(journal.len(), 1, "the timed-out request is journaled");
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_do_not_hold_a_connection() {
    let server = server_with(Limits {
        header_read_timeout_ms: 300,
        ..Limits::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    let closed = async {
        for byte in b"GET /v1/session/me/list HTTP/1.1\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(GUARD, closed)
        .await
        .expect("the server closed the slow connection");
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let server = server_with(Limits {
        idle_timeout_ms: 300,
        ..Limits::default()
    })
    .await;
    let mut silent = TcpStream::connect(server.addr()).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(GUARD, silent.read(&mut buf))
        .await
        .expect("closed before the guard");
    assert!(matches!(read, Ok(0) | Err(_)), "closed without an answer");
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_once_idle_but_not_while_it_works() {
    let server = server_with(Limits {
        idle_timeout_ms: 400,
        header_read_timeout_ms: 60_000,
        ..Limits::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    let request = b"GET /__mock/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut buf = vec![0u8; 8192];
    for _ in 0..3 {
        stream.write_all(request).await.expect("write");
        let n = tokio::time::timeout(GUARD, stream.read(&mut buf))
            .await
            .expect("answered")
            .expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let read = tokio::time::timeout(GUARD, stream.read(&mut buf))
        .await
        .expect("closed before the guard");
    assert!(matches!(read, Ok(0) | Err(_)));
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_is_freed() {
    let server = server_with(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let held: Vec<TcpStream> = hold_connections(&server).await;
    let waiting = tokio::spawn({
        let url = format!("{}/stats", server.control_url());
        async move { http().get(url).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a third connection is not served");
    drop(held);
    let status = tokio::time::timeout(GUARD, waiting)
        .await
        .expect("served once a slot is free")
        .expect("task")
        .expect("answer");
    assert_eq!(status, 200);
}

async fn hold_connections(server: &MockServer) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(server.addr()).await.expect("connect"));
    }
    // Let the accept loop take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    held
}

#[tokio::test]
async fn the_journal_keeps_only_its_capacity_newest_entries() {
    let server = server_with(Limits {
        journal_capacity: 3,
        ..Limits::default()
    })
    .await;
    for _ in 0..5 {
        let response = http()
            .get(format!("{}/.well-known/jwks.json", server.url()))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
    }
    let journal = server.control().journal(0, None).await.expect("journal");
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    assert_eq!(server.control().stats().await.expect("stats").requests, 5);
}

#[tokio::test]
async fn limits_that_would_stop_the_server_serving_are_refused() {
    let error = builder()
        .limits(Limits {
            max_connections: 0,
            ..Limits::default()
        })
        .start()
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("max_connections"), "{error}");
}

#[tokio::test]
async fn shutdown_does_not_wait_for_an_idle_http2_connection_the_client_keeps() {
    let server = builder().tls_self_signed().start().await.expect("server");
    let pem = server.tls().expect("TLS").cert_pem.clone();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM"))
        .build()
        .expect("client");
    let response = client
        .get(format!("{}/.well-known/jwks.json", server.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    response.bytes().await.expect("body");
    let started = std::time::Instant::now();
    tokio::time::timeout(GUARD, server.shutdown())
        .await
        .expect("stopped");
    // The fallback for connections that never finish is 5 s; an idle one must not need it.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    drop(client);
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let server = server_with(Limits::default()).await;
    let fault = Fault::new(Route::Jwks, FaultAction::Delay { ms: 500 });
    server.control().add_fault(&fault).await.expect("fault");
    let url = format!("{}/.well-known/jwks.json", server.url());
    let in_flight = tokio::spawn(async move { http().get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown().await;
    let status = in_flight
        .await
        .expect("task")
        .expect("answered before the server stopped");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_error_the_framework_renders_is_still_prelude_json() {
    let server = server_with(Limits::default()).await;
    // An id that is not UTF-8 once percent-decoded: axum's `Path` refuses it, in text.
    let response = http()
        .post(format!("{}/sessions/%FF%FE/revoke", server.control_url()))
        .send()
        .await
        .expect("send");
    let body = expect_error(response, 400, "bad_request").await;
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}
