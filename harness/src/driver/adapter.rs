//! The adapter driver: runs any program that speaks the adapter protocol (JSON lines on
//! stdin/stdout) and forwards operations to it. Requests are pipelined; answers are matched
//! by id in whatever order they come. An instance configured with `separate_process` gets its
//! own copy of the program, so cross-process scenarios need nothing special from adapters.

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

use super::Driver;
use crate::protocol::{
    Hello, MAIN_CLIENT, Op, PROTOCOL_VERSION, Request, Response, SdkError, SdkErrorKind, line_id,
};

/// How long one operation may take before the adapter is considered hung.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of an adapter's stderr kept between two [`Driver::take_log`] calls.
const LOG_LINES: usize = 200;

/// The adapter's stderr lines not taken yet (all its processes').
type Log = Arc<Mutex<VecDeque<String>>>;

/// Waiters by request id; each gets the answer line, parsed or not.
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Answer>>>>;

/// One answer line: the response, or why it is not one, with the line itself.
struct Answer {
    line: String,
    response: Result<Response, String>,
}

/// Drives the SDK behind an adapter command (run with `sh -c`).
pub struct Adapter {
    command: String,
    hello: Hello,
    log: Log,
    main: Process,
    /// Instances living in their own process.
    separate: tokio::sync::Mutex<HashMap<String, Arc<Process>>>,
}

impl Adapter {
    /// Starts `command` and exchanges `hello` with it.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), prelude_conformance::SdkError> {
    /// let adapter = prelude_conformance::Adapter::spawn("node sdk-under-test/js/adapter.mjs").await?;
    /// # Ok(()) }
    /// ```
    pub async fn spawn(command: &str) -> Result<Self, SdkError> {
        let log = Log::default();
        let (main, hello) = Process::start(command, &log).await?;
        Ok(Self {
            command: command.to_owned(),
            hello,
            log,
            main,
            separate: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn route(&self, client: String, op: Op) -> Result<Value, SdkError> {
        match &op {
            Op::Configure(config) if config.separate_process => {
                let (process, _) = Process::start(&self.command, &self.log).await?;
                let process = Arc::new(process);
                self.separate
                    .lock()
                    .await
                    .insert(client.clone(), process.clone());
                process.call(client, op).await
            }
            Op::Reset => {
                // Dropping a process kills it.
                self.separate.lock().await.clear();
                self.main.call(client, op).await
            }
            _ => {
                let process = self.separate.lock().await.get(&client).cloned();
                match process {
                    Some(process) => process.call(client, op).await,
                    None => self.main.call(client, op).await,
                }
            }
        }
    }
}

impl Driver for Adapter {
    fn hello(&self) -> &Hello {
        &self.hello
    }

    fn call(&self, client: String, op: Op) -> BoxFuture<'_, Result<Value, SdkError>> {
        self.route(client, op).boxed()
    }

    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner)).into()
    }
}

/// One running adapter program.
struct Process {
    _child: Child,
    /// Request lines for the writer task (`write_requests`).
    stdin: mpsc::UnboundedSender<(String, oneshot::Sender<std::io::Result<()>>)>,
    pending: Pending,
    next_id: AtomicU64,
}

impl Process {
    async fn start(command: &str, log: &Log) -> Result<(Self, Hello), SdkError> {
        let Spawned {
            child,
            stdin,
            stdout,
            stderr,
        } = spawn(command)?;
        let pending: Pending = Arc::default();
        tokio::spawn(read_answers(BufReader::new(stdout), pending.clone()));
        let stderr_done = tokio::spawn(keep_stderr(BufReader::new(stderr), log.clone()));
        let (lines, queued) = mpsc::unbounded_channel();
        tokio::spawn(write_requests(stdin, queued));
        let process = Self {
            _child: child,
            stdin: lines,
            pending,
            next_id: AtomicU64::new(1),
        };
        let hello = match process.call(MAIN_CLIENT.to_owned(), Op::Hello).await {
            Ok(hello) => hello,
            Err(mut e) => {
                // An adapter that dies at start says why on stderr: show it.
                let _read = tokio::time::timeout(Duration::from_secs(1), stderr_done).await;
                let lines =
                    std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
                if !lines.is_empty() {
                    e.message.push_str("; its stderr:\n");
                    e.message.push_str(&Vec::from(lines).join("\n"));
                }
                return Err(e);
            }
        };
        let hello: Hello = serde_json::from_value(hello)
            .map_err(|e| protocol(format!("adapter's hello is malformed: {e}")))?;
        if hello.protocol != PROTOCOL_VERSION {
            return Err(protocol(format!(
                "adapter speaks protocol {}, this suite speaks {PROTOCOL_VERSION}",
                hello.protocol
            )));
        }
        Ok((process, hello))
    }

