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
