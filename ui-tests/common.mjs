// What both browser tests share: Chromium (Debian's, through playwright-core), the kit's
// binaries from the Cargo target directory, a real prelude-mock on a random loopback port, and
// a minimal DPoP client (node:crypto, ES256) that logs in and refreshes through the Prelude API.
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "..");
export const bin = resolve(root, process.env.KIT_BIN ?? "target/debug");
/** Where screenshots go (the README's come from `SCREENSHOTS=docs`). */
export const shots = resolve(root, process.env.SCREENSHOTS ?? "target/ui-tests");
mkdirSync(shots, { recursive: true });

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
}

/** Starts `prelude-mock` with `args` on a random port; resolves once its banner is printed. */
export function startMock(args = []) {
  const child = spawn(join(bin, "prelude-mock"), ["--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((ok, fail) => {
    let out = "";
    child.stderr.on("data", (chunk) => { out += chunk; });
    child.on("error", fail);
    child.on("exit", (code) => fail(new Error(`prelude-mock exited (${code}): ${out}`)));
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const api = /^Prelude API: *(\S+)/m.exec(out);
      const dashboard = /^Dashboard: *(\S+)/m.exec(out);
      if (api && dashboard) {
        ok({
          base: api[1].replace(/\/v1\/session$/, ""),
          dashboard: dashboard[1],
          stop: () => { child.removeAllListeners("exit"); child.kill("SIGTERM"); },
        });
      }
    });
  });
}

const b64 = (data) => Buffer.from(data).toString("base64url");

/** A client instance: its own P-256 key, its refresh token, DPoP proofs on every call. */
export class Client {
  constructor(base, controlToken) {
    this.base = base;
    this.controlToken = controlToken;
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.key = privateKey;
    const { kty, crv, x, y } = publicKey.export({ format: "jwk" });
    this.jwk = { kty, crv, x, y };
    this.refreshToken = null;
  }

  proof(method, url) {
    const header = { typ: "dpop+jwt", alg: "ES256", jwk: this.jwk };
    const claims = { jti: randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) };
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    const signature = sign("sha256", Buffer.from(input), { key: this.key, dsaEncoding: "ieee-p1363" });
    return `${input}.${b64(signature)}`;
  }

  async control(method, path, body) {
    const headers = { "content-type": "application/json" };
    if (this.controlToken) headers.authorization = `Bearer ${this.controlToken}`;
    const response = await fetch(`${this.base}/__mock${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /** POSTs to a Prelude route with a proof; keeps the rotated refresh token. */
  async send(path, body) {
    const url = `${this.base}/v1/session${path}`;
    const headers = {
      DPoP: this.proof("POST", url),
      "content-type": "application/json",
      // The device the dashboard shows for the session.
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36",
    };
    if (this.refreshToken && body === undefined) headers["X-Refresh-Token"] = this.refreshToken;
    const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body ?? {}) });
    const rotated = response.headers.get("x-refresh-token");
    if (response.ok && rotated) this.refreshToken = rotated;
    return response;
  }

  async login(email) {
    const { challenge_token } = await this.control("POST", "/challenges", { email });
    const response = await this.send("/login/finalize", { challenge_token });
    if (response.status !== 200) throw new Error(`finalize: ${response.status} ${await response.text()}`);
    const { access_token } = await response.json();
    this.sessionId = JSON.parse(Buffer.from(access_token.split(".")[1], "base64url")).sid;
    return this.sessionId;
  }

  refresh() {
    return this.send("/refresh");
  }
}

/** Runs a command; resolves with its exit code. */
export function run(command, args) {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { stdio: "ignore" });
    child.on("error", fail);
    child.on("exit", (code) => ok(code));
  });
}
