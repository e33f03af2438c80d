@prelude-web @prelude-mobile
Feature: Auto-refresh on 401
  A protected request answered 401 makes the SDK refresh (joining any refresh in flight)
  and retry once; if that refresh fails, the caller gets the original 401.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @must @needs-authorized_get
  Scenario: A 401 triggers one refresh and one retry
    Given the server expires the client's access token
    When the client makes an authorised request to "/v1/session/me/list"
    Then the request was answered 200
    And the server received exactly 1 refresh request
    And the server received exactly 2 list requests

  @must @needs-authorized_get
  Scenario: When the refresh fails, the original 401 is returned
    Given the server expires the client's access token
    And the server revokes the client's session
    When the client makes an authorised request to "/v1/session/me/list"
    Then the request was answered 401
    And the server received exactly 1 refresh request
    And the server received exactly 1 list request

  @must @needs-authorized_get
  Scenario: Concurrent 401s share one refresh
    Given the server expires the client's access token
    And the next refresh is delayed by 200 ms
    When 10 authorised requests to "/v1/session/me/list" are made at once
    Then all requests were answered 200
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse

  @must @needs-authorized_get
  Scenario Outline: Only a 401 makes the SDK refresh
    # A 403 or a 429 says nothing about the access token: refreshing would spend the
    # refresh token for nothing.
    Given the next list request fails with status <status> "<code>"
    When the client makes an authorised request to "/v1/session/me/list"
    Then the server received no refresh request

    Examples:
      | status | code         |
      | 403    | forbidden    |
      | 429    | rate_limited |
