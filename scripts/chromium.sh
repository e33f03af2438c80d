#!/usr/bin/env bash
# Installs Debian's chromium (apt) when it is missing. Sourced by the scripts that drive a
# browser (web-sdk-deps.sh, ui-tests.sh); CHROMIUM_PATH points at another build.
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "== installing chromium (apt)" >&2
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium >/dev/null
fi
command -v node >/dev/null || { echo "node (Node.js 20+) is required" >&2; exit 2; }
