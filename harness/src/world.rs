//! The state one scenario's steps share: the server under test and its control API, the
//! SDK driver, the test user, and what earlier steps returned. Cucumber makes one `World`
//! per scenario; the runner's `before` hook gives it a fresh mock server, a scratch directory
//! and a driver, and its `after` hook takes them back ([`World::teardown`]).
//!
//! Custom steps in another crate take `&mut World` like the library's own and use its
//! public methods: [`call`](World::call), [`must`](World::must), [`control`](World::control),
//! [`journal`](World::journal), [`act`](World::act).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prelude_mock_server::{ControlClient, JournalEntry, MockServer, Route};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::driver::{Driver, Lease};
use crate::protocol::{ClientConfig, MAIN_CLIENT, Op, SdkError, SdkErrorKind};
use crate::raw::{RawAnswer, RawSession};
use crate::report::Diagnostics;
use crate::steps::StepError;

/// The name of the main client, for steps that say "the client".
pub(crate) const MAIN: &str = MAIN_CLIENT;

/// No SDK call may take longer than this (a hung SDK fails the scenario, not the run).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a count waits for the server to answer every request it holds.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The transport backoff base `configure` suggests unless a scenario asks for another.
const RETRY_BASE_DELAY_MS: u64 = 20;

/// What an SDK call answered: its `ok` result or its error.
pub type Answer = Result<Value, SdkError>;

/// What the SDK said during a scenario that might carry a secret, and the access tokens it
/// returned (which its messages must not repeat). Shared by the clones of a burst's calls.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen(Arc<std::sync::Mutex<SeenData>>);

#[derive(Clone, Debug, Default)]
pub(crate) struct SeenData {
    pub(crate) messages: Vec<String>,
    pub(crate) access_tokens: Vec<String>,
}

impl Seen {
    /// Keeps an answer's error message, or the access token of its result.
    pub(crate) fn note(&self, answer: &Answer) {
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match answer {
            Err(e) => seen.messages.push(e.message.clone()),
            Ok(value) => {
                if let Some(token) = value.get("access_token").and_then(Value::as_str) {
                    seen.access_tokens.push(token.to_owned());
                }
            }
        }
    }

    /// What was seen so far.
    pub(crate) fn snapshot(&self) -> SeenData {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The user scenarios log in as.
pub(crate) struct TestUser {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) password: String,
}

/// One scenario's state, shared by its steps.
#[derive(cucumber::World)]
#[world(init = Self::empty)]
pub struct World {
    pub(crate) base_url: String,
    /// For raw requests to the server (trusts its certificate when it has one).
    pub(crate) http: reqwest::Client,
    pub(crate) control: ControlClient,
    /// The scenario's own mock server, when the runner started one.
    pub(crate) server: Option<MockServer>,
    pub(crate) driver: Option<Lease>,
    pub(crate) workdir: PathBuf,
    pub(crate) user: Option<TestUser>,
    pub(crate) reuse_grace: Option<u64>,
    /// The access-token lifetime the scenario set, in seconds.
    pub(crate) access_ttl: Option<i64>,
    /// Clients configured so far.
    pub(crate) configured: Vec<String>,
    /// The last result of each client.
    pub(crate) last: HashMap<String, Answer>,
    /// Results of the last burst of concurrent calls.
    pub(crate) burst: Vec<Answer>,
    /// Values noted for later comparison.
    pub(crate) noted: HashMap<String, String>,
    /// The main client's session id, from its login.
    pub(crate) client_sid: Option<String>,
    /// Journal position before the first `When`: request counts start after it.
    pub(crate) mark: Option<u64>,
    /// Journal position before the latest `When` (for "in the last step").
    pub(crate) step_mark: u64,
    /// The backoff base `configure` suggests, in milliseconds.
    pub(crate) retry_base_delay_ms: u64,
    /// The base URL clients are configured with, when a scenario spells it differently
    /// (mixed case) from the server's.
    pub(crate) client_base_url: Option<String>,
    /// How long each retry within a refresh call waited after the failed try, in ms.
    pub(crate) retry_waits: Vec<u64>,
    /// Session ids of the main client's earlier logins, oldest first.
    pub(crate) previous_sids: Vec<String>,
    /// Every error message the SDK gave, and every access token it returned (to check that
    /// no message carries a secret).
    pub(crate) seen: Seen,
    /// Other devices of the user, logged in over raw HTTP.
    pub(crate) devices: Vec<RawSession>,
    /// The raw session server-side scenarios attack.
    pub(crate) raw: Option<RawSession>,
    /// Raw answers of the last action, in order.
    pub(crate) answers: Vec<RawAnswer>,
    /// The last proof a raw request carried (for replays).
    pub(crate) last_proof: Option<String>,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens and passwords live in here: show only where the scenario runs.
        f.debug_struct("World")
            .field("base_url", &self.base_url)
            .field("workdir", &self.workdir)
            .field("configured", &self.configured)
            .finish_non_exhaustive()
    }
}

