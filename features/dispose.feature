@seed-flutter @seed-react-native
Feature: Dispose
  dispose() releases a client instance: later calls fail, nothing is revoked or wiped, and
  disposing twice is fine.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @should @needs-dispose
  Scenario: A disposed client refuses calls without network
    When the client is disposed
    And the client refreshes
    Then the call fails with kind "disposed"
    And the server received no requests

  @should @needs-dispose
  Scenario: Dispose neither revokes nor wipes, and is idempotent
    When the client is disposed
    And the client is disposed again
    Then the call succeeds
    And the client stores credentials
    And the server received no logout request
