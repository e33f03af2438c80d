//! Client action steps: drive the SDK through the driver (login, refresh, bursts, logout,
//! revoke, list, authorised requests, restart, dispose, OTP, subscriptions). What they
//! returned and stored is judged in `verdict`.

use cucumber::gherkin::Step;
use cucumber::{given, when};
use futures_util::future::join_all;

use super::{StepError, StepResult, Who, number, optional};
use crate::protocol::{AccessToken, Op, RevokeKind, SdkErrorKind, Subscription, UserInfo};
use crate::world::{Answer, MAIN, World};

// --- configuration and login

#[given(regex = r#"^(?:the client|client "([a-z0-9_-]+)") is configured$"#)]
async fn is_configured(w: &mut World, who: Who) -> StepResult {
    w.ensure_configured(who.name()).await
}

#[given(regex = r#"^(?:the client|client "([a-z0-9_-]+)") is logged in$"#)]
async fn is_logged_in(w: &mut World, who: Who) -> StepResult {
    login(w, who.name(), false, true).await
}

#[given(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)") logs in(?: again)?( with a wrong password)?$"#
)]
#[when(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)") logs in(?: again)?( with a wrong password)?$"#
)]
async fn logs_in(w: &mut World, #[step] step: &Step, who: Who, wrong: String) -> StepResult {
    w.act_as(step).await?;
    login(w, who.name(), !wrong.is_empty(), false).await
}

#[given(
    regex = r#"^client "([a-z0-9_-]+)" (shares storage with the client|runs in another process sharing storage with the client)$"#
)]
async fn shares_storage(w: &mut World, who: Who, how: String) -> StepResult {
    let config = w.config(MAIN, how.starts_with("runs"));
    w.must(who.name(), Op::Configure(config)).await?;
    w.configured.push(who.0);
    Ok(())
}

// --- single calls

#[given(regex = r#"^(?:the client|client "([a-z0-9_-]+)") refreshes(?: again)?$"#)]
#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") refreshes(?: again)?$"#)]
async fn refreshes(w: &mut World, #[step] step: &Step, who: Who) -> StepResult {
    w.act_as(step).await?;
    record(w, who.name(), Op::Refresh).await
}

#[given(regex = r#"^(?:the client|client "([a-z0-9_-]+)") invalidates its cache$"#)]
#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") invalidates its cache$"#)]
async fn invalidates(w: &mut World, #[step] step: &Step, who: Who) -> StepResult {
    w.act_as(step).await?;
    w.must(who.name(), Op::Invalidate).await.map(drop)
}

#[given(regex = r#"^(?:the client|client "([a-z0-9_-]+)") logs out(?: again)?$"#)]
#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") logs out(?: again)?$"#)]
async fn logs_out(w: &mut World, #[step] step: &Step, who: Who) -> StepResult {
    w.act_as(step).await?;
    record(w, who.name(), Op::Logout).await
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") revokes "(all|others|mine)" sessions$"#)]
async fn revokes(w: &mut World, who: Who, target: RevokeKind) -> StepResult {
    w.act().await?;
    let op = Op::Revoke {
        target,
        session_id: None,
    };
    record(w, who.name(), op).await
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") revokes the session "([^"]*)"$"#)]
async fn revokes_a_session(w: &mut World, who: Who, id: String) -> StepResult {
    w.act().await?;
    let op = Op::Revoke {
        target: RevokeKind::Session,
        session_id: Some(id),
    };
    record(w, who.name(), op).await
}

#[when(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)") revokes (its own|the other device's) session by id$"#
)]
async fn revokes_a_session_by_id(w: &mut World, who: Who, whose: String) -> StepResult {
    w.act().await?;
    let id = if whose.starts_with("its") {
        w.main_sid()?
    } else {
        w.other_device_sid()?
    };
    let op = Op::Revoke {
        target: RevokeKind::Session,
        session_id: Some(id),
    };
    record(w, who.name(), op).await
}

#[when(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)") lists sessions(?: with limit (\d+))?(?: and offset (\d+))?$"#
)]
async fn lists_sessions(w: &mut World, who: Who, limit: String, offset: String) -> StepResult {
    w.act().await?;
    let op = Op::ListSessions {
        limit: number(&limit),
        offset: number(&offset),
    };
    record(w, who.name(), op).await
}

