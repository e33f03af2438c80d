//! Test support: a fresh mock server per test (frozen at `NOW`), a client on a manual clock at
//! the same instant, and a logged-in helper. Real HTTP on loopback throughout.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use prelude_mock_server::{Fault, JournalEntry, MockServer, Policy, Route};
use prelude_session::{
    ManualClock, MemoryStore, RetryPolicy, SessionClient, SessionClientBuilder, Store,
};

pub const NOW: i64 = 1_800_000_000;

pub struct Fixture {
    pub server: MockServer,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
    pub user_id: String,
}

pub async fn fixture() -> Fixture {
    fixture_with(Policy::default()).await
}

pub async fn fixture_with(policy: Policy) -> Fixture {
    let server = MockServer::builder()
        .frozen_clock(NOW)
        .policy(policy)
        .start()
        .await
        .expect("server");
    let user_id = server
        .control()
        .create_user("ada@example.com", "pw")
        .await
        .expect("user")
        .id;
    Fixture {
        server,
        clock: Arc::new(ManualClock::new(NOW)),
        store: Arc::new(MemoryStore::new()),
        user_id,
    }
}

/// Fast retries so fault tests stay quick.
pub fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

impl Fixture {
    pub fn builder(&self) -> SessionClientBuilder {
        SessionClient::builder(self.server.url())
            .clock(self.clock.clone())
            .store(self.store.clone())
            .retry_policy(fast_retries(3))
    }

    pub fn client(&self) -> SessionClient {
        self.builder().build().expect("client")
    }

    /// A client that has finalized a fresh login.
    pub async fn logged_in(&self) -> SessionClient {
        let client = self.client();
        self.login(&client).await;
        client
    }

    pub async fn login(&self, client: &SessionClient) {
        let challenge = self
            .server
            .control()
            .challenge_for(&self.user_id)
            .await
            .expect("challenge");
        client
            .finalize_login(&challenge, None)
            .await
            .expect("finalize");
    }

    /// Moves both clocks (server and client) together.
    pub async fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
        self.server
            .control()
            .advance_clock(seconds)
            .await
            .expect("advance");
    }

    /// Queues a fault on the server.
    pub async fn fault(&self, fault: Fault) {
        self.server
            .control()
            .add_fault(&fault)
            .await
            .expect("fault");
    }

    /// Every journal entry for `route`.
    pub async fn journal(&self, route: Route) -> Vec<JournalEntry> {
        self.server
            .control()
            .journal(0, Some(route))
            .await
            .expect("journal")
    }

    pub async fn requests(&self, route: Route) -> u64 {
        let stats = self.server.control().stats().await.expect("stats");
        stats.requests_by_route.get(&route).copied().unwrap_or(0)
    }

    pub fn stored_refresh_token(&self) -> Option<String> {
        self.store.load().expect("load").map(|s| s.refresh_token)
    }
}
