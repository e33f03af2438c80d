//! Running the server: the builder, the handle tests hold ([`MockServer`]), and the accept
//! loop with its connection cap. One connection is served by `http::connection`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{Limits, Policy, SeedUser, ServerConfig};
use crate::control::client::ControlClient;
use crate::http::connection;
use crate::http::tls::{self, TlsInfo};
use crate::state::AppState;
use crate::tokens::SigningKey;
use crate::{Error, ErrorKind, Secret};

#[derive(Clone, Debug)]
enum TlsSource {
    SelfSigned,
    Files { cert: PathBuf, key: PathBuf },
}

/// Configures and starts a [`MockServer`].
///
/// ```no_run
/// # async fn run() -> Result<(), prelude_mock_server::Error> {
/// use prelude_mock_server::{MockServer, Policy};
///
/// let server = MockServer::builder()
///     .user("ada@example.com", "correct horse")
///     .policy(Policy { reuse_grace_seconds: 5, ..Policy::default() })
///     .start()
///     .await?;
/// println!("Prelude API at {}", server.api_url());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct MockServerBuilder {
    config: ServerConfig,
    host: IpAddr,
    port: u16,
    tls: Option<TlsSource>,
    frozen_clock: Option<i64>,
    signing_key_pem: Option<Secret>,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        Self {
            config: ServerConfig::default(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: None,
            frozen_clock: None,
            signing_key_pem: None,
        }
    }
}

