//! The in-process driver: adapter-protocol operations on the reference client
//! (`prelude-session`), one [`SessionClient`] per named instance, each over a [`FileStore`]
//! in the scenario's scratch directory so restarts and shared storage behave as on disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use prelude_session::{
    Error, FileStore, RetryPolicy, SessionClient, SessionClientBuilder, SessionState, StateEvents,
    Store, Unsubscribe,
};
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::Driver;
use crate::protocol::{
    AccessToken, Authorized, Capability, ClientConfig, Done, Events, Hello, ListedSession,
    ListedSessions, Op, PROTOCOL_VERSION, Restarted, RevokeKind, SdkError, SdkErrorKind, SdkInfo,
    State, Stored, Subscription as SubscriptionId, UserInfo,
};

/// A last say over each client's configuration (see [`InProcess::customised`]).
type Customise = Arc<dyn Fn(SessionClientBuilder) -> SessionClientBuilder + Send + Sync>;

/// Drives the reference client in this process.
pub struct InProcess {
    hello: Hello,
    customise: Option<Customise>,
    clients: Mutex<HashMap<String, Arc<Instance>>>,
}

struct Instance {
    client: SessionClient,
    config: ClientConfig,
    store: Arc<FileStore>,
    history: Arc<Mutex<Vec<String>>>,
    watcher: JoinHandle<()>,
    subscriptions: Mutex<Vec<Subscription>>,
}

