@server @prelude-api
Feature: Server: refresh token rotation and reuse
  Refresh tokens are single-use: each refresh rotates it, presenting a rotated token again
  ends the session, and of concurrent requests with the same token exactly one wins.

  Background:
    Given a registered user
    And a session logged in over raw HTTP

  @must
  Scenario: Each refresh rotates the refresh token
    When the session refreshes with a valid proof
    And the session refreshes with a valid proof
    Then the answer is 200
    And no refresh token was presented twice

  @must
  Scenario: Presenting a rotated refresh token again ends the session
    Given the session refreshes with a valid proof
    When the session presents its previous refresh token
    Then the answer is 401 with code "unauthorized"
    And the server detected 1 refresh token reuse
    And the session can no longer refresh

  @must
  Scenario: Of concurrent requests with the same refresh token exactly one wins
    When 20 requests present the same refresh token at once
    Then exactly 1 of the answers is 200
    And exactly 19 of the answers are 401
    And every error answer is a Prelude error body

  @should
  Scenario: Inside the grace window the previous token gets the same successor
    Given the server has a refresh token reuse grace window of 10 seconds
    And the session refreshes with a valid proof
    When the session presents its previous refresh token
    Then the answer is 200
    And the server reissued 1 refresh token inside the grace window
    And the session can still refresh
