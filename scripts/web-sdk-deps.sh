#!/usr/bin/env bash
# Installs what the web SDK adapter needs, when missing: Debian's chromium (apt) and the
# adapter's npm dependencies (npm ci, versions locked in sdk-under-test/js/package-lock.json),
# then bundles the page. Sourced by web-sdk-interop.sh and bench-report.sh; run from the root.
. scripts/chromium.sh

echo "== adapter dependencies (npm ci) and bundle" >&2
(cd sdk-under-test/js && npm ci --no-audit --no-fund --loglevel=error && node build.mjs)