impl MockServerBuilder {
    /// Replaces the whole start-up configuration (for example one read from a TOML file).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the run-time policy the server starts (and resets) with.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.config.policy = policy;
        self
    }

    /// Adds a user that exists from the start (and again after a reset).
    pub fn user(mut self, email: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.users.push(SeedUser {
            email: email.into(),
            password: Secret::new(password),
            phone_number: None,
        });
        self
    }

    /// Keep each request's headers and body, secrets redacted, in the journal
    /// ([`JournalEntry::request`](crate::JournalEntry::request)).
    pub fn record_requests(mut self, on: bool) -> Self {
        self.config.record_requests = on;
        self
    }

    /// Sets the application id (cookie names, default issuer).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.config.app_id = Some(app_id.into());
        self
    }

    /// Requires `Authorization: Bearer <token>` on the control API.
    pub fn control_token(mut self, token: impl Into<String>) -> Self {
        self.config.control_token = Some(Secret::new(token));
        self
    }

    /// Lets pages from `origin` (or any, with `*`) call the control API from a browser.
    pub fn control_origin(mut self, origin: impl Into<String>) -> Self {
        self.config.control_origins.push(origin.into());
        self
    }

    /// Lets the control API answer requests addressed to `host` (a DNS name; IP literals and
    /// `localhost` are always answered).
    pub fn allowed_host(mut self, host: impl Into<String>) -> Self {
        self.config.allowed_hosts.push(host.into());
        self
    }

    /// Allows binding a non-loopback address without a control token.
    pub fn allow_remote_control(mut self, allow: bool) -> Self {
        self.config.allow_remote_control = allow;
        self
    }

    /// Sets connection limits, timeouts and the journal's capacity.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Signs access tokens with this PEM key (PKCS#8 or SEC1, P-256).
    pub fn signing_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.signing_key_pem = Some(Secret::new(pem));
        self
    }

    /// Address to bind (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Port to bind (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Serves HTTPS with a certificate generated at start (see [`MockServer::tls`]).
    pub fn tls_self_signed(mut self) -> Self {
        self.tls = Some(TlsSource::SelfSigned);
        self
    }

    /// Serves HTTPS with the given PEM certificate chain and key.
    pub fn tls_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some(TlsSource::Files {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Freezes the virtual clock at `unix_seconds`; it then moves only through the control API.
    pub fn frozen_clock(mut self, unix_seconds: i64) -> Self {
        self.frozen_clock = Some(unix_seconds);
        self
    }

    fn state(&self, scheme: &'static str) -> Result<AppState, Error> {
        self.config.check_control_token()?;
        let key = match (&self.signing_key_pem, &self.config.signing_key) {
            (Some(pem), _) => SigningKey::from_pem(pem.expose())?,
            (None, Some(path)) => load_or_create_key(path)?,
            (None, None) => SigningKey::generate()?,
        };
        AppState::new(&self.config, key, scheme, self.frozen_clock)
    }

    /// The application as an in-process `Router` (plain HTTP), for `tower::ServiceExt::oneshot`.
    /// Faults that reset connections need [`start`](Self::start).
    pub fn router(self) -> Result<Router, Error> {
        Ok(crate::routes::build(self.state("http")?))
    }

    /// Binds, starts serving in the background and returns the handle.
    pub async fn start(self) -> Result<MockServer, Error> {
        if !self.host.is_loopback()
            && self.config.control_token.is_none()
            && !self.config.allow_remote_control
        {
            return Err(Error::config(format!(
                "listening on {} would let anyone on the network drive the control API: \
                 set a control token (--control-token) or allow it (--allow-remote-control)",
                self.host
            )));
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let state = self.state(scheme)?;
        let listener = TcpListener::bind((self.host, self.port))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot bind {}:{}: {e}", self.host, self.port),
                )
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Io, format!("no local address: {e}")))?;
        let (acceptor, tls_info) = match &self.tls {
            None => (None, None),
            Some(source) => {
                let (config, info) = match source {
                    TlsSource::SelfSigned => {
                        let dir = std::env::temp_dir().join(format!(
                            "prelude-mock-{}-{}",
                            std::process::id(),
                            addr.port()
                        ));
                        tls::self_signed(&dir)?
                    }
                    TlsSource::Files { cert, key } => tls::from_files(cert, key)?,
                };
                (Some(tokio_rustls::TlsAcceptor::from(config)), Some(info))
            }
        };
        let host = match addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let url = format!("{scheme}://{host}:{}", addr.port());
        let control =
            ControlClient::new(&url, self.config.control_token.clone(), tls_info.as_ref())?;
        let (shutdown, signal) = oneshot::channel();
        let events = state.events.clone();
        let app = crate::routes::build(state);
        let limits = self.config.limits.clone();
        let task = tokio::spawn(serve(listener, app, acceptor, limits, signal, events));
        Ok(MockServer {
            url,
            addr,
            control,
            tls: tls_info,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

fn load_or_create_key(path: &std::path::Path) -> Result<SigningKey, Error> {
    match std::fs::read_to_string(path) {
        Ok(pem) => SigningKey::from_pem(&pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate()?;
            write_private(path, &key.to_pem()?)
                .map_err(|e| Error::config(format!("cannot write {}: {e}", path.display())))?;
            Ok(key)
        }
        Err(e) => Err(Error::config(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// A running mock server. Dropping it stops the server.
#[derive(Debug)]
pub struct MockServer {
    url: String,
    addr: SocketAddr,
    control: ControlClient,
    tls: Option<TlsInfo>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// A builder with embedded defaults: loopback, random port, plain HTTP, no users.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// Starts a server with the defaults.
    pub async fn start() -> Result<Self, Error> {
        Self::builder().start().await
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (what native SDKs call the endpoint).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Prelude API base, `{url}/v1/session`.
    pub fn api_url(&self) -> String {
        format!("{}/v1/session", self.url)
    }

    /// The control API base, `{url}/__mock`.
    pub fn control_url(&self) -> String {
        format!("{}/__mock", self.url)
    }

    /// The live dashboard: users, sessions and their token chains, the journal as it grows,
    /// and forms for policy, clock and faults. Open it in a browser.
    pub fn dashboard_url(&self) -> String {
        format!("{}/__mock/ui/", self.url)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A typed client for the control API.
    pub fn control(&self) -> &ControlClient {
        &self.control
    }

    /// Certificate details when serving HTTPS.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), closes idle connections
    /// (HTTP/2 ones a client keeps open too), and waits.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    mut shutdown: oneshot::Receiver<()>,
    events: crate::control::events::Events,
) {
    let graceful = GracefulShutdown::new();
    let (stop, stopping) = watch::channel(false);
    // Past the cap, connections wait in the kernel's accept queue instead of being served.
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Usually EMFILE; back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let (app, tls, limits, watcher, stopping) = (
            app.clone(),
            tls.clone(),
            limits.clone(),
            graceful.watcher(),
            stopping.clone(),
        );
        tokio::spawn(async move {
            connection::serve(stream, app, tls, limits, watcher, stopping).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Event streams never finish on their own.
    events.close();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => tracing::warn!("shutdown timed out"),
    }
}
