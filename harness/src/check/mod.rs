//! `check-adapter`: a smoke test of an adapter's protocol plumbing, before any scenario.
//!
//! It talks to the adapter line by line itself (not through the [`Adapter`](crate::Adapter)
//! driver, which tolerates what this reports): `hello`, an unknown op, two pipelined
//! requests that must be answered out of order, `reset`; and it watches that stdout holds
//! only answers and that every answer matches the protocol. Each problem is one sentence
//! saying what to change. Whether the SDK behaves well is the suite's job, not this one's.
//!
//! `wire` owns the adapter process and files each stdout line (answer or stray, checked
//! against its op's result type); this module owns the checks and their report.

mod wire;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use prelude_mock_server::{Fault, FaultAction, MockServer, Route};
use serde_json::json;

use wire::Wire;

use crate::protocol::{
    Capability, ClientConfig, Hello, MAIN_CLIENT, Op, PROTOCOL_VERSION, SdkError, SdkErrorKind,
};

/// How long an answer may take; the server delays the slow request by [`SLOW_MS`].
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
const SLOW_MS: u64 = 1500;

/// How one check went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckVerdict {
    /// It holds.
    Ok,
    /// It could not be checked (with why).
    NotChecked(String),
    /// It does not hold: what is wrong and what to change.
    Problem(String),
}

/// One check and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What was checked.
    pub check: &'static str,
    /// How it went.
    pub verdict: CheckVerdict,
}

/// Everything `check-adapter` found.
#[derive(Clone, Debug, Default)]
pub struct AdapterCheck {
    /// In the order checked.
    pub findings: Vec<Finding>,
    /// The adapter's stderr, for a problem's context.
    pub stderr: Vec<String>,
}

impl AdapterCheck {
    /// Whether no check found a problem.
    pub fn is_ok(&self) -> bool {
        !self
            .findings
            .iter()
            .any(|f| matches!(f.verdict, CheckVerdict::Problem(_)))
    }

    fn record(&mut self, check: &'static str, verdict: CheckVerdict) {
        self.findings.push(Finding { check, verdict });
    }
}

impl fmt::Display for AdapterCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            match &finding.verdict {
                CheckVerdict::Ok => writeln!(f, "ok    {}", finding.check)?,
                CheckVerdict::NotChecked(why) => writeln!(f, "skip  {}: {why}", finding.check)?,
                CheckVerdict::Problem(what) => {
                    writeln!(f, "FAIL  {}\n      {what}", finding.check)?
                }
            }
        }
        if !self.is_ok() && !self.stderr.is_empty() {
            writeln!(f, "adapter stderr:")?;
            for line in self.stderr.iter().rev().take(20).rev() {
                writeln!(f, "  | {line}")?;
            }
        }
        let problems = self
            .findings
            .iter()
            .filter(|f| matches!(f.verdict, CheckVerdict::Problem(_)))
            .count();
        match problems {
            0 => writeln!(f, "the adapter speaks protocol v{PROTOCOL_VERSION}"),
            n => writeln!(f, "{n} problem(s): fix them before running the suite"),
        }
    }
}

/// Runs every check against the adapter `command` (run with `sh -c`). `Err` when it cannot
/// even start.
pub async fn check_adapter(command: &str) -> Result<AdapterCheck, SdkError> {
    let mut wire = Wire::start(command)?;
    let mut check = AdapterCheck::default();
    // Without an answer to `hello`, later requests would only time out too.
    if let Some(hello) = hello(&mut wire, &mut check).await {
        unknown_op(&mut wire, &mut check).await;
        let workdir =
            std::env::temp_dir().join(format!("prelude-check-adapter-{}", crate::random_hex(6)));
        pipelining(&mut wire, &mut check, &hello, &workdir).await;
        let reset = wire.send(Op::Reset).await;
        if let Some(problem) = wire.answer(reset).await.err() {
            check.record("`reset` is answered", CheckVerdict::Problem(problem));
        }
        let _removed = std::fs::remove_dir_all(&workdir);
    }
    check.stderr = wire.finish().await;
    check.record("stdout holds only answers", wire.stray_lines());
    check.record(
        "every answer matches the protocol's JSON Schema",
        wire.mismatches(),
    );
    Ok(check)
}

