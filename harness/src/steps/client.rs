//! Client steps: drive the SDK through the driver (login, refresh, bursts, logout, revoke,
//! list, authorised requests, restart, dispose) and judge what it returned and stored.

use futures_util::future::join_all;
use serde_json::Value;

use super::{StepError, StepResult, WHO, ensure, number, pattern, who};
use crate::protocol::{Op, SdkError};
use crate::world::{MAIN, World};

pub(crate) async fn run(w: &mut World, text: &str) -> Option<StepResult> {
    // --- configuration and login
    if let Some(c) = pattern!(format!("{WHO} is configured")).captures(text) {
        return Some(w.ensure_configured(&who(&c)).await);
    }
    if let Some(c) = pattern!(format!("{WHO} is logged in")).captures(text) {
        return Some(login(w, &who(&c), false, true).await);
    }
    if let Some(c) =
        pattern!(format!("{WHO} logs in(?P<wrong> with a wrong password)?")).captures(text)
    {
        return Some(login(w, &who(&c), c.name("wrong").is_some(), false).await);
    }
    if let Some(c) = pattern!(
        r#"client "(?P<who>[a-z0-9_-]+)" (?P<how>shares storage with the client|runs in another process sharing storage with the client)"#
    )
    .captures(text)
    {
        let separate = c["how"].starts_with("runs");
        let name = who(&c);
        let config = w.config(MAIN, separate);
        return Some(async {
            w.must(&name, Op::Configure(config)).await?;
            w.configured.push(name);
            Ok(())
        }.await);
    }
    // --- single calls
    if let Some(c) = pattern!(format!("{WHO} refreshes(?: again)?")).captures(text) {
        return Some(record(w, &who(&c), Op::Refresh).await);
    }
    if let Some(c) = pattern!(format!("{WHO} invalidates its cache")).captures(text) {
        return Some(w.must(&who(&c), Op::Invalidate).await.map(drop));
    }
    if let Some(c) = pattern!(format!("{WHO} logs out(?: again)?")).captures(text) {
        return Some(record(w, &who(&c), Op::Logout).await);
    }
    if let Some(c) = pattern!(format!(
        r#"{WHO} revokes "(?P<target>all|others|mine)" sessions"#
    ))
    .captures(text)
    {
        let op = Op::Revoke {
            target: c["target"].to_owned(),
            session_id: None,
        };
        return Some(record(w, &who(&c), op).await);
    }
    if let Some(c) =
        pattern!(format!(r#"{WHO} revokes the session "(?P<id>[^"]*)""#)).captures(text)
    {
        let op = Op::Revoke {
            target: "session".into(),
            session_id: Some(c["id"].to_owned()),
        };
        return Some(record(w, &who(&c), op).await);
    }
    if let Some(c) = pattern!(format!(
        r"{WHO} revokes (?P<whose>its own|the other device's) session by id"
    ))
    .captures(text)
    {
        let name = who(&c);
        return Some(
            async {
                let id = if c["whose"].starts_with("its") {
                    w.main_sid()?
                } else {
                    other_device_sid(w)?
                };
                record(
                    w,
                    &name,
                    Op::Revoke {
                        target: "session".into(),
                        session_id: Some(id),
                    },
                )
                .await
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!(
        r"{WHO} lists sessions(?: with limit (?P<limit>\d+))?(?: and offset (?P<offset>\d+))?"
    ))
    .captures(text)
    {
        let op = Op::ListSessions {
            limit: c.name("limit").and_then(|m| m.as_str().parse().ok()),
            offset: c.name("offset").and_then(|m| m.as_str().parse().ok()),
        };
        return Some(record(w, &who(&c), op).await);
    }
    if let Some(c) = pattern!(format!(
        r#"{WHO} makes an authori[sz]ed request to "(?P<path>[^"]+)""#
    ))
    .captures(text)
    {
        let op = Op::AuthorizedGet {
            path: c["path"].to_owned(),
        };
        return Some(record(w, &who(&c), op).await);
    }
    if let Some(c) = pattern!(format!("{WHO} is restarted")).captures(text) {
        return Some(record(w, &who(&c), Op::Restart).await);
    }
    if let Some(c) = pattern!(format!("{WHO} is disposed(?: again)?")).captures(text) {
        return Some(record(w, &who(&c), Op::Dispose).await);
    }
    if let Some(c) = pattern!(format!("{WHO}'s access token is noted")).captures(text) {
        let name = who(&c);
        return Some(
            async {
                let token = w.must(&name, Op::AccessToken).await?;
                let token = token["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                w.noted.insert(format!("{name}/access_token"), token);
                Ok(())
            }
            .await,
        );
    }
    // --- OTP login
    if let Some(c) = pattern!(format!("{WHO} starts an OTP login")).captures(text) {
        let name = who(&c);
        return Some(
            async {
                w.ensure_configured(&name).await?;
                let identifier = w.user()?.email.clone();
                record(w, &name, Op::OtpStart { identifier }).await
            }
            .await,
        );
    }
    if let Some(c) =
        pattern!(format!("{WHO} enters the (?P<which>right|wrong) OTP code")).captures(text)
    {
        let name = who(&c);
        return Some(
            async {
                let right = w
                    .control
                    .policy()
                    .await
                    .map_err(|e| StepError::failed(format!("cannot read the policy: {e}")))?
                    .otp_code;
                let code = if &c["which"] == "right" {
                    right
                } else {
                    // Same length, every digit different: wrong whatever the code is.
                    right
                        .chars()
                        .map(|d| if d == '0' { '1' } else { '0' })
                        .collect()
                };
                let outcome = w.call(&name, Op::OtpCheck { code }).await?;
                if let Ok(user) = &outcome
                    && name == MAIN
                {
                    w.client_sid = user["session_id"].as_str().map(str::to_owned);
                }
                w.last.insert(name, outcome);
                Ok(())
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!("{WHO} asks for the OTP code again")).captures(text) {
        return Some(record(w, &who(&c), Op::OtpRetry).await);
    }
    // --- state subscriptions
    if let Some(c) = pattern!(format!("{WHO} subscribes to state changes")).captures(text) {
        let name = who(&c);
        return Some(
            async {
                w.ensure_configured(&name).await?;
                let answer = w.must(&name, Op::Subscribe).await?;
                let id = answer["subscription"].as_u64().ok_or_else(|| {
                    StepError::failed(format!("`subscribe` returned no subscription id: {answer}"))
                })?;
                w.noted
                    .insert(format!("{name}/subscription"), id.to_string());
                Ok(())
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!("{WHO} unsubscribes")).captures(text) {
        let name = who(&c);
        return Some(
            async {
                let subscription = subscription(w, &name)?;
                w.must(&name, Op::Unsubscribe { subscription })
                    .await
                    .map(drop)
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!(
        r#"{WHO}'s subscriber saw (?P<exactly>exactly )?(?P<states>"[a-z_]+"(?:, "[a-z_]+")*|nothing)"#
    ))
    .captures(text)
    {
        let name = who(&c);
        return Some(
            async {
                let seen = subscriber_events(w, &name).await?;
                let want: Vec<String> = c["states"]
                    .split(", ")
                    .filter(|s| *s != "nothing")
                    .map(|s| s.trim_matches('"').to_owned())
                    .collect();
                // Without "exactly", states the suite does not ask about (`establishing`)
                // may come in between; each transition still counts once, in order.
                let compared: Vec<&String> = if c.name("exactly").is_some() {
                    seen.iter().collect()
                } else {
                    seen.iter().filter(|s| *s != "establishing").collect()
                };
                ensure(compared.iter().map(|s| s.as_str()).eq(want.iter().map(String::as_str)), || {
                    format!("the subscriber saw {seen:?}, expected {want:?}")
                })
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!(
        r#"{WHO}'s subscriber saw "(?P<first>[a-z_]+)" just before "(?P<then>[a-z_]+)""#
    ))
    .captures(text)
    {
        let name = who(&c);
        return Some(
            async {
                let seen = subscriber_events(w, &name).await?;
                let found = seen
                    .windows(2)
                    .any(|pair| pair[0] == c["first"] && pair[1] == c["then"]);
                ensure(found, || {
                    format!(
                        "the subscriber saw {seen:?}, without {:?} right before {:?}",
                        &c["first"], &c["then"]
                    )
                })
            }
            .await,
        );
    }
    // --- time
    if let Some(c) = pattern!(r"(?P<n>\d+) seconds pass(?: without any call)?").captures(text) {
        // The SDK's own clock is real: only real time makes its tokens expire.
        let seconds: u64 = number(&c, "n");
        tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
        return Some(Ok(()));
    }
    if pattern!(r"a refresh is in flight on the server").is_match(text) {
        return Some(super::oracle::refresh_in_flight(w).await);
    }
    // --- bursts
    if let Some(c) = pattern!(r"a caller refreshes, and (?P<ms>\d+) ms after the server received its request (?P<n>\d+) more callers refresh").captures(text) {
        return Some(late_joiners(w, number(&c, "n"), number(&c, "ms")).await);
    }
    if let Some(c) = pattern!(r#"(?P<n>\d+) callers (?P<what>refresh|log out) at once(?: on (?P<on>the client and on client "(?P<other>[a-z0-9_-]+)"))?"#).captures(text) {
        let n: usize = number(&c, "n");
        let op = if &c["what"] == "refresh" { Op::Refresh } else { Op::Logout };
        let mut clients = vec![MAIN.to_owned()];
        if let Some(other) = c.name("other") {
            clients.push(other.as_str().to_owned());
        }
        return Some(burst(w, n, &clients, op).await);
    }
    if let Some(c) =
        pattern!(r#"(?P<n>\d+) authori[sz]ed requests to "(?P<path>[^"]+)" are made at once"#)
            .captures(text)
    {
        let op = Op::AuthorizedGet {
            path: c["path"].to_owned(),
        };
        return Some(burst(w, number(&c, "n"), &[MAIN.to_owned()], op).await);
    }
    if let Some(c) = pattern!(format!("{WHO} refreshes and logs out at once")).captures(text) {
        let name = who(&c);
        return Some(
            async {
                let driver = w.driver()?;
                let (refreshed, logged_out) = tokio::join!(
                    driver.call(name.clone(), Op::Refresh),
                    driver.call(name.clone(), Op::Logout),
                );
                w.burst = vec![refreshed];
                w.last.insert(name, logged_out);
                Ok(())
            }
            .await,
        );
    }
    // --- judging results
    if let Some(c) = pattern!(format!("{WHO}'s call succeeds|the call succeeds")).captures(text) {
        let name = who(&c);
        return Some(w.last_of(&name).and_then(|r| match r {
            Ok(_) => Ok(()),
            Err(e) => Err(StepError::failed(format!("expected success, got {e}"))),
        }));
    }
    if let Some(c) = pattern!(r#"(?:the call|client "(?P<who>[a-z0-9_-]+)"'s call) fails(?: with kind "(?P<kind>[a-z_]+)")?(?: (?:and|with) code "(?P<code>[a-z_]+)")?"#).captures(text) {
        let name = who(&c);
        return Some(w.last_of(&name).and_then(|r| judge_failure(r, c.name("kind").map(|m| m.as_str()), c.name("code").map(|m| m.as_str()))));
    }
    if let Some(c) = pattern!(r#"all (?:(?P<n>\d+) )?callers (?P<how>succeed|got the same access token|fail(?: with kind "(?P<kind>[a-z_]+)")?)"#).captures(text) {
        return Some(judge_burst(w, &c));
    }
    if let Some(c) = pattern!(r"all requests were answered (?P<status>\d+)").captures(text) {
        let status: u64 = number(&c, "status");
        return Some(w.burst.iter().try_for_each(|r| match r {
            Ok(v) if v["status"].as_u64() == Some(status) => Ok(()),
            other => Err(StepError::failed(format!(
                "expected every request answered {status}, got {other:?}"
            ))),
        }));
    }
    if let Some(c) = pattern!(r"the request was answered (?P<status>\d+)").captures(text) {
        let status: u64 = number(&c, "status");
        return Some(w.last_of(MAIN).and_then(|r| match r {
            Ok(v) => ensure(v["status"].as_u64() == Some(status), || {
                format!("expected status {status}, got {}", v["status"])
            }),
            Err(e) => Err(StepError::failed(format!(
                "the authorised request failed: {e}"
            ))),
        }));
    }
    if let Some(c) = pattern!(format!(
        "{WHO} (?P<neg>still )?stores (?P<none>no )?credentials"
    ))
    .captures(text)
    {
        let name = who(&c);
        let want = c.name("none").is_none();
        return Some(
            async {
                let stored = w.must(&name, Op::Stored).await?;
                let has = stored["credentials"].as_bool().unwrap_or(false);
                ensure(has == want, || {
                    format!(
                        "expected client {name:?} to store {}credentials, but it {}",
                        if want { "" } else { "no " },
                        if has { "still does" } else { "stores none" }
                    )
                })
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!(
        r#"{WHO}'s state is "(?P<state>[a-z_]+)"(?: with code "(?P<code>[a-z_]+)")?"#
    ))
    .captures(text)
    {
        let name = who(&c);
        return Some(
            async {
                let state = w.must(&name, Op::State).await?;
                ensure(state["state"] == c["state"], || {
                    format!("expected state {:?}, got {}", &c["state"], state["state"])
                })?;
                match c.name("code") {
                    Some(code) => ensure(state["code"] == code.as_str(), || {
                        format!(
                            "expected state code {:?}, got {}",
                            code.as_str(),
                            state["code"]
                        )
                    }),
                    None => Ok(()),
                }
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!(
        r#"{WHO}'s state history includes "(?P<state>[a-z_]+)""#
    ))
    .captures(text)
    {
        let name = who(&c);
        return Some(
            async {
                let state = w.must(&name, Op::State).await?;
                let seen = state["history"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|s| s == &c["state"]));
                ensure(seen, || {
                    format!("state history {} lacks {:?}", state["history"], &c["state"])
                })
            }
            .await,
        );
    }
    if let Some(c) = pattern!(format!(
        "{WHO}'s access token (?P<how>differs from|equals) the noted one"
    ))
    .captures(text)
    {
        let name = who(&c);
        return Some(
            async {
                let now = w.must(&name, Op::AccessToken).await?;
                let now = now["access_token"].as_str().unwrap_or_default();
                let noted = w
                    .noted
                    .get(&format!("{name}/access_token"))
                    .cloned()
                    .unwrap_or_default();
                let same = now == noted;
                // Never print tokens: say only whether they matched.
                ensure(same == c["how"].starts_with("equals"), || {
                    format!(
                        "the access token {} the noted one",
                        if same { "equals" } else { "differs from" }
                    )
                })
            }
            .await,
        );
    }
    if let Some(c) =
        pattern!(r"the list has (?P<n>\d+) sessions? of (?P<total>\d+) in total").captures(text)
    {
        return Some(w.last_of(MAIN).and_then(|r| {
            let page = r
                .as_ref()
                .map_err(|e| StepError::failed(format!("listing failed: {e}")))?;
            let n = page["sessions"].as_array().map_or(0, Vec::len);
            ensure(
                n == number::<usize>(&c, "n")
                    && page["total"].as_u64() == Some(number(&c, "total")),
                || {
                    format!(
                        "expected {} sessions of {}, got {n} of {}",
                        &c["n"], &c["total"], page["total"]
                    )
                },
            )
        }));
    }
    if let Some(c) =
        pattern!(r#"the list shows the "(?P<kind>[^"]+)" device as "(?P<shown>[a-z_]+)""#)
            .captures(text)
    {
        return Some(
            async {
                let id = w
                    .noted
                    .get(&format!("device/{}", &c["kind"]))
                    .cloned()
                    .ok_or_else(|| {
                        StepError::failed(format!(
                            "no device with type {:?} was set up",
                            &c["kind"]
                        ))
                    })?;
                let page = w
                    .last_of(MAIN)?
                    .as_ref()
                    .map_err(|e| StepError::failed(format!("listing failed: {e}")))?;
                let found = page["sessions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["id"] == id.as_str())
                    .ok_or_else(|| {
                        StepError::failed(format!("the {:?} session is not listed", &c["kind"]))
                    })?;
                ensure(found["device_type"] == c["shown"], || {
                    format!(
                        "the {:?} device is shown as {}, expected {:?}",
                        &c["kind"], found["device_type"], &c["shown"]
                    )
                })
            }
            .await,
        );
    }
    if let Some(c) = pattern!(r#"the list includes (?P<whose>the client's|the other device's) session(?: as a "(?P<kind>[a-z]+)" device)?"#).captures(text) {
        return Some(async {
            let id = if c["whose"].starts_with("the client") { w.main_sid()? } else { other_device_sid(w)? };
            let page = w.last_of(MAIN)?.as_ref().map_err(|e| StepError::failed(format!("listing failed: {e}")))?;
            let found = page["sessions"].as_array().into_iter().flatten().find(|s| s["id"] == id.as_str());
            let Some(found) = found else {
                return Err(StepError::failed(format!("session not listed in {}", page["sessions"])));
            };
            match c.name("kind") {
                Some(kind) => ensure(found["device_type"] == kind.as_str(), || format!("expected device type {:?}, got {}", kind.as_str(), found["device_type"])),
                None => Ok(()),
            }
        }.await);
    }
    None
}

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
        password,
    };
    let outcome = w.call(name, op).await?;
    if let Ok(user) = &outcome
        && name == MAIN
    {
        w.client_sid = user["session_id"].as_str().map(str::to_owned);
    }
    if must && let Err(e) = &outcome {
        return Err(StepError::failed(format!("login failed: {e}")));
    }
    w.last.insert(name.to_owned(), outcome);
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
    if let Some(Err(e)) = w
        .burst
        .iter()
        .find(|r| matches!(r, Err(e) if e.kind == crate::protocol::ErrorKind::Unsupported))
    {
        return Err(StepError::Skipped(format!(
            "the SDK does not support `{}`: {}",
            op.name(),
            e.message
        )));
    }
    Ok(())
}

/// One caller starts a refresh; once the server holds it (in flight), `n` more callers
/// arrive `ms` later. Every result goes to the burst.
async fn late_joiners(w: &mut World, n: usize, ms: u64) -> StepResult {
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

fn subscription(w: &World, name: &str) -> Result<u64, StepError> {
    w.noted
        .get(&format!("{name}/subscription"))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StepError::failed(format!("client {name:?} has not subscribed")))
}

async fn subscriber_events(w: &World, name: &str) -> Result<Vec<String>, StepError> {
    let subscription = subscription(w, name)?;
    let answer = w.must(name, Op::Events { subscription }).await?;
    Ok(answer["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect())
}

fn judge_failure(
    outcome: &Result<Value, SdkError>,
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

fn judge_burst(w: &World, c: &regex::Captures<'_>) -> StepResult {
    if let Some(n) = c.name("n") {
        let n: usize = n.as_str().parse().unwrap_or_default();
        ensure(w.burst.len() == n, || {
            format!("expected {n} results, got {}", w.burst.len())
        })?;
    }
    ensure(!w.burst.is_empty(), || "no burst was made".to_owned())?;
    let how = &c["how"];
    if how.starts_with("fail") {
        let kind = c.name("kind").map(|m| m.as_str());
        return w
            .burst
            .iter()
            .try_for_each(|r| judge_failure(r, kind, None));
    }
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
    })?;
    if how.contains("same access token") {
        let first = w.burst[0].as_ref().ok().map(|v| v["access_token"].clone());
        let same = w
            .burst
            .iter()
            .all(|r| r.as_ref().ok().map(|v| v["access_token"].clone()) == first);
        ensure(same, || "callers got different access tokens".to_owned())?;
    }
    Ok(())
}

fn other_device_sid(w: &World) -> Result<String, StepError> {
    w.devices
        .first()
        .map(|d| d.session_id.clone())
        .ok_or_else(|| {
            StepError::failed(
                "no other device: add \"Given another device of the same user is logged in\"",
            )
        })
}
