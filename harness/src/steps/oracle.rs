//! Oracle steps: what the server saw, from its journal and stats. Counts start at the
//! scenario's first `When` (the world's mark), so setup traffic never blurs them.

use std::collections::HashSet;

use cucumber::then;
use prelude_mock_server::{Route, Verdict};

use super::setup::route;
use super::{StepError, StepResult, ensure, number};
use crate::protocol::UserInfo;
use crate::world::{MAIN, World};

#[then(regex = r"^the server received (?:exactly (\d+)|no) OTP (start|check|retry) requests?$")]
async fn otp_requests(w: &mut World, n: String, what: String) -> StepResult {
    // Either generation of Prelude's OTP routes counts.
    let routes = match what.as_str() {
        "start" => [Route::Otp, Route::LoginOtp],
        "check" => [Route::OtpCheck, Route::LoginOtpCheck],
        _ => [Route::OtpRetry, Route::LoginOtpRetry],
    };
    let seen = w
        .journal(None)
        .await?
        .iter()
        .filter(|e| e.route.is_some_and(|r| routes.contains(&r)))
        .count();
    let want: usize = number(&n).unwrap_or(0);
    ensure(seen == want, || {
        format!("the server received {seen} OTP {what} requests, expected {want}")
    })
}

#[then(regex = r"^the refresh retries waited longer each time$")]
async fn retries_waited_longer(w: &mut World) -> StepResult {
    let gaps = gaps(w, Route::Refresh).await?;
    ensure(gaps.len() >= 2, || {
        format!("expected at least 2 retries, saw {} gaps", gaps.len())
    })?;
    ensure(gaps.iter().all(|g| *g >= MIN_RETRY_GAP_MS), || {
        format!("a retry came back to back (gaps {gaps:?} ms): no backoff")
    })?;
    ensure(gaps.windows(2).all(|p| p[1] > p[0]), || {
        format!("the gaps between retries did not grow: {gaps:?} ms")
    })
}

#[then(regex = r"^no refresh retry came sooner than (\d+) seconds? after the previous request$")]
async fn retry_after_honoured(w: &mut World, seconds: u64) -> StepResult {
    let gaps = gaps(w, Route::Refresh).await?;
    // Retry-After has one-second resolution and the journal's clock reads milliseconds.
    let floor = seconds * 1000 - 50;
    ensure(gaps.iter().all(|g| *g >= floor), || {
        format!("a retry came after {gaps:?} ms, before Retry-After elapsed")
    })
}

#[then(regex = r"^the refresh came before the first access token expired$")]
async fn refresh_before_expiry(w: &mut World) -> StepResult {
    let ttl = w
        .access_ttl
        .ok_or_else(|| StepError::failed("the scenario set no access-token lifetime"))?;
    let login = w
        .whole_journal(Some(Route::LoginFinalize))
        .await?
        .into_iter()
        .rfind(|e| e.verdict == Verdict::Accepted)
        .ok_or_else(|| StepError::failed("no accepted login"))?;
    let refresh = w
        .journal(Some(Route::Refresh))
        .await?
        .into_iter()
        .find(|e| e.verdict == Verdict::Accepted)
        .ok_or_else(|| StepError::failed("the server accepted no refresh"))?;
    ensure(refresh.at < login.at + ttl, || {
        format!(
            "the refresh came {} s after login, the token lived {ttl} s",
            refresh.at - login.at
        )
    })
}

#[then(regex = r"^the access token the client returned is accepted by the server$")]
async fn returned_token_accepted(w: &mut World) -> StepResult {
    let user: UserInfo = w.last_ok(MAIN, "refresh")?;
    let status = w
        .http
        .get(format!("{}/me/list", w.api_url()))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .map_err(|e| StepError::failed(format!("cannot reach the server: {e}")))?
        .status();
    if status.is_success() {
        return Ok(());
    }
    // The server counts whole seconds: a token returned in its last second may expire before
    // this check reaches the server. Such a token was valid when returned; a stale one had
    // expired a second or more before.
    let now = crate::raw::server_now(&w.control)
        .await
        .map_err(StepError::failed)?;
    let exp = prelude_mock_server::raw::claims(&user.access_token)
        .and_then(|claims| claims["exp"].as_i64());
    let genuine = crate::raw::verify_with_jwks(&w.http, &w.base_url, &user.access_token)
        .await
        .is_ok();
    ensure(genuine && exp.is_some_and(|exp| exp >= now), || match exp {
        Some(exp) if exp < now => format!(
            "the server answered {status} to the access token the client returned: it had \
             expired {} s before",
            now - exp
        ),
        _ => format!("the server answered {status} to the access token the client returned"),
    })
}

