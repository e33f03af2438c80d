@prelude-api
Feature: Login
  An SDK logs in with email and password: it gets a challenge token, then finalizes it with
  a DPoP proof, which binds the new session to the SDK's key.

  Background:
    Given a mock Prelude server
    And a registered user

  @must @rfc9449-5
  Scenario: Password login creates one session bound to the client's DPoP key
    When the client logs in
    Then the call succeeds
    And the server created exactly 1 session
    And every finalize proof was signed by the key the session is bound to
    And every finalize proof was for POST to its exact URL
    And the client stores credentials

  @must
  Scenario: A wrong password is refused and nothing is stored
    When the client logs in with a wrong password
    Then the call fails
    And the server received no finalize request
    And the client stores no credentials

  @must @rfc9449-8
  Scenario: A login on a server requiring DPoP nonces finalizes with the nonce
    # A client may learn the nonce from any earlier answer (RFC 9449 §8) and finalize once,
    # or be challenged and retry once: both are right.
    Given the server requires DPoP nonces
    When the client logs in
    Then the call succeeds
    And the server created exactly 1 session
    And the server received between 1 and 2 finalize requests
    And the accepted finalize carried the server's nonce
    And every nonce challenge on finalize was retried at most once, with a fresh jti

  @must @needs-otp_login
  Scenario: An OTP login with the right code creates one session bound to the client's key
    When the client starts an OTP login
    And the client enters the right OTP code
    Then the call succeeds
    And the server created exactly 1 session
    And the server received exactly 1 OTP start request
    And the client stores credentials

  @must @needs-otp_login
  Scenario: A wrong OTP code is refused, and the right one still logs in
    When the client starts an OTP login
    And the client enters the wrong OTP code
    Then the call fails with code "bad_check_code"
    And the client stores no credentials
    When the client enters the right OTP code
    Then the call succeeds
    And the server created exactly 1 session

  @should @needs-otp_login
  Scenario: The OTP code can be sent again before it is entered
    When the client starts an OTP login
    And the client asks for the OTP code again
    And the client enters the right OTP code
    Then the call succeeds
    And the server received exactly 1 OTP retry request
    And the server created exactly 1 session

  @should @needs-state
  Scenario: Login moves the state to logged in
    When the client logs in
    Then the client's state is "logged_in"

  @should @prelude-mobile @rfc9449-4.2
  Scenario: Proofs name the server in lower case whatever the configured URL's case
    # Scheme and host are case-insensitive (RFC 3986 §6.2.2.1); the native SDKs lowercase
    # them in htu, so a server comparing byte for byte still accepts the proof.
    Given the client is configured with its server URL in mixed case
    When the client logs in
    And the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And every DPoP proof the client sent named the server in lower case

  @should @prelude-mobile
  Scenario: A second login ends the previous session
    # The native SDKs forward the previous session's refresh token on login/finalize
    # (X-Refresh-Token), so the server ends that session; logging it out first does too.
    Given the client is logged in
    When the client logs in again
    Then the call succeeds
    And the server created exactly 1 session
    And the client's previous session is revoked on the server
    And the client's session is active on the server

  @should @prelude-mobile @needs-restart
  Scenario: Every request carries one stable X-Device-Id, across restarts
    # One id per install, not per launch: the server lists the device once.
    Given the client is logged in
    When the client is restarted
    And the client invalidates its cache
    And the client refreshes
    And the client logs out
    Then every request the server received carried the same X-Device-Id

  @must
  Scenario: No error message repeats a secret
    # Error messages end up in logs and crash reports: never the password, a token or a key.
    Given the client logs in with a wrong password
    And the client is logged in
    And the server revokes the client's session
    When the client invalidates its cache
    And the client refreshes
    And the client logs in with a wrong password
    Then the call fails
    And no message the SDK gave contained a secret
