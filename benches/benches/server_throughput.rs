//! Server throughput: refreshes per second with full DPoP verification and access-token
//! signing, at 1, 8, 64 and 256 concurrent clients (each with its own session, closed loop),
//! over loopback HTTP; and, in the same run, the crypto ceiling: one ES256 verify plus one
//! ES256 sign, the server's unavoidable work per refresh.
//!
//! Client and server share the machine: the clients' proof signing and HTTP work count
//! against the server's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prelude_benches::{RawSession, login, refresh};
use prelude_mock_server::MockServer;
use tokio::sync::Mutex;

fn refresh_throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(MockServer::start()).expect("server");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .expect("client");
    let url = format!("{}/refresh", server.api_url());
    let mut group = c.benchmark_group("server_refresh");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for clients in [1usize, 8, 64, 256] {
        let sessions: Vec<Arc<Mutex<RawSession>>> = runtime.block_on(async {
            let mut sessions = Vec::with_capacity(clients);
            for n in 0..clients {
                let email = format!("bench-{clients}-{n}@example.com");
                let session = login(&server, &http, &email).await.expect("login");
                sessions.push(Arc::new(Mutex::new(session)));
            }
            sessions
        });
        group.throughput(Throughput::Elements(clients as u64));
        group.bench_function(format!("clients_{clients}"), |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let sessions = sessions.clone();
                let http = http.clone();
                let url = url.clone();
                async move {
                    let started = Instant::now();
                    let mut tasks = tokio::task::JoinSet::new();
                    for session in sessions {
                        let (http, url) = (http.clone(), url.clone());
                        tasks.spawn(async move {
                            let mut session = session.lock().await;
                            for _ in 0..iters {
                                refresh(&mut session, &http, &url).await.expect("refresh");
                            }
                        });
                    }
                    tasks.join_all().await;
                    started.elapsed()
                }
            });
        });
    }
    group.finish();
    let stats = runtime.block_on(server.control().stats()).expect("stats");
    assert_eq!(
        stats.reuse_detected, 0,
        "benchmark clients never reuse a token"
    );
    assert!(
        stats.rejections.is_empty(),
        "no refresh was rejected: {:?}",
        stats.rejections
    );
}

fn crypto_ceiling(c: &mut Criterion) {
    let server_key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
    let client_key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
    let rng = SystemRandom::new();
    let message = [7u8; 600];
    let proof_signature = client_key.sign(&rng, &message).expect("sign");
    let client_public = client_key.public_key().as_ref().to_vec();
    let mut group = c.benchmark_group("crypto_ceiling");
    group.throughput(Throughput::Elements(1));
    group.bench_function("es256_verify_plus_sign", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &client_public)
                .verify(&message, proof_signature.as_ref())
                .expect("verifies");
            server_key.sign(&rng, &message).expect("sign")
        });
    });
    group.finish();
}

criterion_group!(benches, crypto_ceiling, refresh_throughput);
criterion_main!(benches);
