Feature: Transient faults and backoff
  Errors the server answered (5xx, 429) did not rotate anything: retrying them is safe, and
  so is giving them to the caller. A request that never reached the server is safe to retry
  too. Error answers leave the stored session untouched.

  Which SDK does what: the reference client retries a transient answer within the call, with
  backoff. Prelude's own SDKs do not retry a 5xx or 429 on refresh (apple-session-sdk and
  android-auth-sdk give the error to the caller; the web SDK 0.6.0 retries network errors and
  timeouts only): only a later call goes to the wire. What must hold, holds for both;
  backoff and Retry-After are judged only for an SDK that retries within the call.

  Background:
    Given a mock Prelude server
    And a registered user

  @must @prelude-web @prelude-mobile
  Scenario Outline: A transient error answer costs nothing
    # Two refresh requests either way: the retry within the call (web), or the next call
    # (native) after the first one failed.
    Given the client is logged in
    And the next refresh request fails with status <status> "<code>"
    When the client invalidates its cache
    And the client refreshes
    And the client refreshes again
    Then the call succeeds
    And the server received exactly 2 refresh requests
    And the server detected no refresh token reuse
    And the client still stores credentials

    Examples:
      | status | code         |
      | 500    | internal     |
      | 503    | internal     |
      | 429    | rate_limited |

  @should
  Scenario: Retries of a failing server back off
    # Judged over ten retries, not one gap after another: a jittered backoff (AWS's full
    # jitter draws each delay from [0, base·2ⁿ]) may make one delay shorter than the last,
    # but ten of them from a 200 ms base cannot add up to less than 200 ms. Skipped for an
    # SDK that does not retry within the call.
    Given the client backs off from 200 ms
    And the client is logged in
    When the client refreshes 10 times against a server that fails each first try with status 503 "internal"
    Then the refresh retries waited at least 200 ms in all
    And the call succeeds
    And the server detected no refresh token reuse

  @should
  Scenario: A 429's Retry-After is honoured
    # An SDK that does not retry within the call passes: its next try is the caller's.
    Given the client is logged in
    And the next refresh request fails with status 429 "rate_limited" and Retry-After 1
    When the client invalidates its cache
    And the client refreshes
    Then no refresh retry came sooner than 1 second after the previous request
    And the server detected no refresh token reuse

  @must
  Scenario: A server that stays down gives up after a bounded number of tries
    Given the client is logged in
    And the next 10 refresh requests fail with status 503 "internal"
    When the client invalidates its cache
    And the client refreshes
    Then the call fails
    And the server received between 1 and 5 refresh requests
    And the client still stores credentials

  @must
  Scenario Outline: An error answer leaves the stored session usable
    # A proof the server refused says nothing about the refresh token: the session stays.
    Given the client is logged in
    And the next refresh request fails with status 400 "<code>"
    When the client invalidates its cache
    And the client refreshes
    And the client refreshes again
    Then the call succeeds
    And the server detected no refresh token reuse

    Examples:
      | code               |
      | bad_request        |
      | invalid_dpop_proof |

  @must
  Scenario: A reset connection never costs the session
    Given the client is logged in
    And the connection of the next refresh is reset
    When the client invalidates its cache
    And the client refreshes
    And the client refreshes again
    Then the call succeeds
    And the server detected no refresh token reuse
