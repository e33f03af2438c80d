//! Where the client keeps its credentials: refresh token, cached access token, DPoP key and
//! nonce, clock skew. [`MemoryStore`] for tests and short-lived processes, [`FileStore`] for
//! apps and CLIs (atomic writes, owner-only permissions, a lock for cross-process refresh).
//! Platform keychains plug in by implementing [`Store`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// Everything the client persists about one session. `Debug` redacts every secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// The current (single-use) refresh token.
    pub refresh_token: String,
    /// `X-Refresh-Token-Expires-At` as the server sent it.
    #[serde(default)]
    pub refresh_expires_at: Option<String>,
    /// The cached access token.
    #[serde(default)]
    pub access_token: Option<String>,
    /// When the access token expires on the local clock (skew-corrected, unix seconds).
    #[serde(default)]
    pub access_expires_at: Option<i64>,
    /// The exported software DPoP key (absent for hardware keys).
    #[serde(default)]
    pub dpop_key: Option<String>,
    /// The last `DPoP-Nonce` the server sent.
    #[serde(default)]
    pub dpop_nonce: Option<String>,
    /// Local clock minus server clock, seconds.
    #[serde(default)]
    pub skew_seconds: i64,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("refresh_token", &"[redacted]")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("access_expires_at", &self.access_expires_at)
            .field("dpop_key", &self.dpop_key.as_ref().map(|_| "[redacted]"))
            .field("skew_seconds", &self.skew_seconds)
            .finish_non_exhaustive()
    }
}

/// Held while one process refreshes; dropping it lets the next one in.
///
/// A store of your own (a keychain, a database) returns one from [`Store::lock`] around
/// whatever guard its lock has: a locked file, a named semaphore, a database lock.
///
/// ```
/// use std::fs::File;
/// use prelude_session::StoreLock;
///
/// # fn run(path: &std::path::Path) -> std::io::Result<()> {
/// let file = File::create(path)?;
/// file.lock()?; // released when the file closes, i.e. when the StoreLock is dropped
/// let lock = StoreLock::new(file);
/// # drop(lock); Ok(()) }
/// ```
pub struct StoreLock {
    _guard: Box<dyn Send>,
}

impl StoreLock {
    /// A lock held as long as `guard` lives; dropping the `StoreLock` drops `guard`.
    pub fn new(guard: impl Send + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLock").finish_non_exhaustive()
    }
}

/// A credential store. Calls are short and synchronous; [`Store::lock`] may block and is
/// called off the async runtime.
pub trait Store: Send + Sync + 'static {
    /// The stored session, if any.
    fn load(&self) -> Result<Option<StoredSession>, Error>;
    /// Replaces the stored session; must be durable when it returns.
    fn save(&self, session: &StoredSession) -> Result<(), Error>;
    /// Removes everything.
    fn clear(&self) -> Result<(), Error>;
    /// An exclusive lock shared by every process using this store, or `None` when the store is
    /// not shared across processes.
    fn lock(&self) -> Result<Option<StoreLock>, Error> {
        Ok(None)
    }

    /// Whether [`Store::lock`] may block; the client then calls it off the async runtime.
    /// Return `false` only if `lock` returns at once.
    fn lock_blocks(&self) -> bool {
        true
    }

    /// A stable id of this installation, sent as `X-Device-Id` on every request (Prelude's
    /// native SDKs do): created on first use, kept across logouts and restarts. `None` when
    /// the store cannot keep one; the header is then left out (the default).
    fn device_id(&self) -> Result<Option<String>, Error> {
        Ok(None)
    }
}