impl World {
    /// A world with no server yet: the runner's `before` hook fills it in.
    fn empty() -> Self {
        Self {
            base_url: String::new(),
            http: crate::raw::http(None),
            control: ControlClient::new("http://127.0.0.1:9", None, None)
                .unwrap_or_else(|_| unreachable!("a plain http URL is a valid control URL")),
            server: None,
            driver: None,
            workdir: PathBuf::new(),
            user: None,
            reuse_grace: None,
            access_ttl: None,
            configured: Vec::new(),
            last: HashMap::new(),
            burst: Vec::new(),
            noted: HashMap::new(),
            client_sid: None,
            mark: None,
            step_mark: 0,
            retry_base_delay_ms: RETRY_BASE_DELAY_MS,
            client_base_url: None,
            retry_waits: Vec::new(),
            previous_sids: Vec::new(),
            seen: Seen::default(),
            devices: Vec::new(),
            raw: None,
            answers: Vec::new(),
            last_proof: None,
        }
    }

    /// Points the world at a server (and its certificate, when self-signed).
    pub(crate) fn target(
        &mut self,
        base_url: String,
        control: ControlClient,
        tls: Option<&prelude_mock_server::TlsInfo>,
    ) {
        self.base_url = base_url;
        self.control = control;
        self.http = crate::raw::http(tls);
    }

    /// What the scenario's report shows beside its steps (the server's journal, the SDK's
    /// log), taken while the server still runs, so the next scenario starts with its own log.
    pub(crate) async fn gather_diagnostics(&mut self) -> Diagnostics {
        let adapter_stderr = self
            .driver
            .as_ref()
            .map(|lease| lease.driver().take_log())
            .unwrap_or_default();
        Diagnostics {
            journal: self.read_journal(0, None).await.unwrap_or_default(),
            adapter_stderr,
        }
    }

    /// Gives the SDK back (forgetting its instances) and stops the scenario's server.
    pub(crate) async fn teardown(&mut self) {
        if let Some(lease) = self.driver.take() {
            let _forgotten = lease.driver().call(MAIN.to_owned(), Op::Reset).await;
        }
        if !self.workdir.as_os_str().is_empty() {
            let _removed = std::fs::remove_dir_all(&self.workdir);
        }
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Marks the start of the scenario's action: the oracle's request counts begin here.
    /// Every `When` step calls it first; only the first call sets the mark, every call the
    /// mark of the latest step.
    ///
    /// It reads the journal as it stands (a request the server still holds counts after the
    /// mark once answered: a proactive refresh held on the wire belongs to the action).
    pub async fn act(&mut self) -> Result<(), StepError> {
        let position = self.position().await?;
        self.mark.get_or_insert(position);
        self.step_mark = position;
        Ok(())
    }

    /// [`act`](Self::act), when `step` is a `When`: for sentences that serve both as setup
    /// and as the action.
    pub async fn act_as(&mut self, step: &cucumber::gherkin::Step) -> Result<(), StepError> {
        if step.ty == cucumber::gherkin::StepType::When {
            self.act().await?;
        }
        Ok(())
    }

    /// The server's control API.
    pub fn control(&self) -> &ControlClient {
        &self.control
    }

    /// The server's base URL (without `/v1/session`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn api_url(&self) -> String {
        format!("{}/v1/session", self.base_url.trim_end_matches('/'))
    }

