//! Server configuration: the run-time policy (changeable through the control API) and the
//! start-up settings (app id, issuer, seed users, signing key), loadable from a TOML file.
//!
//! It owns defaults and validation, not the behaviour that reads them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Error, Secret};

/// How the server asks for DPoP nonces (RFC 9449 §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonceMode {
    /// Proofs need no nonce.
    #[default]
    Off,
    /// Every proof must carry the server's nonce (one value for the server's lifetime).
    Required,
    /// Every proof must carry a recent nonce; a new one is issued every
    /// `nonce_rotation_seconds` and the last `nonce_history` stay valid.
    Rotating,
}

/// Run-time policy. Every field has a default, so a partial TOML table or JSON patch works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Access-token lifetime in seconds (spec default 15 min).
    pub access_token_ttl_seconds: i64,
    /// Absolute refresh-token (session) lifetime in seconds (spec default 30 days).
    pub refresh_token_ttl_seconds: i64,
    /// Within this many seconds of a rotation, the immediate parent token presented with the
    /// session's key gets the same successor back instead of counting as reuse.
    pub reuse_grace_seconds: i64,
    /// Accepted distance between a proof's `iat` and the server's clock, either way.
    pub iat_window_seconds: i64,
    /// DPoP nonce mode.
    pub nonce_mode: NonceMode,
    /// Lifetime of one nonce in `rotating` mode.
    pub nonce_rotation_seconds: i64,
    /// How many nonces (current included) are accepted in `rotating` mode.
    pub nonce_history: u32,
    /// The one OTP code that `login/otp/check` and `otp/check` accept.
    pub otp_code: String,
    /// Lifetime of login challenge tokens in seconds.
    pub challenge_ttl_seconds: i64,
    /// Bind access tokens to the session's DPoP key (RFC 9449 §6–7): tokens carry `cnf.jkt`,
    /// and `/me/*` then need `Authorization: DPoP` with a proof whose `ath` matches.
    pub bind_access_tokens: bool,
    /// Answer DPoP errors on `/me/*` as an RFC 9449 resource server does (§7.1, §9): 401 with
    /// `WWW-Authenticate: DPoP error="use_dpop_nonce"` (or `invalid_dpop_proof`) instead of
    /// Prelude's 400, the JSON body unchanged.
    pub rfc9449_resource_errors: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            access_token_ttl_seconds: 15 * 60,
            refresh_token_ttl_seconds: 30 * 24 * 3600,
            reuse_grace_seconds: 0,
            iat_window_seconds: 60,
            nonce_mode: NonceMode::Off,
            nonce_rotation_seconds: 300,
            nonce_history: 3,
            otp_code: "123456".into(),
            challenge_ttl_seconds: 600,
            bind_access_tokens: false,
            rfc9449_resource_errors: false,
        }
    }
}

impl Policy {
    /// Rejects values that would make the server misbehave rather than just be strict.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("access_token_ttl_seconds", self.access_token_ttl_seconds),
            ("refresh_token_ttl_seconds", self.refresh_token_ttl_seconds),
            ("nonce_rotation_seconds", self.nonce_rotation_seconds),
            ("challenge_ttl_seconds", self.challenge_ttl_seconds),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v <= 0) {
            return Err(format!("{name} must be positive"));
        }
        if self.reuse_grace_seconds < 0 || self.iat_window_seconds < 0 {
            return Err("reuse_grace_seconds and iat_window_seconds must not be negative".into());
        }
        if self.nonce_history == 0 {
            return Err("nonce_history must be at least 1".into());
        }
        if self.otp_code.is_empty() {
            return Err("otp_code must not be empty".into());
        }
        Ok(())
    }
}

/// A user created when the server starts (and again after a reset).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// Login email.
    pub email: String,
    /// Password for `login/email/password`.
    pub password: Secret,
    /// Optional phone number, usable as an OTP identifier.
    #[serde(default)]
    pub phone_number: Option<String>,
}

impl std::str::FromStr for SeedUser {
    type Err = String;

    /// Parses `email:password`, the CLI's `--user` form.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (email, password) = text
            .split_once(':')
            .ok_or("expected EMAIL:PASSWORD (for example ada@example.com:pw)")?;
        if email.is_empty() || password.is_empty() {
            return Err("email and password must not be empty".into());
        }
        Ok(Self {
            email: email.into(),
            password: Secret::new(password),
            phone_number: None,
        })
    }
}

/// Connection limits and timeouts. Every answer to a request past a limit is a Prelude error
/// JSON; a connection past a timeout is closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Time a client has to send a request's headers, from its first byte or from the end of
    /// the previous request on a kept-alive connection (slowloris guard).
    pub header_read_timeout_ms: u64,
    /// Time a client has to send a request's body once its headers are in; past it, `408`.
    pub body_read_timeout_ms: u64,
    /// A connection that carries no bytes either way and has no request in flight for this
    /// long is closed (HTTP/1.1 keep-alive, HTTP/2, or silent after connecting).
    pub idle_timeout_ms: u64,
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Journal entries kept; the oldest are dropped first (stats keep counting).
    pub journal_capacity: usize,
    /// Refresh tokens remembered per session, newest first (at least 2: the current one and
    /// its parent, for the grace window). A token older than that is unknown (`401
    /// unauthorized`, reason `unknown_refresh_token`) instead of reuse, which would revoke
    /// the session; without the bound a session refreshed for days grows without end.
    pub token_history: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 1024,
            journal_capacity: 50_000,
            token_history: 1000,
        }
    }
}

