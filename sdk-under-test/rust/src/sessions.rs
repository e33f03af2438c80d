//! Session management types: the page `list_sessions` returns and the targets of
//! `revoke_sessions`, with the local validation the spec asks for.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, ErrorKind};

/// What `revoke_sessions` ends. [`RevokeTarget::session`] validates the id.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeTarget {
    /// Every session of the user, this one included (wipes local state).
    All,
    /// Every session but this one (never wipes).
    Others,
    /// This session only (wipes local state).
    Mine,
    /// One session by id (wipes local state when it is this one).
    Session(String),
}

impl RevokeTarget {
    /// Targets one session; empty or whitespace-only ids are refused before any request.
    ///
    /// ```
    /// use prelude_session::RevokeTarget;
    /// assert!(RevokeTarget::session("ses_123").is_ok());
    /// assert!(RevokeTarget::session("  ").is_err());
    /// ```
    pub fn session(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a session id must not be blank",
            ));
        }
        Ok(Self::Session(id))
    }

    pub(crate) fn query(&self) -> Result<Vec<(&'static str, String)>, Error> {
        Ok(match self {
            Self::All => vec![("target", "all".into())],
            Self::Others => vec![("target", "others".into())],
            Self::Mine => vec![("target", "mine".into())],
            Self::Session(id) => {
                Self::session(id.clone())?;
                vec![("target", "session".into()), ("session_id", id.clone())]
            }
        })
    }
}

/// Device type of a session; values this client does not know fold to `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceType {
    /// Desktop.
    Desktop,
    /// Phone.
    Mobile,
    /// Tablet.
    Tablet,
    /// Unknown or not recognised.
    Unknown,
}

impl From<&str> for DeviceType {
    fn from(text: &str) -> Self {
        match text {
            "desktop" => Self::Desktop,
            "mobile" => Self::Mobile,
            "tablet" => Self::Tablet,
            _ => Self::Unknown,
        }
    }
}

/// One of the user's active sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSession {
    /// Session id; compare with [`SessionClient::session_id`](crate::SessionClient::session_id).
    pub id: String,
    /// e.g. `iPhone15,2`.
    pub device_model: String,
    /// Device type.
    pub device_type: DeviceType,
    /// e.g. `17.4`.
    pub os_version: String,
    /// ISO-3166 alpha-2.
    pub country_code: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last activity.
    pub last_seen_at: OffsetDateTime,
    /// Absolute expiry of the session.
    pub expires_at: OffsetDateTime,
}

/// A page of sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPage {
    /// The sessions on this page.
    pub sessions: Vec<DeviceSession>,
    /// Active sessions in all.
    pub total: u64,
    /// Page size the server applied.
    pub limit: u64,
    /// Offset the server applied.
    pub offset: u64,
}

#[derive(Deserialize)]
struct WireSession {
    id: String,
    #[serde(default)]
    device_model: String,
    #[serde(default)]
    device_type: String,
    #[serde(default)]
    os_version: String,
    #[serde(default)]
    country_code: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
}

#[derive(Deserialize)]
struct WirePage {
    sessions: Vec<WireSession>,
    total: u64,
    limit: u64,
    offset: u64,
}

/// Refuses a page or session member outside the ones this client knows.
fn reject_unknown_members(bytes: &[u8]) -> Result<(), Error> {
    const PAGE: [&str; 4] = ["sessions", "total", "limit", "offset"];
    const SESSION: [&str; 8] = [
        "id",
        "device_model",
        "device_type",
        "os_version",
        "country_code",
        "created_at",
        "last_seen_at",
        "expires_at",
    ];
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::bad_response(format!("session list is not JSON: {e}")))?;
    let unknown = |object: &serde_json::Value, known: &[&str]| {
        object
            .as_object()
            .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())).cloned())
    };
    let sessions = value["sessions"].as_array().into_iter().flatten();
    match unknown(&value, &PAGE).or_else(|| sessions.filter_map(|s| unknown(s, &SESSION)).next()) {
        Some(member) => Err(Error::bad_response(format!(
            "session list has an unknown member {member:?}"
        ))),
        None => Ok(()),
    }
}

fn timestamp(text: &str) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| Error::bad_response(format!("session timestamp {text:?} is not ISO-8601")))
}

/// Parses a `me/list` body; an unparseable timestamp fails the whole page. `strict` (a broken
/// variant) fails it on an unknown device type too.
/// Parses a session list. Members the client does not know are ignored (forward
/// compatibility), and device types it does not know fold to `Unknown`; `strict_types` and
/// `strict_fields` refuse them instead (broken variants).
pub(crate) fn parse_page(
    bytes: &[u8],
    strict_types: bool,
    strict_fields: bool,
) -> Result<SessionPage, Error> {
    if strict_fields {
        reject_unknown_members(bytes)?;
    }
    let page: WirePage = serde_json::from_slice(bytes)
        .map_err(|e| Error::bad_response(format!("session list is not the expected JSON: {e}")))?;
    let strict = strict_types;
    let sessions = page
        .sessions
        .into_iter()
        .map(|s| {
            let known = ["desktop", "mobile", "tablet", "unknown"];
            if strict && !known.contains(&s.device_type.as_str()) {
                return Err(Error::bad_response(format!(
                    "unknown device type {:?}",
                    s.device_type
                )));
            }
            Ok(DeviceSession {
                device_type: DeviceType::from(s.device_type.as_str()),
                created_at: timestamp(&s.created_at)?,
                last_seen_at: timestamp(&s.last_seen_at)?,
                expires_at: timestamp(&s.expires_at)?,
                id: s.id,
                device_model: s.device_model,
                os_version: s.os_version,
                country_code: s.country_code,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(SessionPage {
        sessions,
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_device_types_fold_and_bad_timestamps_fail_the_page() {
        let good = br#"{"sessions":[{"id":"ses_1","device_model":"X","device_type":"smart_fridge",
            "os_version":"1","country_code":"FR","created_at":"2026-01-01T00:00:00Z",
            "last_seen_at":"2026-01-02T00:00:00Z","expires_at":"2026-02-01T00:00:00Z"}],
            "total":1,"limit":10,"offset":0}"#;
        let page = parse_page(good, false, false).expect("parses");
        assert_eq!(page.sessions[0].device_type, DeviceType::Unknown);
        let bad = String::from_utf8_lossy(good).replace("2026-01-02T00:00:00Z", "yesterday");
        assert_eq!(
            parse_page(bad.as_bytes(), false, false)
                .expect_err("bad")
                .kind(),
            ErrorKind::BadResponse
        );
    }

    #[test]
    fn blank_session_ids_are_refused_locally() {
        assert_eq!(
            RevokeTarget::session("").expect_err("blank").kind(),
            ErrorKind::InvalidArgument
        );
        assert!(RevokeTarget::Session(" ".into()).query().is_err());
    }
}
