//! `prelude-mock`: run the Prelude-compatible mock session server from the command line.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use prelude_mock_server::{MockServer, SeedUser, ServerConfig};

/// The binary reports any start-up error as text; the library keeps its typed error.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A stateful, Prelude-compatible session server for testing session SDKs.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on (loopback by default; the control API is as exposed as the API).
    #[arg(long, env = "PRELUDE_MOCK_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, short, env = "PRELUDE_MOCK_PORT", default_value_t = 8910)]
    port: u16,
    /// Serve HTTPS. Without --tls-cert/--tls-key a self-signed certificate for localhost,
    /// 127.0.0.1 and ::1 is generated and its path and SPKI hash are printed.
    #[arg(long)]
    tls: bool,
    /// PEM certificate chain for --tls.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// TOML configuration file (app_id, issuer, control_token, signing_key, `[policy]`,
    /// `[limits]`, `[[users]]`).
    #[arg(long, short, env = "PRELUDE_MOCK_CONFIG")]
    config: Option<PathBuf>,
    /// Seed user as EMAIL:PASSWORD (repeatable).
    #[arg(long = "user", value_name = "EMAIL:PASSWORD")]
    users: Vec<SeedUser>,
    /// Require this bearer token on the control API.
    #[arg(long, env = "PRELUDE_MOCK_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
    /// Let pages from this origin call the control API from a browser (repeatable; `*` for
    /// any). Same-origin pages and non-browser clients need nothing.
    #[arg(long = "control-origin", value_name = "ORIGIN")]
    control_origins: Vec<String>,
    /// A DNS name the control API answers to, besides IP literals and localhost (repeatable).
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Allow a non-loopback --host without --control-token (anyone on the network can then
    /// drive the server).
    #[arg(long)]
    allow_remote_control: bool,
    /// PEM file of the access-token signing key; created (mode 0600) if missing, so tokens
    /// stay verifiable across restarts.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// Keep each request's headers and body (secrets redacted) in the journal.
    #[arg(long)]
    record_requests: bool,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Once listening, print one JSON line on stdout instead of the text banner:
    /// `{"base_url", "api_url", "control_url", "ca_cert", "spki_sha256"}` (the last two are
    /// null without TLS), for test fixtures that start the mock as a subprocess.
    #[arg(long)]
    ready_json: bool,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: piped or captured logs stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A configuration the mock refuses is a usage error, as clap's are.
        Err(error)
            if error
                .downcast_ref::<prelude_mock_server::Error>()
                .is_some_and(|e| e.kind() == prelude_mock_server::ErrorKind::Config) =>
        {
            eprintln!("prelude-mock: {error}");
            std::process::ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("prelude-mock: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let mut config = match &cli.config {
        Some(path) => ServerConfig::from_toml_file(path)?,
        None => ServerConfig::default(),
    };
    config.users.extend(cli.users);
    if let Some(token) = cli.control_token {
        config.control_token = Some(token.into());
    }
    config.control_origins.extend(cli.control_origins);
    config.allowed_hosts.extend(cli.allowed_hosts);
    config.allow_remote_control |= cli.allow_remote_control;
    if cli.record_requests {
        config.record_requests = true;
    }
    if cli.signing_key.is_some() {
        config.signing_key = cli.signing_key;
    }
    let mut builder = MockServer::builder()
        .config(config)
        .host(cli.host)
        .port(cli.port);
    builder = match (cli.tls, cli.tls_cert, cli.tls_key) {
        (true, Some(cert), Some(key)) => builder.tls_files(cert, key),
        (true, _, _) => builder.tls_self_signed(),
        (false, _, _) => builder,
    };
    let server = builder.start().await?;
    let stop = shutdown_signal();

    // First thing on stdout, so scripts can read the URLs.
    if cli.ready_json {
        let tls = server.tls();
        let ready = serde_json::json!({
            "base_url": server.url(),
            "api_url": server.api_url(),
            "control_url": server.control_url(),
            "dashboard_url": server.dashboard_url(),
            "ca_cert": tls.as_ref().map(|t| t.cert_path.display().to_string()),
            "spki_sha256": tls.as_ref().and_then(|t| t.spki_sha256.clone()),
        });
        println!("{ready}");
    } else {
        print_banner(&server);
    }
    tracing::info!("listening on {}; Ctrl-C to stop", server.addr());

    stop.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// The human-readable start banner; its `Label:  value` lines are stable for scripts too.
fn print_banner(server: &MockServer) {
    println!("Prelude API:  {}", server.api_url());
    println!("Control API:  {}", server.control_url());
    if let Some(tls) = server.tls() {
        println!("Certificate:  {}", tls.cert_path.display());
        if let Some(spki) = &tls.spki_sha256 {
            println!("SPKI sha256:  {spki}");
        }
    }
    println!("Dashboard:    {}", server.dashboard_url());
}

/// Ctrl-C or SIGTERM, listened for from the call on: it is made before the URLs are printed,
/// so a signal sent as soon as they are read stops the server cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listeners = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            match listeners {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
