//! Access and challenge tokens as the server verifies them, and JSON claims signed and read
//! back (which must round-trip).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|token: &str| prelude_mock_server::fuzzing::jwt(token));
