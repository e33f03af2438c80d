//! Several OS processes sharing one file store refresh at once: they take the store's lock and
//! re-read it, so the server sees one refresh and no reused token. The children are this test
//! binary run again with `PRELUDE_CHILD_STORE` set.

use std::process::{Command, Stdio};
use std::sync::Arc;

use prelude_mock_server::{MockServer, Route};
use prelude_session::{FileStore, ManualClock, SessionClient};

const NOW: i64 = 1_800_000_000;
const CHILDREN: usize = 6;
const TEST: &str = "processes_sharing_a_file_store_refresh_once_between_them";

fn client(url: &str, store: &str) -> SessionClient {
    SessionClient::builder(url)
        .store(Arc::new(FileStore::new(store)))
        .clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .expect("client")
}

/// Cross-process rendezvous through files (bounded: 20 s).
fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..4000 {
        if condition() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("processes did not meet within 20 s");
}

#[test]
fn processes_sharing_a_file_store_refresh_once_between_them() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let (Ok(store), Ok(url)) = (
        std::env::var("PRELUDE_CHILD_STORE"),
        std::env::var("PRELUDE_CHILD_URL"),
    ) {
        // Load the (invalidated) session, say so, and wait for everyone: the refreshes race.
        let client = client(&url, &store);
        let dir = std::path::Path::new(&store)
            .parent()
            .expect("dir")
            .to_owned();
        std::fs::write(dir.join(format!("ready-{}", std::process::id())), b"").expect("ready");
        wait_for(|| dir.join("go").exists());
        runtime.block_on(client.refresh()).expect("child refresh");
        return;
    }
    let server = runtime
        .block_on(MockServer::builder().frozen_clock(NOW).start())
        .expect("server");
    let dir = std::env::temp_dir().join(format!("prelude-session-mp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = dir.join("session.json");
    let store_text = store.to_str().expect("utf-8").to_owned();
    runtime.block_on(async {
        let user = server
            .control()
            .create_user("ada@example.com", "pw")
            .await
            .expect("user");
        let challenge = server
            .control()
            .challenge_for(&user.id)
            .await
            .expect("challenge");
        let parent = client(server.url(), &store_text);
        parent
            .finalize_login(&challenge, None)
            .await
            .expect("login");
        parent.invalidate_cache();
    });
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(std::env::current_exe().expect("test binary"))
                .args(["--exact", TEST, "--test-threads=1"])
                .env("PRELUDE_CHILD_STORE", &store_text)
                .env("PRELUDE_CHILD_URL", server.url())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("child starts")
        })
        .collect();
    wait_for(|| {
        let ready = std::fs::read_dir(&dir).map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("ready-"))
                .count()
        });
        ready.unwrap_or(0) == CHILDREN
    });
    std::fs::write(dir.join("go"), b"").expect("go");
    for child in children {
        // Children's own test summaries stay out of this run's output unless one fails.
        let output = child.wait_with_output().expect("child ends");
        assert!(
            output.status.success(),
            "a child failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stats = runtime.block_on(server.control().stats()).expect("stats");
    assert_eq!(
        stats.requests_by_route.get(&Route::Refresh),
        Some(&1),
        "{stats:?}"
    );
    assert_eq!(stats.reuse_detected, 0);
    let _ = std::fs::remove_dir_all(dir);
}
