//! What the store shows: users and sessions as the Prelude API and the control API see them.

use serde::{Deserialize, Serialize};

use super::device::DeviceType;
use crate::http::api_error::Reason;

/// A user as the control API shows it (never the password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// `usr_…` id.
    pub id: String,
    /// Login email.
    pub email: String,
    /// Optional phone number.
    pub phone_number: Option<String>,
    /// Whether the user was terminated (refresh answers 403 `auth_blocked`).
    pub blocked: bool,
}

/// A session as `GET /v1/session/me/list` shows it (spec §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// `ses_…` id.
    pub id: String,
    /// e.g. `iPhone15,2`.
    pub device_model: String,
    /// desktop, mobile, tablet or unknown.
    pub device_type: DeviceType,
    /// e.g. `17.4`.
    pub os_version: String,
    /// ISO-3166 alpha-2.
    pub country_code: String,
    /// ISO-8601 UTC.
    pub created_at: String,
    /// ISO-8601 UTC.
    pub last_seen_at: String,
    /// ISO-8601 UTC: absolute refresh-token expiry.
    pub expires_at: String,
}

/// A session as the control API shows it: the wire view plus server-side state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// `ses_…` id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Thumbprint of the pinned DPoP key.
    pub jkt: String,
    /// Generation of the current refresh token (0 = issued at login).
    pub generation: u64,
    /// Why the session ended, if it did.
    pub revoked: Option<Reason>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// The device that logged in, as `me/list` shows it (`device_type`, `device_model`,
    /// `os_version`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<SessionView>,
    /// The `X-Device-Id` the login came with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}