impl Limits {
    /// Rejects limits that would stop the server from serving at all.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("body_read_timeout_ms", self.body_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("max_connections", self.max_connections as u64),
            ("journal_capacity", self.journal_capacity as u64),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("limits.{name} must be positive"));
        }
        if self.token_history < 2 {
            return Err("limits.token_history must be at least 2 (a token and its parent)".into());
        }
        Ok(())
    }
}

/// A control token shorter than this is accepted with a warning.
const MIN_CONTROL_TOKEN_CHARS: usize = 16;

/// Settings fixed at start-up. Everything is optional in the file form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Application id: names cookies (`__refresh_{app_id}`) and the default issuer.
    pub app_id: Option<String>,
    /// `iss` of access tokens; default `https://{app_id}.session.prelude.dev`.
    pub issuer: Option<String>,
    /// When set, the control API requires `Authorization: Bearer <token>`.
    pub control_token: Option<Secret>,
    /// Origins (`https://dash.example:8443`, or `*` for any) whose pages may call the control
    /// API cross-origin. Empty by default: only same-origin pages and non-browser clients.
    pub control_origins: Vec<String>,
    /// Host names, besides IP literals and `localhost`, that the control API answers to. The
    /// check stops DNS rebinding: a hostile page's own name pointed at 127.0.0.1.
    pub allowed_hosts: Vec<String>,
    /// Allow binding a non-loopback address without a `control_token`, which lets anyone on
    /// the network drive the server.
    pub allow_remote_control: bool,
    /// Connection and size limits, timeouts and the journal's capacity.
    pub limits: Limits,
    /// PEM file (PKCS#8 or SEC1 EC P-256) of the access-token signing key, so tokens stay
    /// verifiable across restarts. A fresh key is generated when absent.
    pub signing_key: Option<PathBuf>,
    /// Users created at start-up.
    pub users: Vec<SeedUser>,
    /// Run-time policy at start-up.
    pub policy: Policy,
    /// Keep each request's headers and body (secrets redacted) in the journal.
    pub record_requests: bool,
}

impl ServerConfig {
    /// Reads a TOML configuration file (see `docs/control-api.md` for an example).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))
    }

    /// Reads the configuration file's text (the form [`from_toml_file`](Self::from_toml_file)
    /// reads), checking its policy, limits and control token.
    ///
    /// ```
    /// let config = prelude_mock_server::ServerConfig::from_toml("app_id = \"app_x\"\n")?;
    /// assert_eq!(config.app_id.as_deref(), Some("app_x"));
    /// assert!(prelude_mock_server::ServerConfig::from_toml("control_token = \"\"\n").is_err());
    /// # Ok::<(), prelude_mock_server::Error>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let config: Self = toml::from_str(text).map_err(|e| Error::config(e.to_string()))?;
        config.policy.validate().map_err(Error::config)?;
        config.limits.validate().map_err(Error::config)?;
        config.check_control_token()?;
        Ok(config)
    }

    /// Refuses a control token that protects nothing: an empty or blank one (an unset
    /// variable passed as `--control-token "$TOKEN"`) would open the control API while
    /// passing the "a non-loopback bind needs a token" rule. Warns about a short one.
    pub(crate) fn check_control_token(&self) -> Result<(), Error> {
        let Some(token) = &self.control_token else {
            return Ok(());
        };
        let token = token.expose();
        if token.trim().is_empty() {
            return Err(Error::config(
                "the control token is empty or blank, which would leave the control API open: \
                 give a real token (--control-token, PRELUDE_MOCK_CONTROL_TOKEN or \
                 control_token in the config file), or none at all",
            ));
        }
        if token.chars().count() < MIN_CONTROL_TOKEN_CHARS {
            tracing::warn!(
                "the control token has fewer than {MIN_CONTROL_TOKEN_CHARS} characters: \
                 anyone who can reach the control API can guess it"
            );
        }
        Ok(())
    }

    pub(crate) fn app_id(&self) -> &str {
        self.app_id.as_deref().unwrap_or("app_mock")
    }

    pub(crate) fn issuer(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("https://{}.session.prelude.dev", self.app_id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_toml_file_keeps_the_other_defaults() {
        let config: ServerConfig = toml::from_str(
            "app_id = \"app_x\"\n[policy]\nreuse_grace_seconds = 5\nnonce_mode = \"rotating\"\n\
             [[users]]\nemail = \"a@b.c\"\npassword = \"pw\"\n",
        )
        .expect("parses");
        assert_eq!(config.policy.reuse_grace_seconds, 5);
        assert_eq!(config.policy.nonce_mode, NonceMode::Rotating);
        assert_eq!(config.policy.access_token_ttl_seconds, 900);
        assert_eq!(config.issuer(), "https://app_x.session.prelude.dev");
        assert_eq!(config.users.len(), 1);
    }

    #[test]
    fn unknown_policy_fields_and_bad_values_are_rejected() {
        assert!(toml::from_str::<ServerConfig>("[policy]\nreuse_grace = 5\n").is_err());
        let policy = Policy {
            nonce_history: 0,
            ..Policy::default()
        };
        assert!(policy.validate().is_err());
        assert!("no-colon".parse::<SeedUser>().is_err());
        assert_eq!(
            "a@b.c:pw".parse::<SeedUser>().map(|u| u.password),
            Ok(Secret::new("pw"))
        );
    }
}
