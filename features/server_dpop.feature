@server @rfc9449
Feature: Server: DPoP proof verification
  The server refuses a refresh whose proof is missing, malformed, forged, mis-bound, stale
  or replayed, answers with the right Prelude error code as JSON, and does not spend the
  refresh token when it refuses.

  Background:
    Given a registered user
    And a session logged in over raw HTTP

  @must @rfc9449-4.3
  Scenario: A valid proof is accepted
    When the session refreshes with a valid proof
    Then the answer is 200

  @must @rfc9449-4.3
  Scenario Outline: A defective proof is refused and the token is not spent
    # Prelude's docs do not state invalid_dpop_proof's status; the native SDKs' fixtures
    # stub 400 (as at an OAuth token endpoint, RFC 9449 §5) and the mock answers 400.
    When the session refreshes with <proof>
    Then the answer is <status> with code "<code>"
    And every error answer is a Prelude error body
    And the session can still refresh

    Examples:
      | proof                                   | status     | code                |
      | no proof                                | 401        | missing_dpop_proof  |
      | a malformed proof                       | 400 or 401 | invalid_dpop_proof  |
      | a proof with a forged signature         | 400 or 401 | invalid_dpop_proof  |
      | a proof of type JWT                     | 400 or 401 | invalid_dpop_proof  |
      | a proof with algorithm none             | 400 or 401 | invalid_dpop_proof  |
      | a proof with algorithm HS256            | 400 or 401 | invalid_dpop_proof  |
      | a proof that carries its private key    | 400 or 401 | invalid_dpop_proof  |
      | a proof for method GET                  | 400 or 401 | invalid_dpop_proof  |
      | a proof for another URL                 | 400 or 401 | invalid_dpop_proof  |
      | a proof issued 10 minutes ago           | 400 or 401 | invalid_dpop_proof  |
      | a proof issued 10 minutes in the future | 400 or 401 | invalid_dpop_proof  |
      | a proof without a jti                   | 400 or 401 | invalid_dpop_proof  |
      | a proof without an iat                  | 400 or 401 | invalid_dpop_proof  |

  @must @rfc9449-4.3 @prelude-api
  Scenario: A proof signed by a key the session is not bound to is refused
    When the session refreshes with a proof signed by another key
    Then the answer is 401 with code "dpop_key_mismatch"
    And the session can still refresh

  @must @rfc9449-11.1
  Scenario: A replayed proof is refused
    Given the session refreshes with a valid proof
    When the session replays its last proof
    Then the answer is 400 or 401 with code "invalid_dpop_proof"
    And the server rejected 1 replayed proof

  @must @rfc9449-8
  Scenario: A server requiring nonces challenges a proof without one
    Given the server requires DPoP nonces
    When the session refreshes with a proof without a nonce
    Then the answer is 400 with code "use_dpop_nonce"
    And the answer carries a DPoP-Nonce header
    And the session can still refresh

  @must @rfc9449-8
  Scenario: A made-up nonce is challenged
    Given the server requires DPoP nonces
    When the session refreshes with a proof with a made-up nonce
    Then the answer is 400 with code "use_dpop_nonce"
    And the answer carries a DPoP-Nonce header
