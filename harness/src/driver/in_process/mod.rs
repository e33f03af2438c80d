//! The in-process driver: adapter-protocol operations on the reference client
//! (`prelude-session`), one [`SessionClient`] per named instance, each over a [`FileStore`]
//! in the scenario's scratch directory so restarts and shared storage behave as on disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use prelude_session::{
    FileStore, RetryPolicy, SessionClient, SessionClientBuilder, StateEvents, Unsubscribe,
};
use serde_json::Value;
use tokio::task::JoinHandle;

mod ops;

use ops::{result, run_on, sdk_error, state_name};

use super::Driver;
use crate::protocol::{
    Capability, ClientConfig, Done, Hello, Op, PROTOCOL_VERSION, Restarted, SdkError, SdkErrorKind,
    SdkInfo,
};

/// A last say over each client's configuration (see [`InProcess::customised`]).
type Customise = Arc<dyn Fn(SessionClientBuilder) -> SessionClientBuilder + Send + Sync>;

/// Drives the reference client in this process.
pub struct InProcess {
    hello: Hello,
    customise: Option<Customise>,
    clients: Mutex<HashMap<String, Arc<Instance>>>,
}

pub(super) struct Instance {
    pub(super) client: SessionClient,
    pub(super) config: ClientConfig,
    pub(super) store: Arc<FileStore>,
    pub(super) history: Arc<Mutex<Vec<String>>>,
    pub(super) watcher: JoinHandle<()>,
    pub(super) subscriptions: Mutex<Vec<Subscription>>,
}

/// A state subscription and what it delivered. It is read until the client ends it, so a
/// client that keeps delivering after `unsubscribe` is seen doing so.
pub(super) struct Subscription {
    pub(super) unsubscribe: Unsubscribe,
    pub(super) stream: StateEvents,
    pub(super) events: Vec<String>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl InProcess {
    /// The reference client as it ships.
    pub fn new() -> Self {
        Self::with("prelude-session".to_owned(), None)
    }

    /// The reference client, each instance's builder passed through `customise` after the
    /// driver's own settings (store, retry policy, grace window). `name` is the SDK name the
    /// driver reports in `hello`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use prelude_conformance::InProcess;
    ///
    /// let driver = InProcess::customised("prelude-session (10 s leeway)", |builder| {
    ///     builder.refresh_leeway(Duration::from_secs(10))
    /// });
    /// ```
    pub fn customised(
        name: impl Into<String>,
        customise: impl Fn(SessionClientBuilder) -> SessionClientBuilder + Send + Sync + 'static,
    ) -> Self {
        Self::with(name.into(), Some(Arc::new(customise)))
    }

    fn with(name: String, customise: Option<Customise>) -> Self {
        Self {
            hello: Hello {
                protocol: PROTOCOL_VERSION,
                sdk: SdkInfo {
                    name,
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    language: "rust".to_owned(),
                },
                capabilities: Capability::ALL
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect(),
                requires: Vec::new(),
                max_in_flight: None,
            },
            customise,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn instance(&self, name: &str) -> Result<Arc<Instance>, SdkError> {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| {
                SdkError::new(
                    SdkErrorKind::Protocol,
                    format!("client {name:?} is not configured"),
                )
            })
    }

    fn build(&self, config: ClientConfig) -> Result<Instance, SdkError> {
        let store = Arc::new(FileStore::new(
            config.workdir.join(format!("{}.json", config.storage)),
        ));
        let mut builder = SessionClient::builder(config.base_url.clone())
            .store(store.clone())
            .retry_policy(RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(config.retry_base_delay_ms.unwrap_or(200)),
                max_delay: Duration::from_secs(1),
            })
            .proactive_refresh(true);
        if let Some(grace) = config.reuse_grace_seconds {
            builder = builder.server_reuse_grace(Duration::from_secs(grace));
        }
        if let Some(customise) = &self.customise {
            builder = customise(builder);
        }
        let client = builder.build().map_err(sdk_error)?;
        let history = Arc::new(Mutex::new(Vec::new()));
        let mut states = client.state();
        let seen = history.clone();
        let watcher = tokio::spawn(async move {
            loop {
                let state = state_name(&states.borrow_and_update());
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(state);
                if states.changed().await.is_err() {
                    break;
                }
            }
        });
        Ok(Instance {
            client,
            config,
            store,
            history,
            watcher,
            subscriptions: Mutex::new(Vec::new()),
        })
    }

    async fn run(&self, name: String, op: Op) -> Result<Value, SdkError> {
        match op {
            Op::Hello => serde_json::to_value(&self.hello)
                .map_err(|e| SdkError::new(SdkErrorKind::Other, e.to_string())),
            Op::Reset => {
                self.clients
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
                Ok(result(Done {}))
            }
            Op::Configure(config) => {
                let instance = Arc::new(self.build(config)?);
                self.clients
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(name, instance);
                Ok(result(Done {}))
            }
            Op::Restart => {
                let config = self.instance(&name)?.config.clone();
                // Drop the old instance first, as a process restart would.
                self.clients
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&name);
                let instance = Arc::new(self.build(config)?);
                let logged_in = instance.client.is_logged_in();
                self.clients
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(name, instance);
                Ok(result(Restarted { logged_in }))
            }
            op => {
                let instance = self.instance(&name)?;
                run_on(&instance, op).await
            }
        }
    }
}

impl Default for InProcess {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver for InProcess {
    fn hello(&self) -> &Hello {
        &self.hello
    }

    fn call(&self, client: String, op: Op) -> BoxFuture<'_, Result<Value, SdkError>> {
        self.run(client, op).boxed()
    }
}
