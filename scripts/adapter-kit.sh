#!/usr/bin/env bash
# The adapter kit, exercised the way an SDK author outside this repository uses it:
#
#   scripts/adapter-kit.sh [BIN_DIR] [REPORT_DIR]
#
# - installs prelude-conformance and prelude-mock into a temporary prefix (`cargo install
#   --debug` into the same target directory: the build is reused) and runs the suite with
#   them from an empty directory (the features are built into the binary);
# - `check-adapter` on the reference adapter and on both starter templates (Python, and
#   TypeScript after `npm ci`); it must reject an adapter that answers in request order, with
#   the sentence that says so;
# - `prelude-mock --ready-json` starts, and its line leads to a live server.
#
# BIN_DIR holds the workspace's debug binaries (broken-adapter comes from there).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
target=${CARGO_TARGET_DIR:-target}
bin=$(cd "${1:-$target/debug}" && pwd)
reports=$(mkdir -p "${2:-$target/conformance}" && cd "${2:-$target/conformance}" && pwd)

prefix=$(mktemp -d)
outside=$(mktemp -d)
mock=""
trap 'if [ -n "$mock" ]; then kill "$mock" 2>/dev/null || true; fi; rm -rf "$prefix" "$outside"' EXIT

echo "== cargo install into $prefix" >&2
for package in harness mock-server; do
  cargo install --quiet --locked --debug --path "$package" --root "$prefix" --target-dir "$target"
done
conformance=$prefix/bin/prelude-conformance

cd "$outside"
echo "== the suite from $outside with the installed binaries" >&2
"$conformance" --jobs 4 --adapter "$prefix/bin/reference-adapter" \
  --report-dir "$reports" --report-name installed | tail -n 1

echo "== check-adapter: reference adapter, Python and TypeScript templates" >&2
"$conformance" check-adapter --adapter "$prefix/bin/reference-adapter"
"$conformance" check-adapter --adapter "python3 $repo/sdk-under-test/templates/python/adapter.py"
(
  cd "$repo/sdk-under-test/templates/typescript"
  npm ci --no-audit --no-fund --loglevel=error
  npx --no-install tsc --noEmit
  "$conformance" check-adapter --adapter "npx --no-install tsx adapter.ts"
)

echo "== check-adapter rejects an adapter that answers in request order" >&2
if "$conformance" check-adapter --adapter "$bin/broken-adapter --in-order" >in-order.txt; then
  cat in-order.txt
  echo "check-adapter accepted an adapter that answers in request order" >&2
  exit 1
fi
grep -q "the adapter answers in request order" in-order.txt || {
  cat in-order.txt
  echo "check-adapter rejected the in-order adapter without saying why" >&2
  exit 1
}

echo "== prelude-mock --ready-json" >&2
"$prefix/bin/prelude-mock" --port 0 --ready-json >ready.json 2>/dev/null &
mock=$!
for _ in $(seq 1 100); do [ -s ready.json ] && break; sleep 0.1; done
python3 - ready.json <<'PY'
import json, sys, urllib.request
ready = json.load(open(sys.argv[1]))
with urllib.request.urlopen(ready["base_url"] + "/.well-known/jwks.json") as answer:
    assert answer.status == 200, answer.status
print("ready-json:", ready["api_url"])
PY
echo "adapter kit: ok" >&2
