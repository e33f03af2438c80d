//! Client verdict steps: judge what the SDK returned (calls, bursts, authorised requests),
//! what it stored, the state it reports and what its subscribers saw. The actions that
//! produce all this are in `client`.

use cucumber::then;

use super::client::subscription;
use super::{StepError, StepResult, Who, ensure, number, optional};
use crate::protocol::{AccessToken, Events, ListedSessions, Op, SdkError, Stored, UserInfo};
use crate::world::{MAIN, World};

#[then(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)")'s subscriber(?: "([a-z0-9_-]+)")? saw (exactly )?("[a-z_]+"(?:, "[a-z_]+")*|nothing)$"#
)]
async fn the_subscriber_saw(
    w: &mut World,
    who: Who,
    label: String,
    exactly: String,
    states: String,
) -> StepResult {
    let seen = subscriber_events(w, who.name(), &label).await?;
    let want: Vec<&str> = states
        .split(", ")
        .filter(|s| *s != "nothing")
        .map(|s| s.trim_matches('"'))
        .collect();
    // Without "exactly", states the suite does not ask about (`establishing`) may come in
    // between; each transition still counts once, in order.
    let compared: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|s| !exactly.is_empty() || *s != "establishing")
        .collect();
    ensure(compared == want, || {
        format!("the subscriber saw {seen:?}, expected {want:?}")
    })
}

#[then(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)")'s subscriber saw "([a-z_]+)" just before "([a-z_]+)"$"#
)]
async fn the_subscriber_saw_in_order(
    w: &mut World,
    who: Who,
    first: String,
    then: String,
) -> StepResult {
    let seen = subscriber_events(w, who.name(), "").await?;
    let found = seen
        .windows(2)
        .any(|pair| pair[0] == first && pair[1] == then);
    ensure(found, || {
        format!("the subscriber saw {seen:?}, without {first:?} right before {then:?}")
    })
}

#[then(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)")'s subscriber(?: "([a-z0-9_-]+)")? was told "([a-z_]+)"$"#
)]
async fn the_subscriber_was_told(
    w: &mut World,
    who: Who,
    label: String,
    state: String,
) -> StepResult {
    // Whatever came before (an SDK may replay the current state to a new subscriber).
    let seen = subscriber_events(w, who.name(), &label).await?;
    ensure(seen.contains(&state), || {
        format!("the subscriber saw {seen:?}, never {state:?}")
    })
}

#[then(regex = r#"^(?:(?:the client|client "([a-z0-9_-]+)")'s call|the call) succeeds$"#)]
async fn the_call_succeeds(w: &mut World, who: Who) -> StepResult {
    match w.last_of(who.name())? {
        Ok(_) => Ok(()),
        Err(e) => Err(StepError::failed(format!("expected success, got {e}"))),
    }
}

#[then(
    regex = r#"^(?:the call|client "([a-z0-9_-]+)"'s call) fails(?: with kind "([a-z_]+)")?(?: (?:and|with) code "([a-z_]+)")?$"#
)]
async fn the_call_fails(w: &mut World, who: Who, kind: String, code: String) -> StepResult {
    judge_failure(w.last_of(who.name())?, optional(&kind), optional(&code))
}

#[then(regex = r"^all (?:(\d+) )?callers succeed$")]
async fn all_callers_succeed(w: &mut World, n: String) -> StepResult {
    burst_succeeded(w, &n).map(drop)
}

#[then(regex = r"^all (?:(\d+) )?callers got the same access token$")]
async fn all_callers_got_the_same_token(w: &mut World, n: String) -> StepResult {
    burst_succeeded(w, &n)?;
    let users: Vec<UserInfo> = w
        .burst
        .iter()
        .map(|r| w.decode("refresh", r))
        .collect::<Result<_, _>>()?;
    let first = users.first().map(|u| &u.access_token);
    ensure(users.iter().all(|u| Some(&u.access_token) == first), || {
        "callers got different access tokens".to_owned()
    })
}

#[then(regex = r#"^all (?:(\d+) )?callers fail(?: with kind "([a-z_]+)")?$"#)]
async fn all_callers_fail(w: &mut World, n: String, kind: String) -> StepResult {
    burst_size(w, &n)?;
    w.burst
        .iter()
        .try_for_each(|r| judge_failure(r, optional(&kind), None))
}

#[then(regex = r"^all requests were answered (\d+)$")]
async fn all_requests_were_answered(w: &mut World, status: u16) -> StepResult {
    w.burst.iter().try_for_each(|r| {
        let answered = w.decode::<crate::protocol::Authorized>("authorized_get", r)?;
        ensure(answered.status == status, || {
            format!(
                "expected every request answered {status}, got {}",
                answered.status
            )
        })
    })
}

#[then(regex = r"^the request was answered (\d+)$")]
async fn the_request_was_answered(w: &mut World, status: u16) -> StepResult {
    let answered: crate::protocol::Authorized = w.last_ok(MAIN, "authorized_get")?;
    ensure(answered.status == status, || {
        format!("expected status {status}, got {}", answered.status)
    })
}

#[then(regex = r#"^(?:the client|client "([a-z0-9_-]+)") (?:still )?stores (no )?credentials$"#)]
async fn stores_credentials(w: &mut World, who: Who, none: String) -> StepResult {
    let want = none.is_empty();
    let stored: Stored = w.must_as(who.name(), Op::Stored).await?;
    let has = stored.credentials;
    ensure(has == want, || {
        format!(
            "expected client {:?} to store {}credentials, but it {}",
            who.name(),
            if want { "" } else { "no " },
            if has { "still does" } else { "stores none" }
        )
    })
}