#[when(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)") makes an authori[sz]ed request to "([^"]+)"$"#
)]
async fn makes_an_authorized_request(w: &mut World, who: Who, path: String) -> StepResult {
    w.act().await?;
    record(w, who.name(), Op::AuthorizedGet { path }).await
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") is restarted$"#)]
async fn is_restarted(w: &mut World, who: Who) -> StepResult {
    w.act().await?;
    record(w, who.name(), Op::Restart).await
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") is disposed(?: again)?$"#)]
async fn is_disposed(w: &mut World, who: Who) -> StepResult {
    w.act().await?;
    record(w, who.name(), Op::Dispose).await
}

#[given(regex = r#"^(?:the client|client "([a-z0-9_-]+)")'s access token is noted$"#)]
async fn access_token_is_noted(w: &mut World, who: Who) -> StepResult {
    let token: AccessToken = w.must_as(who.name(), Op::AccessToken).await?;
    w.noted.insert(
        format!("{}/access_token", who.name()),
        token.access_token.unwrap_or_default(),
    );
    Ok(())
}

// --- OTP login

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") starts an OTP login$"#)]
async fn starts_an_otp_login(w: &mut World, who: Who) -> StepResult {
    w.act().await?;
    w.ensure_configured(who.name()).await?;
    let identifier = w.user()?.email.clone();
    record(w, who.name(), Op::OtpStart { identifier }).await
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") enters the (right|wrong) OTP code$"#)]
async fn enters_the_otp_code(w: &mut World, who: Who, which: String) -> StepResult {
    w.act().await?;
    let right = w
        .control
        .policy()
        .await
        .map_err(|e| StepError::failed(format!("cannot read the policy: {e}")))?
        .otp_code;
    let code = if which == "right" {
        right
    } else {
        // Same length, every digit different: wrong whatever the code is.
        right
            .chars()
            .map(|d| if d == '0' { '1' } else { '0' })
            .collect()
    };
    let outcome = w
        .call(who.name(), Op::OtpCheck { code: code.into() })
        .await?;
    remember_session(w, who.name(), &outcome)?;
    w.last.insert(who.0, outcome);
    Ok(())
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") asks for the OTP code again$"#)]
async fn asks_for_the_otp_code_again(w: &mut World, who: Who) -> StepResult {
    w.act().await?;
    record(w, who.name(), Op::OtpRetry).await
}

// --- state subscriptions

#[given(
    regex = r#"^(?:the client|client "([a-z0-9_-]+)") subscribes to state changes(?: as "([a-z0-9_-]+)")?$"#
)]
async fn subscribes(w: &mut World, who: Who, label: String) -> StepResult {
    w.ensure_configured(who.name()).await?;
    let answer: Subscription = w.must_as(who.name(), Op::Subscribe).await?;
    w.noted.insert(
        subscription_key(who.name(), &label),
        answer.subscription.to_string(),
    );
    Ok(())
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") unsubscribes$"#)]
async fn unsubscribes(w: &mut World, who: Who) -> StepResult {
    w.act().await?;
    let subscription = subscription(w, who.name(), "")?;
    w.must(who.name(), Op::Unsubscribe { subscription })
        .await
        .map(drop)
}

#[when(regex = r"^(\d+) seconds pass(?: without any call)?$")]
async fn seconds_pass(w: &mut World, seconds: u64) -> StepResult {
    w.act().await?;
    // The SDK's own clock is real: only real time makes its tokens expire.
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    Ok(())
}

#[when(regex = r"^a refresh (?:is|has been) in flight on the server(?: for (\d+) ms)?$")]
async fn a_refresh_is_in_flight(w: &mut World, ms: String) -> StepResult {
    w.act().await?;
    super::oracle::refresh_in_flight(w).await?;
    // Callers that come this long after the refresh started are late joiners, not
    // simultaneous ones.
    if let Some(ms) = super::number::<u64>(&ms) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    Ok(())
}

#[when(
    regex = r"^the client (refreshes|logs in), and logs out while the server holds the (?:refresh|login)'s answer$"
)]
async fn logs_out_while_held(w: &mut World, what: String) -> StepResult {
    w.act().await?;
    let driver = w.driver()?;
    let (op, route) = if what == "refreshes" {
        (Op::Refresh, prelude_mock_server::Route::Refresh)
    } else {
        w.ensure_configured(MAIN).await?;
        let user = w.user()?;
        let op = Op::Login {
            email: user.email.clone(),
            password: user.password.clone().into(),
        };
        (op, prelude_mock_server::Route::LoginFinalize)
    };
    let first = tokio::spawn({
        let driver = driver.clone();
        async move { driver.call(MAIN.to_owned(), op).await }
    });
    super::oracle::in_flight(w, route).await?;
    // The request is on the server: give the logout time to reach the SDK's logout path
    // while the answer is still held.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let logged_out = w.call(MAIN, Op::Logout).await?;
    let first = first
        .await
        .map_err(|e| StepError::failed(format!("the first call's task failed: {e}")))?;
    w.seen.note(&first);
    w.burst = vec![first];
    w.last.insert(MAIN.to_owned(), logged_out);
    Ok(())
}

#[when(
    regex = r#"^the client refreshes (\d+) times against a server that fails each first try with status (\d+) "([a-z_]+)"$"#
)]
async fn refreshes_against_failing_first_tries(
    w: &mut World,
    n: usize,
    status: u16,
    code: String,
) -> StepResult {
    w.act().await?;
    w.retry_waits.clear();
    for _ in 0..n {
        let fault = prelude_mock_server::Fault::new(
            prelude_mock_server::Route::Refresh,
            prelude_mock_server::FaultAction::error(status, &code),
        );
        super::setup::add_fault(w, fault).await?;
        w.must(MAIN, Op::Invalidate).await?;
        let since = w.journal_position().await?;
        let outcome = w.call(MAIN, Op::Refresh).await?;
        let tries = w
            .journal_since(since, Some(prelude_mock_server::Route::Refresh))
            .await?;
        // A retry within the call: how long after the failed try it came.
        if let [failed, retry, ..] = tries.as_slice() {
            w.retry_waits
                .push(retry.received_ms.saturating_sub(failed.received_ms));
        }
        w.last.insert(MAIN.to_owned(), outcome);
    }
    Ok(())
}