    /// The SDK under test.
    pub fn driver(&self) -> Result<Arc<dyn Driver>, StepError> {
        self.driver
            .as_ref()
            .map(Lease::driver)
            .ok_or_else(|| StepError::failed("this step needs an SDK; the scenario has none"))
    }

    pub(crate) fn user(&self) -> Result<&TestUser, StepError> {
        self.user
            .as_ref()
            .ok_or_else(|| StepError::failed("no user yet: add \"Given a registered user\""))
    }

    /// Runs `op` on `client`. An `unsupported` answer skips the scenario and a protocol
    /// error fails it; other SDK errors are returned for the steps to judge.
    pub async fn call(&self, client: &str, op: Op) -> Result<Answer, StepError> {
        let name = op.name();
        let driver = self.driver()?;
        let outcome = tokio::time::timeout(CALL_TIMEOUT, driver.call(client.to_owned(), op))
            .await
            .map_err(|_| {
                StepError::failed(format!(
                    "`{name}` did not return within {} s",
                    CALL_TIMEOUT.as_secs()
                ))
            })?;
        self.seen.note(&outcome);
        match outcome {
            Err(e) if e.kind == SdkErrorKind::Unsupported => Err(StepError::Skipped(format!(
                "the SDK does not support `{name}`: {}",
                e.message
            ))),
            Err(e) if e.kind == SdkErrorKind::Protocol => Err(StepError::failed(format!(
                "adapter protocol error on `{name}`: {}",
                e.message
            ))),
            outcome => Ok(outcome),
        }
    }

    /// Runs `op`, which must succeed.
    pub async fn must(&self, client: &str, op: Op) -> Result<Value, StepError> {
        let name = op.name();
        self.call(client, op)
            .await?
            .map_err(|e| StepError::failed(format!("`{name}` on client {client:?} failed: {e}")))
    }

    /// Runs `op`, which must succeed with a result of type `T`.
    pub async fn must_as<T: DeserializeOwned>(&self, client: &str, op: Op) -> Result<T, StepError> {
        let name = op.name();
        let answer = Ok(self.must(client, op).await?);
        self.decode(name, &answer)
    }

    /// The successful result of `op`, typed.
    pub fn decode<T: DeserializeOwned>(&self, op: &str, answer: &Answer) -> Result<T, StepError> {
        let value = answer
            .as_ref()
            .map_err(|e| StepError::failed(format!("`{op}` failed: {e}")))?;
        serde_json::from_value(value.clone())
            .map_err(|e| StepError::failed(format!("`{op}` answered a malformed result: {e}")))
    }

    /// The last result of `client`, which must be a success of type `T`.
    pub(crate) fn last_ok<T: DeserializeOwned>(
        &self,
        client: &str,
        op: &str,
    ) -> Result<T, StepError> {
        self.decode(op, self.last_of(client)?)
    }

    /// A configuration for a client with its own `storage` (clients sharing storage name
    /// the same one).
    pub(crate) fn config(&self, storage: &str, separate_process: bool) -> ClientConfig {
        ClientConfig {
            base_url: self
                .client_base_url
                .clone()
                .unwrap_or_else(|| self.base_url.clone()),
            storage: storage.to_owned(),
            workdir: self.workdir.clone(),
            separate_process,
            reuse_grace_seconds: self.reuse_grace,
            retry_base_delay_ms: Some(self.retry_base_delay_ms),
        }
    }

