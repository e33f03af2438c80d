//! Fault injection: for a route, the next N requests get a delay, an error answer, a reset
//! connection, or commit-then-drop (the server does the work, then the client never hears).
//!
//! This module only queues and hands out faults; the observing middleware applies them.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::http::route::Route;

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
    },
    /// Close the connection with a TCP reset before handling the request.
    Reset,
    /// Handle the request (a refresh rotates the token), then reset the connection instead of
    /// answering: the lost-response case.
    CommitThenDrop,
}

/// A queued fault for the next `times` requests to `route`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The route it applies to.
    pub route: Route,
    /// How many requests it affects (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// What it does.
    #[serde(flatten)]
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl FaultAction {
    /// An error answer with the given status and Prelude code and a default message.
    pub fn error(status: u16, code: impl Into<String>) -> Self {
        Self::Error {
            status,
            code: code.into(),
            message: None,
            retry_after: None,
        }
    }

    /// An error answer that also carries `Retry-After: seconds`.
    pub fn error_with_retry_after(status: u16, code: impl Into<String>, seconds: u64) -> Self {
        Self::Error {
            status,
            code: code.into(),
            message: None,
            retry_after: Some(seconds),
        }
    }
}

impl Fault {
    /// A fault for the next request to `route`.
    pub fn new(route: Route, action: FaultAction) -> Self {
        Self {
            route,
            times: 1,
            action,
        }
    }

    /// Applies to the next `times` requests instead of one.
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.times == 0 {
            return Err("times must be at least 1".into());
        }
        if let FaultAction::Error { status, code, .. } = &self.action {
            if !(400..=599).contains(status) {
                return Err("an error fault needs a status in 400..=599".into());
            }
            if code.is_empty() {
                return Err("an error fault needs a code".into());
            }
        }
        Ok(())
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

    /// Takes one use of the first fault queued for `route`.
    pub(crate) fn take(&self, route: Route) -> Option<FaultAction> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let index = pending.iter().position(|f| f.route == route)?;
        let fault = &mut pending[index];
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
}
