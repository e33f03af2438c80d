// Runs inside the browser page: one PrldSessionClient (the official web SDK) per page, and
// `window.conformance.run(op, args)` executing adapter-protocol operations on it. Every op
// resolves to {ok: ...} or {error: {kind, code, message}}; it never throws, so many can be in
// flight at once (that is how N concurrent refresh() calls happen inside the page).
import { PrldSessionClient } from "@prelude.so/js-sdk/session";

let client = null;
let domain = null;

// The web SDK maps server codes to error classes and keeps the server's message; the class
// is all an adapter can see, so `code` is only set where the class names one code.
const KINDS = {
  UnauthorizedError: ["unauthorized", "unauthorized"],
  ForbiddenError: ["terminated", null],
  BadRequestError: ["server", null],
  NotFoundError: ["server", "not_found"],
  InternalServerError: ["server", "internal"],
  RateLimitedError: ["server", "rate_limited"],
  ConflictError: ["server", "conflict"],
  TokenReusedError: ["server", "token_reused"],
};

function failure(error) {
  const name = error?.name ?? "Error";
  const message = `${name}: ${error?.message ?? String(error)}`;
  if (KINDS[name]) {
    const [kind, code] = KINDS[name];
    return { error: { kind, code, message } };
  }
  if (name === "TypeError" && /fetch|network/i.test(error?.message ?? "")) {
    return { error: { kind: "transport", code: null, message } };
  }
  if (/no refresh token|not logged in|no session/i.test(error?.message ?? "")) {
    return { error: { kind: "not_logged_in", code: null, message } };
  }
  if (/session ?id is required|session id must not be/i.test(error?.message ?? "")) {
    return { error: { kind: "invalid_argument", code: null, message } };
  }
  return { error: { kind: "other", code: null, message } };
}

function claims(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

function user(accessToken) {
  const c = claims(accessToken);
  return { access_token: accessToken, expires_at: c.exp ?? null, user_id: c.sub ?? null, session_id: c.sid ?? null };
}

/** The SDK's access-token cache entry in localStorage (`__preludejs__::…`), if any. */
function cachedAccessToken() {
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (!key.startsWith("__preludejs__")) continue;
    const found = JSON.stringify(localStorage.getItem(key)).match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    if (found) return found[0];
  }
  return null;
}

/** Counts what the SDK keeps in IndexedDB (`prld`: dpop_keys, refresh_tokens) for this domain. */
async function indexedDbEntries() {
  const databases = (await indexedDB.databases?.()) ?? [];
  if (!databases.some((d) => d.name === "prld")) return 0;
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open("prld");
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  try {
    let count = 0;
    for (const store of ["dpop_keys", "refresh_tokens"]) {
      if (!db.objectStoreNames.contains(store)) continue;
      count += await new Promise((resolve, reject) => {
        const request = db.transaction(store, "readonly").objectStore(store).getAll();
        request.onsuccess = () => resolve(request.result.filter((e) => !e.domain || e.domain === domain).length);
        request.onerror = () => reject(request.error);
      });
    }
    return count;
  } finally {
    db.close();
  }
}

const ops = {
  async setup({ api_domain }) {
    domain = api_domain;
    client = new PrldSessionClient({ domain, timeout: 10000 });
    return {};
  },
  async login({ email, password }) {
    await client.loginWithPassword({ identifier: email, password });
    const { user: u } = await client.refresh();
    return user(u.accessToken);
  },
  async refresh() {
    const { user: u } = await client.refresh();
    return user(u.accessToken);
  },
  async access_token() {
    const token = cachedAccessToken();
    return { access_token: token, expires_at: token ? claims(token).exp : null, session_id: await client.getSessionId() };
  },
  async invalidate() {
    await client.invalidateCache();
    return {};
  },
  async logout() {
    await client.logout();
    return {};
  },
  async list_sessions({ limit, offset }) {
    const options = {};
    if (limit !== undefined && limit !== null) options.limit = limit;
    if (offset !== undefined && offset !== null) options.offset = offset;
    const page = await client.listSessions(options);
    return page;
  },
  async revoke({ target, session_id }) {
    await client.revokeSessions(target, session_id);
    return {};
  },
  // The web SDK has no public "authorised request"; its own protected call is listSessions,
  // which goes through the same 401 → refresh → retry middleware.
  async authorized_get({ path }) {
    if (path !== "/v1/session/me/list") {
      return { error: { kind: "unsupported", code: null, message: "the web SDK exposes only /me/list as a protected call" } };
    }
    try {
      await client.listSessions();
      return { status: 200 };
    } catch (error) {
      if (error?.name === "UnauthorizedError") return { status: 401 };
      throw error;
    }
  },
  async stored() {
    const local = cachedAccessToken() !== null;
    return { credentials: local || (await indexedDbEntries()) > 0 };
  },
};

window.conformance = {
  async run(op, args) {
    const handler = ops[op];
    if (!handler) {
      return { error: { kind: "unsupported", code: null, message: `the web SDK adapter has no op \`${op}\`` } };
    }
    try {
      const result = await handler(args ?? {});
      return result && result.error ? result : { ok: result ?? {} };
    } catch (error) {
      return failure(error);
    }
  },
};
