//! `session-churn URL STORE EMAIL PASSWORD [GRACE_SECONDS]`: the reference client on a file
//! store, looping login, forced refreshes and an occasional logout until it is killed. The
//! crash-consistency test (`tests/crash_consistency.rs`) SIGKILLs it at random points and
//! checks the store it leaves behind.

use std::sync::Arc;
use std::time::Duration;

use prelude_session::{FileStore, SessionClient};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, store, email, password, rest @ ..] = args.as_slice() else {
        eprintln!("usage: session-churn URL STORE EMAIL PASSWORD [GRACE_SECONDS]");
        return std::process::ExitCode::from(2);
    };
    let mut builder = SessionClient::builder(url.as_str()).store(Arc::new(FileStore::new(store)));
    if let Some(grace) = rest.first().and_then(|g| g.parse().ok()) {
        builder = builder.server_reuse_grace(Duration::from_secs(grace));
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("session-churn: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for round in 0u64.. {
        if !client.is_logged_in() && client.login_with_password(email, password).await.is_err() {
            continue;
        }
        client.invalidate_cache();
        let _ = client.refresh().await;
        if round % 7 == 6 {
            let _ = client.logout().await;
        }
    }
    std::process::ExitCode::SUCCESS
}
