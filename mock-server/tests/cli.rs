//! The `prelude-mock` binary: prints its URLs first, honours a config file and `--user`, and
//! shuts down cleanly on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> Self {
        Self::start_with_logs(args, Stdio::null())
    }

    fn start_with_logs(args: &[&str], logs: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_prelude-mock"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(logs)
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line on stdout")
    }

    fn interrupt_and_wait(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        // The server lets requests in flight finish (up to 5 s) and closes idle connections.
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the server did not stop within 10 s of SIGINT");
    }
}

fn url_of(line: &str, label: &str) -> String {
    line.strip_prefix(label)
        .map(str::trim)
        .unwrap_or_else(|| panic!("{label} in {line:?}"))
        .to_owned()
}

#[tokio::test]
async fn the_binary_prints_its_urls_serves_and_stops_on_sigint() {
    let running = Running::start(&["--port", "0", "--user", "cli@example.com:pw"]);
    let api = url_of(&running.line(), "Prelude API:");
    let control = url_of(&running.line(), "Control API:");
    let dashboard = url_of(&running.line(), "Dashboard:");
    assert!(api.ends_with("/v1/session") && control.ends_with("/__mock"));
    assert_eq!(dashboard, format!("{control}/ui/"));
    let body = reqwest::get(format!("{control}/users"))
        .await
        .expect("control")
        .text()
        .await
        .expect("text");
    assert!(body.contains("cli@example.com"));
    let status = running.interrupt_and_wait();
    assert!(status.success(), "clean exit, got {status}");
}

#[tokio::test]
async fn the_binary_reads_policy_and_users_from_a_config_file() {
    let dir = std::env::temp_dir().join(format!("prelude-mock-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("mock.toml");
    std::fs::write(
        &path,
        "app_id = \"app_cli\"\n[policy]\nreuse_grace_seconds = 4\nnonce_mode = \"required\"\n\
         [[users]]\nemail = \"file@example.com\"\npassword = \"pw\"\n",
    )
    .expect("write");
    let running = Running::start(&["--port", "0", "--config", path.to_str().expect("utf-8")]);
    let _api = running.line();
    let control = url_of(&running.line(), "Control API:");
    let policy: serde_json::Value = reqwest::get(format!("{control}/policy"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            policy["reuse_grace_seconds"].as_i64(),
            policy["nonce_mode"].as_str()
        ),
        (Some(4), Some("required"))
    );
    let users = reqwest::get(format!("{control}/users"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(users.contains("file@example.com"));
    running.interrupt_and_wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut running = Running::start_with_logs(&["--port", "0"], Stdio::piped());
    let mut logs = running.child.stderr.take().expect("stderr");
    let _url = running.line();
    assert!(running.interrupt_and_wait().success());
    let mut text = String::new();
    std::io::Read::read_to_string(&mut logs, &mut text).expect("logs");
    assert!(text.contains("listening on"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "escape codes in piped logs: {text:?}"
    );
}

#[test]
fn a_bad_config_file_is_a_clear_start_up_error() {
    let dir = std::env::temp_dir().join(format!("prelude-mock-badcli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[policy]\nreuse_grace = 4\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_prelude-mock"))
        .args(["--port", "0", "--config", path.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("reuse_grace"),
        "stderr names the bad field: {stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tls_mode_prints_the_certificate_path_and_spki_hash() {
    let running = Running::start(&["--port", "0", "--tls"]);
    assert!(running.line().contains("https://127.0.0.1:"));
    let _control = running.line();
    assert!(running.line().starts_with("Certificate:"));
    let spki = url_of(&running.line(), "SPKI sha256:");
    assert_eq!(spki.len(), 44);
    running.interrupt_and_wait();
}

#[tokio::test]
async fn ready_json_prints_one_machine_readable_line() {
    let running = Running::start(&["--port", "0", "--tls", "--ready-json"]);
    let ready: serde_json::Value =
        serde_json::from_str(&running.line()).expect("one JSON line on stdout");
    let api = ready["api_url"].as_str().expect("api_url");
    assert!(api.starts_with("https://127.0.0.1:") && api.ends_with("/v1/session"));
    assert!(
        ready["control_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/__mock"))
    );
    let cert = ready["ca_cert"].as_str().expect("ca_cert with --tls");
    let pem = std::fs::read(cert).expect("the certificate file exists");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .build()
        .expect("client");
    let base = ready["base_url"].as_str().expect("base_url");
    let jwks = client
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("the API answers over TLS with that certificate");
    assert!(jwks.status().is_success());
    jwks.bytes().await.expect("body");
    drop(client);
    running.interrupt_and_wait();
}

#[test]
fn an_empty_or_blank_control_token_from_any_source_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("prelude-mock-emptytoken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let toml = dir.join("empty-token.toml");
    std::fs::write(&toml, "control_token = \"  \"\n").expect("write");
    let toml = toml.to_str().expect("utf-8").to_owned();
    let flag: &[&str] = &["--control-token", ""];
    let blank_flag: &[&str] = &["--control-token", " \t"];
    let file: &[&str] = &["--config", &toml];
    let sources: [(&str, &[&str], Option<&str>); 4] = [
        ("an empty flag", flag, None),
        ("a blank flag", blank_flag, None),
        ("an empty variable", &[], Some("")),
        ("a blank config file entry", file, None),
    ];
    for (source, args, env) in sources {
        let mut command = Command::new(env!("CARGO_BIN_EXE_prelude-mock"));
        // The hole this closes: a non-loopback bind passed the "needs a token" rule.
        command
            .args(["--host", "0.0.0.0", "--port", "0"])
            .args(args);
        command.env_remove("PRELUDE_MOCK_CONTROL_TOKEN");
        if let Some(value) = env {
            command.env("PRELUDE_MOCK_CONTROL_TOKEN", value);
        }
        let output = command.output().expect("runs");
        assert_eq!(output.status.code(), Some(2), "{source}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("control token is empty"),
            "{source}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
