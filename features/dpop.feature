@rfc9449
Feature: DPoP proofs
  Every refresh and logout carries a DPoP proof (RFC 9449, ES256) signed by the key the
  session was bound to at login, with a fresh jti, the exact method and URL, and the
  server's latest nonce once one is known.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @must @rfc9449-4.2
  Scenario: Refresh proofs are well-formed and bound to the session's key
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And every DPoP proof the server received was valid
    And every refresh proof was signed by the key the session is bound to
    And every refresh proof was for POST to its exact URL

  @must @rfc9449-11.1
  Scenario: Every proof has a fresh jti
    When the client invalidates its cache
    And the client refreshes
    And the client invalidates its cache
    And the client refreshes again
    And the client logs out
    Then every DPoP proof had a fresh jti

  @must @rfc9449-8
  Scenario: A refresh on a server that starts requiring nonces carries the nonce
    Given the server starts requiring DPoP nonces
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server received between 1 and 2 refresh requests
    And the accepted refresh carried the server's nonce
    And every nonce challenge on refresh was retried at most once, with a fresh jti
    And the server detected no refresh token reuse

  @must @rfc9449-8 @needs-list_sessions
  Scenario Outline: Nonces required after login do not break session listing
    Given the server starts requiring <nonces>
    When the client lists sessions with limit 5
    Then the call succeeds
    And every DPoP proof the client sent had an htu without query or fragment

    Examples:
      | nonces               |
      | DPoP nonces          |
      | rotating DPoP nonces |

  @must @rfc9449-8 @needs-authorized_get
  Scenario: Nonces required after login do not break authorised requests
    Given the server starts requiring DPoP nonces
    When the client makes an authorised request to "/v1/session/me/list"
    Then the request was answered 200

  @must @rfc9449-8
  Scenario: A nonce once learned is sent in later proofs without a new challenge
    Given the server starts requiring DPoP nonces
    And the client invalidates its cache
    And the client refreshes
    When the client invalidates its cache
    And the client refreshes again
    Then the call succeeds
    And the server received exactly 1 refresh request

  @must @rfc9449-8
  Scenario: A nonce challenge without a nonce neither loops nor costs the session
    Given the next refresh request fails with status 400 "use_dpop_nonce"
    When the client invalidates its cache
    And the client refreshes
    Then the server received between 1 and 4 refresh requests
    And the server detected no refresh token reuse
    And the client still stores credentials

  @must @rfc9449-4.2
  Scenario: Logout proofs are signed by the session's key
    When the client logs out
    Then every logout proof was signed by the key the session is bound to
    And every logout proof was for POST to its exact URL
