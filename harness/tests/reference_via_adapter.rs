//! The adapter path: the reference client behind its adapter binary passes the whole suite,
//! and the protocol answers pipelined requests out of order.

use std::sync::Arc;
use std::time::Duration;

use prelude_conformance::{Adapter, Drivers, InProcess, Suite, serve};
use prelude_mock_server::{Fault, FaultAction, MockServer, Route};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn adapter_command() -> &'static str {
    env!("CARGO_BIN_EXE_reference-adapter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_adapter_passes_every_scenario() {
    let adapters = Drivers::adapters(adapter_command(), 4)
        .await
        .expect("the adapters start");
    assert_eq!(adapters.hello().sdk.name, "prelude-session");
    let suite = Suite::bundled().expect("features load").jobs(4);
    let report = suite.run_sdk(adapters).await;
    println!("{}", report.console());
    assert_eq!(report.summary.skipped, 0);
    assert!(report.is_success(), "{}", report.summary_line());
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_the_order_they_finish() {
    let server = MockServer::start().await.expect("server starts");
    server
        .control()
        .create_user("ada@example.com", "pw")
        .await
        .expect("user");
    let (mut suite_side, adapter_side) = tokio::io::duplex(64 * 1024);
    let (input, output) = tokio::io::split(adapter_side);
    tokio::spawn(serve(Arc::new(InProcess::new()), input, output));
    let workdir = std::env::temp_dir().join(format!("pipelining-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).expect("workdir");
    let configure = serde_json::json!({"id": 1, "op": "configure", "base_url": server.url(), "workdir": workdir});
    let login =
        serde_json::json!({"id": 2, "op": "login", "email": "ada@example.com", "password": "pw"});
    let (reader, mut writer) = tokio::io::split(&mut suite_side);
    let mut lines = BufReader::new(reader).lines();
    for request in [configure, login] {
        writer
            .write_all(format!("{request}\n").as_bytes())
            .await
            .expect("write");
        let answer: Value =
            serde_json::from_str(&lines.next_line().await.expect("read").expect("line"))
                .expect("json");
        assert!(answer.get("ok").is_some(), "{answer}");
    }
    // A slow refresh first, then a local call: the local one must not wait for it.
    server
        .control()
        .add_fault(&Fault::new(Route::Refresh, FaultAction::Delay { ms: 300 }))
        .await
        .expect("fault");
    writer
        .write_all(b"{\"id\":3,\"op\":\"invalidate\"}\n{\"id\":4,\"op\":\"refresh\"}\n{\"id\":5,\"op\":\"stored\"}\n{\"id\":6,\"op\":\"teleport\"}\n")
        .await
        .expect("write");
    let mut order = Vec::new();
    for _ in 0..4 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("answered in time")
            .expect("read")
            .expect("line");
        let answer: Value = serde_json::from_str(&line).expect("json");
        if answer["id"] == 6 {
            assert_eq!(
                answer["error"]["kind"], "unsupported",
                "unknown ops are unsupported: {answer}"
            );
        }
        order.push(answer["id"].as_u64().expect("id"));
    }
    assert_eq!(
        order.last(),
        Some(&4),
        "the delayed refresh is answered last: {order:?}"
    );
    let _removed = std::fs::remove_dir_all(&workdir);
}

#[tokio::test]
async fn an_adapter_that_is_not_an_adapter_is_a_clear_error() {
    let error = match Adapter::spawn("echo hello").await {
        Ok(_) => panic!("`echo` is not an adapter"),
        Err(error) => error,
    };
    assert!(error.message.contains("exited"), "{error}");
}