#[then(
    regex = r"^the server (received|accepted) (?:exactly (\d+)|no|between (\d+) and (\d+)) ([a-z -]+?) requests?$"
)]
async fn requests_counted(
    w: &mut World,
    verb: String,
    n: String,
    lo: String,
    hi: String,
    words: String,
) -> StepResult {
    let accepted_only = verb == "accepted";
    let seen = w
        .journal(Some(route(&words)?))
        .await?
        .iter()
        .filter(|e| !accepted_only || e.verdict == Verdict::Accepted)
        .count();
    let (lo, hi) = match (number(&n), number(&lo)) {
        (Some(n), _) => (n, n),
        (None, Some(lo)) => (lo, number(&hi).unwrap_or(lo)),
        (None, None) => (0, 0),
    };
    ensure((lo..=hi).contains(&seen), || {
        format!(
            "the server {verb} {seen} {words} requests, expected {}",
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo} to {hi}")
            }
        )
    })
}

#[then(regex = r"^the server received no requests(?: at all)?$")]
async fn no_requests(w: &mut World) -> StepResult {
    let seen = w.journal(None).await?;
    ensure(seen.is_empty(), || {
        format!(
            "the server received {} requests: {:?}",
            seen.len(),
            seen.iter().map(|e| &e.path).collect::<Vec<_>>()
        )
    })
}

#[then(regex = r"^the server created exactly (\d+) sessions?$")]
async fn sessions_created(w: &mut World, n: usize) -> StepResult {
    // Sessions start at finalize, or at the legacy OTP check.
    let created = w
        .journal(None)
        .await?
        .iter()
        .filter(|e| {
            e.verdict == Verdict::Accepted
                && matches!(e.route, Some(Route::LoginFinalize | Route::LoginOtpCheck))
        })
        .count();
    ensure(created == n, || {
        format!("the server created {created} sessions")
    })
}

#[then(regex = r"^no refresh token was presented twice$")]
async fn no_token_presented_twice(w: &mut World) -> StepResult {
    let entries = w.whole_journal(Some(Route::Refresh)).await?;
    let mut seen = HashSet::new();
    let twice = entries
        .iter()
        .filter_map(|e| e.refresh_token.as_ref())
        .filter(|t| !seen.insert(*t))
        .count();
    ensure(twice == 0, || {
        format!("{twice} refresh requests presented a token that was presented before")
    })
}

#[then(regex = r"^the server detected (?:no|(\d+)) refresh token reuses?$")]
async fn reuses_detected(w: &mut World, n: String) -> StepResult {
    let reuse = stats(w).await?.reuse_detected;
    ensure(reuse == number::<u64>(&n).unwrap_or(0), || {
        format!("the server detected {reuse} refresh token reuses")
    })
}

#[then(regex = r"^the server reissued (\d+) refresh tokens? inside the grace window$")]
async fn grace_reissues(w: &mut World, n: u64) -> StepResult {
    let reissued = stats(w).await?.grace_reissues;
    ensure(reissued == n, || {
        format!("the server reissued {reissued} tokens inside the grace window")
    })
}

#[then(regex = r"^(the client's|the other device's) session is (revoked|active) on the server$")]
async fn session_state_on_server(w: &mut World, whose: String, how: String) -> StepResult {
    let sid = if whose.starts_with("the client") {
        w.main_sid()?
    } else {
        w.other_device_sid()?
    };
    let session = w
        .server_sessions()
        .await?
        .into_iter()
        .find(|s| s.id == sid)
        .ok_or_else(|| StepError::failed("the server does not know the session"))?;
    let revoked = session.revoked.is_some();
    ensure(revoked == (how == "revoked"), || {
        format!(
            "the session is {} on the server",
            if revoked { "revoked" } else { "active" }
        )
    })
}

#[then(regex = r"^the server counted (\d+) logouts?$")]
async fn logouts_counted(w: &mut World, n: u64) -> StepResult {
    let logouts = stats(w).await?.logouts;
    ensure(logouts == n, || {
        format!("the server counted {logouts} logouts")
    })
}

#[then(regex = r"^the server rejected (\d+) replayed proofs?$")]
async fn replays_rejected(w: &mut World, n: u64) -> StepResult {
    let rejected = stats(w).await?.replays_rejected;
    ensure(rejected == n, || {
        format!("the server rejected {rejected} replayed proofs")
    })
}

/// The smallest gap between retries that still counts as waiting.
const MIN_RETRY_GAP_MS: u64 = 10;

/// Milliseconds between consecutive requests to `route` since the mark (real time).
async fn gaps(w: &World, route: Route) -> Result<Vec<u64>, StepError> {
    let entries = w.journal(Some(route)).await?;
    Ok(entries
        .windows(2)
        .map(|p| p[1].received_ms.saturating_sub(p[0].received_ms))
        .collect())
}

/// Waits (up to 10 s) until the server holds a refresh request it has not answered yet.
pub(crate) async fn refresh_in_flight(w: &World) -> StepResult {
    for _ in 0..1000 {
        if stats(w)
            .await?
            .in_flight
            .get(&Route::Refresh)
            .copied()
            .unwrap_or(0)
            > 0
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(StepError::failed(
        "no refresh reached the server within 10 s",
    ))
}

async fn stats(w: &World) -> Result<prelude_mock_server::Stats, StepError> {
    w.control
        .stats()
        .await
        .map_err(|e| StepError::failed(format!("cannot read the server stats: {e}")))
}
