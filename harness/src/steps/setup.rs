//! Setup steps: the user, the server's policy, injected faults and other devices, all
//! through the control API.

use prelude_mock_server::{Fault, FaultAction, NonceMode, Route};

use super::{StepError, StepResult, number, pattern};
use crate::raw::RawSession;
use crate::world::{TestUser, World};

pub(crate) async fn run(w: &mut World, text: &str) -> Option<StepResult> {
    if pattern!("a mock Prelude server").is_match(text) {
        // The runner starts one per scenario; the step is there for readers.
        return Some(Ok(()));
    }
    if pattern!("a registered user").is_match(text) {
        return Some(register(w).await);
    }
    if let Some(c) =
        pattern!(r"the server (?:requires|starts requiring) (?P<rotating>rotating )?DPoP nonces")
            .captures(text)
    {
        let mode = if c.name("rotating").is_some() {
            NonceMode::Rotating
        } else {
            NonceMode::Required
        };
        return Some(policy(w, |p| p.nonce_mode = mode).await);
    }
    if pattern!(r"the server binds access tokens to the session's DPoP key").is_match(text) {
        return Some(policy(w, |p| p.bind_access_tokens = true).await);
    }
    if let Some(c) =
        pattern!(r"the server issues access tokens that live (?P<n>\d+) seconds").captures(text)
    {
        let ttl: i64 = number(&c, "n");
        w.access_ttl = Some(ttl);
        return Some(policy(w, |p| p.access_token_ttl_seconds = ttl).await);
    }
    if let Some(c) = pattern!(
        r"the server's clock (?:jumps|is) (?P<n>\d+) minutes (?P<way>ahead|behind)(?: the client's)?"
    )
    .captures(text)
    {
        let minutes: i64 = number(&c, "n");
        let seconds = if &c["way"] == "ahead" { minutes * 60 } else { -minutes * 60 };
        return Some(advance_clock(w, seconds).await);
    }
    if let Some(c) = pattern!(
        r#"another device of the same user has a session with device type "(?P<kind>[^"]+)""#
    )
    .captures(text)
    {
        return Some(
            async {
                let user_id = w.user()?.id.clone();
                let sid = w
                    .control
                    .create_device_session(&user_id, Some(&c["kind"]), None)
                    .await
                    .map_err(|e| StepError::failed(format!("control API: {e}")))?;
                w.noted.insert(format!("device/{}", &c["kind"]), sid);
                Ok(())
            }
            .await,
        );
    }
    if let Some(c) =
        pattern!(r"the server rotates its signing key, keeping the old one for (?P<n>\d+) seconds")
            .captures(text)
    {
        return Some(
            w.control
                .rotate_signing_key(number(&c, "n"))
                .await
                .map(drop)
                .map_err(|e| StepError::failed(format!("cannot rotate the signing key: {e}"))),
        );
    }
    if let Some(c) = pattern!(r"(?P<n>\d+) seconds pass on the server's clock").captures(text) {
        return Some(advance_clock(w, number(&c, "n")).await);
    }
    if let Some(c) =
        pattern!(r"the server has a refresh token reuse grace window of (?P<n>\d+) seconds")
            .captures(text)
    {
        let seconds: u64 = number(&c, "n");
        w.reuse_grace = Some(seconds);
        let grace = i64::try_from(seconds).unwrap_or(i64::MAX);
        return Some(policy(w, |p| p.reuse_grace_seconds = grace).await);
    }
    if let Some(c) = pattern!(
        r#"the next (?:(?P<n>\d+) )?(?P<route>[a-z -]+?) requests? fails? with status (?P<status>\d+) "(?P<code>[a-z_]+)"(?: and Retry-After (?P<after>\d+))?"#
    )
    .captures(text)
    {
        let times = number::<u32>(&c, "n").max(1);
        let action = match c.name("after") {
            Some(_) => FaultAction::error_with_retry_after(
                number(&c, "status"),
                &c["code"],
                number(&c, "after"),
            ),
            None => FaultAction::error(number(&c, "status"), &c["code"]),
        };
        return Some(fault(w, &c["route"], action, times).await);
    }
    if let Some(c) = pattern!(r"the next (?P<route>[a-z -]+?) is committed but its answer is lost")
        .captures(text)
    {
        return Some(fault(w, &c["route"], FaultAction::CommitThenDrop, 1).await);
    }
    if let Some(c) =
        pattern!(r"the connection of the next (?P<route>[a-z -]+?) is reset").captures(text)
    {
        return Some(fault(w, &c["route"], FaultAction::Reset, 1).await);
    }
    if let Some(c) =
        pattern!(r"the next (?P<route>[a-z -]+?) is delayed by (?P<ms>\d+) ms").captures(text)
    {
        let action = FaultAction::Delay {
            ms: number(&c, "ms"),
        };
        return Some(fault(w, &c["route"], action, 1).await);
    }
    if let Some(c) = pattern!(
        r"(?:another device|(?P<n>\d+) other devices) of the same user (?:is|are) logged in(?: as (?P<ua>.+))?"
    )
    .captures(text)
    {
        let n = number::<usize>(&c, "n").max(1);
        let ua = c.name("ua").map(|m| m.as_str().to_owned());
        return Some(devices(w, n, ua.as_deref()).await);
    }
    if let Some(c) = pattern!(
        r"the server (?P<what>revokes the client's session|expires the client's access token)"
    )
    .captures(text)
    {
        return Some(
            async {
                let sid = w.main_sid()?;
                let done = if c["what"].starts_with("revokes") {
                    w.control.revoke_session(&sid).await
                } else {
                    w.control.expire_access(&sid).await
                };
                done.map_err(|e| StepError::failed(format!("control API: {e}")))
            }
            .await,
        );
    }
    if pattern!(r"the user is blocked").is_match(text) {
        return Some(
            async {
                let id = w.user()?.id.clone();
                w.control
                    .terminate_user(&id)
                    .await
                    .map_err(|e| StepError::failed(format!("control API: {e}")))
            }
            .await,
        );
    }
    None
}

/// Moves the server's virtual clock (the SDK's own clock stays where it is).
async fn advance_clock(w: &World, seconds: i64) -> StepResult {
    w.control
        .advance_clock(seconds)
        .await
        .map(drop)
        .map_err(|e| StepError::failed(format!("cannot move the server clock: {e}")))
}

async fn register(w: &mut World) -> StepResult {
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
    let fault = Fault::new(route(words)?, action).times(times);
    w.control
        .add_fault(&fault)
        .await
        .map_err(|e| StepError::failed(format!("cannot inject the fault: {e}")))
}

async fn devices(w: &mut World, n: usize, ua: Option<&str>) -> StepResult {
    let user_id = w.user()?.id.clone();
    let api = w.api_url();
    for _ in 0..n {
        let device = RawSession::login(&w.http, &api, &w.control, &user_id, ua).await?;
        w.devices.push(device);
    }
    Ok(())
}
