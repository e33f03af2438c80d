//! A server answer (status, headers, body) fed to every parser of the reference client:
//! token pair, session page, error body, Retry-After, Date skew.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Answer<'a> {
    status: u16,
    headers: Vec<(&'a [u8], &'a [u8])>,
    body: &'a [u8],
    local_now: i64,
}

fuzz_target!(|answer: Answer<'_>| {
    prelude_session::fuzzing::server_answer(
        answer.status,
        &answer.headers,
        answer.body,
        answer.local_now,
    );
});
