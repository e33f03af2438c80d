//! Authorised requests with the access token: `Bearer`, or the `DPoP` scheme with a proof
//! carrying `ath` for a DPoP-bound token; one nonce retry, and one refresh-and-retry on 401.

use reqwest::RequestBuilder;

use super::{Inner, SessionClient};
use crate::broken::BrokenVariant;
use crate::error::{Error, ErrorKind, transport};
use crate::http::Answer;
use crate::user::User;

impl Inner {
    /// One authorised request with `user`'s access token; for a DPoP-bound token, one retry
    /// with a fresh proof on a `use_dpop_nonce` challenge.
    pub(super) async fn send_authorized(
        &self,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
        user: &User,
    ) -> Result<reqwest::Response, Error> {
        let bound = user
            .profile
            .get("cnf")
            .and_then(|cnf| cnf.get("jkt"))
            .is_some()
            && !self.is_broken(BrokenVariant::BoundTokenAsBearer);
        if !bound {
            let response = self
                .http
                .stamp(build(&self.http.client))
                .bearer_auth(&user.access_token)
                .send()
                .await
                .map_err(|e| transport(&e))?;
            self.note_nonce(response.status(), response.headers());
            return Ok(response);
        }
        let mut nonce_retry = !self.is_broken(BrokenVariant::NoResourceNonceRetry);
        loop {
            let mut request = self
                .http
                .stamp(build(&self.http.client))
                .build()
                .map_err(|e| transport(&e))?;
            let proof = self.resource_proof(&request, &user.access_token)?;
            let headers = request.headers_mut();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                header_value(&format!("DPoP {}", user.access_token))?,
            );
            headers.insert("dpop", header_value(&proof)?);
            let response = self
                .http
                .client
                .execute(request)
                .await
                .map_err(|e| transport(&e))?;
            self.note_nonce(response.status(), response.headers());
            let status = response.status().as_u16();
            if !(nonce_retry && matches!(status, 400 | 401)) {
                return Ok(response);
            }
            // Read the body to tell a nonce challenge from other errors, then hand the caller
            // an equivalent response.
            let headers = response.headers().clone();
            let answer = Answer::read(response).await.map_err(|e| transport(&e))?;
            if answer.code().as_deref() == Some("use_dpop_nonce")
                && headers.contains_key("dpop-nonce")
            {
                nonce_retry = false;
                continue;
            }
            let mut rebuilt = http::Response::new(answer.body);
            *rebuilt.status_mut() =
                reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_REQUEST);
            *rebuilt.headers_mut() = headers;
            return Ok(reqwest::Response::from(rebuilt));
        }
    }

    /// A proof for an authorised request with a DPoP-bound access token.
    pub(super) fn resource_proof(
        &self,
        request: &reqwest::Request,
        access_token: &str,
    ) -> Result<String, Error> {
        let (signer, nonce, skew) = {
            let local = self.local();
            let session = local.session.as_ref();
            (
                local.signer.clone(),
                session
                    .and_then(|s| s.dpop_nonce.clone())
                    .or_else(|| local.nonce.clone()),
                session.map_or(0, |s| s.skew_seconds),
            )
        };
        let signer =
            signer.ok_or_else(|| Error::new(ErrorKind::NotLoggedIn, "no session is stored"))?;
        let url = request.url().as_str();
        let htu = if self.is_broken(BrokenVariant::HtuWithQuery) {
            url
        } else {
            crate::dpop::htu(url)
        };
        let ath = (!self.is_broken(BrokenVariant::ProofWithoutAth))
            .then(|| crate::dpop::s256(access_token));
        crate::dpop::proof(
            signer.as_ref(),
            request.method().as_str(),
            htu,
            self.clock.now() - skew,
            nonce.as_deref(),
            ath.as_deref(),
        )
    }
}

/// A header value from text we built (tokens and proofs are ASCII).
fn header_value(text: &str) -> Result<reqwest::header::HeaderValue, Error> {
    reqwest::header::HeaderValue::from_str(text)
        .map_err(|_| Error::bad_response("the access token is not a valid header value"))
}

impl SessionClient {
    /// Sends a request built by `build` with the access token: as `Bearer`, or, when the
    /// token is DPoP-bound (its `cnf.jkt` claim, RFC 9449 §7), with the `DPoP` scheme and a
    /// proof carrying its `ath`. On 401 it refreshes (joining any refresh in flight) and
    /// retries once; if that refresh fails, the original 401 response is returned.
    pub async fn authorized(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        self.alive()?;
        let user = self.refresh().await?;
        let first = self.inner.send_authorized(&build, &user).await?;
        let refreshes = if self.inner.is_broken(BrokenVariant::RefreshesOnAnyError) {
            first.status().is_client_error()
        } else {
            first.status() == reqwest::StatusCode::UNAUTHORIZED
        };
        if !refreshes {
            return Ok(first);
        }
        // Invalidate only if no sibling call has refreshed since this token was read.
        let still_current = self
            .inner
            .local()
            .user
            .as_ref()
            .is_some_and(|u| u.access_token == user.access_token);
        if still_current {
            self.invalidate_cache();
        }
        match self.refresh().await {
            Ok(fresh) => self.inner.send_authorized(&build, &fresh).await,
            Err(_)
                if self
                    .inner
                    .is_broken(BrokenVariant::ReplaysAfterFailedRefresh) =>
            {
                self.inner.send_authorized(&build, &user).await
            }
            Err(_) => Ok(first),
        }
    }
}
