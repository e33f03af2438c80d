//! `check-adapter` rejects an adapter that answers in request order only, with the sentence
//! that says what to change.

use prelude_conformance::{CheckVerdict, check_adapter};

#[tokio::test]
async fn an_adapter_answering_in_request_order_fails_the_pipelining_check() {
    let adapter = format!("{} --in-order", env!("CARGO_BIN_EXE_broken-adapter"));
    let check = check_adapter(&adapter).await.expect("the adapter starts");
    assert!(!check.is_ok(), "{check}");
    let pipelining = check
        .findings
        .iter()
        .find(|f| f.check.starts_with("pipelined requests"))
        .expect("checked");
    assert!(
        matches!(&pipelining.verdict, CheckVerdict::Problem(p)
            if p.contains("answers in request order") && p.contains("start each request as soon as its line is read")),
        "{check}"
    );
}
