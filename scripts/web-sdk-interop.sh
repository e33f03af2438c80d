#!/usr/bin/env bash
# Runs the conformance suite against the official Prelude web SDK (@prelude.so/js-sdk 0.6.0)
# in headless Chromium, next to the reference client, and writes the comparison.
#
#   scripts/web-sdk-interop.sh            # reports in target/conformance/
#
# Installs what is missing: Debian's chromium (apt), the adapter's npm dependencies (npm ci,
# versions locked in sdk-under-test/js/package-lock.json). Every SDK scenario gets a fresh
# HTTPS mock server with a self-signed certificate; the page is served from its own loopback
# origin, so CORS is exercised. Also starts `prelude-mock --tls` once and runs the server-side
# attack scenarios against it over HTTPS.
#
# Exit status: non-zero on any unexpected failure or unexpected pass (see
# sdk-under-test/js/expected-failures.toml for the web SDK's documented differences).
set -euo pipefail
cd "$(dirname "$0")/.."
reports=${REPORTS:-target/conformance}
mkdir -p "$reports"

. scripts/web-sdk-deps.sh

echo "== building prelude-conformance and prelude-mock" >&2
cargo build -q -p prelude-conformance -p prelude-mock-server
bin=${CARGO_TARGET_DIR:-target}/debug

echo "== reference client" >&2
"$bin/prelude-conformance" --report-dir "$reports" --report-name reference-client | tail -n 1

echo "== check-adapter on the web SDK adapter" >&2
"$bin/prelude-conformance" check-adapter --adapter "node sdk-under-test/js/adapter.mjs"

echo "== web SDK in Chromium" >&2
status=0
"$bin/prelude-conformance" \
  --adapter "node sdk-under-test/js/adapter.mjs" \
  --expected-failures sdk-under-test/js/expected-failures.toml \
  --report-dir "$reports" --report-name web-sdk || status=$?

echo "== server-side scenarios against prelude-mock --tls" >&2
log=$(mktemp)
"$bin/prelude-mock" --tls --port 0 >"$log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q "^Certificate:" "$log" && break; sleep 0.1; done
api=$(sed -n 's/^Prelude API: *//p' "$log")
cert=$(sed -n 's/^Certificate: *//p' "$log")
"$bin/prelude-conformance" server --url "${api%/v1/session}" --ca-cert "$cert" \
  --report-dir "$reports" --report-name mock-server-tls | tail -n 1 || status=$?

"$bin/prelude-conformance" compare "$reports/reference-client.json" "$reports/web-sdk.json" \
  -o "$reports/web-sdk-comparison.md"
"$bin/prelude-conformance" compare "$reports/reference-client.json" "$reports/web-sdk.json" \
  -o "$reports/web-sdk-comparison.html"
echo "comparison: $reports/web-sdk-comparison.md" >&2
exit $status
