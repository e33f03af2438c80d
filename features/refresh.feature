@prelude-web @prelude-mobile
Feature: Refresh and the access-token cache
  refresh() returns the cached access token while it is valid; otherwise it spends the
  single-use refresh token once and stores the rotated one before anything else.

  Background:
    Given a mock Prelude server
    And a registered user
    And the client is logged in

  @must
  Scenario: A valid cached access token is returned without network
    When the client refreshes
    Then the call succeeds
    And the server received no refresh request

  @must
  Scenario: Invalidating the cache is local only
    When the client invalidates its cache
    Then the server received no requests
    And the client stores credentials

  @must
  Scenario: An invalidated cache makes the next refresh rotate the tokens
    Given the client's access token is noted
    When the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server received exactly 1 refresh request
    And the client's access token differs from the noted one

  @must
  Scenario: Each refresh presents the token the previous one returned
    When the client invalidates its cache
    And the client refreshes
    And the client invalidates its cache
    And the client refreshes again
    And the client invalidates its cache
    And the client refreshes again
    Then the call succeeds
    And the server received exactly 3 refresh requests
    And no refresh token was presented twice
    And the server detected no refresh token reuse

  @must @needs-restart
  Scenario: A restarted client resumes its stored session
    When the client is restarted
    And the client invalidates its cache
    And the client refreshes
    Then the call succeeds
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse

  @must
  Scenario: Refresh without a session fails and spends nothing
    # android-auth-sdk sends this refresh to the network (and fails there); the web and
    # apple SDKs fail locally. Either way nothing may be spent.
    Given client "fresh" is configured
    When client "fresh" refreshes
    Then client "fresh"'s call fails
    And the server accepted no refresh request

  @should @prelude-web
  Scenario: Refresh without a session fails locally
    Given client "fresh" is configured
    When client "fresh" refreshes
    Then client "fresh"'s call fails with kind "not_logged_in"
    And the server received no refresh request

  @should
  Scenario: A short-lived access token is served from the cache while it lives
    Given the server issues access tokens that live 3 seconds
    And the client is logged in
    When the client refreshes
    Then the call succeeds
    And the server received no refresh request

  @must
  Scenario: An access token past its lifetime is refreshed, not reused
    # Real time: the SDK's own clock must see the token expire. Catches expiry read in
    # the wrong unit (seconds as milliseconds makes a token that never expires). How many
    # refreshes is not the point: the server's exp is floor(now) + ttl, so a 2 s token may
    # live 1.1 s, and an SDK keeping its token always fresh refreshes several times. What
    # holds for all: at least one, no token spent twice, the returned one accepted, no storm.
    Given the server issues access tokens that live 2 seconds
    And the client is logged in
    When 3 seconds pass
    And the client refreshes
    Then the call succeeds
    And the access token the client returned is accepted by the server
    And the server received at least 1 refresh request
    And the client refreshed at most once per quarter of the access token's lifetime
    And no refresh token was presented twice
    And the server detected no refresh token reuse

  @should @needs-proactive_refresh
  Scenario: The SDK refreshes before expiry without any caller
    # When it refreshes is the SDK's choice (a margin before exp, half the lifetime, ...):
    # before the token expired, without a storm.
    Given the server issues access tokens that live 4 seconds
    And the client is logged in
    When 4 seconds pass without any call
    Then the server received at least 1 refresh request
    And the refresh came before the first access token expired
    And the client refreshed at most once per quarter of the access token's lifetime
    And the server detected no refresh token reuse

  @should @needs-proactive_refresh
  Scenario: The proactive refresh is planned on the server's clock
    # The token's exp is the server's time. Planned on a device clock 10 minutes behind,
    # a 4 s token looks good for 10 minutes and is never refreshed in time.
    Given the server's clock is 10 minutes ahead of the client's
    And the server issues access tokens that live 4 seconds
    And the client is logged in
    When 4 seconds pass without any call
    Then the server received at least 1 refresh request
    And the refresh came before the first access token expired
    And the server detected no refresh token reuse

  @must @needs-proactive_refresh
  Scenario: Logout stops the proactive refresh
    Given the server issues access tokens that live 4 seconds
    And the client is logged in
    When the client logs out
    And 4 seconds pass without any call
    Then the server received no refresh request
    And the client stores no credentials

  @must @needs-proactive_refresh @needs-dispose
  Scenario: Dispose stops the proactive refresh
    Given the server issues access tokens that live 4 seconds
    And the client is logged in
    When the client is disposed
    And 4 seconds pass without any call
    Then the server received no refresh request

  @should @needs-proactive_refresh
  Scenario: Callers during a proactive refresh share its request
    # The hold is queued before the login, so the proactive refresh is held however long the
    # login takes to report back (queued after it, a loaded machine once let the refresh go
    # through unheld and an SDK without coalescing pass); 3 s leave the callers time to
    # reach the client while it is on the wire. They come 100 ms after it started: late
    # joiners, which an SDK coalescing only simultaneous callers leaves out. The count waits
    # until the held refresh is answered; an SDK that refreshes early and serves the callers
    # its still-valid token sends that one request too.
    Given the server issues access tokens that live 4 seconds
    And the next refresh is delayed by 3000 ms
    And the client is logged in
    When a refresh has been in flight on the server for 100 ms
    And 20 callers refresh at once
    Then all 20 callers succeed
    And the server received exactly 1 refresh request
    And the server detected no refresh token reuse
