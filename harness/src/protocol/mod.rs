//! Adapter protocol v1: the JSON-lines messages between the suite and an SDK adapter
//! (documented in `docs/adapter-protocol.md`). Both the [`Driver`](crate::Driver) trait and
//! the adapter wire use these types, so the in-process driver and an adapter are
//! interchangeable.
//!
//! Typed end to end: one request variant ([`Op`]) and one result type per op (see
//! [`Op::check_result`]). The JSON Schema in `docs/adapter-protocol.schema.json` is generated
//! from these types ([`schema`]); adapter answers are checked against the same types, so the
//! schema and the check cannot disagree.
//!
//! This module owns the message shapes only; transport lives in `driver::adapter` (client
//! side) and `driver::serve` (adapter side).
//!
//! Files: `op` (requests), `results` (each op's result), `session` (configuration, `hello`,
//! capabilities), `response` (answers and SDK errors), `schema` (the generated JSON Schema).

mod op;
mod response;
mod results;
mod schema;
mod session;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use op::{Op, RevokeKind};
pub use response::{Response, SdkError, SdkErrorKind};
pub use results::{
    AccessToken, Authorized, Done, Events, ListedSession, ListedSessions, Restarted, State, Stored,
    Subscription, UserInfo,
};
pub use schema::schema;
pub use session::{Capability, ClientConfig, Hello, SdkInfo};

/// The protocol version this suite speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The client instance a request addresses when it names none.
pub const MAIN_CLIENT: &str = "main";

/// One request line: `{"id":7,"client":"main","op":"refresh"}`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Request {
    /// Chosen by the suite, echoed in the response; requests may be answered out of order.
    pub id: u64,
    /// Which client instance (default `main`).
    #[serde(default = "main_client")]
    pub client: String,
    /// The operation and its arguments.
    #[serde(flatten)]
    pub op: Op,
}

/// The `id` of a request or response line, if it has one, even when the rest of the line is
/// malformed (so the other side can still be answered or told what is wrong).
pub fn line_id(line: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("id").and_then(serde_json::Value::as_u64))
}

fn main_client() -> String {
    MAIN_CLIENT.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_flat_ops_and_a_default_client() {
        let request: Request =
            serde_json::from_str(r#"{"id":3,"op":"revoke","target":"session","session_id":""}"#)
                .expect("parses");
        assert_eq!(request.client, MAIN_CLIENT);
        assert_eq!(
            request.op,
            Op::Revoke {
                target: RevokeKind::Session,
                session_id: Some(String::new())
            }
        );
        let line = serde_json::to_string(&Request {
            id: 4,
            client: "b".into(),
            op: Op::Refresh,
        })
        .expect("serializes");
        assert_eq!(line, r#"{"id":4,"client":"b","op":"refresh"}"#);
    }

    #[test]
    fn unknown_error_kinds_fold_to_other() {
        let error: SdkError =
            serde_json::from_str(r#"{"kind":"weird","message":"x"}"#).expect("parses");
        assert_eq!(error.kind, SdkErrorKind::Other);
    }
}
