//! One exchange with the Prelude API: the DPoP proof and its single `use_dpop_nonce` retry,
//! capture of the nonce and of the clock skew (`Date`), decoding of error bodies (up to 4 KiB,
//! as Prelude's Apple SDK), the `X-Device-Id` every request carries, and the backoff
//! schedule. It knows whether a failed request may have reached the server, which is what
//! decides if a single-use refresh token may be sent again.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::dpop::{DpopSigner, proof};
use crate::error::{Error, ErrorKind, transport};

/// How transient failures (network, 5xx, 429) are retried: capped exponential backoff with
/// jitter, `Retry-After` honoured.
///
/// The jitter takes off at most a quarter of each delay, so successive delays still grow
/// (a caller can tell backoff from a fixed delay) while clients that failed together spread
/// out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry (before jitter).
    pub base_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based); with `full_jitter`, drawn from the
    /// whole `[0, capped]` range instead of its top quarter.
    pub(crate) fn delay_with(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        full_jitter: bool,
    ) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exponential.min(self.max_delay);
        let mut byte = [0u8; 2];
        let jitter = match getrandom::fill(&mut byte) {
            Ok(()) => f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX),
            Err(_) => 1.0,
        };
        let jittered = if full_jitter {
            capped.mul_f64(jitter)
        } else {
            capped.mul_f64(0.75 + 0.25 * jitter)
        };
        retry_after.map_or(jittered, |server| server.min(self.max_delay).max(jittered))
    }
}

/// Error bodies larger than this are not decoded (Prelude's Apple SDK caps them at 4 KiB):
/// an oversized body is not trusted to steer a retry.
pub(crate) const MAX_ERROR_BODY: usize = 4 * 1024;

/// The HTTP client, and what every request carries.
pub(crate) struct Transport {
    pub(crate) client: reqwest::Client,
    /// This installation's `X-Device-Id`, when the store keeps one.
    pub(crate) device_id: Option<String>,
}

impl Transport {
    /// A request to `url`, with `X-Device-Id`.
    pub(crate) fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.stamp(self.client.request(method, url))
    }

    /// Adds `X-Device-Id` to a request built elsewhere.
    pub(crate) fn stamp(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.device_id {
            Some(id) => request.header("X-Device-Id", id),
            None => request,
        }
    }
}

/// A server answer, fully read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    /// Error bodies up to this size are decoded.
    pub(crate) decode_limit: usize,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

impl Answer {
    /// Reads a whole response; a body that cannot be read is a transport failure.
    pub(crate) async fn read(response: reqwest::Response) -> Result<Self, reqwest::Error> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(Self {
            status,
            headers,
            body,
            decode_limit: MAX_ERROR_BODY,
        })
    }

    /// The error body, when it is small enough to trust and is Prelude's JSON.
    fn decoded(&self) -> Option<ErrorBody> {
        (self.body.len() <= self.decode_limit)
            .then(|| serde_json::from_slice::<ErrorBody>(&self.body).ok())
            .flatten()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The Prelude error code of an error answer.
    pub(crate) fn code(&self) -> Option<String> {
        self.decoded().and_then(|b| b.code)
    }

    /// The answer as an error of the right kind.
    pub(crate) fn error(&self) -> Error {
        let body = self.decoded();
        let code = body.as_ref().and_then(|b| b.code.clone());
        let message = body.and_then(|b| b.message).unwrap_or_else(|| {
            if self.body.len() > self.decode_limit {
                format!(
                    "the server answered {} with an error body of {} bytes, not read",
                    self.status,
                    self.body.len()
                )
            } else {
                format!("the server answered {}", self.status)
            }
        });
        let kind = match (self.status, code.as_deref()) {
            (401, _) => ErrorKind::Unauthorized,
            (403, Some("auth_blocked" | "suspended_account")) => ErrorKind::Terminated,
            _ => ErrorKind::Server,
        };
        Error::server(kind, self.status, code, message)
    }

    /// Transient: worth retrying (the server did not process the request).
    pub(crate) fn is_transient(&self) -> bool {
        self.status == 429 || self.status >= 500
    }

    /// `Retry-After` in seconds.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")?
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    }

    /// Local clock minus the server's `Date`; 0 when absent or unreadable.
    pub(crate) fn skew(&self, local_now: i64) -> i64 {
        self.server_skew(local_now).unwrap_or(0)
    }

    /// Local clock minus the server's `Date`, when the answer has a readable one.
    ///
    /// `Date` has one-second resolution and is stamped before the answer travels, so two
    /// synchronised clocks read one second apart whenever a second boundary falls in between.
    /// Taking that for skew would move the token's expiry a second later than the server's
    /// and make a proactive refresh late: a difference of one second counts as none.
    pub(crate) fn server_skew(&self, local_now: i64) -> Option<i64> {
        let format = format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        self.header("date")
            .and_then(|date| PrimitiveDateTime::parse(date, &format).ok())
            .map(|date| local_now - date.assume_utc().unix_timestamp())
            .map(|skew| if skew.abs() <= 1 { 0 } else { skew })
    }
}

/// How a request failed before an answer could be read.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request never reached the server (connection refused, DNS): safe to send again.
    NotSent(Error),
    /// It may have reached the server; its outcome is unknown.
    Unknown(Error),
    /// Anything else (signing, a nonce challenge without a nonce, ...).
    Other(Error),
}

