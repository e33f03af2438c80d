//! A bounded soak: `prelude-mock` as its own process under sustained refresh load from 16
//! sessions, its resident memory sampled twice a second. After warm-up (journal full, token
//! histories full, replay cache at its window) memory must stay flat, and every structure the
//! server grows must sit at or under its bound.
//!
//! `PRELUDE_SOAK_SECONDS` sets the length (default 15; `scripts/soak.sh` runs minutes and
//! prints the memory curve).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use prelude_mock_server::ControlClient;
use prelude_mock_server::raw::RawSession;

const SESSIONS: usize = 16;
const JOURNAL: u64 = 2_000;
const HISTORY: u64 = 50;
const IAT_WINDOW: i64 = 5;

struct Mock(Child);

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident memory of `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn start_mock(dir: &std::path::Path) -> (Mock, String) {
    let config = dir.join("soak.toml");
    let mut file = std::fs::File::create(&config).expect("config");
    write!(
        file,
        "[policy]\niat_window_seconds = {IAT_WINDOW}\n\
         [limits]\njournal_capacity = {JOURNAL}\ntoken_history = {HISTORY}\n\
         [[users]]\nemail = \"ada@example.com\"\npassword = \"pw\"\n"
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prelude-mock"))
        .args(["--port", "0", "--ready-json", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prelude-mock starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready JSON");
    let url = ready["base_url"].as_str().expect("base_url").to_owned();
    (Mock(child), url)
}

fn seconds() -> u64 {
    std::env::var("PRELUDE_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_refresh_load_keeps_memory_flat_and_every_structure_bounded() {
    let dir = std::env::temp_dir().join(format!("prelude-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let (mock, url) = start_mock(&dir);
    let pid = mock.0.id();
    let control = ControlClient::new(&url, None, None).expect("control client");
    let user = control.users().await.expect("users")[0].id.clone();
    let http = reqwest::Client::new();
    let api = format!("{url}/v1/session");
    let refresh_url = format!("{api}/refresh");

    let total = Duration::from_secs(seconds());
    // Warm-up covers the replay window and fills the journal and token histories.
    let warm_up = (total / 4).max(Duration::from_secs(IAT_WINDOW as u64 + 1));
    let started = Instant::now();
    let refreshes = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..SESSIONS {
        let mut session = RawSession::login(&http, &api, &control, &user, unix_now())
            .await
            .expect("login");
        let (http, refresh_url) = (http.clone(), refresh_url.clone());
        let (refreshes, failures) = (refreshes.clone(), failures.clone());
        load.push(tokio::spawn(async move {
            while started.elapsed() < total {
                match session.refresh(&http, &refresh_url, unix_now()).await {
                    Ok(answer) if answer.status == 200 => {
                        refreshes.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    let mut samples = Vec::new();
    while started.elapsed() < total {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(kib) = rss_kib(pid) {
            samples.push((started.elapsed(), kib));
        }
    }
    for task in load {
        task.await.expect("load task");
    }
    let stats = control.stats().await.expect("stats");
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);

    let after_warm_up: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= warm_up)
        .map(|(_, kib)| *kib)
        .collect();
    let first = *after_warm_up.first().expect("samples after warm-up");
    let peak = *after_warm_up.iter().max().expect("samples");
    let last = *after_warm_up.last().expect("samples");
    let done = refreshes.load(Ordering::Relaxed);
    println!(
        "soak: {} s, {done} refreshes ({:.0}/s) over {SESSIONS} sessions, {} failures; \
         RSS after {} s warm-up {first} KiB, peak {peak} KiB, end {last} KiB; footprint {:?}",
        total.as_secs(),
        done as f64 / total.as_secs_f64(),
        failures.load(Ordering::Relaxed),
        warm_up.as_secs(),
        stats.footprint
    );
    println!(
        "soak curve (s, KiB): {}",
        samples
            .iter()
            .map(|(t, kib)| format!("{:.1} {kib}", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "every refresh succeeded"
    );
    assert!(
        done > JOURNAL,
        "the load filled the journal ({done} refreshes)"
    );
    let footprint = &stats.footprint;
    assert_eq!(
        footprint.journal_entries, JOURNAL,
        "the journal is at its cap"
    );
    assert_eq!(footprint.sessions, SESSIONS as u64);
    assert!(
        footprint.refresh_tokens <= SESSIONS as u64 * HISTORY,
        "refresh tokens bounded by the history: {footprint:?}"
    );
    assert_eq!(stats.reuse_detected, 0);
    // Flat: allocator noise and tokio's pools move a few MiB; growth in proportion to the
    // work done would not stay under this.
    assert!(
        last <= first + first / 4 + 4096,
        "resident memory grew from {first} KiB to {last} KiB after warm-up"
    );
}
