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
  Scenario: A login challenged for a DPoP nonce is retried once with it
    Given the server requires DPoP nonces
    When the client logs in
    Then the call succeeds
    And the server received exactly 2 finalize requests
    And the retried finalize carried the server's nonce

  @should @needs-state
  Scenario: Login moves the state to logged in
    When the client logs in
    Then the client's state is "logged_in"
