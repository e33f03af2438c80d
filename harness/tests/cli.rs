//! The `prelude-conformance` command line: exit status, reports, expected failures,
//! the server subcommand against a URL, and the comparison table.

use std::path::{Path, PathBuf};
use std::process::Command;

use prelude_conformance::{RunReport, StepStatus};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prelude-conformance"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-cli-{}-{name}", std::process::id()));
    let _fresh = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn adapter() -> String {
    env!("CARGO_BIN_EXE_reference-adapter").to_owned()
}

fn run(args: &[&str], reports: &Path) -> (i32, RunReport) {
    let output = cli()
        .args(args)
        .arg("--report-dir")
        .arg(reports)
        .args(["--report-name", "run"])
        .output()
        .expect("the CLI runs");
    let report = RunReport::read(&reports.join("run.json"))
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&output.stderr)));
    assert!(
        reports.join("run.junit.xml").is_file(),
        "JUnit report written"
    );
    (output.status.code().expect("exit code"), report)
}

/// One scenario every SDK fails, one every conforming SDK passes.
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cli");

const MUST_TAGS: &str = "@must and not @needs-multi_process";

#[test]
fn a_conforming_adapter_exits_zero_and_writes_json_and_junit() {
    let reports = scratch("ok");
    let (code, report) = run(&["--adapter", &adapter(), "--tags", MUST_TAGS], &reports);
    assert_eq!(code, 0, "{}", report.summary_line());
    assert!(report.scenarios.iter().all(|s| s.level == "must"));
    let junit = std::fs::read_to_string(reports.join("run.junit.xml")).expect("junit");
    assert!(junit.contains("<testsuite name=\"logout\""), "{junit}");
}

#[test]
fn a_failing_scenario_exits_one_and_expected_failures_turn_it_green() {
    let reports = scratch("failing");
    let failing = "fixture: Logout sends two logout requests";
    let passing = "fixture: Logout sends one logout request";
    let sdk = adapter();
    let (code, report) = run(&["--adapter", &sdk, "--features", FIXTURE], &reports);
    assert_eq!(code, 1);
    assert_eq!(report.failed_ids(), [failing]);

    let expected = reports.join("expected.toml");
    std::fs::write(
        &expected,
        format!("{failing:?} = \"expects a second request\"\n"),
    )
    .expect("write");
    let expected_arg = expected.to_string_lossy().into_owned();
    let with_expected = [
        "--adapter",
        &sdk,
        "--features",
        FIXTURE,
        "--expected-failures",
        &expected_arg,
    ];
    let (code, report) = run(&with_expected, &reports);
    assert_eq!(code, 0, "{}", report.summary_line());
    assert_eq!(report.summary.expected_failures, 1);

    // Listing a scenario the SDK passes is stale: an unexpected pass fails the run.
    std::fs::write(
        &expected,
        format!("{failing:?} = \"expects a second request\"\n{passing:?} = \"stale\"\n"),
    )
    .expect("write");
    let (code, report) = run(&with_expected, &reports);
    assert_eq!(code, 1);
    assert_eq!(report.summary.unexpected_passes, 1);
}

#[test]
fn a_run_writes_its_failures_as_an_expected_failures_file_that_turns_the_next_run_green() {
    let reports = scratch("write-expected");
    let written = reports.join("written.toml");
    let written_arg = written.to_string_lossy().into_owned();
    let sdk = adapter();
    let (code, _) = run(
        &[
            "--adapter",
            &sdk,
            "--features-dir",
            FIXTURE,
            "--write-expected-failures",
            &written_arg,
        ],
        &reports,
    );
    assert_eq!(code, 1);
    let text = std::fs::read_to_string(&written).expect("file written");
    assert!(
        text.contains("\"fixture: Logout sends two logout requests\" = \"TODO: why it fails\""),
        "{text}"
    );
    assert!(!text.contains("one logout request"), "{text}");
    let (code, report) = run(
        &[
            "--adapter",
            &sdk,
            "--features-dir",
            FIXTURE,
            "--expected-failures",
            &written_arg,
        ],
        &reports,
    );
    assert_eq!(code, 0, "{}", report.summary_line());
    assert_eq!(report.summary.expected_failures, 1);
}

