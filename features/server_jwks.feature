@server @prelude-api
Feature: Server: access tokens and the JWKS
  A backend verifies access tokens with the keys published at /.well-known/jwks.json. When
  the signing key rotates, the JWKS publishes the old and the new key for an overlap, so
  tokens signed just before the rotation keep verifying; after it, the old key is gone.

  Background:
    Given a registered user
    And a session logged in over raw HTTP

  @must
  Scenario: Access tokens verify against the JWKS
    Then the current access token verifies against the JWKS
    And the JWKS publishes 1 key

  @should
  Scenario: During a key rotation both keys are published and old tokens keep verifying
    Given the session's access token is noted
    When the server rotates its signing key, keeping the old one for 600 seconds
    And the session refreshes with a valid proof
    Then the JWKS publishes 2 keys
    And the noted access token verifies against the JWKS
    And the noted access token is accepted by the server
    And the current access token verifies against the JWKS
    And the current access token is accepted by the server

  @should
  Scenario: After the overlap the old key is withdrawn
    Given the session's access token is noted
    And the server rotates its signing key, keeping the old one for 60 seconds
    When 61 seconds pass on the server's clock
    And the session refreshes with a valid proof
    Then the JWKS publishes 1 key
    And the noted access token is refused by the server
    And the current access token verifies against the JWKS
