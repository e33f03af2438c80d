//! Oracle steps about DPoP proofs, from the server's journal: every proof valid, bound to the
//! session's key and URL, with a fresh `jti` and an `htu` without query; nonce challenges
//! answered once, with the server's nonce.

use std::collections::{HashMap, HashSet};

use cucumber::then;
use prelude_mock_server::{Reason, Verdict};

use super::setup::route;
use super::{StepError, StepResult, ensure};
use crate::world::World;

#[then(regex = r"^every DPoP proof the client sent had an htu without query or fragment$")]
async fn htu_without_query(w: &mut World) -> StepResult {
    let entries = w.whole_journal(None).await?;
    entries
        .iter()
        .filter_map(|e| Some((e, e.dpop.as_ref()?.htu.as_ref()?)))
        .try_for_each(|(e, htu)| {
            let path = htu
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                .unwrap_or_default();
            ensure(!htu.contains(['?', '#']) && path == e.path, || {
                format!(
                    "request #{} to {} carried a proof with htu {htu:?}: RFC 9449 §4.2 wants the URL without query and fragment",
                    e.seq, e.path
                )
            })
        })
}

#[then(regex = r"^every DPoP proof the client sent named the server in lower case$")]
async fn htu_in_lower_case(w: &mut World) -> StepResult {
    // Scheme and host are case-insensitive (RFC 3986 §6.2.2.1); Prelude's native SDKs send
    // them lowercased so a server comparing htu byte for byte accepts them.
    let entries = w.whole_journal(None).await?;
    entries
        .iter()
        .filter_map(|e| Some((e, e.dpop.as_ref()?.htu.as_ref()?)))
        .try_for_each(|(e, htu)| {
            let authority = htu
                .split_once("://")
                .map(|(scheme, rest)| (scheme, rest.split('/').next().unwrap_or_default()));
            ensure(
                authority.is_some_and(|(scheme, host)| {
                    scheme == scheme.to_lowercase() && host == host.to_lowercase()
                }),
                || {
                    format!(
                        "request #{} carried a proof with htu {htu:?}: scheme and host not in lower case",
                        e.seq
                    )
                },
            )
        })
}

#[then(regex = r"^the accepted (refresh|logout|finalize) carried the server's nonce$")]
async fn accepted_carried_nonce(w: &mut World, words: String) -> StepResult {
    let entries = w.journal(Some(route(&words)?)).await?;
    let accepted = entries
        .iter()
        .rfind(|e| e.verdict == Verdict::Accepted)
        .ok_or_else(|| StepError::failed(format!("the server accepted no {words} request")))?;
    ensure(
        accepted.dpop.as_ref().is_some_and(|d| d.nonce.is_some()),
        || format!("the accepted request #{} carried no nonce", accepted.seq),
    )
}

#[then(
    regex = r"^every nonce challenge on (refresh|logout|finalize) was retried at most once, with a fresh jti$"
)]
async fn nonce_challenges_retried_once(w: &mut World, words: String) -> StepResult {
    let entries = w.journal(Some(route(&words)?)).await?;
    let challenged = entries
        .iter()
        .filter(|e| e.code.as_deref() == Some("use_dpop_nonce"))
        .count();
    ensure(challenged <= 1, || {
        format!(
            "{challenged} {words} requests were challenged for a nonce: the client did not learn it"
        )
    })?;
    let mut jtis = HashSet::new();
    ensure(
        entries
            .iter()
            .filter_map(|e| e.dpop.as_ref()?.jti.as_ref())
            .all(|j| jtis.insert(j)),
        || "a retry reused the challenged proof's jti".to_owned(),
    )
}

#[then(regex = r"^every DPoP proof the server received was valid$")]
async fn every_proof_valid(w: &mut World) -> StepResult {
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

#[then(regex = r"^every DPoP proof had a fresh jti$")]
async fn every_jti_fresh(w: &mut World) -> StepResult {
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

#[then(
    regex = r"^every (refresh|logout|finalize) proof (was signed by the key the session is bound to|was for POST to its exact URL)$"
)]
async fn every_proof_bound(w: &mut World, words: String, what: String) -> StepResult {
    let route = route(&words)?;
    let entries = w.whole_journal(Some(route)).await?;
    ensure(!entries.is_empty(), || {
        format!("no {words} request was sent")
    })?;
    if what.starts_with("was signed") {
        let sessions: HashMap<String, String> = w
            .server_sessions()
            .await?
            .into_iter()
            .map(|s| (s.id, s.jkt))
            .collect();
        entries.iter().try_for_each(|e| {
            let (Some(sid), Some(proof)) = (&e.session_id, &e.dpop) else {
                return Err(StepError::failed(format!(
                    "request #{} carried no proof or session",
                    e.seq
                )));
            };
            ensure(sessions.get(sid) == proof.jkt.as_ref(), || {
                format!(
                    "request #{} was signed by a key the session is not bound to",
                    e.seq
                )
            })
        })
    } else {
        let url = format!(
            "{}{}",
            w.api_url(),
            route.path().trim_start_matches("/v1/session")
        );
        entries.iter().try_for_each(|e| {
            let proof = e
                .dpop
                .as_ref()
                .ok_or_else(|| StepError::failed(format!("request #{} carried no proof", e.seq)))?;
            ensure(
                proof.htm.as_deref() == Some("POST")
                    && proof
                        .htu
                        .as_deref()
                        .is_some_and(|h| h.eq_ignore_ascii_case(&url)),
                || {
                    format!(
                        "request #{}: htm {:?}, htu {:?}, expected POST {url}",
                        e.seq, proof.htm, proof.htu
                    )
                },
            )
        })
    }
}

#[then(regex = r"^the retried (refresh|logout|finalize) carried the server's nonce$")]
async fn retried_carried_nonce(w: &mut World, words: String) -> StepResult {
    let entries = w.journal(Some(route(&words)?)).await?;
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
        challenged.dpop.as_ref().map(|d| &d.jti) != retried.dpop.as_ref().map(|d| &d.jti),
        || "the retry reused the challenged proof's jti".to_owned(),
    )
}

/// Rejections that mean the proof itself was wrong: the reasons the server answers with a
/// DPoP error code (a nonce challenge, `use_dpop_nonce`, is not a defect).
fn is_proof_defect(reason: Reason) -> bool {
    matches!(
        reason.status_and_code().1,
        "invalid_dpop_proof" | "missing_dpop_proof" | "dpop_key_mismatch"
    )
}
