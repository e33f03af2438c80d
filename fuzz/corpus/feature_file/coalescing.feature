@prelude-mobile @prelude-web
Feature: Coalescing concurrent refreshes
  Refresh tokens are single-use. Every caller that needs a refresh at the same moment must
  share one request, so the same token is never spent twice.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in
    And the client invalidates its cache

  @must
  Scenario Outline: Concurrent refresh callers share one request
    # The delay keeps the one request on the wire until every caller has arrived, so the
    # outcome does not depend on scheduling.
    Given the next refresh is delayed by 100 ms
    When <n> callers refresh at once
    Then all <n> callers succeed
    And all callers got the same access token
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse

    Examples:
      | n   |
      | 2   |
      | 20  |
      | 200 |

  @must
  Scenario: Callers arriving while the refresh is on the wire join it
    # The first caller's refresh is held by the server; the others arrive 100 ms after the
    # server received it, long after any "simultaneous callers" window, and long before the
    # answer even on a loaded machine.
    Given the next refresh is delayed by 2000 ms
    When a caller refreshes, and 100 ms after the server received its request 20 more callers refresh
    Then all 21 callers succeed
    And all callers got the same access token
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse

  @should @seed-ios
  Scenario: Concurrent callers share a failed refresh too
    Given the server revokes the client's session
    And the next refresh is delayed by 100 ms
    When 20 callers refresh at once
    Then all callers fail with kind "unauthorized"
    And the server received exactly 1 refresh request

  @must @needs-shared_storage @prelude-web
  Scenario: Two instances sharing storage refresh once between them
    Given client "tab2" shares storage with the client
    # Held on the wire until every caller has arrived, as above: otherwise, on a loaded
    # machine, an SDK that does not coordinate can pass by refreshing before the rest start.
    And the next refresh is delayed by 100 ms
    When 10 callers refresh at once on the client and on client "tab2"
    Then all 20 callers succeed
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse

  @must @needs-multi_process
  Scenario: Two processes sharing storage refresh once between them
    Given client "proc2" runs in another process sharing storage with the client
    # Held on the wire until every caller has arrived, as above: otherwise, on a loaded
    # machine, an SDK that does not coordinate can pass by refreshing before the rest start.
    And the next refresh is delayed by 100 ms
    When 10 callers refresh at once on the client and on client "proc2"
    Then all 20 callers succeed
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse
