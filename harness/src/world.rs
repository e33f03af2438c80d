//! The state one scenario's steps share: the server under test and its control API, the
//! SDK driver, the test user, and what earlier steps returned. One `World` per scenario,
//! dropped (with its mock server) when the scenario ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use prelude_mock_server::{ControlClient, JournalEntry, Route};
use serde_json::Value;

use crate::driver::Driver;
use crate::protocol::{ClientConfig, MAIN_CLIENT, Op, SdkError};
use crate::raw::{RawAnswer, RawSession};
use crate::steps::StepError;

/// The user scenarios log in as.
pub(crate) struct TestUser {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) password: String,
}

pub(crate) struct World {
    pub(crate) base_url: String,
    /// For raw requests to the server (trusts its certificate when it has one).
    pub(crate) http: reqwest::Client,
    pub(crate) control: ControlClient,
    pub(crate) driver: Option<Arc<dyn Driver>>,
    pub(crate) workdir: PathBuf,
    pub(crate) user: Option<TestUser>,
    pub(crate) reuse_grace: Option<u64>,
    /// The access-token lifetime the scenario set, in seconds.
    pub(crate) access_ttl: Option<i64>,
    /// Clients configured so far.
    pub(crate) configured: Vec<String>,
    /// The last result of each client.
    pub(crate) last: HashMap<String, Result<Value, SdkError>>,
    /// Results of the last burst of concurrent calls.
    pub(crate) burst: Vec<Result<Value, SdkError>>,
    /// Values noted for later comparison.
    pub(crate) noted: HashMap<String, String>,
    /// The main client's session id, from its login.
    pub(crate) client_sid: Option<String>,
    /// Journal position before the first `When`: request counts start after it.
    pub(crate) mark: Option<u64>,
    /// Other devices of the user, logged in over raw HTTP.
    pub(crate) devices: Vec<RawSession>,
    /// The raw session server-side scenarios attack.
    pub(crate) raw: Option<RawSession>,
    /// Raw answers of the last action, in order.
    pub(crate) answers: Vec<RawAnswer>,
    /// The last proof a raw request carried (for replays).
    pub(crate) last_proof: Option<String>,
}

impl World {
    pub(crate) fn new(
        base_url: String,
        control: ControlClient,
        driver: Option<Arc<dyn Driver>>,
        workdir: PathBuf,
    ) -> Self {
        Self {
            base_url,
            http: crate::raw::http(None),
            control,
            driver,
            workdir,
            user: None,
            reuse_grace: None,
            access_ttl: None,
            configured: Vec::new(),
            last: HashMap::new(),
            burst: Vec::new(),
            noted: HashMap::new(),
            client_sid: None,
            mark: None,
            devices: Vec::new(),
            raw: None,
            answers: Vec::new(),
            last_proof: None,
        }
    }

    /// Trusts the server's self-signed certificate for raw requests.
    pub(crate) fn trusting(mut self, tls: Option<&prelude_mock_server::TlsInfo>) -> Self {
        self.http = crate::raw::http(tls);
        self
    }

    pub(crate) fn api_url(&self) -> String {
        format!("{}/v1/session", self.base_url.trim_end_matches('/'))
    }

    pub(crate) fn driver(&self) -> Result<Arc<dyn Driver>, StepError> {
        self.driver
            .clone()
            .ok_or_else(|| StepError::failed("this step needs an SDK; the scenario has none"))
    }

    pub(crate) fn user(&self) -> Result<&TestUser, StepError> {
        self.user
            .as_ref()
            .ok_or_else(|| StepError::failed("no user yet: add \"Given a registered user\""))
    }

    /// Runs `op` on `client`. `unsupported` answers skip the scenario; other SDK errors
    /// are returned for the steps to judge.
    pub(crate) async fn call(
        &self,
        client: &str,
        op: Op,
    ) -> Result<Result<Value, SdkError>, StepError> {
        let name = op.name();
        let outcome = self.driver()?.call(client.to_owned(), op).await;
        match outcome {
            Err(e) if e.kind == crate::protocol::ErrorKind::Unsupported => Err(StepError::Skipped(
                format!("the SDK does not support `{name}`: {}", e.message),
            )),
            Err(e) if e.kind == crate::protocol::ErrorKind::Protocol => Err(StepError::failed(
                format!("adapter protocol error on `{name}`: {}", e.message),
            )),
            outcome => Ok(outcome),
        }
    }

    /// Runs `op`, which must succeed.
    pub(crate) async fn must(&self, client: &str, op: Op) -> Result<Value, StepError> {
        let name = op.name();
        self.call(client, op)
            .await?
            .map_err(|e| StepError::failed(format!("`{name}` on client {client:?} failed: {e}")))
    }

    /// A configuration for a client with its own `storage` (clients sharing storage name
    /// the same one).
    pub(crate) fn config(&self, storage: &str, separate_process: bool) -> ClientConfig {
        ClientConfig {
            base_url: self.base_url.clone(),
            storage: storage.to_owned(),
            workdir: self.workdir.clone(),
            separate_process,
            reuse_grace_seconds: self.reuse_grace,
            retry_base_delay_ms: Some(20),
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

    /// Journal entries after the mark (all of them before it is set), optionally one route.
    pub(crate) async fn journal(
        &self,
        route: Option<Route>,
    ) -> Result<Vec<JournalEntry>, StepError> {
        self.control
            .journal(self.mark.unwrap_or(0), route)
            .await
            .map_err(|e| StepError::failed(format!("cannot read the server journal: {e}")))
    }

    /// The whole scenario's journal, optionally one route (for properties that span setup).
    pub(crate) async fn whole_journal(
        &self,
        route: Option<Route>,
    ) -> Result<Vec<JournalEntry>, StepError> {
        self.control
            .journal(0, route)
            .await
            .map_err(|e| StepError::failed(format!("cannot read the server journal: {e}")))
    }

    /// Every session the server knows.
    pub(crate) async fn server_sessions(
        &self,
    ) -> Result<Vec<prelude_mock_server::SessionInfo>, StepError> {
        self.control
            .sessions()
            .await
            .map_err(|e| StepError::failed(format!("cannot list the server's sessions: {e}")))
    }

    /// Sets the mark at the journal's end.
    pub(crate) async fn set_mark(&mut self) -> Result<(), StepError> {
        let entries = self.whole_journal(None).await?;
        self.mark = Some(entries.last().map_or(0, |e| e.seq));
        Ok(())
    }

    /// The main client's last result.
    pub(crate) fn last_of(&self, client: &str) -> Result<&Result<Value, SdkError>, StepError> {
        self.last
            .get(client)
            .ok_or_else(|| StepError::failed(format!("client {client:?} has not been called yet")))
    }

    pub(crate) fn main_sid(&self) -> Result<String, StepError> {
        self.client_sid
            .clone()
            .ok_or_else(|| StepError::failed("the client has not logged in in this scenario"))
    }
}

/// The name of the main client, for steps that say "the client".
pub(crate) const MAIN: &str = MAIN_CLIENT;
