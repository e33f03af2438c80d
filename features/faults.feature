@prelude-mobile
Feature: Transient faults and backoff
  Errors the server answered (5xx, 429) did not rotate anything: retrying them is safe.
  A request that never reached the server is safe to retry too. Error answers leave the
  stored session untouched.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @should
  Scenario Outline: A transient error answer is retried with backoff
    Given the next refresh request fails with status <status> "<code>"
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server received exactly 2 refresh requests
    And the server detected no refresh token reuse

    Examples:
      | status | code         |
      | 500    | internal     |
      | 503    | internal     |
      | 429    | rate_limited |

  @should
  Scenario: Retries of a failing server wait longer each time
    Given the next 2 refresh requests fail with status 503 "internal"
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the refresh retries waited longer each time

  @should
  Scenario: A 429's Retry-After is honoured
    Given the next refresh request fails with status 429 "rate_limited" and Retry-After 1
    When the client invalidates its cache
    And the client refreshes
    Then no refresh retry came sooner than 1 second after the previous request
    And the server detected no refresh token reuse

  @must
  Scenario: A server that stays down gives up after a bounded number of tries
    Given the next 10 refresh requests fail with status 503 "internal"
    When the client invalidates its cache
    And the client refreshes
    Then the call fails
    And the server received between 1 and 5 refresh requests
    And the client still stores credentials

  @must
  Scenario: An error answer leaves the stored session usable
    Given the next refresh request fails with status 400 "bad_request"
    When the client invalidates its cache
    And the client refreshes
    And the client refreshes again
    Then the call succeeds
    And the server detected no refresh token reuse

  @must
  Scenario: A reset connection never costs the session
    Given the connection of the next refresh is reset
    When the client invalidates its cache
    And the client refreshes
    And the client refreshes again
    Then the call succeeds
    And the server detected no refresh token reuse