    /// Configures `client` unless it already is.
    pub(crate) async fn ensure_configured(&mut self, client: &str) -> Result<(), StepError> {
        if self.configured.iter().any(|c| c == client) {
            return Ok(());
        }
        self.must(client, Op::Configure(self.config(client, false)))
            .await?;
        self.configured.push(client.to_owned());
        Ok(())
    }

    /// Journal entries after the mark (all of them before it is set), optionally one route,
    /// once the server has answered every request it holds (see [`settle`](Self::settle)).
    pub async fn journal(&self, route: Option<Route>) -> Result<Vec<JournalEntry>, StepError> {
        self.journal_since(self.mark.unwrap_or(0), route).await
    }

    /// Journal entries of the latest `When` step, once the server has answered them all.
    pub async fn step_journal(&self, route: Option<Route>) -> Result<Vec<JournalEntry>, StepError> {
        self.journal_since(self.step_mark, route).await
    }

    /// The journal's position now, once the server has answered every request it holds.
    pub(crate) async fn journal_position(&self) -> Result<u64, StepError> {
        self.settle().await?;
        self.position().await
    }

    /// The seq of the journal's last entry as it stands (entries before the latest step's
    /// mark are not read again).
    async fn position(&self) -> Result<u64, StepError> {
        let entries = self.read_journal(self.step_mark, None).await?;
        Ok(entries.last().map_or(self.step_mark, |e| e.seq))
    }

    /// Journal entries after position `since`, once the server has answered them all.
    pub(crate) async fn journal_since(
        &self,
        since: u64,
        route: Option<Route>,
    ) -> Result<Vec<JournalEntry>, StepError> {
        self.settle().await?;
        self.read_journal(since, route).await
    }

    /// The whole scenario's journal, optionally one route (for properties that span setup),
    /// once the server has answered every request it holds.
    pub async fn whole_journal(
        &self,
        route: Option<Route>,
    ) -> Result<Vec<JournalEntry>, StepError> {
        self.journal_since(0, route).await
    }

    /// The journal as it stands: a request the server still holds is not in it yet.
    async fn read_journal(
        &self,
        since: u64,
        route: Option<Route>,
    ) -> Result<Vec<JournalEntry>, StepError> {
        self.control
            .journal(since, route)
            .await
            .map_err(|e| StepError::failed(format!("cannot read the server journal: {e}")))
    }

    /// Waits until the server has answered every request it received. The journal records a
    /// request when it is answered, so a count taken while one is held (a delayed refresh, a
    /// refresh an SDK sent early) would miss it.
    pub async fn settle(&self) -> Result<(), StepError> {
        let started = std::time::Instant::now();
        loop {
            let stats = self
                .control
                .stats()
                .await
                .map_err(|e| StepError::failed(format!("cannot read the server stats: {e}")))?;
            let held: u64 = stats.in_flight.values().sum();
            if held == 0 {
                return Ok(());
            }
            if started.elapsed() > SETTLE_TIMEOUT {
                return Err(StepError::failed(format!(
                    "the server still holds {held} unanswered requests after {} s",
                    SETTLE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every session the server knows.
    pub(crate) async fn server_sessions(
        &self,
    ) -> Result<Vec<prelude_mock_server::SessionRecord>, StepError> {
        self.control
            .sessions()
            .await
            .map_err(|e| StepError::failed(format!("cannot list the server's sessions: {e}")))
    }

    /// A client's last result.
    pub(crate) fn last_of(&self, client: &str) -> Result<&Answer, StepError> {
        self.last
            .get(client)
            .ok_or_else(|| StepError::failed(format!("client {client:?} has not been called yet")))
    }

    pub(crate) fn main_sid(&self) -> Result<String, StepError> {
        self.client_sid
            .clone()
            .ok_or_else(|| StepError::failed("the client has not logged in in this scenario"))
    }

    pub(crate) fn other_device_sid(&self) -> Result<String, StepError> {
        self.devices
            .first()
            .map(|d| d.session_id.clone())
            .ok_or_else(|| {
                StepError::failed(
                    "no other device: add \"Given another device of the same user is logged in\"",
                )
            })
    }
}