/// Keeps the session in memory only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    session: Mutex<Option<StoredSession>>,
    device_id: Mutex<Option<String>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Result<Option<StoredSession>, Error> {
        Ok(self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    fn save(&self, session: &StoredSession) -> Result<(), Error> {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
        Ok(())
    }

    fn clear(&self) -> Result<(), Error> {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    fn lock_blocks(&self) -> bool {
        false
    }

    fn device_id(&self) -> Result<Option<String>, Error> {
        let mut id = self.device_id.lock().unwrap_or_else(|p| p.into_inner());
        if id.is_none() {
            *id = Some(crate::dpop::uuid_v4()?);
        }
        Ok(id.clone())
    }
}

/// Keeps the session in a JSON file readable by its owner only. Writes go to a temporary file
/// that is synced and renamed over the old one, so a crash leaves the old or the new session,
/// never half of one. `path.lock` serialises refreshes across processes.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

fn store_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Store,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

impl FileStore {
    /// A store at `path` (created on first save; the parent directory must exist).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The session file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }
}

impl Store for FileStore {
    fn load(&self) -> Result<Option<StoredSession>, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::new(
                    ErrorKind::Store,
                    format!("{} is not a session file: {e}", self.path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error("read", &self.path, &e)),
        }
    }

    fn save(&self, session: &StoredSession) -> Result<(), Error> {
        let bytes = serde_json::to_vec(session)
            .map_err(|e| Error::new(ErrorKind::Store, format!("cannot encode session: {e}")))?;
        let mut suffix = [0u8; 6];
        getrandom::fill(&mut suffix).map_err(|e| Error::new(ErrorKind::Store, e.to_string()))?;
        let temp = self.sibling(&format!(".{}.tmp", crate::dpop::b64(suffix)));
        let write = || -> std::io::Result<()> {
            let mut file =
                owner_only(OpenOptions::new().write(true).create_new(true)).open(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temp, &self.path)?;
            // Make the rename itself durable.
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            store_error("write", &self.path, &e)
        })
    }

    fn clear(&self) -> Result<(), Error> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(store_error("remove", &self.path, &e)),
        }
    }

    fn lock(&self) -> Result<Option<StoreLock>, Error> {
        let path = self.sibling(".lock");
        let file = owner_only(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .open(&path)
        .map_err(|e| store_error("open", &path, &e))?;
        file.lock().map_err(|e| store_error("lock", &path, &e))?;
        Ok(Some(StoreLock::new(file)))
    }

    /// Kept in `path.device-id`, which a logout (`clear`) leaves in place.
    fn device_id(&self) -> Result<Option<String>, Error> {
        let path = self.sibling(".device-id");
        let read = |path: &Path| std::fs::read_to_string(path).map(|id| id.trim().to_owned());
        match read(&path) {
            Ok(id) if !id.is_empty() => return Ok(Some(id)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(store_error("read", &path, &e)),
        }
        let id = crate::dpop::uuid_v4()?;
        // Two processes creating it at once: one file wins, and both read the winner.
        match owner_only(OpenOptions::new().write(true).create_new(true)).open(&path) {
            Ok(mut file) => file
                .write_all(id.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| store_error("write", &path, &e))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(store_error("create", &path, &e)),
        }
        read(&path)
            .map(|id| (!id.is_empty()).then_some(id))
            .map_err(|e| store_error("read", &path, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("prelude-session-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn a_file_store_round_trips_and_is_owner_only() {
        let dir = temp_dir("roundtrip");
        let store = FileStore::new(dir.join("session.json"));
        assert_eq!(store.load().expect("load"), None);
        let session = StoredSession {
            refresh_token: "rt_1".into(),
            ..StoredSession::default()
        };
        store.save(&session).expect("save");
        assert_eq!(store.load().expect("load"), Some(session));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.clear().expect("clear");
        assert_eq!(store.load().expect("load"), None);
        let leftovers: Vec<_> = std::fs::read_dir(&dir).expect("dir").flatten().collect();
        assert!(
            leftovers
                .iter()
                .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_device_id_is_created_once_and_survives_a_logout() {
        let dir = temp_dir("device-id");
        let store = FileStore::new(dir.join("session.json"));
        let id = store.device_id().expect("id").expect("some id");
        assert_eq!(id.len(), 36, "a UUID: {id}");
        store.clear().expect("clear");
        let again = FileStore::new(dir.join("session.json")).device_id();
        assert_eq!(again.expect("id"), Some(id));
        let memory = MemoryStore::new();
        assert_eq!(
            memory.device_id().expect("id"),
            memory.device_id().expect("id")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_corrupt_file_is_a_store_error_not_a_logout() {
        let dir = temp_dir("corrupt");
        let path = dir.join("session.json");
        std::fs::write(&path, b"{half").expect("write");
        let error = FileStore::new(&path).load().expect_err("corrupt");
        assert_eq!(error.kind(), ErrorKind::Store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let session = StoredSession {
            refresh_token: "rt_secret".into(),
            access_token: Some("at_secret".into()),
            dpop_key: Some("key_secret".into()),
            ..StoredSession::default()
        };
        let text = format!("{session:?}");
        assert!(!text.contains("secret"), "{text}");
    }
}