#[test]
fn a_failed_scenario_shows_the_server_journal_and_the_adapter_stderr() {
    let reports = scratch("diagnostics");
    // The first scenario of the fixture fails; the adapter says something on stderr first.
    let sdk = format!("echo adapter-starting >&2; exec {}", adapter());
    let output = cli()
        .args(["--adapter", &sdk, "--features-dir", FIXTURE, "--report-dir"])
        .arg(&reports)
        .args(["--report-name", "run"])
        .output()
        .expect("the CLI runs");
    let console = String::from_utf8_lossy(&output.stdout);
    assert!(
        console.contains("server journal") && console.contains("POST /v1/session/revoke -> 204"),
        "{console}"
    );
    assert!(console.contains("| adapter-starting"), "{console}");
    let report = RunReport::read(&reports.join("run.json")).expect("report");
    let failed = &report.scenarios[0];
    let diagnostics = failed
        .diagnostics
        .as_ref()
        .expect("the failure has diagnostics");
    assert!(
        diagnostics
            .journal
            .iter()
            .any(|e| e.path == "/v1/session/revoke" && e.status == Some(204))
    );
    assert_eq!(diagnostics.adapter_stderr, ["adapter-starting"]);
    let failing = failed
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .count();
    assert_eq!(failing, 1, "its failing step is marked: {:?}", failed.steps);
    let passed = &report.scenarios[1];
    assert!(
        passed
            .diagnostics
            .as_ref()
            .is_some_and(|d| !d.journal.is_empty()),
        "a passing scenario keeps its journal too, for the HTML report"
    );
    assert!(passed.steps.iter().all(|s| s.status == StepStatus::Passed));
    let html = std::fs::read_to_string(reports.join("run.html")).expect("the HTML report");
    assert!(html.contains("Needs a look"), "the failure is listed first");
    assert!(
        html.matches("class=\"chip ").count()
            >= failed.diagnostics.as_ref().map_or(0, |d| d.journal.len()),
        "every request of the failed scenario is drawn"
    );
}

#[test]
fn the_server_subcommand_attacks_a_running_server_by_url() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime
        .block_on(prelude_mock_server::MockServer::start())
        .expect("server starts");
    let reports = scratch("server");
    let (code, report) = run(&["server", "--url", server.url()], &reports);
    assert_eq!(code, 0, "{}", report.summary_line());
    assert_eq!(report.target, "server");
    assert!(report.summary.passed >= 20);
}

#[test]
fn compare_tabulates_runs_scenario_by_scenario() {
    let reports = scratch("compare");
    let plain = reports.join("plain");
    let expecting = reports.join("expecting");
    let failing = "fixture: Logout sends two logout requests";
    let expected = reports.join("expected.toml");
    std::fs::write(
        &expected,
        format!("{failing:?} = \"expects a second request\"\n"),
    )
    .expect("write");
    let sdk = adapter();
    run(&["--adapter", &sdk, "--features", FIXTURE], &plain);
    let expected = expected.to_string_lossy().into_owned();
    run(
        &[
            "--adapter",
            &sdk,
            "--features",
            FIXTURE,
            "--expected-failures",
            &expected,
        ],
        &expecting,
    );
    let table = reports.join("table.md");
    let status = cli()
        .arg("compare")
        .arg(plain.join("run.json"))
        .arg(expecting.join("run.json"))
        .arg("--output")
        .arg(&table)
        .status()
        .expect("compare runs");
    assert!(status.success());
    let table = std::fs::read_to_string(table).expect("table");
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name:?} in\n{table}"))
            .to_owned()
    };
    let failing_row = row(failing);
    assert!(
        failing_row.contains("❌ failed") && failing_row.contains("⚠️ expected failure"),
        "{failing_row}"
    );
    let passing_row = row("fixture: Logout sends one logout request");
    assert_eq!(passing_row.matches("✅ passed").count(), 2, "{passing_row}");
}

