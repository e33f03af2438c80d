//! `prelude-conformance`: runs the conformance suite against an SDK adapter (or the
//! reference client), attacks a server, or compares result files.
//!
//! Exit status: 0 when every scenario passed, was skipped, failed as expected or was flaky;
//! 1 on any unexpected failure or unexpected pass; 2 when the run itself could not happen.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use prelude_conformance::bench::{self, SdkBench, ServerBench};
use prelude_conformance::{
    Adapter, Driver, Drivers, ExpectedFailures, Filter, InProcess, RunReport, Scenario,
    ServerTarget, Suite, check_writable, compare, compare_html,
};
use prelude_mock_server::{ControlClient, TlsInfo};

/// Command line.
#[derive(Parser)]
#[command(
    version,
    about = "Conformance suite for Prelude session SDKs",
    long_about = "Conformance suite for Prelude session SDKs.\n\n\
        Without a subcommand, runs the SDK scenarios against the reference client in process, \
        or against any SDK through --adapter. Exit status: 0 when every scenario passed, was \
        skipped, failed as expected or was flaky; 1 on an unexpected failure or unexpected \
        pass; 2 when the run could not happen (bad arguments, unreadable features, an adapter \
        that does not start).",
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
    /// Compare JSON result files scenario by scenario: a Markdown table, or an HTML matrix
    /// when the output file ends in `.html` (its cells link to each run's `<stem>.html`).
    Compare {
        /// Result files written by earlier runs.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Write the table here instead of stdout (`.html`: the HTML matrix).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Benchmark refresh contention of an SDK (the reference client in process, or any SDK
    /// through --adapter); `bench server` loads a server instead.
    Bench(BenchArgs),
    /// Print the adapter protocol's JSON Schema (requests, responses, each op's result).
    Schema,
    /// Smoke-test an adapter's protocol plumbing before any scenario: hello, unknown ops,
    /// pipelining, stdout discipline, answers against the schema (exit 1 on a problem).
    CheckAdapter {
        /// Adapter command, run with `sh -c`.
        #[arg(long, value_name = "CMD")]
        adapter: String,
    },
}

#[derive(Args)]
struct Common {
    /// Directory of `.feature` files to run instead of the suite's own (built in).
    #[arg(long = "features-dir", visible_alias = "features", value_name = "DIR")]
    features: Option<PathBuf>,
    /// Cucumber tag expression selecting scenarios, e.g. '@must and not @needs-multi_process'.
    #[arg(long, short = 't', value_name = "EXPR", default_value = "")]
    tags: String,
    /// Run only scenarios whose name (or id) matches this regex.
    #[arg(long, short = 'n', value_name = "REGEX")]
    name: Option<String>,
    /// Start no new scenario after the first unexpected failure (those report as skipped).
    #[arg(long)]
    fail_fast: bool,
    /// Run a failed scenario up to N more times; one that then passes is reported as flaky.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retry: usize,
    /// Run up to N scenarios at once (adapter runs start N copies of the adapter).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1)]
    jobs: usize,
    /// List the selected scenarios, whether each would run or why it is skipped, and run
    /// nothing.
    #[arg(long)]
    list: bool,
    /// Where to write `<report name>.json`, `.junit.xml` and `.html`.
    #[arg(long, value_name = "DIR", default_value = "target/conformance")]
    report_dir: PathBuf,
    /// Report file stem (default: derived from the SDK name).
    #[arg(long, value_name = "STEM")]
    report_name: Option<String>,
}

#[derive(Args)]
struct SdkArgs {
    /// Adapter command, run with `sh -c` (default: the reference client in process).
    #[arg(long, value_name = "CMD")]
    adapter: Option<String>,
    /// TOML file of `"<scenario id>" = "<reason>"` failures to expect.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// After the run, write its failing scenarios to FILE as an expected-failures file (with
    /// the reasons --expected-failures gave, a placeholder for new ones).
    #[arg(long, value_name = "FILE")]
    write_expected_failures: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ServerArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    common: Common,
}