/// A state subscription and what it delivered. It is read until the client ends it, so a
/// client that keeps delivering after `unsubscribe` is seen doing so.
struct Subscription {
    unsubscribe: Unsubscribe,
    stream: StateEvents,
    events: Vec<String>,
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

async fn run_on(instance: &Instance, op: Op) -> Result<Value, SdkError> {
    let client = &instance.client;
    match op {
        Op::Login { email, password } => {
            let user = client
                .login_with_password(&email, &password)
                .await
                .map_err(sdk_error)?;
            Ok(user_result(&user))
        }
        Op::Refresh => client
            .refresh()
            .await
            .map(|u| user_result(&u))
            .map_err(sdk_error),
        Op::AccessToken => Ok(result(AccessToken {
            access_token: client.access_token(),
            expires_at: client.access_token_expires_at(),
            session_id: client.session_id(),
        })),
        Op::Invalidate => {
            client.invalidate_cache();
            Ok(result(Done {}))
        }
        Op::Logout => client.logout().await.map(done).map_err(sdk_error),
        Op::ListSessions { limit, offset } => {
            let page = client
                .list_sessions(limit, offset)
                .await
                .map_err(sdk_error)?;
            let sessions = page
                .sessions
                .iter()
                .map(|s| ListedSession {
                    id: s.id.clone(),
                    device_type: format!("{:?}", s.device_type).to_lowercase(),
                    device_model: Some(s.device_model.clone()),
                    os_version: Some(s.os_version.clone()),
                    country_code: Some(s.country_code.clone()),
                })
                .collect();
            Ok(result(ListedSessions {
                sessions,
                total: page.total,
                limit: Some(page.limit),
                offset: Some(page.offset),
            }))
        }
        Op::Revoke { target, session_id } => {
            use prelude_session::RevokeTarget as Target;
            let target = match (target, session_id) {
                (RevokeKind::All, _) => Target::All,
                (RevokeKind::Others, _) => Target::Others,
                (RevokeKind::Mine, _) => Target::Mine,
                (RevokeKind::Session, Some(id)) => Target::Session(id),
                (RevokeKind::Session, None) => {
                    return Err(SdkError::new(
                        SdkErrorKind::InvalidArgument,
                        "revoking a session needs its `session_id`",
                    ));
                }
            };
            client
                .revoke_sessions(target)
                .await
                .map(done)
                .map_err(sdk_error)
        }
        Op::AuthorizedGet { path } => {
            let url = format!("{}{path}", instance.config.base_url.trim_end_matches('/'));
            let response = client
                .authorized(|http| http.get(&url))
                .await
                .map_err(sdk_error)?;
            Ok(result(Authorized {
                status: response.status().as_u16(),
            }))
        }
        Op::State => {
            // One reading, so name and code cannot come from two different states.
            let current = client.state().borrow().clone();
            let code = match &current {
                SessionState::Terminated { code } => Some(code.clone()),
                _ => None,
            };
            let state = state_name(&current);
            let history = instance
                .history
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            Ok(result(State {
                state,
                code,
                history,
            }))
        }
        Op::Stored => {
            let stored = instance.store.load().map_err(sdk_error)?;
            Ok(result(Stored {
                credentials: stored.is_some(),
            }))
        }
        Op::Dispose => {
            client.dispose();
            Ok(result(Done {}))
        }
        Op::OtpStart { identifier } => client
            .start_otp_login(&identifier)
            .await
            .map(done)
            .map_err(sdk_error),
        Op::OtpCheck { code } => client
            .check_otp(&code)
            .await
            .map(|u| user_result(&u))
            .map_err(sdk_error),
        Op::OtpRetry => client.retry_otp().await.map(done).map_err(sdk_error),
        Op::Subscribe => {
            let stream = client.subscribe();
            let unsubscribe = stream.unsubscriber();
            let mut subscriptions = instance
                .subscriptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            subscriptions.push(Subscription {
                unsubscribe,
                stream,
                events: Vec::new(),
            });
            Ok(result(SubscriptionId {
                subscription: u64::try_from(subscriptions.len() - 1).unwrap_or(u64::MAX),
            }))
        }
        Op::Unsubscribe { subscription } => with_subscription(instance, subscription, |s| {
            s.unsubscribe.unsubscribe();
            result(Done {})
        }),
        Op::Events { subscription } => with_subscription(instance, subscription, |s| {
            // Transitions are published synchronously, so everything up to now is queued.
            while let Some(state) = s.stream.try_next() {
                s.events.push(state_name(&state));
            }
            result(Events {
                events: s.events.clone(),
            })
        }),
        Op::Hello | Op::Reset | Op::Configure(_) | Op::Restart => Err(SdkError::new(
            SdkErrorKind::Protocol,
            "handled by the driver, not an instance",
        )),
    }
}

fn with_subscription(
    instance: &Instance,
    id: u64,
    f: impl FnOnce(&mut Subscription) -> Value,
) -> Result<Value, SdkError> {
    let mut subscriptions = instance
        .subscriptions
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    usize::try_from(id)
        .ok()
        .and_then(|i| subscriptions.get_mut(i))
        .map(f)
        .ok_or_else(|| {
            SdkError::new(
                SdkErrorKind::InvalidArgument,
                format!("no subscription {id}"),
            )
        })
}

fn user_result(user: &prelude_session::User) -> Value {
    result(UserInfo {
        access_token: user.access_token.clone(),
        expires_at: Some(user.expires_at),
        user_id: user.user_id().map(str::to_owned),
        session_id: user.session_id().map(str::to_owned),
    })
}

/// A typed result on the wire.
fn result(typed: impl Serialize) -> Value {
    serde_json::to_value(typed).unwrap_or_default()
}

fn done(_: ()) -> Value {
    result(Done {})
}

fn state_name(state: &SessionState) -> String {
    match state {
        SessionState::LoggedOut => "logged_out",
        SessionState::LoggedIn => "logged_in",
        SessionState::Expired => "expired",
        SessionState::Terminated { .. } => "terminated",
        SessionState::Establishing => "establishing",
        _ => "other",
    }
    .to_owned()
}

/// Maps the reference client's error onto the wire kinds.
fn sdk_error(error: Error) -> SdkError {
    use prelude_session::ErrorKind as K;
    let kind = match error.kind() {
        K::NotLoggedIn => SdkErrorKind::NotLoggedIn,
        K::Unauthorized => SdkErrorKind::Unauthorized,
        K::Terminated => SdkErrorKind::Terminated,
        K::Server => SdkErrorKind::Server,
        K::Transport => SdkErrorKind::Transport,
        K::RefreshOutcomeUnknown => SdkErrorKind::OutcomeUnknown,
        K::BadResponse => SdkErrorKind::BadResponse,
        K::LoggedOut => SdkErrorKind::LoggedOut,
        K::InvalidArgument => SdkErrorKind::InvalidArgument,
        K::Disposed => SdkErrorKind::Disposed,
        _ => SdkErrorKind::Other,
    };
    SdkError {
        kind,
        code: error.code().map(str::to_owned),
        message: error.to_string(),
    }
}
