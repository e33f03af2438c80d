//! Setup steps: the user, the server's policy, injected faults and other devices, all
//! through the control API.

use cucumber::gherkin::Step;
use cucumber::{given, when};
use prelude_mock_server::{Fault, FaultAction, NonceMode, Route};

use super::{StepError, StepResult, number, optional};
use crate::raw;
use crate::world::{TestUser, World};

#[given(regex = r"^a mock Prelude server$")]
fn a_mock_server(_w: &mut World) {
    // The runner starts one per scenario; the step is there for readers.
}

#[given(regex = r"^a registered user$")]
async fn a_registered_user(w: &mut World) -> StepResult {
    let email = format!("user-{}@example.com", crate::random_hex(6));
    let password = format!("pw-{}", crate::random_hex(6));
    let user = w
        .control
        .create_user(&email, &password)
        .await
        .map_err(|e| StepError::failed(format!("cannot create the user: {e}")))?;
    w.user = Some(TestUser {
        id: user.id,
        email,
        password,
    });
    Ok(())
}

#[given(regex = r"^the server (?:requires|starts requiring) (rotating )?DPoP nonces$")]
async fn the_server_requires_nonces(w: &mut World, rotating: String) -> StepResult {
    let mode = if rotating.is_empty() {
        NonceMode::Required
    } else {
        NonceMode::Rotating
    };
    policy(w, |p| p.nonce_mode = mode).await
}

#[given(
    regex = r"^the server requires rotating DPoP nonces that change every (\d+) seconds, the last (\d+) accepted$"
)]
async fn the_server_rotates_nonces_every(w: &mut World, seconds: i64, history: u32) -> StepResult {
    policy(w, |p| {
        p.nonce_mode = NonceMode::Rotating;
        p.nonce_rotation_seconds = seconds;
        p.nonce_history = history;
    })
    .await
}

#[given(regex = r"^the server's DPoP nonce rotates$")]
#[when(regex = r"^the server's DPoP nonce rotates$")]
async fn the_nonce_rotates(w: &mut World, #[step] step: &Step) -> StepResult {
    w.act_as(step).await?;
    let every = w
        .control
        .policy()
        .await
        .map_err(|e| StepError::failed(format!("cannot read the policy: {e}")))?
        .nonce_rotation_seconds
        .max(1);
    let now = raw::server_now(&w.control)
        .await
        .map_err(StepError::failed)?;
    // To the first second of the next slot: the nonce changes, and the iat window still
    // covers the SDK's unmoved clock.
    advance_clock(w, every - now.rem_euclid(every)).await
}

#[given(regex = r"^the server answers DPoP errors on session routes as RFC 9449 challenges$")]
async fn rfc9449_resource_errors(w: &mut World) -> StepResult {
    policy(w, |p| p.rfc9449_resource_errors = true).await
}

#[given(regex = r"^the client backs off from (\d+) ms$")]
fn the_client_backs_off_from(w: &mut World, ms: u64) {
    w.retry_base_delay_ms = ms;
}

#[given(regex = r"^the client is configured with its server URL in mixed case$")]
async fn configured_in_mixed_case(w: &mut World) -> StepResult {
    w.client_base_url = Some(mixed_case(&w.base_url));
    w.ensure_configured(crate::world::MAIN).await
}

/// `http://localhost:1234/x` as `HTTP://LOCALHOST:1234/x`: scheme and host are
/// case-insensitive (RFC 3986 §6.2.2.1), the path is not.
fn mixed_case(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let host_end = rest.find([':', '/']).unwrap_or(rest.len());
    format!(
        "{}://{}{}",
        scheme.to_uppercase(),
        rest[..host_end].to_uppercase(),
        &rest[host_end..]
    )
}

#[given(regex = r"^the server binds access tokens to the session's DPoP key$")]
async fn the_server_binds_access_tokens(w: &mut World) -> StepResult {
    policy(w, |p| p.bind_access_tokens = true).await
}

