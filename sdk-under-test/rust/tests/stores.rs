//! Stores: the rotated token is durable before it is returned, a restart resumes the session,
//! and nothing secret reaches `Debug` output.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::fixture;
use prelude_mock_server::Route;
use prelude_session::{
    Error, FileStore, MemoryStore, SessionClient, Store, StoreLock, StoredSession,
};

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("prelude-session-it-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("session.json")
}

#[tokio::test]
async fn the_rotated_token_is_in_the_file_before_refresh_returns() {
    let f = fixture().await;
    let path = temp_path("rotated");
    let store = Arc::new(FileStore::new(&path));
    let client = f.builder().store(store.clone()).build().expect("client");
    f.login(&client).await;
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    let on_disk = store.load().expect("load").expect("session").refresh_token;
    let journal = f.journal(Route::Refresh).await;
    let presented = journal[0].refresh_token.clone().expect("fingerprint");
    assert_ne!(
        fingerprint(&on_disk),
        presented,
        "the file holds the successor, not the spent token"
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

fn fingerprint(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_restarted_client_resumes_the_session_from_its_file() {
    let f = fixture().await;
    let path = temp_path("restart");
    let client = f
        .builder()
        .store(Arc::new(FileStore::new(&path)))
        .build()
        .expect("client");
    f.login(&client).await;
    let sid = client.session_id();
    drop(client);
    let restarted: SessionClient = f
        .builder()
        .store(Arc::new(FileStore::new(&path)))
        .build()
        .expect("client");
    assert!(restarted.is_logged_in());
    assert_eq!(restarted.session_id(), sid);
    restarted.invalidate_cache();
    restarted
        .refresh()
        .await
        .expect("refresh with the restored key and token");
    assert_eq!(
        f.server
            .control()
            .stats()
            .await
            .expect("stats")
            .reuse_detected,
        0
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test]
async fn debug_output_of_client_user_and_errors_contains_no_token() {
    let f = fixture().await;
    let client = f.logged_in().await;
    let user = client.refresh().await.expect("user");
    let refresh_token = f.stored_refresh_token().expect("token");
    let error = client
        .list_sessions(Some(0), None)
        .await
        .expect_err("error");
    for text in [
        format!("{client:?}"),
        format!("{user:?}"),
        format!("{error:?}"),
        format!("{error}"),
    ] {
        assert!(!text.contains(&user.access_token), "{text}");
        assert!(!text.contains(&refresh_token), "{text}");
    }
}

/// A store of its own (as a keychain store would be) whose lock counts takes and releases.
#[derive(Default)]
struct CountingLockStore {
    inner: MemoryStore,
    taken: Arc<AtomicUsize>,
    released: Arc<AtomicUsize>,
}

struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Store for CountingLockStore {
    fn load(&self) -> Result<Option<StoredSession>, Error> {
        self.inner.load()
    }
    fn save(&self, session: &StoredSession) -> Result<(), Error> {
        self.inner.save(session)
    }
    fn clear(&self) -> Result<(), Error> {
        self.inner.clear()
    }
    fn lock(&self) -> Result<Option<StoreLock>, Error> {
        self.taken.fetch_add(1, Ordering::SeqCst);
        Ok(Some(StoreLock::new(Guard(self.released.clone()))))
    }
}

#[tokio::test]
async fn a_store_of_its_own_takes_its_lock_once_per_refresh_and_releases_it() {
    let f = fixture().await;
    let store = Arc::new(CountingLockStore::default());
    let (taken, released) = (store.taken.clone(), store.released.clone());
    let client = f.builder().store(store).build().expect("client");
    f.login(&client).await;
    client.invalidate_cache();
    let before = taken.load(Ordering::SeqCst);
    let callers = (0..10).map(|_| client.refresh());
    for result in futures_util::future::join_all(callers).await {
        result.expect("refresh");
    }
    assert_eq!(
        taken.load(Ordering::SeqCst) - before,
        1,
        "one flight, one lock"
    );
    assert_eq!(
        released.load(Ordering::SeqCst),
        taken.load(Ordering::SeqCst),
        "every lock was released"
    );
}
