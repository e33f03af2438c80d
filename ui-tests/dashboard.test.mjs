// The live dashboard at /__mock/ui, in headless Chromium against a real prelude-mock started
// with a control token: the page asks for the token, then shows a login made through the
// Prelude API as a session, moves its chain to the next generation when it refreshes, and
// queues a fault from its form that the next request gets.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import { Client, browser, shots, startMock } from "./common.mjs";

const TOKEN = "dashboard-test-token";
let mock, chromium, page, client;

before(async () => {
  mock = await startMock(["--user", "ada@example.com:pw", "--control-token", TOKEN]);
  chromium = await browser();
  page = await chromium.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("pageerror", (e) => { throw e; });
  client = new Client(mock.base, TOKEN);
});

after(async () => {
  await chromium?.close();
  mock?.stop();
});

test("the dashboard loads, asks for the control token and goes live with it", async () => {
  await page.goto(mock.dashboard);
  await page.locator("#token-bar").waitFor({ state: "visible" });
  await page.fill("#token", TOKEN);
  await page.click("#token-bar button[type=submit]");
  await page.locator("[data-testid=live]", { hasText: "live" }).waitFor();
  await page.locator("#users li", { hasText: "ada@example.com" }).waitFor();
  assert.match(await page.textContent("[data-testid=clock]"), /^\d{4}-\d\d-\d\dT/);
});

test("a login made through the API appears as a session", async () => {
  const sid = await client.login("ada@example.com");
  const card = page.locator(`[data-session="${sid}"]`);
  await card.waitFor();
  assert.equal(await card.getAttribute("data-generation"), "0");
  assert.match(await card.textContent(), /active/);
  await page.locator("[data-testid=journal] tr.entry", { hasText: "/login/finalize" }).waitFor();
});

test("a refresh moves the session's chain to the next generation, live", async () => {
  const response = await client.refresh();
  assert.equal(response.status, 200);
  const card = page.locator(`[data-session="${client.sessionId}"][data-generation="1"]`);
  await card.waitFor();
  assert.equal((await card.locator(".node.current").textContent()).trim(), "g1");
  await page.locator("[data-testid=journal] tr.entry", { hasText: "g0 → g1" }).waitFor();
});

test("a fault queued from the page is applied to the next request", async () => {
  await page.selectOption("#fault-route", "refresh");
  await page.selectOption("#fault-action", "error");
  await page.fill("#fault-form input[name=status]", "503");
  await page.fill("#fault-form input[name=code]", "internal");
  await page.click("#fault-form button[type=submit]");
  await page.locator("[data-testid=faults] li[data-route=refresh]", { hasText: "error 503" }).waitFor();

  const faulted = await client.refresh();
  assert.equal(faulted.status, 503, "the queued fault answered the refresh");
  await page.locator("[data-testid=journal] tr.entry", { hasText: "503 internal" }).waitFor();
  await page.locator("[data-testid=faults] li", { hasText: "none queued" }).waitFor();

  // Used up: the next refresh goes through, with the token the fault left unspent.
  assert.equal((await client.refresh()).status, 200);
  await page.locator(`[data-session="${client.sessionId}"][data-generation="2"]`).waitFor();
});

test("a reused refresh token shows as a revoked session with its reused generation marked", async () => {
  const spent = client.refreshToken;
  assert.equal((await client.refresh()).status, 200);
  client.refreshToken = spent;
  assert.equal((await client.refresh()).status, 401);
  const card = page.locator(`[data-session="${client.sessionId}"]`);
  await card.locator(".badge.ended", { hasText: "refresh token reused" }).waitFor();
  assert.equal(await card.locator(".node.reused").count(), 1, "the generation presented twice");
  assert.equal(await card.locator(".node.current").count(), 0, "a revoked session has no current token");
  assert.equal(await card.locator(".node.ended").count(), 1);
  await page.locator("[data-testid=stats]", { hasText: "reuse detected 1" }).waitFor();
  await page.screenshot({ path: join(shots, "dashboard.png") });
});

test("a burst of 3,000 requests is drawn in batches and the page stays usable", async () => {
  const journal = page.locator("[data-testid=journal]");
  const before = Number((await journal.getAttribute("data-renders")) || 0);
  const jwks = `${mock.base}/.well-known/jwks.json`;
  for (let batch = 0; batch < 30; batch++) {
    await Promise.all(Array.from({ length: 100 }, () => fetch(jwks).then((r) => r.arrayBuffer())));
  }
  await page.locator("#journal-count", { hasText: /\((3\d{3}|[4-9]\d{3}) requests\)/ }).waitFor();
  const renders = Number(await journal.getAttribute("data-renders")) - before;
  // Once per event would be 3,000 redraws of 500 rows each: the freeze this guards against.
  assert.ok(renders < 1000, `the journal was drawn ${renders} times for 3,000 events`);
  // The page still answers: a fault queued from its form shows.
  await page.selectOption("#fault-route", "jwks");
  await page.selectOption("#fault-action", "error");
  await page.fill("#fault-form input[name=status]", "503");
  await page.fill("#fault-form input[name=code]", "internal");
  await page.click("#fault-form button[type=submit]");
  await page.locator("[data-testid=faults] li[data-route=jwks]", { hasText: "error 503" }).waitFor();
});

test("a control token in the page's URL is not used, and is removed from it", async () => {
  const other = await chromium.newPage();
  await other.goto(`${mock.dashboard}#token=${TOKEN}`);
  await other.locator("#token-bar").waitFor({ state: "visible" });
  assert.ok(!other.url().includes("token="), other.url());
  await other.close();
});