#[test]
fn a_missing_adapter_is_a_setup_error_with_exit_two() {
    let output = cli()
        .args(["--adapter", "/nonexistent/adapter"])
        .output()
        .expect("the CLI runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("adapter"));
}

#[test]
fn an_expected_failure_naming_no_scenario_is_a_setup_error() {
    let dir = scratch("stale");
    let expected = dir.join("expected.toml");
    std::fs::write(&expected, "\"logout: No such scenario\" = \"typo\"\n").expect("write");
    let output = cli()
        .arg("--expected-failures")
        .arg(&expected)
        .output()
        .expect("the CLI runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("logout: No such scenario"));
}

#[test]
fn list_shows_what_would_run_and_why_the_rest_is_skipped() {
    let output = cli()
        .args([
            "--adapter",
            "node sdk-under-test/js/does-not-matter.mjs",
            "--list",
        ])
        .output()
        .expect("the CLI runs");
    // An adapter that cannot start is still a setup error, even for --list.
    assert_eq!(output.status.code(), Some(2));

    let output = cli()
        .args([
            "--list",
            "--tags",
            "@must and not @needs-revoke",
            "--name",
            "logout",
        ])
        .output()
        .expect("the CLI runs");
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("run   logout: Logout is idempotent"),
        "@should scenarios are not selected: {text}"
    );
    assert!(
        text.contains(
            "run   logout: Logout wipes local credentials and revokes the session on the server"
        ),
        "{text}"
    );
    assert!(
        text.contains("skip  revoke: Revoking a target that includes this session wipes it [mine]  (not selected by --tags/--name)"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.ends_with("not selected")),
        "{text}"
    );
}

#[test]
fn a_malformed_tag_expression_is_a_setup_error() {
    let output = cli()
        .args(["--tags", "@must and"])
        .output()
        .expect("the CLI runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("tag expression"));
}

#[test]
fn help_documents_every_flag() {
    let output = cli().arg("--help").output().expect("the CLI runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--adapter",
        "--expected-failures",
        "--features",
        "--tags",
        "--name",
        "--fail-fast",
        "--retry",
        "--jobs",
        "--list",
        "--report-dir",
        "--report-name",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

#[test]
fn bench_through_an_adapter_writes_json_markdown_and_a_chart_and_exits_zero_when_it_coalesces() {
    let out = scratch("bench");
    let output = cli()
        .args(["bench", "--smoke", "--adapter", &adapter(), "--name", "ref"])
        .arg("--out-dir")
        .arg(&out)
        .output()
        .expect("the CLI runs");
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ref.json")).expect("json written"))
            .expect("json parses");
    assert_eq!(report["sizes"][2]["callers"], 100);
    assert_eq!(report["sizes"][2]["refreshes_max"], 1);
    let markdown = std::fs::read_to_string(out.join("ref.md")).expect("markdown written");
    assert!(
        markdown
            .contains("Coalescing (one refresh per burst, no reuse, no failed caller): **yes**")
    );
    assert!(
        std::fs::read_to_string(out.join("ref.svg"))
            .expect("chart written")
            .starts_with("<svg")
    );
}

#[test]
fn bench_server_loads_a_running_server_by_url_and_reports_it_clean() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime
        .block_on(prelude_mock_server::MockServer::start())
        .expect("server starts");
    let out = scratch("bench-server");
    let output = cli()
        .args([
            "bench",
            "server",
            "--smoke",
            "--server-cores",
            "1",
            "--name",
            "remote",
        ])
        .args(["--url", server.url()])
        .arg("--out-dir")
        .arg(&out)
        .output()
        .expect("the CLI runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("remote.json")).expect("json written"))
            .expect("json parses");
    assert_eq!(report["target"], server.url());
    assert_eq!(report["ceiling"]["cores"], 1);
    for level in report["levels"].as_array().expect("levels") {
        assert!(level["refreshes"].as_u64() > Some(0), "{level}");
        assert_eq!(level["reuse_detected"], 0);
    }
}

/// Runs the CLI on a features directory holding `feature` as `x.feature`: exit code and stderr.
fn run_features(name: &str, feature: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = scratch(name);
    let features = dir.join("features");
    std::fs::create_dir_all(&features).expect("features dir");
    if !feature.is_empty() {
        std::fs::write(features.join("x.feature"), feature).expect("write");
    }
    let output = cli()
        .arg("--features-dir")
        .arg(&features)
        .arg("--report-dir")
        .arg(dir.join("reports"))
        .args(extra)
        .output()
        .expect("the CLI runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_examples_row_with_more_cells_than_its_header_is_refused_naming_file_and_line() {
    let feature = "Feature: X\n  Scenario Outline: Row <n>\n    When the client refreshes\n\n    \
                   Examples:\n      | n |\n      | 1 |\n      | 2 | 3 |\n";
    let (code, stderr) = run_features("examples-row", feature, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("x.feature") && stderr.contains("line 8"),
        "{stderr}"
    );
}

#[test]
fn a_features_directory_without_features_is_refused() {
    let (code, stderr) = run_features("no-features", "", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no .feature files"), "{stderr}");
}

#[test]
fn two_scenarios_with_one_name_are_refused() {
    let feature = "Feature: X\n  Scenario: Same\n    When the client refreshes\n\n  \
                   Scenario: Same\n    When the client refreshes\n";
    let (code, stderr) = run_features("duplicates", feature, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("two scenarios are named"), "{stderr}");
}

#[test]
fn an_unwritable_report_directory_is_refused_before_anything_runs() {
    let dir = scratch("unwritable");
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "not a directory").expect("write");
    let output = cli()
        .arg("--report-dir")
        .arg(blocker.join("reports"))
        .args(["-n", "^logout: "])
        .output()
        .expect("the CLI runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write reports"), "{stderr}");
    assert!(!stderr.contains("[1/"), "no scenario ran first: {stderr}");
}

#[test]
fn ctrl_c_stops_the_run_and_the_adapters_it_started() {
    let dir = scratch("interrupt");
    let pid_file = dir.join("adapter.pid");
    // The adapter runs in its own process group, so the terminal's Ctrl-C reaches only the
    // suite, which must then stop the adapters itself.
    let adapter = format!("echo $$ > {}; exec {}", pid_file.display(), adapter());
    let mut run = cli()
        .args(["--adapter", &adapter, "--report-dir"])
        .arg(dir.join("reports"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the CLI runs");
    let pid = (0..200)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
        })
        .expect("the adapter started");
    let sent = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = run.wait().expect("the CLI ends");
    assert_eq!(status.code(), Some(130));
    let gone = (0..100).any(|_| {
        // Gone, or a zombie waiting for a reaper: either way no longer running.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X");
        if running {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        !running
    });
    assert!(
        gone,
        "the adapter {pid} still runs after the suite was interrupted"
    );
}
