@prelude-api
Feature: Rotation, reuse and lost answers
  A refresh whose answer is lost may already have rotated the token on the server. Sending
  the old token again outside the server's reuse grace window makes the server revoke the
  session, so an SDK must not re-send it blindly.

  Background:
    Given a mock Prelude server
    And a registered user

  @must
  Scenario: A lost refresh answer is not re-sent without a grace window
    Given the client is logged in
    And the next refresh is committed but its answer is lost
    When the client invalidates its cache
    And the client refreshes
    Then the call fails
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse

  @should @needs-reuse_grace
  Scenario: A lost refresh answer is recovered inside the grace window
    Given the server has a refresh token reuse grace window of 10 seconds
    And the client is logged in
    And the next refresh is committed but its answer is lost
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server received exactly 2 refresh requests
    And the server reissued 1 refresh token inside the grace window
    And the server detected no refresh token reuse

  @must
  Scenario: A session revoked on the server makes refresh fail as unauthorized
    Given the client is logged in
    And the server revokes the client's session
    When the client invalidates its cache
    And the client refreshes
    Then the call fails with kind "unauthorized"
    And the server received exactly 1 refresh request

  @must
  Scenario: A blocked user makes refresh fail as terminated
    Given the client is logged in
    And the user is blocked
    When the client invalidates its cache
    And the client refreshes
    Then the call fails with kind "terminated" and code "auth_blocked"
