//! Crash consistency of the reference client's file store. A child process (`session-churn`)
//! loops login, refresh and logout against the mock on one store file and is SIGKILLed at
//! random points, again and again. After every kill:
//!
//! - the store file parses (a write is never torn);
//! - a session that was logged out is not in it;
//! - its refresh token is the session's current one, or the one the server rotated last
//!   (the kill fell between the server's commit and the store's write), never an older one.
//!
//! Sessions lost to such kills are the server's reuse detections: without a reuse grace window
//! the restarted client presents the rotated token and the server revokes the session; with
//! one, the server hands back the same successor and none is lost.
//!
//! `PRELUDE_CRASH_KILLS` sets the kills per mode (default 60; `scripts/crash.sh` runs more).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prelude_mock_server::{JournalEntry, MockServer, Policy, Route, Verdict};
use prelude_session::{FileStore, Store};
use sha2::Digest;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "pw-crash";

/// What the kills did to one store.
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    empty: usize,
    current: usize,
    one_behind: usize,
    rotations: u64,
    lost_sessions: u64,
    /// Temporary files of writes a kill interrupted (harmless: never renamed into place).
    stray_temp_files: usize,
    violations: Vec<String>,
}

/// The journal's fingerprint of a token (first 8 bytes of SHA-256, hex).
fn fingerprint(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn spawn(server: &MockServer, store: &std::path::Path, grace: i64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_session-churn"))
        .args([server.url(), &store.display().to_string(), EMAIL, PASSWORD])
        .arg(grace.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("session-churn starts")
}

/// Classifies what the store holds after a kill, against the server's journal and sessions.
async fn check(server: &MockServer, store: &FileStore, tally: &mut Tally) {
    let stored = match store.load() {
        Ok(None) => {
            tally.empty += 1;
            return;
        }
        Ok(Some(stored)) => stored,
        Err(e) => {
            tally
                .violations
                .push(format!("the store does not parse: {e}"));
            return;
        }
    };
    let fp = fingerprint(&stored.refresh_token);
    let journal = server.control().journal(0, None).await.expect("journal");
    let presented: Vec<&JournalEntry> = journal
        .iter()
        .filter(|e| e.refresh_token.as_deref() == Some(fp.as_str()))
        .collect();
    if presented
        .iter()
        .any(|e| e.route == Some(Route::Revoke) && e.verdict == Verdict::Accepted)
    {
        tally
            .violations
            .push(format!("a logged-out session came back (token {fp})"));
        return;
    }
    let spent = presented
        .iter()
        .rev()
        .find(|e| e.route == Some(Route::Refresh) && (e.rotated || e.grace_reissue));
    let Some(spent) = spent else {
        // Never spent: the newest token of its session.
        tally.current += 1;
        return;
    };
    let generations: HashMap<String, u64> = server
        .control()
        .sessions()
        .await
        .expect("sessions")
        .into_iter()
        .map(|s| (s.id, s.generation))
        .collect();
    let session = spent.session_id.clone().unwrap_or_default();
    let current = generations.get(&session).copied().unwrap_or_default();
    match spent.generation {
        Some(g) if g + 1 == current => tally.one_behind += 1,
        other => tally.violations.push(format!(
            "the store holds generation {other:?} of {session}, whose current is {current}"
        )),
    }
}

async fn churn(grace: i64, kills: usize, seed: u64) -> Tally {
    let server = MockServer::builder()
        .user(EMAIL, PASSWORD)
        .policy(Policy {
            reuse_grace_seconds: grace,
            ..Policy::default()
        })
        .start()
        .await
        .expect("server");
    let dir = std::env::temp_dir().join(format!("prelude-crash-{}-{grace}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("session.json");
    let store = FileStore::new(&path);
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let deadline = Instant::now() + Duration::from_secs(90);
    while tally.kills < kills && Instant::now() < deadline {
        let mut child = spawn(&server, &path, grace);
        // Start-up takes the first milliseconds (more on a loaded machine); kill anywhere
        // from there, over a range several refreshes long.
        tokio::time::sleep(Duration::from_millis(5 + rng.below(120))).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        tally.kills += 1;
        check(&server, &store, &mut tally).await;
    }
    let stats = server.control().stats().await.expect("stats");
    tally.rotations = stats.rotations;
    tally.lost_sessions = stats.reuse_detected;
    tally.stray_temp_files = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    tally
}

fn kills() -> usize {
    std::env::var("PRELUDE_CRASH_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_at_random_points_never_tears_its_store_nor_resurrects_or_rewinds_a_session()
 {
    let seed = 0x5eed_c4a5;
    for grace in [0, 30] {
        let tally = churn(grace, kills(), seed).await;
        let summary = format!(
            "grace {grace:>2} s: {} kills, store empty {} / current token {} / one behind {}, \
             {} rotations, {} sessions lost, {} stray temporary files",
            tally.kills,
            tally.empty,
            tally.current,
            tally.one_behind,
            tally.rotations,
            tally.lost_sessions,
            tally.stray_temp_files
        );
        println!("crash consistency: {summary}");
        assert!(
            tally.violations.is_empty(),
            "{summary}: {:#?}",
            tally.violations
        );
        assert!(
            tally.rotations > 0,
            "{summary}: the child never got to refresh"
        );
        if grace > 0 {
            assert_eq!(
                tally.lost_sessions, 0,
                "{summary}: the grace window loses nothing"
            );
        }
    }
}
