//! Attack steps: raw HTTP against the server under test, no SDK. A session logged in with a
//! key of our own, then refreshes with forged, replayed, mis-bound or stale proofs and
//! reused refresh tokens, judged by status and Prelude error code.

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use futures_util::future::join_all;
use prelude_mock_server::proof::ProofKey;
use serde_json::json;

use super::{StepError, StepResult, ensure, optional};
use crate::raw::{self, RawAnswer, RawSession};
use crate::world::World;

#[given(regex = r"^the session's access token is noted$")]
async fn access_token_noted(w: &mut World) -> StepResult {
    let token = session(w)?.access_token.clone();
    w.noted.insert("raw/access_token".into(), token);
    Ok(())
}

#[then(
    regex = r"^the (noted|current) access token (verifies against the JWKS|is accepted by the server|is refused by the server)$"
)]
async fn access_token_judged(w: &mut World, which: String, what: String) -> StepResult {
    let token = match which.as_str() {
        "noted" => w
            .noted
            .get("raw/access_token")
            .cloned()
            .ok_or_else(|| StepError::failed("no access token was noted"))?,
        _ => session(w)?.access_token.clone(),
    };
    if what.starts_with("verifies") {
        return Ok(raw::verify_with_jwks(&w.http, &w.base_url, &token).await?);
    }
    let status = w
        .http
        .get(format!("{}/me/list", w.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(|e| StepError::failed(format!("cannot reach the server: {e}")))?
        .status()
        .as_u16();
    let accepted = what.contains("accepted");
    ensure((status == 200) == accepted, || {
        format!("the server answered {status}")
    })
}

#[then(regex = r"^the JWKS publishes (\d+) keys?$")]
async fn jwks_publishes(w: &mut World, n: usize) -> StepResult {
    let jwks: serde_json::Value = w
        .http
        .get(format!(
            "{}/.well-known/jwks.json",
            w.base_url.trim_end_matches('/')
        ))
        .send()
        .await
        .map_err(|e| StepError::failed(format!("cannot fetch the JWKS: {e}")))?
        .json()
        .await
        .map_err(|e| StepError::failed(format!("the JWKS is not JSON: {e}")))?;
    let published = jwks["keys"].as_array().map_or(0, Vec::len);
    ensure(published == n, || {
        format!("the JWKS publishes {published} keys")
    })
}

#[given(regex = r"^a session logged in over raw HTTP$")]
async fn raw_session(w: &mut World) -> StepResult {
    let user_id = w.user()?.id.clone();
    w.raw = Some(raw::login(&w.http, &w.api_url(), &w.control, &user_id, None).await?);
    Ok(())
}

#[given(regex = r"^the session refreshes with a valid proof$")]
#[when(regex = r"^the session refreshes with a valid proof$")]
async fn refreshes_validly(w: &mut World, #[step] step: &Step) -> StepResult {
    w.act_as(step).await?;
    let answer = valid_refresh(w, None).await?;
    w.answers = vec![answer];
    Ok(())
}

#[when(regex = r"^the session presents its previous refresh token$")]
async fn presents_previous_token(w: &mut World) -> StepResult {
    w.act().await?;
    let session = session(w)?;
    let [.., previous, _] = session.spent.as_slice() else {
        return Err(StepError::failed(
            "the session has not rotated its token yet",
        ));
    };
    let previous = previous.clone();
    let answer = valid_refresh(w, Some(previous)).await?;
    w.answers = vec![answer];
    Ok(())
}

#[when(regex = r"^the session refreshes with (no proof|a malformed proof|a proof .+)$")]
async fn refreshes_with_a_defective_proof(w: &mut World, what: String) -> StepResult {
    w.act().await?;
    let url = refresh_url(w);
    let now = raw::server_now(&w.control).await?;
    let session = session(w)?;
    let proof = broken_proof(session, &what, &url, now)?;
    let token = session.refresh_token.clone();
    w.last_proof.clone_from(&proof);
    let answer = send_refresh(w, proof, &token).await?;
    w.answers = vec![answer];
    Ok(())
}

#[when(regex = r"^the session replays its last proof$")]
async fn replays_last_proof(w: &mut World) -> StepResult {
    w.act().await?;
    let proof = w
        .last_proof
        .clone()
        .ok_or_else(|| StepError::failed("no proof was sent yet"))?;
    let token = session(w)?.refresh_token.clone();
    let answer = send_refresh(w, Some(proof), &token).await?;
    w.answers = vec![answer];
    Ok(())
}

#[when(regex = r"^(\d+) requests present the same refresh token at once$")]
async fn same_token_at_once(w: &mut World, n: usize) -> StepResult {
    w.act().await?;
    let url = refresh_url(w);
    let now = raw::server_now(&w.control).await?;
    let session = session(w)?;
    let token = session.refresh_token.clone();
    let proofs: Vec<String> = (0..n).map(|_| session.proof(&url, now).build()).collect();
    let answers = join_all(
        proofs
            .iter()
            .map(|p| raw::refresh(&w.http, &url, Some(p), &token)),
    )
    .await;
    w.answers = answers.into_iter().collect::<Result<_, _>>()?;
    let won = w.answers.iter().find(|a| a.status == 200).cloned();
    if let Some(won) = won {
        session_mut(w)?.learn(&won);
    }
    Ok(())
}

#[then(regex = r#"^the answer is (\d+)(?: or (\d+))?(?: with code "([a-z_]+)")?$"#)]
async fn the_answer_is(w: &mut World, status: u16, or: String, code: String) -> StepResult {
    let answer = w
        .answers
        .last()
        .ok_or_else(|| StepError::failed("no raw request was sent"))?;
    let other = super::number::<u16>(&or);
    ensure(
        answer.status == status || Some(answer.status) == other,
        || {
            let want = other.map_or(status.to_string(), |o| format!("{status} or {o}"));
            format!(
                "expected status {want}, got {} ({:?})",
                answer.status, answer.code
            )
        },
    )?;
    match optional(&code) {
        Some(code) => ensure(answer.code.as_deref() == Some(code), || {
            format!("expected code {code:?}, got {:?}", answer.code)
        }),
        None => Ok(()),
    }
}

#[then(regex = r"^the answer carries a DPoP-Nonce header$")]
async fn the_answer_carries_a_nonce(w: &mut World) -> StepResult {
    w.answers
        .last()
        .ok_or_else(|| StepError::failed("no raw request was sent"))
        .and_then(|a| ensure(a.nonce.is_some(), || "no DPoP-Nonce header".to_owned()))
}

#[then(regex = r"^every error answer is a Prelude error body$")]
async fn every_error_is_a_prelude_body(w: &mut World) -> StepResult {
    w.answers
        .iter()
        .filter(|a| a.status >= 400)
        .try_for_each(|a| {
            let ok = ["code", "message", "type"]
                .iter()
                .all(|k| a.body[k].as_str().is_some_and(|v| !v.is_empty()));
            ensure(ok, || {
                format!(
                    "error answer {} is not {{code, message, type}}: {}",
                    a.status, a.body
                )
            })
        })
}

#[then(regex = r"^exactly (\d+) of the answers (?:is|are) (\d+)$")]
async fn answers_with_status(w: &mut World, n: usize, status: u16) -> StepResult {
    let seen = w.answers.iter().filter(|a| a.status == status).count();
    ensure(seen == n, || {
        format!("{seen} of {} answers were {status}", w.answers.len())
    })
}

#[then(regex = r"^the session can (no longer|still) refresh$")]
async fn the_session_can_refresh(w: &mut World, neg: String) -> StepResult {
    let answer = valid_refresh(w, None).await?;
    if neg == "still" {
        ensure(answer.status == 200, || {
            format!(
                "a valid refresh was refused: {} {:?}",
                answer.status, answer.code
            )
        })
    } else {
        ensure(answer.status == 401, || {
            format!(
                "a valid refresh got {} {:?}, expected 401",
                answer.status, answer.code
            )
        })
    }
}

fn refresh_url(w: &World) -> String {
    format!("{}/refresh", w.api_url())
}

fn session(w: &World) -> Result<&RawSession, StepError> {
    w.raw.as_ref().ok_or_else(|| {
        StepError::failed("no raw session: add \"Given a session logged in over raw HTTP\"")
    })
}

fn session_mut(w: &mut World) -> Result<&mut RawSession, StepError> {
    w.raw
        .as_mut()
        .ok_or_else(|| StepError::failed("no raw session"))
}

/// One refresh presenting `token` with `proof`; the session learns the answer (its nonce and
/// rotated token).
async fn send_refresh(
    w: &mut World,
    proof: Option<String>,
    token: &str,
) -> Result<RawAnswer, StepError> {
    let answer = raw::refresh(&w.http, &refresh_url(w), proof.as_deref(), token).await?;
    session_mut(w)?.learn(&answer);
    Ok(answer)
}

/// A correct refresh with the current token (or `token`), answering one nonce challenge.
async fn valid_refresh(w: &mut World, token: Option<String>) -> Result<RawAnswer, StepError> {
    let url = refresh_url(w);
    let now = raw::server_now(&w.control).await?;
    let token = match token {
        Some(t) => t,
        None => session(w)?.refresh_token.clone(),
    };
    let mut answer = None;
    for _ in 0..2 {
        let proof = session(w)?.proof(&url, now).build();
        w.last_proof = Some(proof.clone());
        let sent = send_refresh(w, Some(proof), &token).await?;
        let challenged = sent.code.as_deref() == Some("use_dpop_nonce");
        answer = Some(sent);
        if !challenged {
            break;
        }
    }
    answer.ok_or_else(|| StepError::failed("no answer"))
}

/// The proof a step describes, built for `url` at the server's `now`.
fn broken_proof(
    session: &RawSession,
    what: &str,
    url: &str,
    now: i64,
) -> Result<Option<String>, StepError> {
    let valid = || session.proof(url, now);
    let proof = match what {
        "no proof" => return Ok(None),
        "a malformed proof" => "not-a-jwt".to_owned(),
        "a proof with a forged signature" => {
            let real = valid().build();
            let forged = ProofKey::generate().proof("POST", url, now);
            let (input, _) = real.rsplit_once('.').unwrap_or_default();
            let (_, signature) = forged.rsplit_once('.').unwrap_or_default();
            format!("{input}.{signature}")
        }
        "a proof signed by another key" => {
            let other = ProofKey::generate();
            let builder = other.builder("POST", url, now);
            match &session.nonce {
                Some(n) => builder.nonce(n).build(),
                None => builder.build(),
            }
        }
        "a proof of type JWT" => valid().header("typ", json!("JWT")).build(),
        "a proof with algorithm none" => valid().header("alg", json!("none")).build(),
        "a proof with algorithm HS256" => valid().header("alg", json!("HS256")).build(),
        "a proof that carries its private key" => {
            let mut jwk = serde_json::to_value(session.key.jwk()).unwrap_or_default();
            jwk["d"] = json!("AAAA");
            valid().header("jwk", jwk).build()
        }
        "a proof for method GET" => valid().claim("htm", json!("GET")).build(),
        "a proof for another URL" => valid()
            .claim("htu", json!(format!("{url}/elsewhere")))
            .build(),
        "a proof issued 10 minutes ago" => valid().claim("iat", json!(now - 600)).build(),
        "a proof issued 10 minutes in the future" => valid().claim("iat", json!(now + 600)).build(),
        "a proof without a jti" => valid().without_claim("jti").build(),
        "a proof without an iat" => valid().without_claim("iat").build(),
        "a proof with a made-up nonce" => valid().nonce("made-up-nonce").build(),
        "a proof without a nonce" => session.key.builder("POST", url, now).build(),
        other => {
            return Err(StepError::failed(format!(
                "unknown kind of proof {other:?}"
            )));
        }
    };
    Ok(Some(proof))
}
