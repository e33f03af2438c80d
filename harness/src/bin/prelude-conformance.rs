//! `prelude-conformance`: runs the conformance suite against an SDK adapter (or the
//! reference client), attacks a server, or compares result files.
//!
//! Exit status: 0 when every scenario passed, was skipped or failed as expected; 1 on any
//! unexpected failure or unexpected pass; 2 when the run itself could not happen.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use prelude_conformance::{
    Adapter, Driver, ExpectedFailures, InProcess, RunReport, ServerTarget, Suite, TagFilter,
    compare,
};
use prelude_mock_server::{ControlClient, TlsInfo};

/// Command line.
#[derive(Parser)]
#[command(
    version,
    about = "Conformance suite for Prelude session SDKs",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    sdk: SdkArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Attack a server (forged, replayed, mis-bound, stale proofs; reused refresh tokens).
    Server(ServerArgs),
    /// Compare JSON result files scenario by scenario, as a Markdown table.
    Compare {
        /// Result files written by earlier runs.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Write the table here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Common {
    /// Directory of `.feature` files (default: ./features, else the bundled ones).
    #[arg(long)]
    features: Option<PathBuf>,
    /// Tag filter: `must,!needs-multi_process` (comma = and, `!` = not).
    #[arg(long, default_value = "")]
    tags: String,
    /// Where to write `<name>.json` and `<name>.junit.xml`.
    #[arg(long, default_value = "target/conformance")]
    report_dir: PathBuf,
    /// Report file stem (default: derived from the SDK name).
    #[arg(long)]
    name: Option<String>,
}

#[derive(Args)]
struct SdkArgs {
    /// Adapter command, run with `sh -c` (default: the reference client in-process).
    #[arg(long)]
    adapter: Option<String>,
    /// TOML file of `"<scenario id>" = "<reason>"` failures to expect.
    #[arg(long)]
    expected_failures: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ServerArgs {
    /// Base URL of a server offering the control API (default: a fresh mock per scenario).
    #[arg(long)]
    url: Option<String>,
    /// Bearer token for its control API.
    #[arg(long, env = "PRELUDE_MOCK_CONTROL_TOKEN")]
    control_token: Option<String>,
    /// PEM certificate to trust (a server started with `prelude-mock --tls`).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_sdk(cli.sdk).await,
        Some(Command::Server(args)) => run_server(args).await,
        Some(Command::Compare { results, output }) => run_compare(&results, output.as_deref()),
    };
    result.unwrap_or_else(|message| {
        eprintln!("prelude-conformance: {message}");
        ExitCode::from(2)
    })
}

fn suite(common: &Common) -> Result<Suite, String> {
    let dir = common.features.clone().unwrap_or_else(|| {
        let local = PathBuf::from("features");
        if local.is_dir() {
            local
        } else {
            Suite::bundled_features_dir()
        }
    });
    Ok(Suite::load(&dir)
        .map_err(|e| e.to_string())?
        .filter(&TagFilter::parse(&common.tags))
        .progress(true))
}

async fn run_sdk(args: SdkArgs) -> Result<ExitCode, String> {
    let mut suite = suite(&args.common)?;
    if let Some(path) = &args.expected_failures {
        let expected = ExpectedFailures::load(path).map_err(|e| e.to_string())?;
        suite = suite
            .expected_failures(expected)
            .map_err(|e| e.to_string())?;
    }
    let driver: Arc<dyn Driver> = match &args.adapter {
        Some(command) => Arc::new(
            Adapter::spawn(command)
                .await
                .map_err(|e| format!("adapter: {e}"))?,
        ),
        None => Arc::new(InProcess::new()),
    };
    let report = suite.run_sdk(driver).await;
    finish(&report, &args.common)
}

async fn run_server(args: ServerArgs) -> Result<ExitCode, String> {
    let suite = suite(&args.common)?;
    let target = match args.url {
        Some(url) => {
            let tls = match &args.ca_cert {
                Some(path) => Some(TlsInfo {
                    cert_pem: std::fs::read_to_string(path)
                        .map_err(|e| format!("{}: {e}", path.display()))?,
                    cert_path: path.clone(),
                    spki_sha256: None,
                }),
                None => None,
            };
            ServerTarget::Remote {
                control: ControlClient::new(&url, args.control_token, tls.as_ref())
                    .map_err(|e| e.to_string())?,
                base_url: url,
                tls,
            }
        }
        None => ServerTarget::FreshMock,
    };
    let report = suite.run_server(&target).await;
    finish(&report, &args.common)
}

fn finish(report: &RunReport, common: &Common) -> Result<ExitCode, String> {
    print!("{}", report.console());
    let stem = common
        .name
        .clone()
        .unwrap_or_else(|| slug(&report.sdk.name));
    report
        .write(&common.report_dir, &stem)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "results: {}",
        common.report_dir.join(format!("{stem}.json")).display()
    );
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_compare(results: &[PathBuf], output: Option<&Path>) -> Result<ExitCode, String> {
    let runs = results
        .iter()
        .map(|p| {
            let label = p
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            RunReport::read(p).map(|r| (label, r))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let table = compare(&runs);
    match output {
        Some(path) => {
            std::fs::write(path, table).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => print!("{table}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}
