@prelude-web @prelude-mobile
Feature: Refresh and the access-token cache
  refresh() returns the cached access token while it is valid; otherwise it spends the
  single-use refresh token once and stores the rotated one before anything else.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @must
  Scenario: A valid cached access token is returned without network
    When the client refreshes
    Then the call succeeds
    And the server received no refresh request

  @must
  Scenario: Invalidating the cache is local only
    When the client invalidates its cache
    Then the server received no requests
    And the client stores credentials

  @must
  Scenario: An invalidated cache makes the next refresh rotate the tokens
    Given the client's access token is noted
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server received exactly 1 refresh request
    And the client's access token differs from the noted one

  @must
  Scenario: Each refresh presents the token the previous one returned
    When the client invalidates its cache
    And the client refreshes
    And the client invalidates its cache
    And the client refreshes again
    And the client invalidates its cache
    And the client refreshes again
    Then the call succeeds
    And the server received exactly 3 refresh requests
    And no refresh token was presented twice
    And the server detected no refresh token reuse

  @must @needs-restart
  Scenario: A restarted client resumes its stored session
    When the client is restarted
    And the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse

  @must
  Scenario: Refresh without a session fails locally
    Given client "fresh" is configured
    When client "fresh" refreshes
    Then client "fresh"'s call fails with kind "not_logged_in"
    And the server received no refresh request
