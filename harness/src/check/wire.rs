//! The adapter process as `check-adapter` sees it: requests written by id, every stdout line
//! filed as an answer (checked against its op's result type) or a stray, the answer order
//! kept, stderr collected.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::{ANSWER_TIMEOUT, CheckVerdict};
use crate::driver::lines::{ANSWER_BYTES, Kept, LOG_LINE_BYTES, read_line};
use crate::driver::{AdapterChild, Spawned, spawn};
use crate::protocol::{MAIN_CLIENT, Op, Response, SdkError, SdkErrorKind, line_id};

/// The adapter process and what it has written.
pub(super) struct Wire {
    child: AdapterChild,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: tokio::task::JoinHandle<Vec<String>>,
    next_id: u64,
    sent: HashMap<u64, Op>,
    /// Answers read while waiting for another id.
    early: HashMap<u64, Response>,
    /// Order in which ids were answered.
    answered: Vec<u64>,
    stray: Vec<String>,
    mismatched: Vec<String>,
}

impl Wire {
    pub(super) fn start(command: &str) -> Result<Self, SdkError> {
        let Spawned {
            child,
            stdin,
            stdout,
            stderr,
        } = spawn(command)?;
        let (tx, lines) = mpsc::unbounded_channel();
        // Read as the suite reads an adapter: capped, lossy, printable lines.
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            while let Ok(Some(line)) = read_line(&mut reader, ANSWER_BYTES).await {
                let line = if line.cut == 0 {
                    line.text
                } else {
                    line.shown()
                };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = tokio::spawn(async move {
            let mut kept = Kept::default();
            let mut reader = BufReader::new(stderr);
            while let Ok(Some(line)) = read_line(&mut reader, LOG_LINE_BYTES).await {
                kept.push(line.shown());
            }
            kept.take()
        });
        Ok(Self {
            child,
            stdin: Some(stdin),
            lines,
            stderr,
            next_id: 1,
            sent: HashMap::new(),
            early: HashMap::new(),
            answered: Vec::new(),
            stray: Vec::new(),
            mismatched: Vec::new(),
        })
    }

    pub(super) async fn send(&mut self, op: Op) -> u64 {
        let mut request = serde_json::to_value(&op).unwrap_or(Value::Null);
        if let Some(members) = request.as_object_mut() {
            members.insert("client".to_owned(), json!(MAIN_CLIENT));
        }
        let id = self.send_raw(request).await;
        self.sent.insert(id, op);
        id
    }

    pub(super) async fn send_raw(&mut self, mut request: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if let Some(members) = request.as_object_mut() {
            members.insert("id".to_owned(), json!(id));
        }
        let line = request.to_string() + "\n";
        // A closed stdin shows up as a missing answer.
        if let Some(stdin) = &mut self.stdin {
            let _written = stdin.write_all(line.as_bytes()).await;
            let _flushed = stdin.flush().await;
        }
        id
    }

    /// The answer to `id`: the SDK's outcome, or a sentence saying what is wrong.
    pub(super) async fn answer(&mut self, id: u64) -> Result<Result<Value, SdkError>, String> {
        let response = self.wait_for(id).await?;
        Ok(response.into_outcome())
    }

    /// The order in which `ids` get answered.
    pub(super) async fn order_of<const N: usize>(
        &mut self,
        ids: [u64; N],
    ) -> Result<Vec<u64>, String> {
        for id in ids {
            self.wait_for(id).await?;
        }
        Ok(self
            .answered
            .iter()
            .copied()
            .filter(|a| ids.contains(a))
            .collect())
    }

    async fn wait_for(&mut self, id: u64) -> Result<Response, String> {
        let name = self
            .sent
            .get(&id)
            .map_or("check_adapter_unknown_op", Op::name);
        loop {
            if let Some(response) = self.early.remove(&id) {
                return Ok(response);
            }
            let line = match timeout(ANSWER_TIMEOUT, self.lines.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => {
                    return Err(format!(
                        "the adapter closed stdout (or exited) before answering `{name}`: every request needs exactly one answer line"
                    ));
                }
                Err(_) => {
                    return Err(format!(
                        "no answer to `{name}` within {} s: every request needs exactly one answer line, with its `id`",
                        ANSWER_TIMEOUT.as_secs()
                    ));
                }
            };
            self.read(line);
        }
    }

    /// Files one stdout line: an answer (checked against its op's result type) or a stray.
    fn read(&mut self, line: String) {
        if line.trim().is_empty() {
            return;
        }
        let Some(id) = line_id(&line) else {
            self.stray.push(line);
            return;
        };
        let response = match serde_json::from_str::<Response>(&line) {
            Ok(response) => response,
            Err(e) => {
                self.mismatched.push(format!("answer {id}: {e}"));
                Response::new(
                    id,
                    Err(SdkError::new(SdkErrorKind::Protocol, e.to_string())),
                )
            }
        };
        if let Some(op) = self.sent.get(&id) {
            match (&response.ok, &response.error) {
                (Some(ok), _) => {
                    if let Err(e) = op.check_result(ok) {
                        self.mismatched
                            .push(format!("the `ok` of `{}`: {e}", op.name()));
                    }
                }
                (None, None) => self.mismatched.push(format!(
                    "the answer to `{}` has neither `ok` nor `error`",
                    op.name()
                )),
                (None, Some(_)) => {}
            }
        }
        self.answered.push(id);
        self.early.insert(id, response);
    }

    pub(super) fn stray_lines(&self) -> CheckVerdict {
        match self.stray.first() {
            None => CheckVerdict::Ok,
            Some(first) => CheckVerdict::Problem(format!(
                "{} line(s) on stdout are not answers, the first: {:?}; write logs and SDK output to stderr",
                self.stray.len(),
                first.chars().take(120).collect::<String>()
            )),
        }
    }

    pub(super) fn mismatches(&self) -> CheckVerdict {
        if self.mismatched.is_empty() {
            CheckVerdict::Ok
        } else {
            CheckVerdict::Problem(format!(
                "{}; `prelude-conformance schema` prints the schema",
                self.mismatched.join("; ")
            ))
        }
    }

    /// Closes stdin, reads what stdout still holds, gives the adapter a moment to exit, and
    /// returns its stderr.
    pub(super) async fn finish(&mut self) -> Vec<String> {
        self.stdin = None;
        while let Ok(Some(line)) = timeout(Duration::from_secs(2), self.lines.recv()).await {
            self.read(line);
        }
        if timeout(Duration::from_secs(2), self.child.0.wait())
            .await
            .is_err()
        {
            self.child.kill();
        }
        timeout(Duration::from_secs(1), &mut self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}
