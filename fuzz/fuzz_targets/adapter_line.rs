//! One line of the adapter protocol, as the suite reads answers and adapters read requests:
//! a parse error, never a panic; what parses serialises back to something that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelude_conformance::protocol::{Request, Response, line_id};

fuzz_target!(|line: &str| {
    let _ = line_id(line);
    if let Ok(response) = serde_json::from_str::<Response>(line) {
        let text = serde_json::to_string(&response).expect("a response serialises");
        assert!(serde_json::from_str::<Response>(&text).is_ok(), "{text}");
        let _ = response.into_outcome();
    }
    if let Ok(request) = serde_json::from_str::<Request>(line) {
        let text = serde_json::to_string(&request).expect("a request serialises");
        assert!(serde_json::from_str::<Request>(&text).is_ok(), "{text}");
    }
});