/// A server of the user's, instead of a mock of the command's own.
#[derive(Args)]
struct Remote {
    /// Base URL of a server offering the control API (default: a fresh mock).
    #[arg(long)]
    url: Option<String>,
    /// Bearer token for its control API.
    #[arg(long, env = "PRELUDE_MOCK_CONTROL_TOKEN")]
    control_token: Option<String>,
    /// PEM certificate to trust (a server started with `prelude-mock --tls`).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

impl Remote {
    /// The certificate to trust, read from `--ca-cert`.
    fn tls(&self) -> Result<Option<TlsInfo>, String> {
        let Some(path) = &self.ca_cert else {
            return Ok(None);
        };
        Ok(Some(TlsInfo {
            cert_pem: std::fs::read_to_string(path)
                .map_err(|e| format!("{}: {e}", path.display()))?,
            cert_path: path.clone(),
            spki_sha256: None,
        }))
    }
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    /// Adapter command, run with `sh -c` (default: the reference client in process).
    #[arg(long, value_name = "CMD")]
    adapter: Option<String>,
    /// Burst sizes (concurrent callers), comma-separated; capped by the adapter's
    /// `max_in_flight`.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000,10000")]
    sizes: Vec<usize>,
    /// Bursts per size (a third as many at 10,000 and more).
    #[arg(long, default_value_t = 10)]
    bursts: usize,
    /// Callers of the staggered-arrival run (0: skip it).
    #[arg(long, default_value_t = 1000)]
    stagger: usize,
    /// What reports call this SDK (default: its name and the driver).
    #[arg(long)]
    label: Option<String>,
    /// A quick run that exercises every path: N = 1, 10, 100, 2 bursts, 100 staggered.
    #[arg(long)]
    smoke: bool,
    #[command(flatten)]
    out: BenchOut,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Closed-loop refresh load on a server (default: a mock the bench starts on cores of its
    /// own), with proofs signed before each timed window, next to the crypto ceiling.
    Server(BenchServerArgs),
}

#[derive(Args)]
struct BenchServerArgs {
    #[command(flatten)]
    remote: Remote,
    /// Concurrent clients per level, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    clients: Vec<usize>,
    /// Seconds of each timed window.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of warm-up before each window.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Cores the (remote) server has, for its crypto ceiling.
    #[arg(long)]
    server_cores: Option<usize>,
    /// Do not pin the bench's mock and the load generator to separate cores.
    #[arg(long)]
    no_pin: bool,
    /// A quick run: 1 and 8 clients, 1 s windows.
    #[arg(long)]
    smoke: bool,
    #[command(flatten)]
    out: BenchOut,
}

#[derive(Args)]
struct BenchOut {
    /// Where to write `<name>.json`, `.md` (and `.svg` for SDK runs).
    #[arg(long, value_name = "DIR", default_value = "target/bench")]
    out_dir: PathBuf,
    /// File stem of the results (default: derived from the SDK or target).
    #[arg(long, value_name = "STEM")]
    name: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tokio::select! {
        code = run(cli) => code,
        signal = interrupted() => {
            // Adapters live in process groups of their own: a terminal's Ctrl-C reaches only us.
            prelude_conformance::stop_adapters();
            eprintln!("prelude-conformance: {signal}: stopped the adapters");
            ExitCode::from(130)
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, naming it.
async fn interrupted() -> &'static str {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(term) => term.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = terminated => "terminated",
    }
}

async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        None => run_sdk(cli.sdk).await,
        Some(Command::Server(args)) => run_server(args).await,
        Some(Command::Compare { results, output }) => run_compare(&results, output.as_deref()),
        Some(Command::Bench(args)) => match args.command {
            Some(BenchCommand::Server(server)) => run_bench_server(server),
            None => run_bench(args).await,
        },
        Some(Command::Schema) => {
            print!("{}", prelude_conformance::protocol::schema());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::CheckAdapter { adapter }) => {
            match prelude_conformance::check_adapter(&adapter).await {
                Ok(check) => {
                    print!("{check}");
                    Ok(if check.is_ok() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    })
                }
                Err(e) => Err(e.to_string()),
            }
        }
    };
    result.unwrap_or_else(|message| {
        eprintln!("prelude-conformance: {message}");
        ExitCode::from(2)
    })
}

