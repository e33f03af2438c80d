//! No secret ever prints. A full session life cycle runs with every crate logging at trace
//! level; then `{:?}` of every public type that holds a secret, the mock's journal (requests
//! recorded) and the conformance reports of a failing run are searched for every token,
//! password and key that was issued. Fingerprints are fine; the secrets themselves are not.

use std::io::Write;
use std::sync::{Arc, Mutex};

use prelude_conformance::{Drivers, Filter, Op, Suite};
use prelude_mock_server::raw::RawSession;
use prelude_mock_server::{MockServer, SeedUser, ServerConfig};
use prelude_session::{MemoryStore, SessionClient, Store};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "pw-correct-horse-battery";
const CONTROL_TOKEN: &str = "ctl-let-me-in-please";

/// Everything the tracing subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// The secrets seen so far, and the text they must not appear in.
#[derive(Default)]
struct Audit {
    secrets: Vec<(String, String)>,
    printed: String,
}

impl Audit {
    fn secret(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 8, "{what} is too short to search for");
        self.secrets.push((what.to_owned(), value.to_owned()));
    }

    fn print(&mut self, text: impl std::fmt::Display) {
        self.printed.push_str(&text.to_string());
        self.printed.push('\n');
    }

    fn leaks(&self, haystack: &str) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|(_, value)| haystack.contains(value.as_str()))
            .map(|(what, _)| what.clone())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_password_or_key_is_printed_logged_journaled_or_reported() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("the only subscriber of this test binary");

    let mut audit = Audit::default();
    let dir = std::env::temp_dir().join(format!("prelude-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let key_path = dir.join("signing.pem");
    let _ = std::fs::remove_file(&key_path);

    let config = ServerConfig {
        control_token: Some(CONTROL_TOKEN.into()),
        signing_key: Some(key_path.clone()),
        users: vec![
            format!("{EMAIL}:{PASSWORD}")
                .parse::<SeedUser>()
                .expect("user"),
        ],
        record_requests: true,
        ..ServerConfig::default()
    };
    let builder = MockServer::builder().config(config.clone());
    audit.print(format!("{builder:?} {config:?}"));
    let server = builder.start().await.expect("server");
    audit.print(format!("{server:?} {:?}", server.control()));
    audit.secret("the control token", CONTROL_TOKEN);
    audit.secret("the password", PASSWORD);
    let pem = std::fs::read_to_string(&key_path).expect("signing key written");
    for (i, line) in pem.lines().filter(|l| !l.starts_with("-----")).enumerate() {
        if line.len() >= 16 {
            audit.secret(&format!("line {i} of the signing key"), line);
        }
    }

    // The reference client through its whole life cycle.
    let store = Arc::new(MemoryStore::new());
    let client = SessionClient::builder(server.url())
        .store(store.clone())
        .build()
        .expect("client");
    let user = client
        .login_with_password(EMAIL, PASSWORD)
        .await
        .expect("login");
    audit.print(format!("{user:?}"));
    let remember = |audit: &mut Audit, step: &str| {
        let stored = store.load().expect("load").expect("a stored session");
        audit.secret(
            &format!("the refresh token after {step}"),
            &stored.refresh_token,
        );
        if let Some(access) = &stored.access_token {
            audit.secret(&format!("the access token after {step}"), access);
        }
        if let Some(key) = &stored.dpop_key {
            audit.secret(&format!("the DPoP key after {step}"), key);
        }
        audit.print(format!(
            "{stored:?} {store:?} {client:?} {:?}",
            client.snapshot()
        ));
    };
    remember(&mut audit, "login");
    client.invalidate_cache();
    let refreshed = client.refresh().await.expect("refresh");
    audit.print(format!("{refreshed:?}"));
    remember(&mut audit, "refresh");
    let page = client.list_sessions(None, None).await.expect("list");
    audit.print(format!("{page:?}"));
    client.logout().await.expect("logout");
    audit.print(format!("{client:?} {:?}", client.snapshot()));

    // A raw session, as the benches and the suite's attacks use.
    let user_id = server.control().users().await.expect("users")[0].id.clone();
    let now = server.control().clock().await.expect("clock").now;
    let http = reqwest::Client::new();
    let mut raw = RawSession::login(&http, &server.api_url(), server.control(), &user_id, now)
        .await
        .expect("raw login");
    audit.secret(
        "the raw session's first refresh token",
        &raw.refresh_token.clone(),
    );
    let answer = raw
        .refresh(&http, &format!("{}/refresh", server.api_url()), now)
        .await
        .expect("raw refresh");
    audit.secret(
        "the raw session's second refresh token",
        &raw.refresh_token.clone(),
    );
    audit.secret("the raw session's access token", &raw.access_token.clone());
    audit.print(format!("{raw:?} {answer:?}"));

    // What adapters are sent.
    let login = Op::Login {
        email: EMAIL.into(),
        password: PASSWORD.into(),
    };
    audit.print(format!("{login:?}"));

    let journal = server.control().journal(0, None).await.expect("journal");
    let journal = serde_json::to_string(&journal).expect("journal as JSON");
    assert!(
        journal.contains("<fp:"),
        "requests were recorded, secrets fingerprinted"
    );
    server.shutdown().await;

    assert!(
        audit.secrets.len() >= 12,
        "the life cycle issued its secrets"
    );
    assert_eq!(
        audit.leaks(&audit.printed),
        Vec::<String>::new(),
        "in Debug output"
    );
    assert_eq!(
        audit.leaks(&journal),
        Vec::<String>::new(),
        "in the journal"
    );
    let logs = logs.text();
    assert!(logs.contains("TRACE"), "trace logging was on");
    assert_eq!(audit.leaks(&logs), Vec::<String>::new(), "in the logs");

    // A failing conformance run keeps diagnostics (journal and adapter stderr) in its reports;
    // the suite's tokens and passwords are its own, so look for their shapes.
    let suite = Suite::bundled().expect("features").select(
        Filter::all()
            .name("not re-sent without a grace window")
            .expect("regex"),
    );
    let command = format!(
        "{} --variant retry-respends-token",
        env!("CARGO_BIN_EXE_broken-adapter")
    );
    let report = suite
        .run_sdk(Drivers::adapters(&command, 1).await.expect("adapter"))
        .await;
    assert_eq!(
        report.failed_ids().len(),
        1,
        "the broken variant fails, with diagnostics"
    );
    report.write(&dir, "secrets").expect("reports written");
    let reports = ["secrets.json", "secrets.junit.xml", "secrets.html"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).expect("report"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        reports.contains("refresh token generation"),
        "the journal is in the report"
    );
    let shapes = regex::Regex::new(r"rt_[A-Za-z0-9_-]{16,}|eyJ[A-Za-z0-9_-]+\.eyJ|pw-[0-9a-f]{12}")
        .expect("regex");
    let found: Vec<&str> = shapes.find_iter(&reports).map(|m| m.as_str()).collect();
    assert!(found.is_empty(), "secrets in the reports: {found:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
