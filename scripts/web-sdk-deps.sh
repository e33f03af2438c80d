#!/usr/bin/env bash
# Installs what the web SDK adapter needs, when missing: Debian's chromium (apt) and the
# adapter's npm dependencies (npm ci, versions locked in sdk-under-test/js/package-lock.json),
# then bundles the page. Sourced by web-sdk-interop.sh and bench-report.sh; run from the root.
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "== installing chromium (apt)" >&2
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium >/dev/null
fi
command -v node >/dev/null || { echo "node (Node.js 20+) is required" >&2; exit 2; }

echo "== adapter dependencies (npm ci) and bundle" >&2
(cd sdk-under-test/js && npm ci --no-audit --no-fund --loglevel=error && node build.mjs)
