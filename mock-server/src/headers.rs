//! The Prelude wire's header names, spelled once for the server and for test tooling (the
//! conformance suite, the benchmarks). Lower case, as HTTP/2 sends them; HTTP/1.1 compares
//! header names case-insensitively. SDKs under test keep their own spelling on purpose: a
//! conformance kit must not let a client lean on the server's code.

/// The refresh token: request header of refresh and logout, answer header of finalize and
/// refresh.
pub const REFRESH_TOKEN: &str = "x-refresh-token";
/// Absolute expiry (ISO-8601) of the refresh token in [`REFRESH_TOKEN`].
pub const REFRESH_TOKEN_EXPIRES_AT: &str = "x-refresh-token-expires-at";
/// The DPoP proof (RFC 9449).
pub const DPOP: &str = "dpop";
/// The server's DPoP nonce (RFC 9449 §8), on every answer when nonces are on.
pub const DPOP_NONCE: &str = "dpop-nonce";
/// The pending OTP verification, between `/otp` and `/otp/check`.
pub const VERIFICATION_TOKEN: &str = "x-verification-token";
/// A stable per-install id the native SDKs send on every request (journaled, and kept on the
/// sessions it logs in).
pub const DEVICE_ID: &str = "x-device-id";
