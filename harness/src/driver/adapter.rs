//! The adapter driver: runs any program that speaks the adapter protocol (JSON lines on
//! stdin/stdout) and forwards operations to it. Requests are pipelined; answers are matched
//! by id in whatever order they come. An instance configured with `separate_process` gets its
//! own copy of the program, so cross-process scenarios need nothing special from adapters.
//!
//! The adapter is not trusted to behave: every call ends within [`CALL_TIMEOUT`] (sending it
//! included: an adapter that stops reading its stdin is killed), a call to an adapter whose
//! stdout has closed fails at once, one that exited is started again before the next
//! scenario (its log says so), and what it prints is read in capped, printable lines
//! ([`super::lines`]).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

use super::Driver;
use super::lines::{self, ANSWER_BYTES, Kept, LOG_LINE_BYTES, printable, truncated};
use crate::protocol::{
    Hello, MAIN_CLIENT, Op, PROTOCOL_VERSION, Request, Response, SdkError, SdkErrorKind, line_id,
};

/// How long one operation may take before the adapter is considered hung.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Characters of a stray stdout line (not an answer) shown on the console.
const STRAY_CHARS: usize = 300;

/// The adapter's stderr lines not taken yet (all its processes').
type Log = Arc<Mutex<Kept>>;

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
    /// The process the main instance and same-process instances live in; replaced when it
    /// has exited, at the next reset.
    main: Mutex<Arc<Process>>,
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
            main: Mutex::new(Arc::new(main)),
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
                let main = self.main();
                if main.is_alive() {
                    match main.call(client.clone(), op.clone()).await {
                        Err(e) if e.kind == SdkErrorKind::Protocol => {
                            main.kill(&format!("its reset failed: {}", e.message));
                        }
                        done => return done,
                    }
                }
                // The next scenario gets a working adapter, not the last one's broken pipe.
                let status = main.exit_status();
                let (process, _) = Process::start(&self.command, &self.log).await?;
                note(
                    &self.log,
                    format!("the adapter had stopped ({status}); started it again"),
                );
                let process = Arc::new(process);
                *self.main.lock().unwrap_or_else(PoisonError::into_inner) = process.clone();
                process.call(client, op).await
            }
            _ => {
                let process = self.separate.lock().await.get(&client).cloned();
                process
                    .unwrap_or_else(|| self.main())
                    .call(client, op)
                    .await
            }
        }
    }

    fn main(&self) -> Arc<Process> {
        self.main
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Adds the suite's own `line` to the adapter's log (shown with the scenario's diagnostics).
fn note(log: &Log, line: String) {
    push_log(log, format!("[prelude-conformance] {line}"));
}

fn push_log(log: &Log, line: String) {
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(line);
}

impl Driver for Adapter {
    fn hello(&self) -> &Hello {
        &self.hello
    }

    fn call(&self, client: String, op: Op) -> BoxFuture<'_, Result<Value, SdkError>> {
        self.route(client, op).boxed()
    }

    fn take_log(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// One running adapter program.
struct Process {
    child: Mutex<AdapterChild>,
    /// Request lines for the writer task (`write_requests`).
    stdin: mpsc::UnboundedSender<(String, oneshot::Sender<std::io::Result<()>>)>,
    pending: Pending,
    next_id: AtomicU64,
    /// False once its stdout closed or it was killed: calls then fail at once.
    alive: Arc<AtomicBool>,
    log: Log,
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
        let alive = Arc::new(AtomicBool::new(true));
        tokio::spawn(read_answers(
            BufReader::new(stdout),
            pending.clone(),
            alive.clone(),
            log.clone(),
        ));
        let stderr_done = tokio::spawn(keep_stderr(BufReader::new(stderr), log.clone()));
        let (lines, queued) = mpsc::unbounded_channel();
        tokio::spawn(write_requests(stdin, queued));
        let process = Self {
            child: Mutex::new(child),
            stdin: lines,
            pending,
            next_id: AtomicU64::new(1),
            alive,
            log: log.clone(),
        };
        let hello = match process.call(MAIN_CLIENT.to_owned(), Op::Hello).await {
            Ok(hello) => hello,
            Err(mut e) => {
                // An adapter that dies at start says why on stderr: show it.
                let _read = tokio::time::timeout(Duration::from_secs(1), stderr_done).await;
                let lines = log.lock().unwrap_or_else(PoisonError::into_inner).take();
                if !lines.is_empty() {
                    e.message.push_str("; its stderr:\n");
                    e.message.push_str(&lines.join("\n"));
                }
                return Err(e);
            }
        };
        let mut hello: Hello = serde_json::from_value(hello)
            .map_err(|e| protocol(format!("adapter's hello is malformed: {e}")))?;
        // Printed on the console and in every report.
        for field in [
            &mut hello.sdk.name,
            &mut hello.sdk.version,
            &mut hello.sdk.language,
        ] {
            *field = truncated(&printable(field), 200);
        }
        if hello.protocol != PROTOCOL_VERSION {
            return Err(protocol(format!(
                "adapter speaks protocol {}, this suite speaks {PROTOCOL_VERSION}",
                hello.protocol
            )));
        }
        Ok((process, hello))
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Kills a process that stopped reading its requests: nothing it does can be trusted after
    /// that, and the writer blocked on its stdin is released.
    fn kill(&self, why: &str) {
        if self.alive.swap(false, Ordering::SeqCst) {
            note(&self.log, format!("killed the adapter: {why}"));
        }
        self.child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .kill();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How the process ended, as far as is known.
    fn exit_status(&self) -> String {
        match self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .try_wait()
        {
            Ok(Some(status)) => status.to_string(),
            _ => "its stdout closed".to_owned(),
        }
    }

    async fn call(&self, client: String, op: Op) -> Result<Value, SdkError> {
        self.call_checked(client, op).await.map_err(|mut e| {
            // The adapter's words reach the console and the reports.
            e.message = truncated(&printable(&e.message), 4096);
            e
        })
    }

    async fn call_checked(&self, client: String, op: Op) -> Result<Value, SdkError> {
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let name = op.name();
        let expects = op.clone();
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        // Checked after the waiter is in: the reader clears waiters after it marks the end.
        if !self.is_alive() {
            self.forget(id);
            return Err(protocol(format!(
                "the adapter has exited (or closed its stdout): `{name}` was not sent"
            )));
        }
        let mut line = serde_json::to_string(&Request { id, client, op })
            .map_err(|e| protocol(e.to_string()))?;
        line.push('\n');
        {
            let (sent, written) = oneshot::channel();
            let written = match self.stdin.send((line, sent)) {
                Ok(()) => match tokio::time::timeout_at(deadline, written).await {
                    Ok(written) => {
                        written.unwrap_or_else(|_| Err(std::io::ErrorKind::BrokenPipe.into()))
                    }
                    Err(_) => {
                        self.forget(id);
                        self.kill("it stopped reading its stdin");
                        return Err(protocol(format!(
                            "the adapter stopped reading its stdin: `{name}` could not be sent \
                             within {}s (the adapter was killed)",
                            CALL_TIMEOUT.as_secs()
                        )));
                    }
                },
                Err(_) => Err(std::io::ErrorKind::BrokenPipe.into()),
            };
            if let Err(e) = written {
                self.forget(id);
                return Err(protocol(format!(
                    "the adapter exited (or closed its stdin) before `{name}` could be sent: {e}"
                )));
            }
        }
        match tokio::time::timeout_at(deadline, rx).await {
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

/// The process groups of the adapters this process started and has not killed yet.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// An adapter's `sh -c`, leading a process group of its own; killing it (or dropping it)
/// kills the whole group, the adapter `sh` started included (killing `sh` alone would leave
/// the adapter running, holding the pipes).
pub(crate) struct AdapterChild(pub(crate) Child);

impl AdapterChild {
    fn new(child: Child) -> Self {
        if let Some(id) = child.id().and_then(|id| i32::try_from(id).ok()) {
            GROUPS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(id);
        }
        Self(child)
    }

    /// Kills the group at once (SIGKILL).
    pub(crate) fn kill(&mut self) {
        if let Some(id) = self.0.id().and_then(|id| i32::try_from(id).ok()) {
            GROUPS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|g| *g != id);
            signal_group(id);
        }
        let _gone = self.0.start_kill();
    }
}

impl Drop for AdapterChild {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal_group(id: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(id) {
        let _gone = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Kills every adapter this process started and has not stopped yet, with whatever they
/// started. For a signal handler: adapters run in process groups of their own (so the suite
/// can kill all an adapter started), which also keeps a terminal's Ctrl-C from reaching them.
///
/// ```no_run
/// # async fn run() {
/// tokio::signal::ctrl_c().await.ok();
/// prelude_conformance::stop_adapters();
/// # }
/// ```
pub fn stop_adapters() {
    let groups = std::mem::take(&mut *GROUPS.lock().unwrap_or_else(PoisonError::into_inner));
    groups.into_iter().for_each(signal_group);
}

/// A started adapter program and its three pipes.
pub(crate) struct Spawned {
    pub(crate) child: AdapterChild,
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
        // Its own process group, so killing it reaches what `sh` started ([`AdapterChild`]).
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| protocol(format!("cannot start adapter `{command}`: {e}")))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(protocol("adapter has no stdin/stdout/stderr pipes"));
    };
    Ok(Spawned {
        child: AdapterChild::new(child),
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
/// what is wrong). Lines without an id (an SDK printing to stdout) and lines too long to be
/// an answer are reported (cut and printable) and skipped.
async fn read_answers(
    mut stdout: BufReader<ChildStdout>,
    pending: Pending,
    alive: Arc<AtomicBool>,
    log: Log,
) {
    while let Ok(Some(read)) = lines::read_line(&mut stdout, ANSWER_BYTES).await {
        let line = read.text.as_str();
        if line.trim().is_empty() && read.cut == 0 {
            continue;
        }
        let id = if read.cut == 0 { line_id(line) } else { None };
        let Some(id) = id else {
            let shown = truncated(&read.shown(), STRAY_CHARS);
            eprintln!(
                "prelude-conformance: ignoring adapter output that is not an answer: {shown}"
            );
            note(&log, format!("stdout line that is not an answer: {shown}"));
            continue;
        };
        let line = read.text;
        let response = serde_json::from_str::<Response>(&line).map_err(|e| e.to_string());
        let waiter = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(waiter) = waiter {
            let _unwaited = waiter.send(Answer { line, response });
        }
    }
    // EOF: dropping the senders tells every waiter the adapter is gone, and later calls fail
    // at once.
    alive.store(false, Ordering::SeqCst);
    note(
        &log,
        "the adapter closed its stdout (it exited or crashed)".to_owned(),
    );
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Keeps the adapter's stderr lines (the last [`lines::LOG_LINES`], each cut at [`LOG_LINE_BYTES`],
/// printable) for failure diagnostics.
async fn keep_stderr(mut stderr: BufReader<ChildStderr>, log: Log) {
    while let Ok(Some(line)) = lines::read_line(&mut stderr, LOG_LINE_BYTES).await {
        push_log(&log, line.shown());
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
            truncated(&printable(&value.to_string()), 2000)
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
