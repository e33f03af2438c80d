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

#[then(regex = r"^the refresh retries waited at least (\d+) ms in all$")]
async fn retries_waited_in_all(w: &mut World, floor: u64) -> StepResult {
    // Judged on the sum, not per retry: with jitter (AWS's "full jitter" draws each delay
    // from [0, cap]) one delay may be near zero, but many of them cannot all be.
    if w.retry_waits.is_empty() {
        return Err(StepError::Skipped(
            "the SDK does not retry a failed refresh within the call (it surfaces the error, as \
             Prelude's native SDKs do): there is no backoff to judge"
                .into(),
        ));
    }
    let total: u64 = w.retry_waits.iter().sum();
    ensure(total >= floor, || {
        format!(
            "{} retries waited {total} ms in all (each: {:?} ms), expected at least {floor} ms: \
             no backoff",
            w.retry_waits.len(),
            w.retry_waits
        )
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
    regex = r"^the server (received|accepted|challenged) (?:exactly (\d+)|no|between (\d+) and (\d+)|at least (\d+)|at most (\d+)) ([a-z -]+?) requests?( for a nonce)?( in the last step)?$"
)]
#[allow(clippy::too_many_arguments, reason = "one argument per regex group")]
async fn requests_counted(
    w: &mut World,
    verb: String,
    n: String,
    lo: String,
    hi: String,
    at_least: String,
    at_most: String,
    words: String,
    for_a_nonce: String,
    last_step: String,
) -> StepResult {
    if (verb == "challenged") == for_a_nonce.is_empty() {
        return Err(StepError::failed(
            "say \"challenged ... for a nonce\", or \"received\"/\"accepted\" without it",
        ));
    }
    let route = Some(route(&words)?);
    let entries = if last_step.is_empty() {
        w.journal(route).await?
    } else {
        w.step_journal(route).await?
    };
    let seen = entries
        .iter()
        .filter(|e| match verb.as_str() {
            "accepted" => e.verdict == Verdict::Accepted,
            "challenged" => e.code.as_deref() == Some("use_dpop_nonce"),
            _ => true,
        })
        .count();
    let (lo, hi) = match (number(&n), number(&lo), number(&at_least), number(&at_most)) {
        (Some(n), ..) => (n, n),
        (None, Some(lo), ..) => (lo, number(&hi).unwrap_or(lo)),
        (None, None, Some(lo), _) => (lo, usize::MAX),
        (None, None, None, Some(hi)) => (0, hi),
        (None, None, None, None) => (0, 0),
    };
    let suffix = if for_a_nonce.is_empty() {
        ""
    } else {
        " for a nonce"
    };
    ensure((lo..=hi).contains(&seen), || {
        format!(
            "the server {verb} {seen} {words} requests{suffix}, expected {}",
            match (lo, hi) {
                (lo, hi) if lo == hi => lo.to_string(),
                (lo, usize::MAX) => format!("at least {lo}"),
                (0, hi) => format!("at most {hi}"),
                (lo, hi) => format!("{lo} to {hi}"),
            }
        )
    })
}

#[then(regex = r"^the client refreshed at most once per quarter of the access token's lifetime$")]
async fn refresh_rate_bounded(w: &mut World) -> StepResult {
    // The server's exp is floor(now) + ttl, so a token may live a second less than its ttl;
    // an SDK keeping its token always fresh may refresh at half of that. A quarter leaves
    // room for every reasonable schedule and none for a storm.
    let ttl = w
        .access_ttl
        .ok_or_else(|| StepError::failed("the scenario set no access-token lifetime"))?;
    let quarter_ms = u64::try_from((ttl - 1).max(1) * 1000 / 4)
        .unwrap_or(1)
        .max(1);
    let login = w
        .whole_journal(Some(Route::LoginFinalize))
        .await?
        .into_iter()
        .rfind(|e| e.verdict == Verdict::Accepted)
        .ok_or_else(|| StepError::failed("no accepted login"))?;
    let refreshes = w.journal(Some(Route::Refresh)).await?;
    let Some(last) = refreshes.last() else {
        return Ok(());
    };
    let window = last.received_ms.saturating_sub(login.received_ms);
    let bound = 2 + usize::try_from(window / quarter_ms).unwrap_or(usize::MAX);
    ensure(refreshes.len() <= bound, || {
        format!(
            "{} refresh requests in {window} ms for tokens living {ttl} s: at most {bound} \
             (one per {quarter_ms} ms) expected",
            refreshes.len()
        )
    })
}

#[then(regex = r"^every request the server received carried the same X-Device-Id$")]
async fn one_device_id(w: &mut World) -> StepResult {
    let entries = w.whole_journal(None).await?;
    let ids: Vec<Option<&str>> = entries
        .iter()
        .filter(|e| e.route.is_some())
        .map(|e| e.device_id.as_deref())
        .collect();
    let missing = ids.iter().filter(|id| id.is_none()).count();
    ensure(missing == 0, || {
        format!("{missing} of {} requests carried no X-Device-Id", ids.len())
    })?;
    let distinct: HashSet<_> = ids.into_iter().flatten().collect();
    ensure(distinct.len() <= 1, || {
        format!(
            "the requests carried {} different X-Device-Id values",
            distinct.len()
        )
    })
}

#[then(regex = r"^no message the SDK gave contained a secret$")]
async fn no_secret_in_messages(w: &mut World) -> StepResult {
    let seen = w.seen.snapshot();
    let refresh_tokens: HashSet<String> = w
        .whole_journal(None)
        .await?
        .into_iter()
        .filter_map(|e| e.refresh_token)
        .collect();
    let password = w.user()?.password.clone();
    let leaks = seen.messages.iter().find_map(|message| {
        if message.contains(&password) {
            return Some("the password");
        }
        if seen
            .access_tokens
            .iter()
            .any(|t| t.len() >= 16 && message.contains(t.as_str()))
        {
            return Some("an access token");
        }
        // The journal keeps refresh tokens as fingerprints: fingerprint every word.
        message
            .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .filter(|word| word.len() >= 16)
            .any(|word| refresh_tokens.contains(&prelude_mock_server::raw::token_fingerprint(word)))
            .then_some("a refresh token")
    });
    // Never print the message: it holds the secret.
    ensure(leaks.is_none(), || {
        format!(
            "an SDK error message repeated {}",
            leaks.unwrap_or("a secret")
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

#[then(
    regex = r"^(the client's|the client's previous|the other device's) session is (revoked|active) on the server$"
)]
async fn session_state_on_server(w: &mut World, whose: String, how: String) -> StepResult {
    let sid = match whose.as_str() {
        "the client's" => w.main_sid()?,
        "the client's previous" => w
            .previous_sids
            .last()
            .cloned()
            .ok_or_else(|| StepError::failed("the client has logged in only once"))?,
        _ => w.other_device_sid()?,
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
    in_flight(w, Route::Refresh).await
}

/// Waits (up to 10 s) until the server holds a request to `route` it has not answered yet.
pub(crate) async fn in_flight(w: &World, route: Route) -> StepResult {
    for _ in 0..1000 {
        if stats(w).await?.in_flight.get(&route).copied().unwrap_or(0) > 0 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(StepError::failed(format!(
        "no {route:?} request reached the server within 10 s"
    )))
}

async fn stats(w: &World) -> Result<prelude_mock_server::Stats, StepError> {
    w.control
        .stats()
        .await
        .map_err(|e| StepError::failed(format!("cannot read the server stats: {e}")))
}
