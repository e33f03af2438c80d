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

  @must
  Scenario: Logout waits for a refresh on the wire and revokes what it returns
    # The server has already rotated the token when its answer arrives 1 s late. A logout
    # that does not wait revokes with the spent token: the server sees a reuse and the
    # session ends by accident, or worse, it stays alive with a token nobody holds. The
    # native SDKs' logout waits for the refresh (apple-session-sdk's tests).
    Given the next refresh is answered 1000 ms late
    And the client invalidates its cache
    When the client refreshes, and logs out while the server holds the refresh's answer
    Then the client stores no credentials
    And the client's session is revoked on the server
    And the server detected no refresh token reuse

  @should
  Scenario: A login answer that arrives after logout is not stored
    # The logout came last: whatever the login brings back when it lands, the user asked
    # to be logged out.
    Given the client logs out
    And the next finalize is delayed by 1000 ms
    When the client logs in, and logs out while the server holds the login's answer
    Then the client stores no credentials
