@prelude-mobile @prelude-web
Feature: Revoking sessions and the wipe rules
  revokeSessions(target) ends sessions on the server. After success the SDK wipes local
  credentials for all, mine, and session(id) when id is its own session; others never
  wipes. A failure wipes nothing. A blank id is refused before any request.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in
    And another device of the same user is logged in

  @must @needs-revoke
  Scenario Outline: Revoking a target that includes this session wipes it
    When the client revokes "<target>" sessions
    Then the call succeeds
    And the client stores no credentials
    And the client's session is revoked on the server

    Examples:
      | target |
      | all    |
      | mine   |

  @must @needs-revoke
  Scenario: Revoking the others keeps this session
    When the client revokes "others" sessions
    Then the call succeeds
    And the client stores credentials
    And the client's session is active on the server
    And the other device's session is revoked on the server

  @must @needs-revoke
  Scenario: Revoking its own session by id wipes it
    When the client revokes its own session by id
    Then the call succeeds
    And the client stores no credentials

  @must @needs-revoke
  Scenario: Revoking another session by id keeps this session
    When the client revokes the other device's session by id
    Then the call succeeds
    And the client stores credentials
    And the other device's session is revoked on the server

  @must @needs-revoke
  Scenario: An empty session id is refused before any request
    When the client revokes the session ""
    Then the call fails with kind "invalid_argument"
    And the server received no session revoke request
    And the client stores credentials

  @should @needs-revoke @seed-ios @seed-android
  Scenario: A whitespace-only session id is refused before any request
    When the client revokes the session "   "
    Then the call fails with kind "invalid_argument"
    And the server received no session revoke request

  @must @needs-revoke
  Scenario Outline: A failed revoke wipes nothing
    Given the next 10 session revoke requests fail with status 500 "internal"
    When the client revokes "<target>" sessions
    Then the call fails
    And the client stores credentials
    And the client's session is active on the server

    Examples:
      | target |
      | all    |
      | others |
      | mine   |

  @must @needs-revoke
  Scenario: A revoke with an expired access token refreshes and retries
    # Revoking goes through the same 401, refresh, retry path as every authorised call.
    Given the server expires the client's access token
    When the client revokes "others" sessions
    Then the call succeeds
    And the other device's session is revoked on the server
    And the server received exactly 1 refresh request
    And the client stores credentials
