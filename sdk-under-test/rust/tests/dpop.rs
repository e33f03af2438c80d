//! DPoP: the nonce dance, and a signer that never exports its key (hardware-ready).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::fixture_with;
use prelude_mock_server::{NonceMode, Policy, Reason, Route};
use prelude_session::{DpopSigner, Error, PublicJwk, SessionClient, SoftwareKey};

#[tokio::test]
async fn use_dpop_nonce_gets_exactly_one_retry_with_a_fresh_jti_and_the_nonce_is_kept() {
    let f = fixture_with(Policy {
        nonce_mode: NonceMode::Required,
        ..Policy::default()
    })
    .await;
    let client = f.logged_in().await;
    let finalize = f.journal(Route::LoginFinalize).await;
    assert_eq!(finalize.len(), 2);
    assert_eq!(finalize[0].reason, Some(Reason::NonceMissing));
    let (first, second) = (
        finalize[0].dpop.clone().expect("proof"),
        finalize[1].dpop.clone().expect("proof"),
    );
    assert_ne!(first.jti, second.jti);
    assert!(second.nonce.is_some());
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    let refreshes = f.journal(Route::Refresh).await;
    assert_eq!(refreshes.len(), 1, "the stored nonce is sent straight away");
    assert_eq!(
        refreshes[0].dpop.as_ref().and_then(|d| d.nonce.clone()),
        second.nonce
    );
}

#[tokio::test]
async fn a_rotated_nonce_costs_one_retry() {
    let policy = Policy {
        nonce_mode: NonceMode::Rotating,
        nonce_rotation_seconds: 60,
        nonce_history: 1,
        ..Policy::default()
    };
    let f = fixture_with(policy).await;
    let client = f.logged_in().await;
    f.advance(60).await;
    client.invalidate_cache();
    client
        .refresh()
        .await
        .expect("refresh after the nonce rotated");
    let refreshes = f.journal(Route::Refresh).await;
    assert_eq!(
        refreshes.iter().map(|e| e.reason).collect::<Vec<_>>(),
        [Some(Reason::NonceStale), None]
    );
}

/// Stands in for a Secure Enclave key: signs, never exports.
struct HardwareKey {
    key: SoftwareKey,
    signatures: AtomicUsize,
}

impl DpopSigner for HardwareKey {
    fn public_jwk(&self) -> PublicJwk {
        self.key.public_jwk()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], Error> {
        self.signatures.fetch_add(1, Ordering::SeqCst);
        self.key.sign(message)
    }
}

#[tokio::test]
async fn a_non_exportable_signer_is_used_and_its_key_never_reaches_the_store() {
    let f = fixture_with(Policy::default()).await;
    let signer = Arc::new(HardwareKey {
        key: SoftwareKey::generate().expect("key"),
        signatures: AtomicUsize::new(0),
    });
    let client = f.builder().signer(signer.clone()).build().expect("client");
    f.login(&client).await;
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    assert_eq!(signer.signatures.load(Ordering::SeqCst), 2);
    let stored = prelude_session::Store::load(f.store.as_ref())
        .expect("load")
        .expect("session");
    assert_eq!(stored.dpop_key, None);
    let sessions = f.server.control().sessions().await.expect("sessions");
    assert_eq!(sessions[0].jkt, signer.public_jwk().thumbprint());
    // A restarted app with the same hardware key and store carries on.
    let restarted: SessionClient = f.builder().signer(signer.clone()).build().expect("client");
    restarted.invalidate_cache();
    restarted.refresh().await.expect("refresh after restart");
}

#[tokio::test]
async fn a_nonce_from_a_bearer_route_is_kept_for_the_next_proof() {
    let f = fixture_with(Policy::default()).await;
    let client = f.logged_in().await;
    // Nonces start being required after login: the first answer to carry one is /me/list's.
    f.server
        .control()
        .update_policy(|p| p.nonce_mode = NonceMode::Required)
        .await
        .expect("policy");
    client.list_sessions(None, None).await.expect("list");
    client.invalidate_cache();
    client.refresh().await.expect("refresh");
    let refreshes = f.journal(Route::Refresh).await;
    assert_eq!(
        refreshes.len(),
        1,
        "the nonce from /me/list was used: no use_dpop_nonce round trip"
    );
}
