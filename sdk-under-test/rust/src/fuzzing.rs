//! Entry points for the fuzz targets in `fuzz/`, compiled only with `--cfg fuzzing` (which
//! `cargo fuzz` sets): everything the client reads from a server answer, without a socket.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::http::Answer;

/// Feeds one server answer to every parser the client runs on answers: the token pair, the
/// session page (strict and lenient), the error body, `Retry-After` and the `Date` skew.
/// It must return (an `Err` is fine) and never panic.
pub fn server_answer(status: u16, headers: &[(&[u8], &[u8])], body: &[u8], local_now: i64) {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    let answer = Answer {
        status,
        headers: map,
        body: body.to_vec(),
        decode_limit: crate::http::MAX_ERROR_BODY,
    };
    let skew = answer.skew(local_now);
    let _ = answer.server_skew(local_now);
    let _ = answer.retry_after();
    let _ = answer.code();
    let _ = answer.is_transient();
    let _ = crate::client::refresh_token_pair(&answer, local_now, skew);
    for (types, fields) in [(false, false), (true, false), (false, true)] {
        let _ = crate::sessions::parse_page(body, types, fields);
    }
    let _ = answer.error();
}
