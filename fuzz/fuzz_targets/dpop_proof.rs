//! A DPoP proof as the server verifies it for a refresh: any string gets a typed rejection
//! (or the key's thumbprint), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|proof: &str| {
    let url = "http://127.0.0.1:8910/v1/session/refresh";
    let _ = prelude_mock_server::verify_proof(proof, "POST", url, 1_800_000_000, 60);
});
