#!/usr/bin/env bash
# Browser tests (headless Chromium through playwright-core, tests in ui-tests/):
#   - the mock's live dashboard at /__mock/ui: it loads and takes the control token, a login
#     through the API appears as a session, a refresh moves its chain to the next generation,
#     a fault queued from the page is applied to the next request, reuse is marked;
#   - the HTML conformance report: a run of a broken SDK leads from "Needs a look" to the
#     failed scenario's timeline in one click; the comparison matrix links into it.
#
#   scripts/ui-tests.sh                    # screenshots in target/ui-tests/
#   SCREENSHOTS=docs scripts/ui-tests.sh   # refresh the README's screenshots
#
# Installs what is missing: Debian's chromium (apt), playwright-core (npm ci, locked in
# ui-tests/package-lock.json). Uses the debug binaries of the Cargo target directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/chromium.sh

echo "== building prelude-mock, prelude-conformance and broken-adapter" >&2
cargo build -q -p prelude-mock-server -p prelude-conformance -p prelude-self-test --bins
export KIT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug"

echo "== browser tests (ui-tests/)" >&2
cd ui-tests
npm ci --no-audit --no-fund --loglevel=error
node --test --test-concurrency=1 --test-reporter=spec
