//! OTP verifications: started by `/login/otp` or `/otp`, alive until they expire, consumed
//! once by a right code.

use super::Store;
use crate::http::api_error::Reason;
use crate::jose::random_token;

/// Where a pending OTP verification came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VerificationKind {
    /// `POST /login/otp` (legacy; check finalizes directly).
    Legacy,
    /// `POST /otp` (current; check returns a challenge token).
    Standalone,
}

#[derive(Debug)]
pub(super) struct Verification {
    user_id: String,
    kind: VerificationKind,
    code_challenge: Option<String>,
    expires_at: i64,
}

impl Store {
    pub(crate) fn start_verification(
        &mut self,
        user_id: String,
        kind: VerificationKind,
        code_challenge: Option<String>,
        expires_at: i64,
    ) -> String {
        let id = format!("vrf_{}", random_token(24));
        self.verifications.insert(
            id.clone(),
            Verification {
                user_id,
                kind,
                code_challenge,
                expires_at,
            },
        );
        id
    }

    /// Checks that a verification exists, is of `kind` and has not expired.
    pub(crate) fn verification_alive(
        &self,
        id: &str,
        kind: VerificationKind,
        now: i64,
    ) -> Result<(), Reason> {
        match self.verifications.get(id) {
            Some(v) if v.kind == kind && v.expires_at > now => Ok(()),
            _ => Err(Reason::InvalidVerification),
        }
    }

    /// Consumes a verification once its code was right: (user id, PKCE challenge).
    pub(crate) fn complete_verification(
        &mut self,
        id: &str,
        kind: VerificationKind,
        now: i64,
    ) -> Result<(String, Option<String>), Reason> {
        self.verification_alive(id, kind, now)?;
        let v = self
            .verifications
            .remove(id)
            .ok_or(Reason::InvalidVerification)?;
        Ok((v.user_id, v.code_challenge))
    }
}
