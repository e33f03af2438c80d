//! The mock's TOML configuration file: refused with a clear error (unknown fields, bad
//! values, an empty control token) or accepted and served from; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelude_mock_server::{MockServer, ServerConfig};

fuzz_target!(|text: &str| {
    if let Ok(mut config) = ServerConfig::from_toml(text) {
        // A key path would be created on disk: the fuzzer writes no files.
        config.signing_key = None;
        // What was accepted must also start: the router is built from it.
        let _ = MockServer::builder().config(config).router();
    }
});
