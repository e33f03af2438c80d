@prelude-mobile
Feature: Logout
  Logout wipes local credentials first, then revokes the session on the server with a
  proof signed by a snapshot of the key. Concurrent callers share one logout; a second
  logout does nothing; nothing brings a wiped session back.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @must
  Scenario: Logout wipes local credentials and revokes the session on the server
    When the client logs out
    Then the call succeeds
    And the client stores no credentials
    And the server received exactly 1 logout request
    And the client's session is revoked on the server

  @must
  Scenario: A second logout brings nothing back and spends nothing
    # An SDK whose refresh token lives in an HttpOnly cookie may still ask the server; what
    # matters is that nothing comes back.
    When the client logs out
    And the client logs out again
    Then the client stores no credentials
    And the server accepted exactly 1 logout request
    And the client's session is revoked on the server

  @should
  Scenario: Logout is idempotent
    When the client logs out
    And the client logs out again
    Then the call succeeds
    And the server received exactly 1 logout request

  @should
  Scenario: Concurrent logouts send one revoke
    When 20 callers log out at once
    Then all callers succeed
    And the server received exactly 1 logout request
    And the client stores no credentials

  @should @seed-ios @seed-android
  Scenario: Logout wipes local credentials even when the server call fails
    Given the next logout request fails with status 500 "internal"
    When the client logs out
    Then the client stores no credentials

  @must
  Scenario: A refresh racing a logout cannot bring the session back
    Given the next refresh is delayed by 300 ms
    And the client invalidates its cache
    When the client refreshes and logs out at once
    Then the client stores no credentials

  @must
  Scenario: After logout, refresh fails and nothing comes back
    # An SDK may create a fresh DPoP key for the attempt (the web SDK does): what must not
    # happen is a refresh the server accepts.
    When the client logs out
    And the client refreshes
    Then the call fails
    And the server accepted no refresh request
    And the client's session is revoked on the server

  @should
  Scenario: After logout, refresh fails locally without network
    When the client logs out
    And the client refreshes
    Then the call fails with kind "not_logged_in"
    And the server received no refresh request

  @should @needs-state
  Scenario: Logout moves the state to logged out
    When the client logs out
    Then the client's state is "logged_out"