async fn hello(wire: &mut Wire, check: &mut AdapterCheck) -> Option<Hello> {
    const CHECK: &str = "`hello` declares protocol v1 and known capabilities";
    let id = wire.send(Op::Hello).await;
    let answer = match wire.answer(id).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            let problem =
                format!("`hello` failed with {e}; answer it with the SDK's name and capabilities");
            check.record(CHECK, CheckVerdict::Problem(problem));
            return None;
        }
        Err(problem) => {
            check.record(CHECK, CheckVerdict::Problem(problem));
            return None;
        }
    };
    let Ok(hello) = serde_json::from_value::<Hello>(answer) else {
        // The schema check reports what is malformed.
        check.record(
            CHECK,
            CheckVerdict::Problem(
                "the `hello` answer is malformed (see the schema check below)".to_owned(),
            ),
        );
        return None;
    };
    let unknown: Vec<&str> = hello
        .capabilities
        .iter()
        .map(String::as_str)
        .filter(|c| !Capability::ALL.iter().any(|k| k.name() == *c))
        .collect();
    let verdict = if hello.protocol != PROTOCOL_VERSION {
        CheckVerdict::Problem(format!(
            "`hello` says protocol {}, the suite speaks {PROTOCOL_VERSION}: answer `\"protocol\": {PROTOCOL_VERSION}`",
            hello.protocol
        ))
    } else if !unknown.is_empty() {
        CheckVerdict::Problem(format!(
            "`hello` declares capabilities the suite does not know: {}; use the names in docs/adapter-protocol.md",
            unknown.join(", ")
        ))
    } else {
        CheckVerdict::Ok
    };
    check.record(CHECK, verdict);
    Some(hello)
}

async fn unknown_op(wire: &mut Wire, check: &mut AdapterCheck) {
    const CHECK: &str = "an unknown op is answered with kind `unsupported`";
    let id = wire
        .send_raw(json!({"client": MAIN_CLIENT, "op": "check_adapter_unknown_op"}))
        .await;
    let verdict = match wire.answer(id).await {
        Ok(Err(e)) if e.kind == SdkErrorKind::Unsupported => CheckVerdict::Ok,
        Ok(Err(e)) => CheckVerdict::Problem(format!(
            "an op the adapter does not know was answered with kind `{}`: answer `{{\"kind\": \"unsupported\"}}`, so the suite skips the scenarios that need it",
            e.kind.name()
        )),
        Ok(Ok(_)) => CheckVerdict::Problem(
            "an op the adapter does not know was answered `ok`: answer it with an error of kind `unsupported`".to_owned(),
        ),
        Err(problem) => CheckVerdict::Problem(problem),
    };
    check.record(CHECK, verdict);
}

/// A `refresh` the server holds for [`SLOW_MS`], then an `access_token` (no network): a
/// pipelining adapter answers the second first.
async fn pipelining(wire: &mut Wire, check: &mut AdapterCheck, hello: &Hello, workdir: &Path) {
    const CHECK: &str = "pipelined requests are answered as each completes, not in order";
    let setup = async {
        let mut builder = MockServer::builder();
        if hello.requires.iter().any(|r| r == "https") {
            builder = builder.tls_self_signed();
        }
        let server = builder
            .start()
            .await
            .map_err(|e| format!("cannot start a mock server: {e}"))?;
        let email = "check-adapter@example.com";
        let password = "check-adapter-password";
        server
            .control()
            .create_user(email, password)
            .await
            .map_err(|e| format!("cannot create a user: {e}"))?;
        let _made = std::fs::create_dir_all(workdir);
        let config = ClientConfig {
            base_url: server.url().to_owned(),
            storage: "default".to_owned(),
            workdir: workdir.to_owned(),
            separate_process: false,
            reuse_grace_seconds: None,
            retry_base_delay_ms: Some(10),
        };
        for op in [
            Op::Configure(config),
            Op::Login {
                email: email.to_owned(),
                password: password.into(),
            },
            // A cached token would spare the refresh its trip to the server.
            Op::Invalidate,
        ] {
            let name = op.name();
            let id = wire.send(op).await;
            match wire.answer(id).await? {
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "`{name}` failed ({e}); wire it to the SDK to have this checked"
                    ));
                }
            }
        }
        Ok(server)
    };
    let server = match setup.await {
        Ok(server) => server,
        Err(why) => {
            check.record(CHECK, CheckVerdict::NotChecked(why));
            return;
        }
    };
    let fault = Fault::new(Route::Refresh, FaultAction::Delay { ms: SLOW_MS });
    if let Err(e) = server.control().add_fault(&fault).await {
        check.record(
            CHECK,
            CheckVerdict::NotChecked(format!("cannot delay the refresh: {e}")),
        );
        return;
    }
    let slow = wire.send(Op::Refresh).await;
    let fast = wire.send(Op::AccessToken).await;
    let order = wire.order_of([slow, fast]).await;
    let refreshed = server
        .control()
        .journal(0, Some(Route::Refresh))
        .await
        .map(|j| !j.is_empty());
    let verdict = match order {
        Ok(order) if order == [fast, slow] => CheckVerdict::Ok,
        Ok(_) if refreshed.is_ok_and(|r| !r) => CheckVerdict::NotChecked(
            "`refresh` after `invalidate` did not reach the server, so nothing was slow".to_owned(),
        ),
        Ok(_) => CheckVerdict::Problem(format!(
            "`access_token` (sent second, no network) was answered only after `refresh` (sent first, held {SLOW_MS} ms by the server): the adapter answers in request order; start each request as soon as its line is read and write its answer when it completes"
        )),
        Err(problem) => CheckVerdict::Problem(problem),
    };
    check.record(CHECK, verdict);
    server.shutdown().await;
}