#[given(regex = r"^the server issues access tokens that live (\d+) seconds$")]
async fn access_tokens_live(w: &mut World, ttl: i64) -> StepResult {
    w.access_ttl = Some(ttl);
    policy(w, |p| p.access_token_ttl_seconds = ttl).await
}

#[given(
    regex = r"^the server's clock (?:jumps|is) (\d+) minutes (ahead|behind|back)(?: of)?(?: the client's)?$"
)]
#[when(
    regex = r"^the server's clock (?:jumps|is) (\d+) minutes (ahead|behind|back)(?: of)?(?: the client's)?$"
)]
async fn the_server_clock_moves(
    w: &mut World,
    #[step] step: &Step,
    minutes: i64,
    way: String,
) -> StepResult {
    w.act_as(step).await?;
    let seconds = if way == "ahead" {
        minutes * 60
    } else {
        -minutes * 60
    };
    advance_clock(w, seconds).await
}

#[given(regex = r#"^another device of the same user has a session with device type "([^"]+)"$"#)]
async fn a_device_session_of_type(w: &mut World, kind: String) -> StepResult {
    let user_id = w.user()?.id.clone();
    let sid = w
        .control
        .create_device_session(&user_id, Some(&kind), None)
        .await
        .map_err(|e| StepError::failed(format!("control API: {e}")))?;
    w.noted.insert(format!("device/{kind}"), sid);
    Ok(())
}

#[given(regex = r"^the server rotates its signing key, keeping the old one for (\d+) seconds$")]
#[when(regex = r"^the server rotates its signing key, keeping the old one for (\d+) seconds$")]
async fn the_server_rotates_its_key(
    w: &mut World,
    #[step] step: &Step,
    overlap: i64,
) -> StepResult {
    w.act_as(step).await?;
    w.control
        .rotate_signing_key(overlap)
        .await
        .map(drop)
        .map_err(|e| StepError::failed(format!("cannot rotate the signing key: {e}")))
}

#[when(regex = r"^(\d+) seconds pass on the server's clock$")]
async fn seconds_pass_on_the_server(w: &mut World, seconds: i64) -> StepResult {
    w.act().await?;
    advance_clock(w, seconds).await
}

#[given(regex = r"^the server has a refresh token reuse grace window of (\d+) seconds$")]
async fn a_reuse_grace_window(w: &mut World, seconds: u64) -> StepResult {
    w.reuse_grace = Some(seconds);
    let grace = i64::try_from(seconds).unwrap_or(i64::MAX);
    policy(w, |p| p.reuse_grace_seconds = grace).await
}

#[given(
    regex = r#"^the (next|second) (?:(\d+) )?([a-z -]+?) requests? fails? with status (\d+) "([a-z_]+)"(?: and Retry-After (\d+))?$"#
)]
async fn the_next_requests_fail(
    w: &mut World,
    which: String,
    times: String,
    words: String,
    status: u16,
    code: String,
    after: String,
) -> StepResult {
    let times = number::<u32>(&times).unwrap_or(1).max(1);
    let action = match number(&after) {
        Some(after) => FaultAction::error_with_retry_after(status, &code, after),
        None => FaultAction::error(status, &code),
    };
    // "the second": the first request goes through untouched (a challenge's retry fails).
    let skip = u32::from(which == "second");
    add_fault(
        w,
        Fault::new(route(&words)?, action).times(times).after(skip),
    )
    .await
}

#[given(regex = r"^the next ([a-z -]+?) is answered (\d+) ms late$")]
async fn the_next_answer_is_late(w: &mut World, route: String, ms: u64) -> StepResult {
    fault(w, &route, FaultAction::CommitThenDelay { ms }, 1).await
}

