#!/usr/bin/env python3
"""Starter adapter: puts a Python session SDK under the Prelude conformance suite.

The protocol plumbing is done (JSON lines on stdin/stdout, pipelining, id matching, error
kinds, `hello`). Wire each op in the "Your SDK" section to your SDK; an op left as it is
answers `unsupported`, and the scenarios that need it are skipped with that reason.

    prelude-conformance check-adapter --adapter "python3 adapter.py"   # the plumbing
    prelude-conformance --adapter "python3 adapter.py"                 # the suite

Protocol: docs/adapter-protocol.md (`prelude-conformance schema` prints its JSON Schema).
Python 3.9+, standard library only. Log to stderr: stdout carries answers only.
"""

import asyncio
import json
import sys

PROTOCOL = 1


class SdkError(Exception):
    """A failed call. `kind` is one of the protocol's error kinds (`unauthorized`, `server`,
    `transport`, `not_logged_in`, ...); `code` is the server's Prelude error code, if any."""

    def __init__(self, kind, message="", code=None):
        super().__init__(message)
        self.kind, self.message, self.code = kind, message, code


def unsupported(op):
    raise SdkError("unsupported", f"`{op}` is not wired to the SDK yet")


# ----------------------------------------------------------------------------- Your SDK

SDK = {"name": "my-python-sdk", "version": "0.0.0", "language": "python"}

# Add a capability once its ops work: list_sessions, revoke, authorized_get, state,
# restart, dispose, shared_storage, reuse_grace, otp_login, state_events, proactive_refresh.
CAPABILITIES = []

clients = {}  # client instance name -> your SDK's client object


async def reset(client, **_):
    clients.clear()
    return {}


async def configure(client, base_url, storage="default", workdir=".", **_):
    # clients[client] = MySessionClient(base_url, store=FileStore(f"{workdir}/{storage}"))
    # return {}
    unsupported("configure")


async def login(client, email, password, **_):
    # user = await clients[client].login(email, password)
    # return {"access_token": ..., "expires_at": ..., "user_id": ..., "session_id": ...}
    unsupported("login")


async def refresh(client, **_):
    # Same result as login. Concurrent calls must share one refresh request.
    unsupported("refresh")


async def access_token(client, **_):
    # From the cache, no network: {"access_token", "expires_at", "session_id"} (may be None).
    unsupported("access_token")


async def invalidate(client, **_):
    unsupported("invalidate")


async def logout(client, **_):
    unsupported("logout")


async def stored(client, **_):
    # {"credentials": True} while any refresh token, access token or key is stored.
    unsupported("stored")


OPS = {
    "reset": reset,
    "configure": configure,
    "login": login,
    "refresh": refresh,
    "access_token": access_token,
    "invalidate": invalidate,
    "logout": logout,
    "stored": stored,
    # Optional ops (with their capability): list_sessions, revoke, authorized_get, state,
    # restart, dispose, otp_start, otp_check, otp_retry, subscribe, unsubscribe, events.
}


def error_of(exc):
    """Maps an exception from your SDK to the protocol's error (kind, message, code)."""
    if isinstance(exc, SdkError):
        return exc
    return SdkError("other", f"{type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------- Plumbing

async def answer(request):
    op = request.get("op")
    if op == "hello":
        return {"protocol": PROTOCOL, "sdk": SDK, "capabilities": CAPABILITIES}
    handler = OPS.get(op)
    if handler is None:
        raise SdkError("unsupported", f"unknown op `{op}`")
    args = {k: v for k, v in request.items() if k not in ("id", "op", "client")}
    return await handler(request.get("client", "main"), **args)


async def serve(request, out):
    try:
        message = {"id": request["id"], "ok": await answer(request)}
    except Exception as exc:  # every request gets exactly one answer
        error = error_of(exc)
        body = {"kind": error.kind, "message": error.message}
        if error.code:
            body["code"] = error.code
        message = {"id": request["id"], "error": body}
    out.write(json.dumps(message) + "\n")
    out.flush()


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    while line := await reader.readline():
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            print(f"adapter: not a request: {line!r}", file=sys.stderr)
            continue
        # Each request runs as its own task: the suite pipelines requests and matches the
        # answers by id, in whatever order they complete.
        task = asyncio.create_task(serve(request, sys.stdout))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main())
