// The HTML conformance report, in headless Chromium: a run of a deliberately broken SDK (the
// reference client without coalescing, behind the adapter protocol) fails scenarios; from the
// report's "Needs a look" list one click opens a failed scenario with its failing step and
// its server journal drawn as a timeline (the reused generation, the rejected requests, each
// proof's claims). The comparison matrix links each cell to that run's scenario.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import { bin, browser, run, shots } from "./common.mjs";

const dir = mkdtempSync(join(tmpdir(), "prelude-report-"));
const conformance = join(bin, "prelude-conformance");
let chromium, page;

before(async () => {
  const broken = `${join(bin, "broken-adapter")} --variant no-coalescing`;
  const failed = await run(conformance, ["--jobs", "4", "--adapter", broken,
    "--report-dir", dir, "--report-name", "broken"]);
  assert.equal(failed, 1, "the broken SDK fails the run");
  const passed = await run(conformance, ["--jobs", "4", "--report-dir", dir, "--report-name", "reference"]);
  assert.equal(passed, 0, "the reference client passes");
  const compared = await run(conformance, ["compare", join(dir, "reference.json"), join(dir, "broken.json"),
    "-o", join(dir, "matrix.html")]);
  assert.equal(compared, 0);
  chromium = await browser();
  page = await chromium.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => { throw e; });
  // Self-contained: any request that is not the file itself is a defect.
  page.on("request", (r) => assert.match(r.url(), /^file:/, `the report fetched ${r.url()}`));
});

after(async () => { await chromium?.close(); });

test("the report of a failed run leads to the failed scenario's timeline in one click", async () => {
  await page.goto(pathToFileURL(join(dir, "broken.html")).href);
  const first = page.locator("#problems + table a").first();
  const name = await first.textContent();
  assert.match(name, /coalescing|refresh/);
  await first.click();

  const scenario = page.locator("details.scenario:target");
  await scenario.waitFor();
  assert.equal(await scenario.getAttribute("open"), "", "the failed scenario is open");
  assert.equal(await scenario.locator(".badge").first().textContent(), "failed");
  assert.equal(await scenario.locator("ol.steps li.failed").count(), 1, "its failing step is marked");
  // The rotation chain: the generation every caller presented is marked reused.
  await scenario.locator(".chain .node.reused").first().waitFor();
  assert.match(await scenario.locator(".chain .ended").last().textContent(), /presented again/);
  await scenario.locator(".chain .node.ended").first().waitFor();
  // One lane per client key, rejected and reused requests marked.
  assert.ok(await scenario.locator("table.lanes .chip.reuse").count() >= 1);
  const chip = scenario.locator("table.lanes details.chip.reuse").first();
  await chip.locator("summary").click();
  await chip.locator("td", { hasText: "proof jti" }).waitFor();
  // For the README: the scenario from its title down, below the sticky header.
  await page.evaluate(() => {
    const top = document.querySelector("details.scenario:target").getBoundingClientRect().top;
    window.scrollBy(0, top - 70);
  });
  await page.screenshot({ path: join(shots, "report.png") });
});

test("passing scenarios carry their steps and journal too", async () => {
  const passed = page.locator("details.scenario.passed").first();
  await passed.locator("> summary").click();
  assert.ok(await passed.locator("ol.steps li.passed").count() >= 1);
  assert.equal(await passed.locator("ol.steps li.failed").count(), 0);
  assert.ok(await passed.locator("table.lanes .chip").count() >= 1, "its journal is drawn");
});

test("the comparison matrix links a failed cell to that run's scenario", async () => {
  await page.goto(pathToFileURL(join(dir, "matrix.html")).href);
  const failed = page.locator("td.cell.failed a").first();
  await failed.click();
  await page.waitForURL(/broken\.html#s-/);
  const scenario = page.locator("details.scenario:target");
  await scenario.waitFor();
  assert.equal(await scenario.getAttribute("open"), "");
});
