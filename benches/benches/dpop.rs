//! DPoP cost per operation: the client signing a proof's input with its pure-Rust p256 key
//! (`prelude-session`'s `SoftwareKey`) and, for comparison, with aws-lc-rs; and the server
//! verifying a whole proof (parse, ES256 verify, claim checks).

use criterion::{Criterion, criterion_group, criterion_main};
use prelude_mock_server::proof::ProofKey;
use prelude_mock_server::verify_proof;
use prelude_session::{DpopSigner, SoftwareKey};

const URL: &str = "http://127.0.0.1:8910/v1/session/refresh";

fn dpop(c: &mut Criterion) {
    let aws = ProofKey::generate();
    let proof = aws.proof("POST", URL, 1_800_000_000);
    let (input, _) = proof.rsplit_once('.').expect("three parts");
    let p256 = SoftwareKey::generate().expect("key");
    let mut group = c.benchmark_group("dpop");
    group.bench_function("client_sign_p256", |b| {
        b.iter(|| p256.sign(input.as_bytes()).expect("sign"))
    });
    group.bench_function("client_sign_aws_lc_rs", |b| b.iter(|| aws.sign(input)));
    group.bench_function("server_verify", |b| {
        b.iter(|| verify_proof(&proof, "POST", URL, 1_800_000_000, 60).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, dpop);
criterion_main!(benches);
