#!/usr/bin/env node
// Adapter-protocol v1 bridge (docs/adapter-protocol.md) for the official Prelude web SDK,
// @prelude.so/js-sdk, running in headless Chromium.
//
// - Each client instance is a browser page (a tab) on our own loopback origin, so every API
//   call is cross-origin and exercises CORS. Instances with the same `storage` share one
//   browser context (same localStorage, IndexedDB and Web Locks), like two tabs.
// - Requests are handled as they arrive and answered when done, so N pipelined `refresh`
//   requests become N simultaneous refresh() calls inside the page.
// - The SDK hard-codes https://{domain}/v1/session: `hello` asks the suite for HTTPS servers,
//   and Chromium accepts their self-signed certificates.
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium), PRELUDE_ADAPTER_DEBUG=1 to copy the
// pages' console to stderr.

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const sdkVersion = JSON.parse(readFileSync(join(here, "node_modules/@prelude.so/js-sdk/package.json"), "utf8")).version;
const debug = process.env.PRELUDE_ADAPTER_DEBUG === "1";

const HELLO = {
  protocol: 1,
  sdk: { name: "@prelude.so/js-sdk", version: sdkVersion, language: "javascript" },
  capabilities: ["list_sessions", "revoke", "authorized_get", "restart", "shared_storage"],
  requires: ["https"],
};

/** Ops the page runs (page.js); anything else is answered `unsupported`, configured or not. */
const PAGE_OPS = new Set([
  "login", "refresh", "access_token", "invalidate", "logout", "list_sessions", "revoke",
  "authorized_get", "stored",
]);

const TYPES = { ".js": "text/javascript", ".html": "text/html; charset=utf-8" };

/** Serves dist/ (page, bundle, core-worker.js) on a loopback port of its own. */
async function startStaticServer() {
  const server = createServer(async (req, res) => {
    const path = normalize(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
    try {
      const body = await readFile(join(dist, path));
      res.writeHead(200, { "content-type": TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

let browser = null;
let site = null;
const contexts = new Map(); // storage name -> BrowserContext
const clients = new Map(); // client name -> { page, config }

async function ensureBrowser() {
  if (browser) return;
  site = await startStaticServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

async function context(storage) {
  if (!contexts.has(storage)) {
    contexts.set(storage, await browser.newContext({ ignoreHTTPSErrors: true }));
  }
  return contexts.get(storage);
}

async function openPage(page, config) {
  if (debug) page.on("console", (m) => console.error(`[page] ${m.type()}: ${m.text()}`));
  await page.goto(`${site.origin}/index.html`);
  await page.waitForFunction(() => window.conformance !== undefined);
  const apiDomain = new URL(config.base_url).host;
  return page.evaluate(([args]) => window.conformance.run("setup", args), [{ api_domain: apiDomain }]);
}

async function handle(request) {
  const { id, client = "main", op, ...args } = request;
  switch (op) {
    case "hello":
      return { ok: HELLO };
    case "reset": {
      for (const ctx of contexts.values()) await ctx.close().catch(() => {});
      contexts.clear();
      clients.clear();
      return { ok: {} };
    }
    case "configure": {
      await ensureBrowser();
      const previous = clients.get(client);
      if (previous) await previous.page.close().catch(() => {});
      const page = await (await context(args.storage ?? "default")).newPage();
      const setup = await openPage(page, args);
      if (setup.error) return setup;
      clients.set(client, { page, config: args });
      return { ok: {} };
    }
    case "restart": {
      const entry = clients.get(client);
      if (!entry) return { error: { kind: "protocol", message: `client ${client} is not configured` } };
      const setup = await openPage(entry.page, entry.config);
      if (setup.error) return setup;
      const stored = await entry.page.evaluate(() => window.conformance.run("stored", {}));
      return { ok: { logged_in: stored.ok?.credentials ?? false } };
    }
    default: {
      if (!PAGE_OPS.has(op)) {
        return { error: { kind: "unsupported", message: `the web SDK adapter has no op \`${op}\`` } };
      }
      const entry = clients.get(client);
      if (!entry) return { error: { kind: "protocol", message: `client ${client} is not configured` } };
      return entry.page.evaluate(([op, args]) => window.conformance.run(op, args), [op, args]);
    }
  }
}

function answer(id, outcome) {
  process.stdout.write(`${JSON.stringify({ id, ...outcome })}\n`);
}

const pending = new Set();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    answer(0, { error: { kind: "protocol", message: `bad JSON: ${error.message}` } });
    return;
  }
  const work = handle(request)
    .catch((error) => ({ error: { kind: "other", message: `adapter: ${error?.message ?? error}` } }))
    .then((outcome) => answer(request.id, outcome));
  pending.add(work);
  work.finally(() => pending.delete(work));
});
lines.on("close", async () => {
  await Promise.allSettled([...pending]);
  if (browser) await browser.close().catch(() => {});
  if (site) site.server.close();
  process.exit(0);
});
