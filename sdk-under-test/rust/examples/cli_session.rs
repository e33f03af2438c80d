//! A command-line app that keeps its session in a file between runs, the way a desktop app or
//! CLI would. Run the mock server first (`cargo run -p prelude-mock-server -- --user
//! ada@example.com:pw`), then:
//!
//! ```sh
//! cargo run -p prelude-session --example cli_session -- login ada@example.com pw
//! cargo run -p prelude-session --example cli_session -- whoami     # refreshes only if needed
//! cargo run -p prelude-session --example cli_session -- logout
//! ```
//!
//! `PRELUDE_URL` (default `http://127.0.0.1:8910`) and `PRELUDE_SESSION_FILE` (default
//! `./prelude-session.json`) configure it. Several copies can run at once: they share the
//! file's lock, so a refresh token is never spent twice.

use std::sync::Arc;

use prelude_session::{FileStore, SessionClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("PRELUDE_URL").unwrap_or_else(|_| "http://127.0.0.1:8910".into());
    let file =
        std::env::var("PRELUDE_SESSION_FILE").unwrap_or_else(|_| "prelude-session.json".into());
    let client = SessionClient::builder(url)
        .store(Arc::new(FileStore::new(file)))
        .build()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["login", email, password] => {
            let user = client.login_with_password(email, password).await?;
            println!(
                "logged in: user {:?}, session {:?}",
                user.user_id(),
                user.session_id()
            );
        }
        ["whoami"] => {
            let user = client.refresh().await?;
            println!(
                "user {:?}, session {:?}, token expires at {}",
                user.user_id(),
                user.session_id(),
                user.expires_at
            );
        }
        ["sessions"] => {
            for session in client.list_sessions(None, None).await?.sessions {
                println!(
                    "{} {:?} last seen {}",
                    session.id, session.device_type, session.last_seen_at
                );
            }
        }
        ["logout"] => {
            client.logout().await?;
            println!("logged out");
        }
        _ => eprintln!("usage: cli_session login EMAIL PASSWORD | whoami | sessions | logout"),
    }
    Ok(())
}
