//! Fault injection: for a route, the next N requests (after letting `after` through) get a
//! delay, an error answer, a reset connection, a late answer, commit-then-drop (the server
//! does the work, then the client never hears), or their normal answer amended (headers
//! added or removed, JSON members merged in: forward-compatible or malformed answers).
//!
//! This module only queues, validates and hands out faults; the observing middleware
//! applies them, and the stamping middleware applies header edits last, so a fault can also
//! remove or replace `Date` and `DPoP-Nonce`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::route::Route;

/// Largest body an `error` fault may pad its answer to.
const MAX_PAD: usize = 1 << 20;

/// What a fault does to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Wait this long (real time), then apply the next fault queued for the route, or handle
    /// the request normally if there is none.
    Delay {
        /// Milliseconds to wait.
        ms: u64,
    },
    /// Answer with this status and Prelude error code without handling the request.
    Error {
        /// HTTP status (400..=599).
        status: u16,
        /// Prelude error code, e.g. `internal` or `rate_limited`.
        code: String,
        /// Optional message; a default one says the error was injected.
        #[serde(default)]
        message: Option<String>,
        /// Optional `Retry-After` header, in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
        /// Headers to add or replace on the answer (`DPoP-Nonce`, `Date`, ...).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// Headers to leave out of the answer (`date`, `dpop-nonce`, ...).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        omit_headers: Vec<String>,
        /// Pad the message so the JSON body is at least this many bytes (an oversized error).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pad_to: Option<usize>,
    },
    /// Close the connection with a TCP reset before handling the request.
    Reset,
    /// Handle the request (a refresh rotates the token), then reset the connection instead of
    /// answering: the lost-response case.
    CommitThenDrop,
    /// Handle the request (a refresh rotates the token), then hold the answer this long: the
    /// work is done on the server while the client still waits.
    CommitThenDelay {
        /// Milliseconds to hold the answer.
        ms: u64,
    },
    /// Handle the request normally, then change its answer.
    Amend {
        /// Headers to add or replace.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// Headers to leave out (`x-refresh-token`, `date`, ...).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        omit_headers: Vec<String>,
        /// A JSON merge patch (RFC 7386) applied to a JSON object body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        merge: Option<Value>,
        /// For each member naming an array of objects in the body (`sessions`), a merge patch
        /// applied to every element.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        merge_each: BTreeMap<String, Value>,
    },
}

/// A queued fault for the next `times` requests to `route`, after `after` untouched ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The route it applies to.
    pub route: Route,
    /// How many requests it affects (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// How many requests to the route go through untouched first (default 0): `1` fails
    /// only a client's retry.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub after: u32,
    /// What it does.
    #[serde(flatten)]
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl FaultAction {
    /// An error answer with the given status and Prelude code and a default message.
    pub fn error(status: u16, code: impl Into<String>) -> Self {
        Self::Error {
            status,
            code: code.into(),
            message: None,
            retry_after: None,
            headers: BTreeMap::new(),
            omit_headers: Vec::new(),
            pad_to: None,
        }
    }

    /// An error answer that also carries `Retry-After: seconds`.
    pub fn error_with_retry_after(status: u16, code: impl Into<String>, seconds: u64) -> Self {
        match Self::error(status, code) {
            Self::Error {
                status,
                code,
                message,
                headers,
                omit_headers,
                pad_to,
                ..
            } => Self::Error {
                status,
                code,
                message,
                retry_after: Some(seconds),
                headers,
                omit_headers,
                pad_to,
            },
            other => other,
        }
    }

    /// The normal answer, amended by nothing yet (see [`FaultAction::omit_header`] and
    /// [`FaultAction::merge`]).
    pub fn amend() -> Self {
        Self::Amend {
            headers: BTreeMap::new(),
            omit_headers: Vec::new(),
            merge: None,
            merge_each: BTreeMap::new(),
        }
    }

    /// Also leaves header `name` out of the answer (an `error` or `amend` fault).
    pub fn omit_header(mut self, name: &str) -> Self {
        if let Self::Error { omit_headers, .. } | Self::Amend { omit_headers, .. } = &mut self {
            omit_headers.push(name.to_ascii_lowercase());
        }
        self
    }

    /// Also sets header `name` on the answer (an `error` or `amend` fault).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Error { headers, .. } | Self::Amend { headers, .. } = &mut self {
            headers.insert(name.to_ascii_lowercase(), value.to_owned());
        }
        self
    }

    /// Pads an `error` fault's body to at least `bytes`.
    pub fn padded_to(mut self, bytes: usize) -> Self {
        if let Self::Error { pad_to, .. } = &mut self {
            *pad_to = Some(bytes);
        }
        self
    }

    /// Merges `patch` into an `amend` fault's JSON body (RFC 7386).
    pub fn merge(mut self, patch: Value) -> Self {
        if let Self::Amend { merge, .. } = &mut self {
            *merge = Some(patch);
        }
        self
    }

    /// Merges `patch` into every element of the body's array member `array` (an `amend`
    /// fault).
    pub fn merge_each(mut self, array: &str, patch: Value) -> Self {
        if let Self::Amend { merge_each, .. } = &mut self {
            merge_each.insert(array.to_owned(), patch);
        }
        self
    }

    /// The header changes this action asks for, checked.
    pub(crate) fn header_edits(&self) -> Result<HeaderEdits, String> {
        let (set, omit) = match self {
            Self::Error {
                headers,
                omit_headers,
                ..
            }
            | Self::Amend {
                headers,
                omit_headers,
                ..
            } => (headers, omit_headers),
            _ => return Ok(HeaderEdits::default()),
        };
        let name = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("{n:?} is not a header name"))
        };
        Ok(HeaderEdits {
            set: set
                .iter()
                .map(|(n, v)| {
                    let value = HeaderValue::from_str(v)
                        .map_err(|_| format!("the value of header {n:?} is not valid"))?;
                    Ok((name(n)?, value))
                })
                .collect::<Result<_, String>>()?,
            omit: omit.iter().map(|n| name(n)).collect::<Result<_, _>>()?,
        })
    }
}

