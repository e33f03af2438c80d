//! A tour of the client against an in-process mock server: log in, refresh from many tasks at
//! once (one network refresh), list sessions, log out.
//!
//! ```sh
//! cargo run -p prelude-session --example quickstart
//! ```

use prelude_mock_server::{MockServer, Route};
use prelude_session::{SessionClient, SessionState};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder()
        .user("ada@example.com", "correct horse")
        .start()
        .await?;
    println!("mock server at {}", server.url());

    let client = SessionClient::builder(server.url()).build()?;
    let user = client
        .login_with_password("ada@example.com", "correct horse")
        .await?;
    println!(
        "logged in as {:?}, session {:?}",
        user.user_id(),
        user.session_id()
    );

    // A thousand concurrent callers after the cache is invalidated: one refresh on the wire.
    client.invalidate_cache();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let client = client.clone();
        callers.spawn(async move { client.refresh().await });
    }
    for result in callers.join_all().await {
        result?;
    }
    let stats = server.control().stats().await?;
    println!(
        "1000 callers → {:?} refresh request(s) seen by the server",
        stats.requests_by_route.get(&Route::Refresh)
    );

    let page = client.list_sessions(None, None).await?;
    println!("{} active session(s)", page.total);

    client.logout().await?;
    assert_eq!(*client.state().borrow(), SessionState::LoggedOut);
    println!("logged out; local credentials wiped, server session revoked");
    Ok(())
}
