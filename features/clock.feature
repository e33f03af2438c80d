@prelude-mobile @prelude-web
Feature: Clock skew
  Devices run minutes off. The server's Date header tells the SDK how far: proofs must carry
  the server's time in iat (a proof refused for its iat may be re-signed once with the skew
  the error answer's Date reveals), and the access token's expiry must be judged on the
  corrected clock. The server's clock is moved here; the SDK's stays where it is.

  Background:
    Given a mock Prelude server
    And a registered user

  @must @rfc9449-4.3
  Scenario: A refresh after the server's clock jumps ahead succeeds
    Given the client is logged in
    And the server's clock jumps 10 minutes ahead
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server accepted exactly 1 refresh request
    And the server detected no refresh token reuse

  @must @rfc9449-4.3
  Scenario: A client ahead of the server logs in and refreshes
    Given the server's clock is 10 minutes behind the client's
    When the client logs in
    And the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server created exactly 1 session
    And the server accepted exactly 1 refresh request
    And the server detected no refresh token reuse

  @must
  Scenario: Cache expiry is judged on the server's clock
    # The server's token lives 5 minutes, but its clock is 10 minutes behind: on the
    # uncorrected local clock the token would look expired before it was issued.
    Given the server issues access tokens that live 300 seconds
    And the server's clock is 10 minutes behind the client's
    When the client logs in
    And the client refreshes
    Then the call succeeds
    And the server received no refresh request

  @must
  Scenario: Logout after the server's clock jumps ahead wipes local credentials
    Given the client is logged in
    And the server's clock jumps 10 minutes ahead
    When the client logs out
    Then the client stores no credentials

  @may
  Scenario: Logout after the server's clock jumps ahead still revokes the session
    # The reference client re-signs the refused logout proof once with the skew its Date
    # reveals. Prelude's native SDKs sign /revoke with the stored skew and cannot retry (the
    # key is already wiped), so the session stays until it expires on the server: both are
    # allowed, hence @may.
    Given the client is logged in
    And the server's clock jumps 10 minutes ahead
    When the client logs out
    Then the client stores no credentials
    And the client's session is revoked on the server