/// Header changes a fault makes to an answer, applied after every other layer.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderEdits {
    set: Vec<(HeaderName, HeaderValue)>,
    omit: Vec<HeaderName>,
}

impl HeaderEdits {
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty() && self.omit.is_empty()
    }

    pub(crate) fn apply(&self, headers: &mut axum::http::HeaderMap) {
        for name in &self.omit {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
    }
}

/// `body` with `patch` merged in (RFC 7386: `null` removes a member, objects merge).
pub(crate) fn merge_patch(body: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *body = patch.clone();
        return;
    };
    if !body.is_object() {
        *body = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = body {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Applies an `amend` fault's patches to a JSON body.
pub(crate) fn amend_body(body: &mut Value, merge: Option<&Value>, each: &BTreeMap<String, Value>) {
    if let Some(patch) = merge {
        merge_patch(body, patch);
    }
    for (array, patch) in each {
        if let Some(Value::Array(items)) = body.get_mut(array) {
            for item in items {
                merge_patch(item, patch);
            }
        }
    }
}

impl Fault {
    /// A fault for the next request to `route`.
    pub fn new(route: Route, action: FaultAction) -> Self {
        Self {
            route,
            times: 1,
            after: 0,
            action,
        }
    }

    /// Applies to the next `times` requests instead of one.
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    /// Lets `after` requests to the route through untouched first (`1`: only the retry of a
    /// client's request is hit).
    pub fn after(mut self, after: u32) -> Self {
        self.after = after;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.times == 0 {
            return Err("times must be at least 1".into());
        }
        match &self.action {
            FaultAction::Error {
                status,
                code,
                pad_to,
                ..
            } => {
                if !(400..=599).contains(status) {
                    return Err("an error fault needs a status in 400..=599".into());
                }
                if code.is_empty() {
                    return Err("an error fault needs a code".into());
                }
                if pad_to.is_some_and(|p| p > MAX_PAD) {
                    return Err(format!("pad_to must be at most {MAX_PAD} bytes"));
                }
            }
            FaultAction::Amend {
                merge, merge_each, ..
            } => {
                let objects = merge.iter().chain(merge_each.values());
                if objects.into_iter().any(|p| !p.is_object()) {
                    return Err("merge and merge_each patches must be JSON objects".into());
                }
            }
            _ => {}
        }
        self.action.header_edits().map(drop)
    }
}

/// Pending faults, first queued first served.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pending: Mutex<Vec<Fault>>,
}

impl Faults {
    pub(crate) fn push(&self, fault: Fault) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fault);
    }

    /// Takes one use of the first fault queued for `route`, for a request that just arrived.
    /// While that fault still lets requests through (`after`), this one goes through
    /// untouched and counts against it.
    pub(crate) fn take(&self, route: Route) -> Option<FaultAction> {
        self.take_one(route, true)
    }

    /// Takes the next fault for a request a delay fault already held: one that lets requests
    /// through first does not count this one again.
    pub(crate) fn take_next(&self, route: Route) -> Option<FaultAction> {
        self.take_one(route, false)
    }

    fn take_one(&self, route: Route, arriving: bool) -> Option<FaultAction> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let index = pending.iter().position(|f| f.route == route)?;
        let fault = &mut pending[index];
        if fault.after > 0 {
            if arriving {
                fault.after -= 1;
            }
            return None;
        }
        fault.times -= 1;
        let action = fault.action.clone();
        if fault.times == 0 {
            pending.remove(index);
        }
        Some(action)
    }

    pub(crate) fn list(&self) -> Vec<Fault> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn clear(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fault_is_used_up_after_its_count() {
        let faults = Faults::default();
        faults.push(Fault::new(Route::Refresh, FaultAction::Reset).times(2));
        assert_eq!(faults.take(Route::Revoke), None);
        assert_eq!(faults.take(Route::Refresh), Some(FaultAction::Reset));
        assert_eq!(faults.take(Route::Refresh), Some(FaultAction::Reset));
        assert_eq!(faults.take(Route::Refresh), None);
    }

    #[test]
    fn a_fault_after_one_hits_only_the_second_request() {
        let faults = Faults::default();
        faults.push(Fault::new(Route::Refresh, FaultAction::Reset).after(1));
        assert_eq!(faults.take(Route::Refresh), None, "the first goes through");
        assert_eq!(faults.take(Route::Refresh), Some(FaultAction::Reset));
        assert_eq!(faults.take(Route::Refresh), None);
    }

    #[test]
    fn a_held_request_does_not_count_against_a_later_fault() {
        let faults = Faults::default();
        faults.push(Fault::new(Route::Refresh, FaultAction::Delay { ms: 1 }));
        faults.push(Fault::new(Route::Refresh, FaultAction::Reset).after(1));
        assert!(matches!(
            faults.take(Route::Refresh),
            Some(FaultAction::Delay { .. })
        ));
        assert_eq!(faults.take_next(Route::Refresh), None);
        assert_eq!(faults.take(Route::Refresh), None, "this one is let through");
        assert_eq!(faults.take(Route::Refresh), Some(FaultAction::Reset));
    }

    #[test]
    fn the_json_form_is_flat() {
        let fault: Fault = serde_json::from_str(
            r#"{"route":"refresh","times":3,"action":"error","status":503,"code":"internal"}"#,
        )
        .expect("parses");
        assert_eq!(fault.times, 3);
        assert!(matches!(
            fault.action,
            FaultAction::Error { status: 503, .. }
        ));
        assert!(serde_json::from_str::<Fault>(r#"{"route":"nope","action":"reset"}"#).is_err());
    }

    #[test]
    fn bad_header_edits_and_patches_are_refused() {
        let bad_name = Fault::new(Route::Refresh, FaultAction::amend().omit_header("bad name"));
        assert!(bad_name.validate().is_err());
        let bad_value = Fault::new(
            Route::Refresh,
            FaultAction::error(400, "x").with_header("dpop-nonce", "a\nb"),
        );
        assert!(bad_value.validate().is_err());
        let not_object = Fault::new(Route::MeList, FaultAction::amend().merge(json!([1])));
        assert!(not_object.validate().is_err());
        let fine = Fault::new(
            Route::MeList,
            FaultAction::amend()
                .merge(json!({"next": null}))
                .merge_each("sessions", json!({"trusted": true})),
        );
        assert_eq!(fine.validate(), Ok(()));
    }

    #[test]
    fn merge_patches_follow_rfc_7386() {
        let mut body = json!({"a": 1, "b": {"c": 2}, "sessions": [{"id": "x"}, {"id": "y"}]});
        let each = BTreeMap::from([("sessions".to_owned(), json!({"trusted": true}))]);
        amend_body(
            &mut body,
            Some(&json!({"a": null, "b": {"d": 3}, "e": "new"})),
            &each,
        );
        assert_eq!(
            body,
            json!({"b": {"c": 2, "d": 3}, "e": "new",
                   "sessions": [{"id": "x", "trusted": true}, {"id": "y", "trusted": true}]})
        );
    }
}
