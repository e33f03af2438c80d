/**
 * Starter adapter: puts a TypeScript/JavaScript session SDK under the Prelude conformance suite.
 *
 * The protocol plumbing is done (JSON lines on stdin/stdout, pipelining, id matching, error
 * kinds, `hello`). Wire each op in the "Your SDK" section to your SDK; an op left as it is
 * answers `unsupported`, and the scenarios that need it are skipped with that reason.
 *
 *     npm install
 *     prelude-conformance check-adapter --adapter "npx tsx adapter.ts"   # the plumbing
 *     prelude-conformance --adapter "npx tsx adapter.ts"                 # the suite
 *
 * Protocol: docs/adapter-protocol.md (`prelude-conformance schema` prints its JSON Schema).
 * Log with console.error: stdout carries answers only.
 */
import { createInterface } from "node:readline";

const PROTOCOL = 1;

type Json = Record<string, unknown>;

/** A failed call: `kind` is a protocol error kind, `code` the server's Prelude error code. */
class SdkError extends Error {
  constructor(readonly kind: string, message = "", readonly code?: string) {
    super(message);
  }
}

function unsupported(op: string): never {
  throw new SdkError("unsupported", `\`${op}\` is not wired to the SDK yet`);
}

// ---------------------------------------------------------------------------- Your SDK

const SDK = { name: "my-ts-sdk", version: "0.0.0", language: "typescript" };

// Add a capability once its ops work: list_sessions, revoke, authorized_get, state,
// restart, dispose, shared_storage, reuse_grace, otp_login, state_events, proactive_refresh.
const CAPABILITIES: string[] = [];

/** Client instance name -> your SDK's client object. */
const clients = new Map<string, unknown>();

type Op = (client: string, args: Json) => Promise<Json>;

const OPS: Record<string, Op> = {
  async reset() {
    clients.clear();
    return {};
  },
  async configure(_client, _args) {
    // const { base_url, storage, workdir } = _args;
    // clients.set(_client, new MySessionClient({ baseUrl: base_url, storage: ... }));
    // return {};
    unsupported("configure");
  },
  async login(_client, _args) {
    // const user = await clients.get(_client).login(_args.email, _args.password);
    // return { access_token, expires_at, user_id, session_id };
    unsupported("login");
  },
  async refresh() {
    // Same result as login. Concurrent calls must share one refresh request.
    unsupported("refresh");
  },
  async access_token() {
    // From the cache, no network: { access_token, expires_at, session_id } (may be null).
    unsupported("access_token");
  },
  async invalidate() {
    unsupported("invalidate");
  },
  async logout() {
    unsupported("logout");
  },
  async stored() {
    // { credentials: true } while any refresh token, access token or key is stored.
    unsupported("stored");
  },
  // Optional ops (with their capability): list_sessions, revoke, authorized_get, state,
  // restart, dispose, otp_start, otp_check, otp_retry, subscribe, unsubscribe, events.
};

/** Maps an error thrown by your SDK to the protocol's error. */
function errorOf(e: unknown): SdkError {
  if (e instanceof SdkError) return e;
  return new SdkError("other", e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}

// ---------------------------------------------------------------------------- Plumbing

async function answer(request: Json): Promise<Json> {
  const { id: _id, op, client = "main", ...args } = request;
  if (op === "hello") return { protocol: PROTOCOL, sdk: SDK, capabilities: CAPABILITIES };
  const handler = typeof op === "string" && Object.hasOwn(OPS, op) ? OPS[op] : undefined;
  if (!handler) throw new SdkError("unsupported", `unknown op \`${String(op)}\``);
  return handler(String(client), args);
}

async function serve(request: Json): Promise<void> {
  let message: Json;
  try {
    message = { id: request.id, ok: await answer(request) };
  } catch (e) {
    // Every request gets exactly one answer.
    const { kind, message: text, code } = errorOf(e);
    message = { id: request.id, error: code ? { kind, message: text, code } : { kind, message: text } };
  }
  process.stdout.write(JSON.stringify(message) + "\n");
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  let request: Json;
  try {
    request = JSON.parse(line);
  } catch {
    console.error(`adapter: not a request: ${line}`);
    continue;
  }
  // Not awaited: the suite pipelines requests and matches the answers by id, in whatever
  // order they complete.
  void serve(request);
}