#[given(regex = r"^the next list answer carries members the SDK does not know$")]
async fn the_next_list_has_unknown_members(w: &mut World) -> StepResult {
    // A newer server's answer: a top-level member and one on every session the SDK has
    // never heard of.
    let action = FaultAction::amend()
        .merge(serde_json::json!({ "region": "eu-west-3", "links": { "self": "/v1/session/me/list" } }))
        .merge_each(
            "sessions",
            serde_json::json!({ "trust_level": "high", "geo": { "country": "FR" } }),
        );
    fault(w, "list", action, 1).await
}

#[given(regex = r"^the next ([a-z -]+?) is committed but its answer is lost$")]
async fn the_next_answer_is_lost(w: &mut World, route: String) -> StepResult {
    fault(w, &route, FaultAction::CommitThenDrop, 1).await
}

#[given(regex = r"^the connection of the next ([a-z -]+?) is reset$")]
async fn the_next_connection_is_reset(w: &mut World, route: String) -> StepResult {
    fault(w, &route, FaultAction::Reset, 1).await
}

#[given(regex = r"^the next ([a-z -]+?) is delayed by (\d+) ms$")]
async fn the_next_request_is_delayed(w: &mut World, route: String, ms: u64) -> StepResult {
    fault(w, &route, FaultAction::Delay { ms }, 1).await
}

#[given(
    regex = r"^(?:another device|(\d+) other devices) of the same user (?:is|are) logged in(?: as (.+))?$"
)]
async fn other_devices_are_logged_in(w: &mut World, n: String, ua: String) -> StepResult {
    let n = number::<usize>(&n).unwrap_or(1).max(1);
    let user_id = w.user()?.id.clone();
    let api = w.api_url();
    for _ in 0..n {
        let device = raw::login(&w.http, &api, &w.control, &user_id, optional(&ua)).await?;
        w.devices.push(device);
    }
    Ok(())
}

#[given(regex = r"^the server (revokes the client's session|expires the client's access token)$")]
async fn the_server_ends_the_session(w: &mut World, what: String) -> StepResult {
    let sid = w.main_sid()?;
    let done = if what.starts_with("revokes") {
        w.control.revoke_session(&sid).await
    } else {
        w.control.expire_access(&sid).await
    };
    done.map_err(|e| StepError::failed(format!("control API: {e}")))
}

#[given(regex = r"^the user is blocked$")]
async fn the_user_is_blocked(w: &mut World) -> StepResult {
    let id = w.user()?.id.clone();
    w.control
        .terminate_user(&id)
        .await
        .map_err(|e| StepError::failed(format!("control API: {e}")))
}

/// Moves the server's virtual clock (the SDK's own clock stays where it is).
async fn advance_clock(w: &World, seconds: i64) -> StepResult {
    w.control
        .advance_clock(seconds)
        .await
        .map(drop)
        .map_err(|e| StepError::failed(format!("cannot move the server clock: {e}")))
}

async fn policy(w: &World, change: impl FnOnce(&mut prelude_mock_server::Policy)) -> StepResult {
    w.control
        .update_policy(change)
        .await
        .map(drop)
        .map_err(|e| StepError::failed(format!("cannot change the server policy: {e}")))
}

/// The route a step names in words.
pub(crate) fn route(words: &str) -> Result<Route, StepError> {
    Ok(match words.trim() {
        "refresh" | "refreshes" => Route::Refresh,
        "logout" | "logouts" => Route::Revoke,
        "finalize" | "login" => Route::LoginFinalize,
        "password login" => Route::LoginPassword,
        "list" | "session list" => Route::MeList,
        "session revoke" | "session revokes" => Route::MeRevoke,
        other => return Err(StepError::failed(format!("unknown route {other:?}"))),
    })
}

async fn fault(w: &World, words: &str, action: FaultAction, times: u32) -> StepResult {
    add_fault(w, Fault::new(route(words)?, action).times(times)).await
}

pub(super) async fn add_fault(w: &World, fault: Fault) -> StepResult {
    w.control
        .add_fault(&fault)
        .await
        .map_err(|e| StepError::failed(format!("cannot inject the fault: {e}")))
}
