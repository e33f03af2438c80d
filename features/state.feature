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