// --- bursts

#[when(
    regex = r"^a caller refreshes, and (\d+) ms after the server received its request (\d+) more callers refresh$"
)]
async fn late_joiners(w: &mut World, ms: u64, n: usize) -> StepResult {
    w.act().await?;
    let driver = w.driver()?;
    let first = tokio::spawn({
        let driver = driver.clone();
        async move { driver.call(MAIN.to_owned(), Op::Refresh).await }
    });
    super::oracle::refresh_in_flight(w).await?;
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    let more = (0..n).map(|_| driver.call(MAIN.to_owned(), Op::Refresh));
    let mut results = join_all(more).await;
    let first = first
        .await
        .map_err(|e| StepError::failed(format!("the first caller's task failed: {e}")))?;
    results.insert(0, first);
    w.burst = results;
    Ok(())
}

#[when(
    regex = r#"^(\d+) callers (refresh|log out) at once(?: on the client and on client "([a-z0-9_-]+)")?$"#
)]
async fn callers_at_once(w: &mut World, n: usize, what: String, other: String) -> StepResult {
    w.act().await?;
    let op = if what == "refresh" {
        Op::Refresh
    } else {
        Op::Logout
    };
    let mut clients = vec![MAIN.to_owned()];
    clients.extend(optional(&other).map(str::to_owned));
    burst(w, n, &clients, op).await
}

