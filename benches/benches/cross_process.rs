//! Cross-process contention: P processes share one file store, each loads the invalidated
//! session, and all refresh at the same instant. The reference client's store lock makes them
//! spend the refresh token once. Reports the server's refresh count, reused tokens, and the
//! burst time from the start signal to the last process's answer. The children are this bench
//! binary run again (`PRELUDE_BENCH_CHILD` set). Writes `target/bench-results/cross_process.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prelude_benches::{Mode, results_dir};
use prelude_mock_server::{MockServer, Route};
use prelude_session::{FileStore, SessionClient};
use serde_json::json;

fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..4000 {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("processes did not meet within 8 s");
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

fn child(dir: &Path, url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = SessionClient::builder(url)
        .store(Arc::new(FileStore::new(dir.join("session.json"))))
        .build()
        .expect("client");
    std::fs::write(dir.join(format!("ready-{}", std::process::id())), b"").expect("ready");
    wait_for(|| dir.join("go").exists());
    runtime.block_on(client.refresh()).expect("refresh");
    // When this process got its token, for the burst time.
    std::fs::write(
        dir.join(format!("done-{}", std::process::id())),
        unix_micros().to_string(),
    )
    .expect("done");
}

fn count(dir: &Path, prefix: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .count()
    })
}

fn burst(
    runtime: &tokio::runtime::Runtime,
    server: &MockServer,
    processes: usize,
    round: usize,
) -> serde_json::Value {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "prelude-bench-xp-{}-{processes}-{round}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    runtime.block_on(async {
        let email = format!("xp-{processes}-{round}@example.com");
        let user = server
            .control()
            .create_user(&email, "pw")
            .await
            .expect("user");
        let challenge = server
            .control()
            .challenge_for(&user.id)
            .await
            .expect("challenge");
        let client = SessionClient::builder(server.url())
            .store(Arc::new(FileStore::new(dir.join("session.json"))))
            .build()
            .expect("client");
        client
            .finalize_login(&challenge, None)
            .await
            .expect("login");
        client.invalidate_cache();
        server.control().clear_journal().await.expect("clear");
    });
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(std::env::current_exe().expect("self"))
                .env("PRELUDE_BENCH_CHILD", &dir)
                .env("PRELUDE_BENCH_URL", server.url())
                .stdout(Stdio::null())
                .spawn()
                .expect("child")
        })
        .collect();
    wait_for(|| count(&dir, "ready-") == processes);
    let started = unix_micros();
    let go = Instant::now();
    std::fs::write(dir.join("go"), b"").expect("go");
    for mut child in children {
        assert!(child.wait().expect("wait").success(), "a child failed");
    }
    let _all_exited = go.elapsed();
    let last_done = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("done-"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.parse::<u128>().ok())
        .max()
        .unwrap_or(started);
    let journal = runtime
        .block_on(server.control().journal(0, Some(Route::Refresh)))
        .expect("journal");
    let distinct: std::collections::HashSet<_> = journal
        .iter()
        .filter_map(|e| e.refresh_token.as_ref())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    json!({
        "processes": processes,
        "server_refreshes": journal.len(),
        "reused": journal.len() - distinct.len(),
        "wall_ms": (last_done.saturating_sub(started)) as f64 / 1e3,
    })
}

fn main() {
    if let (Some(dir), Ok(url)) = (
        std::env::var_os("PRELUDE_BENCH_CHILD"),
        std::env::var("PRELUDE_BENCH_URL"),
    ) {
        child(Path::new(&dir), &url);
        return;
    }
    let mode = Mode::detect();
    let (sizes, rounds): (&[usize], usize) = match mode {
        Mode::Smoke => (&[2], 1),
        Mode::Quick => (&[2, 4, 8], 3),
        Mode::Full => (&[2, 4, 8, 16], 5),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(MockServer::start()).expect("server");
    let mut rows = Vec::new();
    for &processes in sizes {
        let bursts: Vec<_> = (0..rounds)
            .map(|round| burst(&runtime, &server, processes, round))
            .collect();
        let mut walls: Vec<f64> = bursts
            .iter()
            .map(|b| b["wall_ms"].as_f64().unwrap_or(0.0))
            .collect();
        walls.sort_by(f64::total_cmp);
        let max_of = |key: &str| {
            bursts
                .iter()
                .map(|b| b[key].as_u64().unwrap_or(0))
                .max()
                .unwrap_or(0)
        };
        let row = json!({
            "processes": processes,
            "server_refreshes": max_of("server_refreshes"),
            "reused": max_of("reused"),
            "wall_ms": walls[walls.len() / 2],
        });
        println!("{row}");
        rows.push(row);
    }
    let report = json!({"mode": format!("{mode:?}"), "rows": rows});
    std::fs::write(
        results_dir().join("cross_process.json"),
        serde_json::to_vec_pretty(&report).expect("json"),
    )
    .expect("write");
    if mode == Mode::Smoke {
        assert!(
            rows.iter()
                .all(|r| r["server_refreshes"] == 1 && r["reused"] == 0),
            "{rows:?}"
        );
        println!("cross_process smoke: ok");
    }
}
