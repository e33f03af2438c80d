//! Logging in: password and OTP logins, and finalizing a challenge into a session pinned to
//! this client's DPoP key.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{Inner, SessionClient};
use crate::broken::BrokenVariant;
use crate::dpop::{DpopSigner, SoftwareKey};
use crate::error::{Error, ErrorKind};
use crate::http::{Answer, Failure, exchange};
use crate::state::SessionState;
use crate::user::User;

/// An OTP login between `start_otp_login` and a successful `check_otp`.
#[derive(Clone)]
pub(super) struct PendingOtp {
    verification_token: String,
    code_verifier: String,
}

impl Inner {
    /// Keeps the clock skew an answer's `Date` reveals, for the first proof of a login.
    pub(super) fn note_skew(&self, answer: &Answer, now: i64) {
        if self.is_broken(BrokenVariant::IgnoresClockSkew) {
            return;
        }
        if let Some(skew) = answer.server_skew(now) {
            self.local().skew = Some(skew);
        }
    }
}

impl SessionClient {
    /// Exchanges a login challenge token for a session pinned to this client's DPoP key.
    /// `code_verifier` is needed when the challenge is PKCE-bound. The state is
    /// [`SessionState::Establishing`] meanwhile, and goes back to what it was on failure.
    pub async fn finalize_login(
        &self,
        challenge_token: &str,
        code_verifier: Option<&str>,
    ) -> Result<User, Error> {
        self.alive()?;
        let before = self.inner.state.borrow().clone();
        self.inner.set_state(SessionState::Establishing);
        let finalized = self.finalize(challenge_token, code_verifier).await;
        if finalized.is_err() && !self.inner.is_broken(BrokenVariant::StuckEstablishing) {
            self.inner.set_state(before);
        }
        finalized
    }

    async fn finalize(
        &self,
        challenge_token: &str,
        code_verifier: Option<&str>,
    ) -> Result<User, Error> {
        let signer: Arc<dyn DpopSigner> = match &self.inner.fixed_signer {
            Some(signer) => signer.clone(),
            None => Arc::new(SoftwareKey::generate()?),
        };
        let (epoch, nonce, skew, previous) = {
            let local = self.inner.local();
            let session = local.session.as_ref();
            (
                local.epoch,
                session
                    .and_then(|s| s.dpop_nonce.clone())
                    .or_else(|| local.nonce.clone()),
                session.map_or(local.skew.unwrap_or(0), |s| s.skew_seconds),
                session.map(|s| s.refresh_token.clone()).filter(|_| {
                    !self
                        .inner
                        .is_broken(BrokenVariant::ReloginForgetsPreviousSession)
                }),
            )
        };
        let mut body = json!({"challenge_token": challenge_token});
        if let Some(verifier) = code_verifier {
            body["code_verifier"] = json!(verifier);
        }
        let mut dpop = self.inner.dpop(signer.clone(), nonce, skew);
        let url = format!("{}/login/finalize", self.inner.api);
        let now = self.inner.clock.now();
        let answer = exchange(
            &self.inner.http,
            Method::POST,
            &url,
            now,
            Some(&mut dpop),
            |r| {
                let r = r.json(&body);
                // The server ends the previous session once the new one exists.
                match &previous {
                    Some(token) => r.header("X-Refresh-Token", token),
                    None => r,
                }
            },
        )
        .await
        .map_err(Failure::into_error)?;
        self.inner.local().nonce.clone_from(&dpop.nonce);
        if !answer.is_success() {
            return Err(answer.error());
        }
        let pair = self.inner.token_pair(&answer, now, skew)?;
        self.inner.commit(pair, epoch, &signer, dpop.nonce)
    }

    /// Email/password login: gets a challenge token, then finalizes it.
    pub async fn login_with_password(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<User, Error> {
        self.alive()?;
        #[derive(Deserialize)]
        struct Challenge {
            challenge_token: String,
        }
        let url = format!("{}/login/email/password", self.inner.api);
        let body = json!({"identifier": identifier, "password": password});
        let now = self.inner.clock.now();
        let answer = exchange(&self.inner.http, Method::POST, &url, now, None, |r| {
            r.json(&body)
        })
        .await
        .map_err(Failure::into_error)?;
        self.inner.note_skew(&answer, now);
        if !answer.is_success() {
            let error = answer.error();
            if self.inner.is_broken(BrokenVariant::ErrorEchoesSecrets) {
                return Err(error.with_detail(&format!("{identifier} / {password}")));
            }
            return Err(error);
        }
        let challenge: Challenge = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::bad_response(format!("password login answer: {e}")))?;
        self.finalize_login(&challenge.challenge_token, None).await
    }

    /// Starts an OTP login (Prelude's `POST /otp`): the server sends a code to `identifier`,
    /// an email address or a phone number (`+…`). Finish with [`check_otp`](Self::check_otp).
    pub async fn start_otp_login(&self, identifier: &str) -> Result<(), Error> {
        self.alive()?;
        let kind = if identifier.trim_start().starts_with('+') {
            "phone_number"
        } else {
            "email_address"
        };
        let code_verifier = crate::dpop::b64(crate::dpop::random_bytes::<32>()?);
        let code_challenge = crate::dpop::s256(&code_verifier);
        let body = json!({
            "identifier": {"type": kind, "value": identifier},
            "code_challenge": code_challenge,
        });
        let answer = self.otp_call("/otp", None, Some(&body)).await?;
        let verification_token = answer
            .header("x-verification-token")
            .ok_or_else(|| Error::bad_response("OTP start answer has no X-Verification-Token"))?
            .to_owned();
        self.inner.local().otp = Some(PendingOtp {
            verification_token,
            code_verifier,
        });
        Ok(())
    }

    /// Checks the code of the pending OTP login and, if it is right, finalizes the login.
    /// A wrong code fails with the server's `bad_check_code` and keeps the login pending.
    pub async fn check_otp(&self, code: &str) -> Result<User, Error> {
        self.alive()?;
        #[derive(Deserialize)]
        struct Challenge {
            challenge_token: String,
        }
        let pending = self.pending_otp()?;
        let body = json!({"code": code});
        let answer = self
            .otp_call("/otp/check", Some(&pending.verification_token), Some(&body))
            .await?;
        let challenge: Challenge = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::bad_response(format!("OTP check answer: {e}")))?;
        let user = self
            .finalize_login(&challenge.challenge_token, Some(&pending.code_verifier))
            .await?;
        self.inner.local().otp = None;
        Ok(user)
    }

    /// Asks the server to send the pending OTP login's code again.
    pub async fn retry_otp(&self) -> Result<(), Error> {
        self.alive()?;
        let pending = self.pending_otp()?;
        self.otp_call("/otp/retry", Some(&pending.verification_token), None)
            .await
            .map(drop)
    }

    fn pending_otp(&self) -> Result<PendingOtp, Error> {
        self.inner.local().otp.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "no OTP login is pending: call start_otp_login first",
            )
        })
    }

    /// One unauthenticated OTP request; an error answer becomes the error.
    async fn otp_call(
        &self,
        path: &str,
        verification: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, Error> {
        let url = format!("{}{path}", self.inner.api);
        let now = self.inner.clock.now();
        let answer = exchange(&self.inner.http, Method::POST, &url, now, None, |r| {
            let r = match verification {
                Some(token) => r.header("X-Verification-Token", token),
                None => r,
            };
            match body {
                Some(body) => r.json(body),
                None => r,
            }
        })
        .await
        .map_err(Failure::into_error)?;
        self.inner.note_skew(&answer, now);
        if !answer.is_success() {
            return Err(answer.error());
        }
        Ok(answer)
    }
}
