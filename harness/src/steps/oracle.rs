//! Oracle steps: what the server saw, from its journal and stats. Counts start at the
//! scenario's first `When` (the world's mark), so setup traffic never blurs them.

use std::collections::{HashMap, HashSet};

use prelude_mock_server::{Reason, Route, Verdict};

use super::setup::route;
use super::{StepError, StepResult, ensure, number, pattern};
use crate::world::World;

pub(crate) async fn run(w: &mut World, text: &str) -> Option<StepResult> {
    if let Some(c) = pattern!(r"the server received (?:exactly (?P<n>\d+)|no|between (?P<lo>\d+) and (?P<hi>\d+)) (?P<route>[a-z -]+?) requests?").captures(text) {
        return Some(async {
            let route = route(&c["route"])?;
            let seen = w.journal(Some(route)).await?.len();
            let (lo, hi) = match (c.name("n"), c.name("lo")) {
                (Some(_), _) => (number(&c, "n"), number(&c, "n")),
                (None, Some(_)) => (number(&c, "lo"), number(&c, "hi")),
                (None, None) => (0, 0),
            };
            ensure((lo..=hi).contains(&seen), || format!("the server received {seen} {} requests, expected {}", &c["route"], if lo == hi { lo.to_string() } else { format!("{lo} to {hi}") }))
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
                let created = w
                    .journal(Some(Route::LoginFinalize))
                    .await?
                    .iter()
                    .filter(|e| e.verdict == Verdict::Accepted)
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

async fn stats(w: &World) -> Result<prelude_mock_server::Stats, StepError> {
    w.control
        .stats()
        .await
        .map_err(|e| StepError::failed(format!("cannot read the server stats: {e}")))
}

/// Rejections that mean the proof itself was wrong (a nonce challenge is not a defect).
fn is_proof_defect(reason: Reason) -> bool {
    use Reason::*;
    matches!(
        reason,
        MissingProof
            | MultipleProofs
            | MalformedProof
            | WrongProofType
            | UnsupportedAlgorithm
            | InvalidJwk
            | PrivateKeyInJwk
            | BadSignature
            | MissingClaim
            | MethodMismatch
            | UrlMismatch
            | IatTooOld
            | IatInFuture
            | ReplayedProof
            | KeyMismatch
    )
}
