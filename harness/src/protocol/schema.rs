//! The adapter protocol's JSON Schema, generated from the types (committed as
//! `docs/adapter-protocol.schema.json`).

use schemars::JsonSchema;
use serde_json::Value;

use super::results::{
    AccessToken, Authorized, Done, Events, ListedSessions, Restarted, State, Stored, Subscription,
    UserInfo,
};
use super::session::Hello;
use super::{PROTOCOL_VERSION, Request, Response};

/// The whole protocol, for the generated JSON Schema: what the suite sends, what an adapter
/// answers, and each op's `ok` result.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct AdapterProtocol {
    /// A request line.
    request: Request,
    /// A response line.
    response: Response,
    /// The `ok` result of each op.
    results: Results,
}

/// The `ok` result of each op, by op name.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Results {
    hello: Hello,
    reset: Done,
    configure: Done,
    login: UserInfo,
    refresh: UserInfo,
    access_token: AccessToken,
    invalidate: Done,
    logout: Done,
    list_sessions: ListedSessions,
    revoke: Done,
    authorized_get: Authorized,
    state: State,
    stored: Stored,
    restart: Restarted,
    dispose: Done,
    otp_start: Done,
    otp_check: UserInfo,
    otp_retry: Done,
    subscribe: Subscription,
    unsubscribe: Done,
    events: Events,
}

/// The adapter protocol's JSON Schema, pretty-printed (committed as
/// `docs/adapter-protocol.schema.json`).
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(AdapterProtocol);
    schema.insert(
        "title".to_owned(),
        Value::String(format!(
            "Prelude conformance adapter protocol v{PROTOCOL_VERSION}"
        )),
    );
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}
