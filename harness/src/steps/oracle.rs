//! Oracle steps: what the server saw, from its journal and stats. Counts start at the
//! scenario's first `When` (the world's mark), so setup traffic never blurs them.

use std::collections::{HashMap, HashSet};

use prelude_mock_server::{Reason, Route, Verdict};

use super::setup::route;
use super::{StepError, StepResult, ensure, number, pattern};
use crate::world::World;

pub(crate) async fn run(w: &mut World, text: &str) -> Option<StepResult> {
    if let Some(c) = pattern!(
        r"the server received (?:exactly (?P<n>\d+)|no) OTP (?P<what>start|check|retry) requests?"
    )
    .captures(text)
    {
        return Some(
            async {
                // Either generation of Prelude's OTP routes counts.
                let routes = match &c["what"] {
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
                let want: usize = number(&c, "n");
                ensure(seen == want, || {
                    format!(
                        "the server received {seen} OTP {} requests, expected {want}",
                        &c["what"]
                    )
                })
            }
            .await,
        );
    }
    if pattern!(r"every DPoP proof the client sent had an htu without query or fragment")
        .is_match(text)
    {
        return Some(async {
            let entries = w.whole_journal(None).await?;
            entries.iter().filter_map(|e| Some((e, e.dpop.as_ref()?.htu.as_ref()?))).try_for_each(|(e, htu)| {
                let path = htu.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or_default();
                ensure(!htu.contains(['?', '#']) && path == e.path, || format!("request #{} to {} carried a proof with htu {htu:?}: RFC 9449 §4.2 wants the URL without query and fragment", e.seq, e.path))
            })
        }.await);
    }
    if let Some(c) =
        pattern!(r"the accepted (?P<route>refresh|logout|finalize) carried the server's nonce")
            .captures(text)
    {
        return Some(
            async {
                let entries = w.journal(Some(route(&c["route"])?)).await?;
                let accepted = entries
                    .iter()
                    .rfind(|e| e.verdict == Verdict::Accepted)
                    .ok_or_else(|| {
                        StepError::failed(format!("the server accepted no {} request", &c["route"]))
                    })?;
                ensure(
                    accepted.dpop.as_ref().is_some_and(|d| d.nonce.is_some()),
                    || format!("the accepted request #{} carried no nonce", accepted.seq),
                )
            }
            .await,
        );
    }
    if let Some(c) = pattern!(r"every nonce challenge on (?P<route>refresh|logout|finalize) was retried at most once, with a fresh jti").captures(text) {
        return Some(async {
            let entries = w.journal(Some(route(&c["route"])?)).await?;
            let challenged = entries.iter().filter(|e| e.code.as_deref() == Some("use_dpop_nonce")).count();
            ensure(challenged <= 1, || format!("{challenged} {} requests were challenged for a nonce: the client did not learn it", &c["route"]))?;
            let mut jtis = HashSet::new();
            ensure(entries.iter().filter_map(|e| e.dpop.as_ref()?.jti.as_ref()).all(|j| jtis.insert(j)), || "a retry reused the challenged proof's jti".to_owned())
        }.await);
    }
    if pattern!(r"the refresh retries waited longer each time").is_match(text) {
        return Some(
            async {
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
            .await,
        );
    }
    if let Some(c) = pattern!(
        r"no refresh retry came sooner than (?P<s>\d+) seconds? after the previous request"
    )
    .captures(text)
    {
        return Some(
            async {
                let gaps = gaps(w, Route::Refresh).await?;
                // Retry-After has one-second resolution and the journal's clock reads milliseconds.
                let floor = number::<u64>(&c, "s") * 1000 - 50;
                ensure(gaps.iter().all(|g| *g >= floor), || {
                    format!("a retry came after {gaps:?} ms, before Retry-After elapsed")
                })
            }
            .await,
        );
    }
    if pattern!(r"the refresh came before the first access token expired").is_match(text) {
        return Some(
            async {
                let ttl = w.access_ttl.ok_or_else(|| {
                    StepError::failed("the scenario set no access-token lifetime")
                })?;
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
            .await,
        );
    }
    if pattern!(r"the access token the client returned is accepted by the server").is_match(text) {
        return Some(async {
            let token = w.last_of(crate::world::MAIN)?.as_ref().map_err(|e| StepError::failed(format!("the call failed: {e}")))?["access_token"].as_str().unwrap_or_default().to_owned();
            let status = w.http.get(format!("{}/me/list", w.api_url())).bearer_auth(&token).send().await.map_err(|e| StepError::failed(format!("cannot reach the server: {e}")))?.status();
            ensure(status.is_success(), || format!("the server answered {status} to the access token the client returned: it had expired"))
        }.await);
    }
    if let Some(c) = pattern!(r"the server (?P<verb>received|accepted) (?:exactly (?P<n>\d+)|no|between (?P<lo>\d+) and (?P<hi>\d+)) (?P<route>[a-z -]+?) requests?").captures(text) {
        return Some(async {
            let route = route(&c["route"])?;
            let accepted_only = &c["verb"] == "accepted";
            let seen = w.journal(Some(route)).await?.iter().filter(|e| !accepted_only || e.verdict == Verdict::Accepted).count();
            let (lo, hi) = match (c.name("n"), c.name("lo")) {
                (Some(_), _) => (number(&c, "n"), number(&c, "n")),
                (None, Some(_)) => (number(&c, "lo"), number(&c, "hi")),
                (None, None) => (0, 0),
            };
            ensure((lo..=hi).contains(&seen), || format!("the server {} {seen} {} requests, expected {}", &c["verb"], &c["route"], if lo == hi { lo.to_string() } else { format!("{lo} to {hi}") }))
        }.await);
    }
    if pattern!(r"the server received no requests(?: at all)?").is_match(text) {
        return Some(
            async {
                let seen = w.journal(None).await?;
                ensure(seen.is_empty(), || {
                    format!(
                        "the server received {} requests: {:?}",
                        seen.len(),
                        seen.iter().map(|e| &e.path).collect::<Vec<_>>()
                    )
                })
            }
            .await,
        );
    }
    if let Some(c) = pattern!(r"the server created exactly (?P<n>\d+) sessions?").captures(text) {
        return Some(
            async {
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
                ensure(created == number::<usize>(&c, "n"), || {
                    format!("the server created {created} sessions")
                })
            }
            .await,
        );
    }
    if pattern!(r"no refresh token was presented twice").is_match(text) {
        return Some(
            async {
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
            .await,
        );
    }
    if let Some(c) =
        pattern!(r"the server detected (?:no|(?P<n>\d+)) refresh token reuses?").captures(text)
    {
        return Some(
            async {
                let reuse = stats(w).await?.reuse_detected;
                ensure(reuse == number::<u64>(&c, "n"), || {
                    format!("the server detected {reuse} refresh token reuses")
                })
            }
            .await,
        );
    }
    if let Some(c) =
        pattern!(r"the server reissued (?P<n>\d+) refresh tokens? inside the grace window")
            .captures(text)
    {
        return Some(
            async {
                let n = stats(w).await?.grace_reissues;
                ensure(n == number::<u64>(&c, "n"), || {
                    format!("the server reissued {n} tokens inside the grace window")
                })
            }
            .await,
        );
    }
    if pattern!(r"every DPoP proof the server received was valid").is_match(text) {
        return Some(
            async {
                let bad: Vec<_> = w
                    .whole_journal(None)
                    .await?
                    .into_iter()
                    .filter(|e| e.reason.is_some_and(is_proof_defect))
                    .map(|e| format!("{} {:?}", e.path, e.reason))
                    .collect();
                ensure(bad.is_empty(), || {
                    format!("the server rejected proofs: {bad:?}")
                })
            }
            .await,
        );
    }
    if pattern!(r"every DPoP proof had a fresh jti").is_match(text) {
        return Some(
            async {
                let entries = w.whole_journal(None).await?;
                let mut seen = HashSet::new();
                let repeated = entries
                    .iter()
                    .filter_map(|e| e.dpop.as_ref()?.jti.as_ref())
                    .filter(|j| !seen.insert(*j))
                    .count();
                ensure(!seen.is_empty(), || "no DPoP proof was sent".to_owned())?;
                ensure(repeated == 0, || {
                    format!("{repeated} proofs repeated an earlier jti")
                })
            }
            .await,
        );
    }
    if let Some(c) = pattern!(r"every (?P<route>refresh|logout|finalize) proof (?P<what>was signed by the key the session is bound to|was for POST to its exact URL)").captures(text) {
        return Some(async {
            let route = route(&c["route"])?;
            let entries = w.whole_journal(Some(route)).await?;
            ensure(!entries.is_empty(), || format!("no {} request was sent", &c["route"]))?;
            if c["what"].starts_with("was signed") {
                let sessions: HashMap<String, String> = w.server_sessions().await?
                    .into_iter().map(|s| (s.id, s.jkt)).collect();
                entries.iter().try_for_each(|e| {
                    let (Some(sid), Some(proof)) = (&e.session_id, &e.dpop) else {
                        return Err(StepError::failed(format!("request #{} carried no proof or session", e.seq)));
                    };
                    ensure(sessions.get(sid) == proof.jkt.as_ref(), || format!("request #{} was signed by a key the session is not bound to", e.seq))
                })
            } else {
                let url = format!("{}{}", w.api_url(), route.path().trim_start_matches("/v1/session"));
                entries.iter().try_for_each(|e| {
                    let proof = e.dpop.as_ref().ok_or_else(|| StepError::failed(format!("request #{} carried no proof", e.seq)))?;
                    ensure(proof.htm.as_deref() == Some("POST") && proof.htu.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(&url)),
                        || format!("request #{}: htm {:?}, htu {:?}, expected POST {url}", e.seq, proof.htm, proof.htu))
                })
            }
        }.await);
    }
    if let Some(c) =
        pattern!(r"the retried (?P<route>refresh|logout|finalize) carried the server's nonce")
            .captures(text)
    {
        return Some(
            async {
                let entries = w.journal(Some(route(&c["route"])?)).await?;
                let [.., challenged, retried] = entries.as_slice() else {
                    return Err(StepError::failed(format!(
                        "expected a challenged request and its retry, saw {}",
                        entries.len()
                    )));
                };
                ensure(challenged.code.as_deref() == Some("use_dpop_nonce"), || {
                    format!(
                        "request #{} was not challenged for a nonce (code {:?})",
                        challenged.seq, challenged.code
                    )
                })?;
                ensure(
                    retried.verdict == Verdict::Accepted
                        && retried.dpop.as_ref().is_some_and(|d| d.nonce.is_some()),
                    || {
                        format!(
                            "the retry #{} carried no accepted nonce ({:?})",
                            retried.seq, retried.reason
                        )
                    },
                )?;
                ensure(
                    challenged.dpop.as_ref().map(|d| &d.jti)
                        != retried.dpop.as_ref().map(|d| &d.jti),
                    || "the retry reused the challenged proof's jti".to_owned(),
                )
            }
            .await,
        );
    }
    if let Some(c) = pattern!(r"(?P<whose>the client's|the other device's) session is (?P<how>revoked|active) on the server").captures(text) {
        return Some(async {
            let sid = if c["whose"].starts_with("the client") { w.main_sid()? } else {
                w.devices.first().map(|d| d.session_id.clone()).ok_or_else(|| StepError::failed("no other device"))?
            };
            let session = w.server_sessions().await?
                .into_iter().find(|s| s.id == sid).ok_or_else(|| StepError::failed("the server does not know the session"))?;
            let revoked = session.revoked.is_some();
            ensure(revoked == (&c["how"] == "revoked"), || format!("the session is {} on the server", if revoked { "revoked" } else { "active" }))
        }.await);
    }
    if let Some(c) = pattern!(r"the server counted (?P<n>\d+) logouts?").captures(text) {
        return Some(
            async {
                let n = stats(w).await?.logouts;
                ensure(n == number::<u64>(&c, "n"), || {
                    format!("the server counted {n} logouts")
                })
            }
            .await,
        );
    }
    if let Some(c) = pattern!(r"the server rejected (?P<n>\d+) replayed proofs?").captures(text) {
        return Some(
            async {
                let n = stats(w).await?.replays_rejected;
                ensure(n == number::<u64>(&c, "n"), || {
                    format!("the server rejected {n} replayed proofs")
                })
            }
            .await,
        );
    }
    None
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

/// Rejections that mean the proof itself was wrong: the reasons the server answers with a
/// DPoP error code (a nonce challenge, `use_dpop_nonce`, is not a defect).
fn is_proof_defect(reason: Reason) -> bool {
    matches!(
        reason.status_and_code().1,
        "invalid_dpop_proof" | "missing_dpop_proof" | "dpop_key_mismatch"
    )
}