/// The selected suite, after checking that a run's reports can be written (found out at the
/// end of the run otherwise).
fn suite(common: &Common) -> Result<Suite, String> {
    if !common.list {
        check_writable(&common.report_dir).map_err(|e| e.to_string())?;
    }
    let suite = match &common.features {
        Some(dir) => Suite::load(dir),
        None => Suite::bundled(),
    }
    .map_err(|e| e.to_string())?;
    let mut filter = Filter::all()
        .tags(&common.tags)
        .map_err(|e| e.to_string())?;
    if let Some(name) = &common.name {
        filter = filter.name(name).map_err(|e| e.to_string())?;
    }
    Ok(suite
        .select(filter)
        .jobs(common.jobs)
        .retries(common.retry)
        .fail_fast(common.fail_fast)
        .progress(true))
}

async fn run_sdk(args: SdkArgs) -> Result<ExitCode, String> {
    let mut suite = suite(&args.common)?;
    let mut expected = ExpectedFailures::none();
    if let Some(path) = &args.expected_failures {
        expected = ExpectedFailures::load(path).map_err(|e| e.to_string())?;
        suite = suite
            .expected_failures(expected.clone())
            .map_err(|e| e.to_string())?;
    }
    let drivers = match &args.adapter {
        Some(command) => Drivers::adapters(command, args.common.jobs)
            .await
            .map_err(|e| format!("adapter: {e}"))?,
        None => Drivers::in_process(),
    };
    if args.common.list {
        let plan = suite.plan_sdk(drivers.hello());
        return Ok(list(&suite, &plan, false));
    }
    let report = suite.run_sdk(drivers).await;
    if let Some(path) = &args.write_expected_failures {
        let text = expected.from_report(&report).to_toml(&report.sdk);
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("expected failures: {}", path.display());
    }
    finish(&report, &args.common)
}

async fn run_server(args: ServerArgs) -> Result<ExitCode, String> {
    let suite = suite(&args.common)?;
    if args.common.list {
        let plan: Vec<(&Scenario, Option<String>)> =
            suite.plan_server().into_iter().map(|s| (s, None)).collect();
        return Ok(list(&suite, &plan, true));
    }
    let tls = args.remote.tls()?;
    let target = match args.remote.url {
        Some(url) => ServerTarget::Remote {
            control: ControlClient::new(
                &url,
                args.remote.control_token.map(Into::into),
                tls.as_ref(),
            )
            .map_err(|e| e.to_string())?,
            base_url: url,
            tls,
        },
        None => ServerTarget::FreshMock,
    };
    let report = suite.run_server(target).await;
    finish(&report, &args.common)
}

