@prelude-api
Feature: Listing sessions
  GET /me/list pages through the user's active sessions with their device data.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @must @needs-list_sessions
  Scenario: The list shows this session and the user's other devices
    Given another device of the same user is logged in as Prelude/0.3.0 (Apple; iOS 17.4)
    When the client lists sessions
    Then the call succeeds
    And the list has 2 sessions of 2 in total
    And the list includes the client's session
    And the list includes the other device's session as a "mobile" device

  @must @needs-list_sessions
  Scenario Outline: The list is paginated
    Given 4 other devices of the same user are logged in
    When the client lists sessions with limit <limit> and offset <offset>
    Then the list has <shown> sessions of 5 in total
    And every DPoP proof the client sent had an htu without query or fragment

    Examples:
      | limit | offset | shown |
      | 2     | 0      | 2     |
      | 2     | 4      | 1     |
      | 10    | 0      | 5     |
      | 10    | 5      | 0     |

  @must @needs-list_sessions @prelude-mobile
  Scenario: A device type the SDK does not know is listed as unknown
    Given another device of the same user has a session with device type "smartwatch"
    When the client lists sessions
    Then the call succeeds
    And the list has 2 sessions of 2 in total
    And the list shows the "smartwatch" device as "unknown"

  @must @needs-list_sessions
  Scenario Outline: An invalid page size is refused by the server
    When the client lists sessions with limit <limit>
    Then the call fails with kind "server" and code "invalid_pagination_limit"

    Examples:
      | limit |
      | 0     |
      | 101   |

  @must @needs-list_sessions
  Scenario: Listing does not touch the refresh token
    When the client lists sessions
    Then the server received no refresh request
    And the server received exactly 1 list request

  @must @needs-list_sessions
  Scenario: A list answer with members the SDK does not know is read
    # A newer server adds members; an SDK that refuses them breaks on the next deploy.
    Given another device of the same user is logged in
    And the next list answer carries members the SDK does not know
    When the client lists sessions
    Then the call succeeds
    And the list has 2 sessions of 2 in total