#[then(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)")'s state is "([a-z_]+)"(?: with code "([a-z_]+)")?$"#
)]
async fn the_state_is(w: &mut World, who: Who, state: String, code: String) -> StepResult {
    let now: crate::protocol::State = w.must_as(who.name(), Op::State).await?;
    ensure(now.state == state, || {
        format!("expected state {state:?}, got {:?}", now.state)
    })?;
    match optional(&code) {
        Some(code) => ensure(now.code.as_deref() == Some(code), || {
            format!("expected state code {code:?}, got {:?}", now.code)
        }),
        None => Ok(()),
    }
}

#[then(regex = r#"^(?:the client|client "([a-z0-9_-]+)")'s state history includes "([a-z_]+)"$"#)]
async fn the_state_history_includes(w: &mut World, who: Who, state: String) -> StepResult {
    let now: crate::protocol::State = w.must_as(who.name(), Op::State).await?;
    ensure(now.history.contains(&state), || {
        format!("state history {:?} lacks {state:?}", now.history)
    })
}

#[then(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)")'s access token (differs from|equals) the noted one$"#
)]
async fn the_access_token_vs_noted(w: &mut World, who: Who, how: String) -> StepResult {
    let now: AccessToken = w.must_as(who.name(), Op::AccessToken).await?;
    let noted = w
        .noted
        .get(&format!("{}/access_token", who.name()))
        .cloned()
        .unwrap_or_default();
    let same = now.access_token.unwrap_or_default() == noted;
    // Never print tokens: say only whether they matched.
    ensure(same == how.starts_with("equals"), || {
        format!(
            "the access token {} the noted one",
            if same { "equals" } else { "differs from" }
        )
    })
}

#[then(regex = r"^the list has (\d+) sessions? of (\d+) in total$")]
async fn the_list_has(w: &mut World, n: usize, total: u64) -> StepResult {
    let page: ListedSessions = w.last_ok(MAIN, "list_sessions")?;
    ensure(page.sessions.len() == n && page.total == total, || {
        format!(
            "expected {n} sessions of {total}, got {} of {}",
            page.sessions.len(),
            page.total
        )
    })
}

#[then(regex = r#"^the list shows the "([^"]+)" device as "([a-z_]+)"$"#)]
async fn the_list_shows_the_device_as(w: &mut World, kind: String, shown: String) -> StepResult {
    let id = w
        .noted
        .get(&format!("device/{kind}"))
        .cloned()
        .ok_or_else(|| StepError::failed(format!("no device with type {kind:?} was set up")))?;
    let page: ListedSessions = w.last_ok(MAIN, "list_sessions")?;
    let found = page
        .sessions
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| StepError::failed(format!("the {kind:?} session is not listed")))?;
    ensure(found.device_type == shown, || {
        format!(
            "the {kind:?} device is shown as {:?}, expected {shown:?}",
            found.device_type
        )
    })
}

#[then(
    regex = r#"^the list includes (the client's|the other device's) session(?: as a "([a-z]+)" device)?$"#
)]
async fn the_list_includes(w: &mut World, whose: String, kind: String) -> StepResult {
    let id = if whose.starts_with("the client") {
        w.main_sid()?
    } else {
        w.other_device_sid()?
    };
    let page: ListedSessions = w.last_ok(MAIN, "list_sessions")?;
    let Some(found) = page.sessions.iter().find(|s| s.id == id) else {
        let ids: Vec<&str> = page.sessions.iter().map(|s| s.id.as_str()).collect();
        return Err(StepError::failed(format!("session not listed in {ids:?}")));
    };
    match optional(&kind) {
        Some(kind) => ensure(found.device_type == kind, || {
            format!("expected device type {kind:?}, got {:?}", found.device_type)
        }),
        None => Ok(()),
    }
}

fn burst_size(w: &World, n: &str) -> StepResult {
    if let Some(n) = number::<usize>(n) {
        ensure(w.burst.len() == n, || {
            format!("expected {n} results, got {}", w.burst.len())
        })?;
    }
    ensure(!w.burst.is_empty(), || "no burst was made".to_owned())
}

/// Every result of the burst must be a success.
fn burst_succeeded(w: &World, n: &str) -> StepResult {
    burst_size(w, n)?;
    let failures: Vec<String> = w
        .burst
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    ensure(failures.is_empty(), || {
        format!(
            "{} of {} callers failed, e.g. {}",
            failures.len(),
            w.burst.len(),
            failures[0]
        )
    })
}

async fn subscriber_events(w: &World, name: &str, label: &str) -> Result<Vec<String>, StepError> {
    let subscription = subscription(w, name, label)?;
    let answer: Events = w.must_as(name, Op::Events { subscription }).await?;
    Ok(answer.events)
}

fn judge_failure(
    outcome: &Result<serde_json::Value, SdkError>,
    kind: Option<&str>,
    code: Option<&str>,
) -> StepResult {
    let Err(e) = outcome else {
        return Err(StepError::failed(
            "expected the call to fail, but it succeeded",
        ));
    };
    ensure(kind.is_none_or(|k| e.kind.name() == k), || {
        format!("expected kind {kind:?}, got {e}")
    })?;
    ensure(code.is_none_or(|c| e.code.as_deref() == Some(c)), || {
        format!("expected code {code:?}, got {e}")
    })
}
