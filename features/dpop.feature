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

  @must @rfc9449-8
  Scenario: A nonce on a successful answer replaces the stored one
    # RFC 9449 §8.2: the server may hand out the next nonce on any answer. The first refresh
    # is accepted with the old nonce and its answer carries the new one; after the next
    # rotation only the new one is accepted.
    Given the server requires rotating DPoP nonces that change every 10 seconds, the last 2 accepted
    And the client is logged in
    When the server's DPoP nonce rotates
    And the client invalidates its cache
    And the client refreshes
    And the server's DPoP nonce rotates
    And the client invalidates its cache
    And the client refreshes again
    Then the call succeeds
    And the server challenged no refresh requests for a nonce in the last step
    And the server detected no refresh token reuse

  @must @rfc9449-8
  Scenario Outline: A nonce challenge is answered at most once
    # Every answer is a challenge (with a nonce): one retry, then the error goes to the
    # caller. Looping on challenges is how a client hammers a server that lost its nonces.
    Given the server requires DPoP nonces
    And the client invalidates its cache
    And the next 10 <route> requests fail with status 400 "use_dpop_nonce"
    When the client <action>
    Then the server received between 1 and 2 <route> requests
    And the server detected no refresh token reuse

    Examples:
      | route   | action    |
      | refresh | refreshes |
      | logout  | logs out  |

  @must @rfc9449-8 @needs-list_sessions
  Scenario: A nonce challenge on the session list is answered at most once
    Given the server requires DPoP nonces
    And the next 10 list requests fail with status 400 "use_dpop_nonce"
    When the client lists sessions
    Then the call fails
    And the server received between 1 and 2 list requests

  @should @rfc9449-8
  Scenario: A logout on a server requiring nonces carries the nonce
    # The client has known the nonce since its login: its logout proof carries it, without
    # a challenge first.
    Given the server requires DPoP nonces
    And the client invalidates its cache
    And the client refreshes
    When the client logs out
    Then the server received exactly 1 logout request
    And the server accepted exactly 1 logout request
    And the accepted logout carried the server's nonce
    And the client's session is revoked on the server

  @should @prelude-mobile @rfc9449-8
  Scenario: A nonce from a challenge is kept even when the retry fails
    # apple-session-sdk and android-auth-sdk persist the challenge's nonce before retrying,
    # so a failed retry does not cost the next call a challenge.
    Given the server requires rotating DPoP nonces that change every 10 seconds, the last 1 accepted
    And the client is logged in
    And the server's DPoP nonce rotates
    And the second refresh request fails with status 400 "bad_request"
    And the client invalidates its cache
    And the client refreshes
    When the client refreshes again
    Then the call succeeds
    And the server challenged no refresh requests for a nonce in the last step

  @should @prelude-mobile @rfc9449-8 @needs-restart
  Scenario: A persisted nonce survives a restart
    # The native SDKs keep the nonce with the session: the first proof after a restart
    # carries it.
    Given the server requires DPoP nonces
    And the client invalidates its cache
    And the client refreshes
    When the client is restarted
    And the client invalidates its cache
    And the client refreshes again
    Then the call succeeds
    And the server challenged no refresh requests for a nonce

  @should @prelude-mobile @rfc9449-4.3
  Scenario: A proof refused without clock drift is not re-signed
    # The native SDKs re-sign a proof refused as invalid_dpop_proof once, and only when the
    # answer's Date shows the clocks at least a second apart: here they agree.
    Given the next refresh request fails with status 400 "invalid_dpop_proof"
    When the client invalidates its cache
    And the client refreshes
    Then the call fails
    And the server received exactly 1 refresh request
    And the client still stores credentials

  @should @prelude-mobile @rfc9449-4.3
  Scenario: A clock skew that went away is corrected
    # Learned when the server ran 10 minutes ahead, the skew is stale once the server's
    # clock is set back: the refused proof's Date tells the SDK, and the re-signed one is
    # accepted.
    Given the server's clock jumps 10 minutes ahead
    And the client invalidates its cache
    And the client refreshes
    When the server's clock jumps 10 minutes back
    And the client invalidates its cache
    And the client refreshes again
    Then the call succeeds
    And the server detected no refresh token reuse
