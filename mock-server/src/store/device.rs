//! Device data: the wire's device type, and the device a session was created from, guessed
//! from the login request's user agent.

use serde::{Deserialize, Serialize};

/// Device type of a session (spec §5). Prelude documents four values; [`DeviceType::Other`]
/// lets the control API create sessions with any other value, so a test can check that an
/// SDK folds types it does not know to `unknown` instead of failing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceType {
    /// Desktop browser or app.
    Desktop,
    /// Phone.
    Mobile,
    /// Tablet.
    Tablet,
    /// Not recognisable.
    Unknown,
    /// Any other value, sent as it is.
    Other(String),
}

impl DeviceType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Unknown => "unknown",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for DeviceType {
    fn from(value: &str) -> Self {
        match value {
            "desktop" => Self::Desktop,
            "mobile" => Self::Mobile,
            "tablet" => Self::Tablet,
            "unknown" => Self::Unknown,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for DeviceType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DeviceType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::from(text.as_str()))
    }
}

/// Device details guessed from the login request's user agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Device {
    pub(crate) model: String,
    pub(crate) kind: DeviceType,
    pub(crate) os_version: String,
    /// The `X-Device-Id` the login came with (a stable per-install id), if any.
    pub(crate) install_id: Option<String>,
}

impl Device {
    /// Plausible device data from `User-Agent` / `X-SDK-User-Agent`, in the shapes Prelude's
    /// SDKs send (`Prelude/0.3.0 (Apple; iOS 17.4)`, `... (Web)`, Android, browsers).
    pub(crate) fn from_user_agent(ua: &str) -> Self {
        let lower = ua.to_ascii_lowercase();
        let version_after = |marker: &str| {
            lower.find(marker).map(|i| {
                let rest = &ua[i + marker.len()..];
                let end = rest.find([';', ')', ' ']).unwrap_or(rest.len());
                rest[..end].replace('_', ".")
            })
        };
        let (model, kind, os_version) = if lower.contains("ipad") {
            (
                "iPad13,4",
                DeviceType::Tablet,
                version_after("ipados ").or(version_after("os ")),
            )
        } else if lower.contains("iphone") || lower.contains("ios") {
            (
                "iPhone15,2",
                DeviceType::Mobile,
                version_after("ios ").or(version_after("os ")),
            )
        } else if lower.contains("android") {
            ("Pixel 8", DeviceType::Mobile, version_after("android "))
        } else if lower.contains("(web)") || lower.contains("mozilla") {
            ("Web browser", DeviceType::Desktop, None)
        } else if lower.contains("macintosh")
            || lower.contains("macos")
            || lower.contains("windows")
            || lower.contains("linux")
        {
            ("Desktop", DeviceType::Desktop, None)
        } else {
            ("unknown", DeviceType::Unknown, None)
        };
        Self {
            model: model.into(),
            kind,
            os_version: os_version.unwrap_or_default(),
            install_id: None,
        }
    }
}