    async fn call(&self, client: String, op: Op) -> Result<Value, SdkError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let name = op.name();
        let expects = op.clone();
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        let mut line = serde_json::to_string(&Request { id, client, op })
            .map_err(|e| protocol(e.to_string()))?;
        line.push('\n');
        {
            let (sent, written) = oneshot::channel();
            let written = match self.stdin.send((line, sent)) {
                Ok(()) => written
                    .await
                    .unwrap_or_else(|_| Err(std::io::ErrorKind::BrokenPipe.into())),
                Err(_) => Err(std::io::ErrorKind::BrokenPipe.into()),
            };
            if let Err(e) = written {
                self.forget(id);
                return Err(protocol(format!(
                    "the adapter exited (or closed its stdin) before `{name}` could be sent: {e}"
                )));
            }
        }
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(Answer { line, response })) => {
                // Redacted only for a message: a burst's answers are many.
                let outcome = response
                    .map_err(|e| {
                        protocol(format!(
                            "malformed answer to `{name}`: {e}; line: {}",
                            redacted(&line)
                        ))
                    })?
                    .into_outcome();
                if let Ok(result) = &outcome {
                    expects.check_result(result).map_err(|e| {
                        protocol(format!(
                            "the `ok` result of `{name}` does not match the protocol: {e}; line: {}",
                            redacted(&line)
                        ))
                    })?;
                }
                outcome
            }
            Ok(Err(_)) => Err(protocol(format!(
                "the adapter exited before answering `{name}`"
            ))),
            Err(_) => {
                self.forget(id);
                Err(protocol(format!(
                    "the adapter did not answer `{name}` within {}s",
                    CALL_TIMEOUT.as_secs()
                )))
            }
        }
    }

    fn forget(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

/// A started adapter program and its three pipes.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    pub(crate) stdin: ChildStdin,
    pub(crate) stdout: ChildStdout,
    pub(crate) stderr: ChildStderr,
}

/// Starts `command` with `sh -c`, all three streams piped, killed when dropped.
pub(crate) fn spawn(command: &str) -> Result<Spawned, SdkError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| protocol(format!("cannot start adapter `{command}`: {e}")))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(protocol("adapter has no stdin/stdout/stderr pipes"));
    };
    Ok(Spawned {
        child,
        stdin,
        stdout,
        stderr,
    })
}

/// Writes request lines to the adapter's stdin, each batch of lines queued together in one
/// write (a burst of N pipelined requests is a few writes, not N), and tells each sender
/// whether its line went out.
async fn write_requests(
    stdin: ChildStdin,
    mut queued: mpsc::UnboundedReceiver<(String, oneshot::Sender<std::io::Result<()>>)>,
) {
    let mut stdin = tokio::io::BufWriter::new(stdin);
    let mut batch = Vec::new();
    while let Some(first) = queued.recv().await {
        let mut next = Some(first);
        let mut written = Ok(());
        while let Some((line, sent)) = next {
            if written.is_ok() {
                written = stdin.write_all(line.as_bytes()).await;
            }
            batch.push(sent);
            next = queued.try_recv().ok();
        }
        if written.is_ok() {
            written = stdin.flush().await;
        }
        for sent in batch.drain(..) {
            let outcome = match &written {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            let _gone = sent.send(outcome);
        }
    }
}

/// Hands each answer line to whoever waits for its id, malformed or not (the waiter reports
/// what is wrong). Lines without an id (an SDK printing to stdout) are reported on stderr and
/// skipped.
async fn read_answers(stdout: BufReader<ChildStdout>, pending: Pending) {
    let mut lines = stdout.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let Some(id) = line_id(&line) else {
            eprintln!("prelude-conformance: ignoring adapter output that is not an answer: {line}");
            continue;
        };
        let response = serde_json::from_str::<Response>(&line).map_err(|e| e.to_string());
        let waiter = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(waiter) = waiter {
            let _unwaited = waiter.send(Answer { line, response });
        }
    }
    // EOF: dropping the senders tells every waiter the adapter is gone.
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Keeps the adapter's stderr lines (the last [`LOG_LINES`]) for failure diagnostics.
async fn keep_stderr(stderr: BufReader<ChildStderr>, log: Log) {
    let mut lines = stderr.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() == LOG_LINES {
            log.pop_front();
        }
        log.push_back(line);
    }
}

/// `line` with every token and password value replaced, for error messages and reports.
fn redacted(line: &str) -> String {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(members) => {
                for (key, value) in members.iter_mut() {
                    if (key.contains("token") || key.contains("password")) && value.is_string() {
                        *value = Value::String("[redacted]".to_owned());
                    } else {
                        walk(value);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(line) {
        Ok(mut value) => {
            walk(&mut value);
            value.to_string()
        }
        Err(_) => "[not JSON]".to_owned(),
    }
}

fn protocol(message: impl Into<String>) -> SdkError {
    SdkError::new(SdkErrorKind::Protocol, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_lines_in_messages_never_show_tokens() {
        let line = r#"{"id":3,"ok":{"access_token":"eyJsecret","expires_at":"soon","nested":[{"refresh_token":"rt"}]}}"#;
        let shown = redacted(line);
        assert!(
            !shown.contains("eyJsecret") && !shown.contains("\"rt\""),
            "{shown}"
        );
        assert!(shown.contains("\"soon\""), "{shown}");
    }
}
