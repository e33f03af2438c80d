@example
Feature: A team's own scenario, built from the library's steps and two of its own

  @must
  Scenario: A refresh is one POST with a proof, and the new token works
    Given a mock Prelude server
    And a registered user
    And the client is logged in
    And the client invalidates its cache
    When the client refreshes
    Then the call succeeds
    And the server received exactly 1 refresh request
    And every refresh request carried a DPoP proof with a jti of at least 16 characters
    And the client's token is accepted by the server's session list