#[when(regex = r#"^(\d+) authori[sz]ed requests to "([^"]+)" are made at once$"#)]
async fn authorized_requests_at_once(w: &mut World, n: usize, path: String) -> StepResult {
    w.act().await?;
    burst(w, n, &[MAIN.to_owned()], Op::AuthorizedGet { path }).await
}

#[when(regex = r#"^(?:the client|client "([a-z0-9_-]+)") refreshes and logs out at once$"#)]
async fn refreshes_and_logs_out_at_once(w: &mut World, who: Who) -> StepResult {
    w.act().await?;
    let driver = w.driver()?;
    let (refreshed, logged_out) = tokio::join!(
        driver.call(who.0.clone(), Op::Refresh),
        driver.call(who.0.clone(), Op::Logout),
    );
    w.burst = vec![refreshed];
    w.last.insert(who.0, logged_out);
    Ok(())
}

// --- judging results

async fn login(w: &mut World, name: &str, wrong: bool, must: bool) -> StepResult {
    w.ensure_configured(name).await?;
    let user = w.user()?;
    let password = if wrong {
        format!("{}-wrong", user.password)
    } else {
        user.password.clone()
    };
    let op = Op::Login {
        email: user.email.clone(),
        password: password.into(),
    };
    let outcome = w.call(name, op).await?;
    remember_session(w, name, &outcome)?;
    if must && let Err(e) = &outcome {
        return Err(StepError::failed(format!("login failed: {e}")));
    }
    w.last.insert(name.to_owned(), outcome);
    Ok(())
}

/// The main client's session id, from a login's answer (an earlier one is kept, for "the
/// client's previous session").
fn remember_session(w: &mut World, name: &str, outcome: &Answer) -> StepResult {
    if name == MAIN && outcome.is_ok() {
        let user: UserInfo = w.decode("login", outcome)?;
        let previous = std::mem::replace(&mut w.client_sid, user.session_id);
        w.previous_sids.extend(previous);
    }
    Ok(())
}

async fn record(w: &mut World, name: &str, op: Op) -> StepResult {
    let outcome = w.call(name, op).await?;
    w.last.insert(name.to_owned(), outcome);
    Ok(())
}

/// `n` concurrent calls of `op` on each of `clients`, all in flight at once.
async fn burst(w: &mut World, n: usize, clients: &[String], op: Op) -> StepResult {
    let driver = w.driver()?;
    let calls = clients
        .iter()
        .flat_map(|c| std::iter::repeat_n(c, n))
        .map(|c| driver.call(c.clone(), op.clone()));
    w.burst = join_all(calls).await;
    w.burst.iter().for_each(|r| w.seen.note(r));
    if let Some(Err(e)) = w
        .burst
        .iter()
        .find(|r| matches!(r, Err(e) if e.kind == SdkErrorKind::Unsupported))
    {
        return Err(StepError::Skipped(format!(
            "the SDK does not support `{}`: {}",
            op.name(),
            e.message
        )));
    }
    Ok(())
}

/// Where a subscription's id is noted: `label` tells two subscribers of one client apart.
fn subscription_key(name: &str, label: &str) -> String {
    match optional(label) {
        Some(label) => format!("{name}/subscription/{label}"),
        None => format!("{name}/subscription"),
    }
}

/// The id of `name`'s subscription `label` (empty: the unlabelled one).
pub(super) fn subscription(w: &World, name: &str, label: &str) -> Result<u64, StepError> {
    w.noted
        .get(&subscription_key(name, label))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StepError::failed(format!("client {name:?} has not subscribed")))
}