impl Failure {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Self::NotSent(e) | Self::Unknown(e) | Self::Other(e) => e,
        }
    }
}

/// What to sign proofs with, and the nonce to put in them (updated from every answer).
pub(crate) struct Dpop {
    pub(crate) signer: Arc<dyn DpopSigner>,
    pub(crate) nonce: Option<String>,
    /// Server time = local time - skew.
    pub(crate) skew: i64,
    /// `use_dpop_nonce` challenges answered with a retry in one exchange: 1 (other counts
    /// only for broken variants).
    pub(crate) nonce_retries: u32,
    /// Follow the server's `Date`: keep `skew` current from every answer, and re-sign once a
    /// proof refused as `invalid_dpop_proof` when the `Date` shows the clocks drifted (what
    /// Prelude's Android SDK does). Always, but for a broken variant.
    pub(crate) follow_date: bool,
    /// Deliberate defects (broken variants only; all off otherwise).
    pub(crate) quirks: Quirks,
}

/// Deliberate defects of the exchange, for the conformance suite's mutation table.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Quirks {
    /// Re-sign and retry every `invalid_dpop_proof`, drift or not.
    pub(crate) retry_any_invalid_proof: bool,
    /// Never change a skew once it is not zero.
    pub(crate) sticky_skew: bool,
    /// A nonce on a successful answer is not kept.
    pub(crate) ignore_success_nonce: bool,
}

/// Clocks this far apart (seconds) count as drifted; `Date` has one-second resolution.
const DRIFT_SECONDS: i64 = 2;

/// Sends one request, and at most one retry with a fresh proof for each of: a
/// `use_dpop_nonce` challenge (with the offered nonce), and a proof refused while the server's
/// `Date` shows a clock drift (with `iat` corrected). A refused proof never spends a token, so
/// both retries are safe for refreshes.
pub(crate) async fn exchange(
    http: &Transport,
    method: Method,
    url: &str,
    now: i64,
    mut dpop: Option<&mut Dpop>,
    build: impl Fn(RequestBuilder) -> RequestBuilder,
) -> Result<Answer, Failure> {
    let mut nonce_retries_used = 0;
    let mut clock_retry_used = false;
    loop {
        let mut request = build(http.request(method.clone(), url));
        if let Some(dpop) = dpop.as_deref() {
            let proof = proof(
                dpop.signer.as_ref(),
                method.as_str(),
                url,
                now - dpop.skew,
                dpop.nonce.as_deref(),
                None,
            )
            .map_err(Failure::Other)?;
            request = request.header("DPoP", proof);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Failure::NotSent(transport(&e))
            } else {
                Failure::Unknown(transport(&e))
            }
        })?;
        let answer = Answer::read(response)
            .await
            .map_err(|e| Failure::Unknown(transport(&e)))?;
        let Some(dpop) = dpop.as_deref_mut() else {
            return Ok(answer);
        };
        let quirks = dpop.quirks;
        let offered = answer.header("dpop-nonce").map(str::to_owned);
        if offered.is_some() && !(answer.is_success() && quirks.ignore_success_nonce) {
            dpop.nonce.clone_from(&offered);
        }
        let mut drifted = false;
        if dpop.follow_date
            && let Some(skew) = answer.server_skew(now)
        {
            drifted = (skew - dpop.skew).abs() >= DRIFT_SECONDS;
            if !(quirks.sticky_skew && dpop.skew != 0) {
                dpop.skew = skew;
            }
        }
        let code = if answer.is_success() {
            None
        } else {
            answer.code()
        };
        match code.as_deref() {
            Some("use_dpop_nonce") if nonce_retries_used < dpop.nonce_retries => {
                if offered.is_none() {
                    return Err(Failure::Other(Error::bad_response(
                        "the server asked for a DPoP nonce but sent none",
                    )));
                }
                nonce_retries_used += 1;
            }
            Some("invalid_dpop_proof")
                if !clock_retry_used && (drifted || quirks.retry_any_invalid_proof) =>
            {
                clock_retry_used = true;
            }
            _ => return Ok(answer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
        };
        for attempt in 1..10 {
            let delay = policy.delay_with(attempt, None, false);
            assert!(
                delay <= Duration::from_millis(800),
                "attempt {attempt}: {delay:?}"
            );
        }
        let waited = policy.delay_with(1, Some(Duration::from_millis(500)), true);
        assert!(waited >= Duration::from_millis(500));
    }

    #[test]
    fn skew_is_read_from_the_date_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "date",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("header"),
        );
        let answer = Answer {
            status: 200,
            headers,
            body: Vec::new(),
            decode_limit: MAX_ERROR_BODY,
        };
        assert_eq!(answer.skew(784_111_777 + 30), 30);
        assert_eq!(answer.skew(784_111_777 - 30), -30);
        // Within the header's one-second resolution: no skew.
        assert_eq!(answer.skew(784_111_777 + 1), 0);
        assert_eq!(answer.skew(784_111_777 - 1), 0);
        let none = Answer {
            status: 200,
            headers: HeaderMap::new(),
            body: Vec::new(),
            decode_limit: MAX_ERROR_BODY,
        };
        assert_eq!(none.skew(5), 0);
    }
}
