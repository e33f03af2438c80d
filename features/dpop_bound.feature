@rfc9449 @rfc9449-7
Feature: DPoP-bound access tokens
  With binding on, the server's access tokens carry cnf.jkt (RFC 9449 §6) and the session
  routes (/me/*) want them sent with the DPoP scheme and a proof by the session's key whose
  ath is the token's hash (§7.1), with the server's nonce once it asks for one. Prelude's
  SDKs send Bearer today; this is what a server that binds its tokens needs.

  Background:
    Given a mock Prelude server
    And a registered user
    And the server binds access tokens to the session's DPoP key
    And the client is logged in

  @should @needs-list_sessions
  Scenario: Sessions are listed with a DPoP-bound access token
    When the client lists sessions with limit 5
    Then the call succeeds
    And every DPoP proof the server received was valid
    And every DPoP proof the client sent had an htu without query or fragment

  @should @needs-authorized_get
  Scenario: An authorised request sends a DPoP-bound access token with a proof
    When the client makes an authorised request to "/v1/session/me/list"
    Then the request was answered 200
    And every DPoP proof the server received was valid

  @should @needs-list_sessions @rfc9449-8
  Scenario Outline: A nonce challenge on a session route is answered
    Given the server starts requiring <nonces>
    When the client lists sessions with limit 5
    Then the call succeeds
    And every DPoP proof the client sent had an htu without query or fragment

    Examples:
      | nonces               |
      | DPoP nonces          |
      | rotating DPoP nonces |

  @should @needs-list_sessions @rfc9449-9
  Scenario: A nonce challenge in the RFC 9449 resource form is answered
    # RFC 9449 §9: a resource server asks for a nonce with 401 and
    # WWW-Authenticate: DPoP error="use_dpop_nonce"; Prelude answers 400 with the code in
    # the body. The same JSON body comes with both, so an SDK may read either. A nonce
    # challenge is not an expired token: no refresh token is spent on it.
    Given the server answers DPoP errors on session routes as RFC 9449 challenges
    And the server starts requiring DPoP nonces
    When the client lists sessions with limit 5
    Then the call succeeds
    And the server received between 1 and 2 list requests
    And the server received no refresh request
    And every DPoP proof the client sent had an htu without query or fragment

  @should @needs-revoke
  Scenario: Other sessions are revoked with a DPoP-bound access token
    Given another device of the same user is logged in
    When the client revokes "others" sessions
    Then the call succeeds
    And the other device's session is revoked on the server
    And every DPoP proof the client sent had an htu without query or fragment
