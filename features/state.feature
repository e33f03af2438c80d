@prelude-mobile
Feature: Session state
  The SDK reports where the session stands: logged out, logged in, expired (the server
  refused the refresh token) or terminated (the account was blocked).

  Background:
    Given a mock Prelude server
    And a registered user

  @should @needs-state
  Scenario: A fresh client is logged out
    Given the client is configured
    Then the client's state is "logged_out"

  @should @needs-state
  Scenario: A refused refresh token moves the state to expired
    Given the client is logged in
    And the server revokes the client's session
    When the client invalidates its cache
    And the client refreshes
    Then the client's state is "expired"
    And the client's state history includes "logged_in"

  @should @needs-state
  Scenario: A blocked user moves the state to terminated
    Given the client is logged in
    And the user is blocked
    When the client invalidates its cache
    And the client refreshes
    Then the client's state is "terminated" with code "auth_blocked"

  @should @needs-state @needs-restart
  Scenario: A restarted client with stored credentials starts logged in
    Given the client is logged in
    When the client is restarted
    Then the client's state is "logged_in"

  @should @needs-state_events @seed-react-native
  Scenario: A subscriber sees each transition once, in order
    Given the client is configured
    And the client subscribes to state changes
    When the client logs in
    And the client invalidates its cache
    And the client refreshes
    And the client logs out
    Then the client's subscriber saw "logged_in", "logged_out"

  @should @needs-state_events @seed-react-native
  Scenario: After unsubscribing, a subscriber sees nothing more
    Given the client is configured
    And the client subscribes to state changes
    When the client logs in
    And the client unsubscribes
    And the client logs out
    Then the client's subscriber saw "logged_in"

  @should @needs-state_events @needs-state_establishing @seed-ios
  Scenario: A login passes through establishing
    Given the client is configured
    And the client subscribes to state changes
    When the client logs in
    Then the client's subscriber saw "establishing" just before "logged_in"

  @should @needs-state
  Scenario: A failed login leaves the state where it was
    # Whether the SDK shows `establishing` while the login runs is its choice; after the
    # login failed, the state is what it was before (apple-session-sdk's tests).
    Given the client is configured
    And the next 10 finalize requests fail with status 500 "internal"
    When the client logs in
    Then the call fails
    And the client's state is "logged_out"
    And the client stores no credentials

  @should @needs-state_events
  Scenario: Every subscriber sees every transition
    Given the client is configured
    And the client subscribes to state changes as "first"
    And the client subscribes to state changes as "second"
    When the client logs in
    And the client logs out
    Then the client's subscriber "first" saw "logged_in", "logged_out"
    And the client's subscriber "second" saw "logged_in", "logged_out"

  @should @needs-state_events
  Scenario Outline: A session the server ended reaches subscribers
    # A subscriber that joins while logged in may first be told the current state; what
    # counts is that the new state reaches it.
    Given the client is logged in
    And the client subscribes to state changes
    And <ended>
    When the client invalidates its cache
    And the client refreshes
    Then the client's subscriber was told "<state>"

    Examples:
      | ended                                   | state      |
      | the server revokes the client's session | expired    |
      | the user is blocked                     | terminated |

  @should @needs-state_events @needs-revoke
  Scenario Outline: Revoking this session tells subscribers it is logged out
    Given the client is logged in
    And another device of the same user is logged in
    And the client subscribes to state changes
    When the client revokes "<target>" sessions
    Then the call succeeds
    And the client's subscriber was told "logged_out"

    Examples:
      | target |
      | all    |
      | mine   |