async fn run_bench(args: BenchArgs) -> Result<ExitCode, String> {
    let (driver, how): (Arc<dyn Driver>, &str) = match &args.adapter {
        Some(command) => (
            Arc::new(
                Adapter::spawn(command)
                    .await
                    .map_err(|e| format!("adapter: {e}"))?,
            ),
            "adapter",
        ),
        None => (Arc::new(InProcess::new()), "in process"),
    };
    let label = args
        .label
        .unwrap_or_else(|| format!("{}, {how}", driver.hello().sdk.name));
    let mut bench = SdkBench::new()
        .sizes(args.sizes)
        .bursts(args.bursts)
        .stagger((args.stagger > 0).then_some(args.stagger))
        .progress(true);
    if args.smoke {
        bench = bench.sizes(vec![1, 10, 100]).bursts(2).stagger(Some(100));
    }
    let report = bench.run(driver, &label).await.map_err(|e| e.to_string())?;
    let markdown = format!(
        "# Refresh contention: {label}\n\nMachine: {}.\n\n{}",
        report.machine,
        bench::markdown(std::slice::from_ref(&report))
    );
    print!("{markdown}");
    let stem = args
        .out
        .name
        .clone()
        .unwrap_or_else(|| prelude_conformance::file_stem(&label));
    write_bench(
        &args.out,
        &stem,
        &report,
        &markdown,
        Some(bench::svg(std::slice::from_ref(&report))),
    )?;
    Ok(if report.coalesced() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_bench_server(args: BenchServerArgs) -> Result<ExitCode, String> {
    let seconds = |s: f64| Duration::from_secs_f64(s.max(0.05));
    let mut bench = ServerBench::new()
        .clients(args.clients)
        .duration(seconds(args.duration))
        .warmup(seconds(args.warmup))
        .pin(!args.no_pin)
        .progress(true);
    if args.smoke {
        bench = bench
            .clients(vec![1, 8])
            .duration(seconds(1.0))
            .warmup(seconds(0.3));
    }
    if let Some(cores) = args.server_cores {
        bench = bench.server_cores(cores);
    }
    let tls = args.remote.tls()?;
    if let Some(url) = &args.remote.url {
        bench = bench.url(url, args.remote.control_token.map(Into::into), tls);
    }
    // The bench builds runtimes of its own, pinned to their cores: not from inside this one.
    let report = std::thread::spawn(move || bench.run())
        .join()
        .map_err(|_| "the server bench panicked".to_owned())?
        .map_err(|e| e.to_string())?;
    let markdown = format!(
        "# Server refresh throughput\n\nMachine: {}.\n\n{}",
        report.machine,
        bench::server_markdown(&report)
    );
    print!("{markdown}");
    let stem = args.out.name.clone().unwrap_or_else(|| "server".to_owned());
    write_bench(&args.out, &stem, &report, &markdown, None)?;
    Ok(if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_bench(
    out: &BenchOut,
    stem: &str,
    report: &impl serde::Serialize,
    markdown: &str,
    svg: Option<String>,
) -> Result<(), String> {
    let dir = &out.out_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    let mut files = vec![
        (format!("{stem}.json"), json),
        (format!("{stem}.md"), markdown.as_bytes().to_vec()),
    ];
    if let Some(svg) = svg {
        files.push((format!("{stem}.svg"), svg.into_bytes()));
    }
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!("results: {}", dir.join(format!("{stem}.json")).display());
    Ok(())
}

/// `--list`: every scenario of the run's kind, and what the run would do with it.
fn list(suite: &Suite, plan: &[(&Scenario, Option<String>)], server: bool) -> ExitCode {
    let mut runs = 0;
    for (scenario, skip) in plan {
        match skip {
            None => {
                runs += 1;
                println!("run   {}", scenario.id);
            }
            Some(reason) => println!("skip  {}  ({reason})", scenario.id),
        }
    }
    let planned: std::collections::HashSet<&str> =
        plan.iter().map(|(s, _)| s.id.as_str()).collect();
    let mut unselected = 0;
    for scenario in suite
        .catalogue()
        .iter()
        .filter(|s| s.is_server_side() == server && !planned.contains(s.id.as_str()))
    {
        unselected += 1;
        println!("skip  {}  (not selected by --tags/--name)", scenario.id);
    }
    println!(
        "{runs} would run, {} skipped, {unselected} not selected",
        plan.len() - runs
    );
    ExitCode::SUCCESS
}

fn finish(report: &RunReport, common: &Common) -> Result<ExitCode, String> {
    print!("{}", report.console());
    let stem = common
        .report_name
        .clone()
        .unwrap_or_else(|| report.file_stem());
    report
        .write(&common.report_dir, &stem)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "results: {}",
        common.report_dir.join(format!("{stem}.json")).display()
    );
    eprintln!(
        "report:  {}",
        common.report_dir.join(format!("{stem}.html")).display()
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
    let html = output.is_some_and(|p| p.extension().is_some_and(|e| e == "html"));
    let table = if html {
        compare_html(&runs).map_err(|e| e.to_string())?
    } else {
        compare(&runs)
    };
    match output {
        Some(path) => {
            std::fs::write(path, table).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => print!("{table}"),
    }
    Ok(ExitCode::SUCCESS)
}
