//! `prelude-conformance check-adapter`: a conforming adapter and the starter template pass; an
//! adapter that prints to stdout is told to use stderr.

use std::process::Command;

use prelude_conformance::{CheckVerdict, check_adapter};

fn check_cli(adapter: &str) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_prelude-conformance"))
        .args(["check-adapter", "--adapter", adapter])
        .output()
        .expect("the CLI runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code().expect("exit code"), stdout)
}

#[test]
fn the_reference_adapter_passes_every_check() {
    let (code, out) = check_cli(env!("CARGO_BIN_EXE_reference-adapter"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok    pipelined requests are answered as each completes"),
        "{out}"
    );
    assert!(!out.contains("skip"), "{out}");
}

#[test]
fn the_python_template_passes_with_pipelining_left_unchecked() {
    let template = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sdk-under-test/templates/python/adapter.py"
    );
    let (code, out) = check_cli(&format!("python3 {template}"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("skip  pipelined requests") && out.contains("`configure` failed"),
        "{out}"
    );
}

#[tokio::test]
async fn an_adapter_printing_to_stdout_is_told_to_use_stderr() {
    let adapter = format!(
        "echo 'SDK ready'; exec {}",
        env!("CARGO_BIN_EXE_reference-adapter")
    );
    let check = check_adapter(&adapter).await.expect("the adapter starts");
    assert!(!check.is_ok());
    let stdout = check
        .findings
        .iter()
        .find(|f| f.check == "stdout holds only answers")
        .expect("checked");
    assert!(
        matches!(&stdout.verdict, CheckVerdict::Problem(p) if p.contains("\"SDK ready\"") && p.contains("stderr")),
        "{stdout:?}"
    );
}

#[tokio::test]
async fn an_adapter_that_answers_nothing_is_told_every_request_needs_an_answer() {
    let check = check_adapter("cat > /dev/null")
        .await
        .expect("the command starts");
    assert!(!check.is_ok());
    let hello = &check.findings[0];
    assert!(
        matches!(&hello.verdict, CheckVerdict::Problem(p) if p.contains("every request needs exactly one answer line")),
        "{hello:?}"
    );
}
