#!/usr/bin/env bash
# Crash consistency of the reference client's file store, long form: KILLS SIGKILLs of a
# client looping refresh/logout/login per mode (no grace window, then a 30 s one). CI runs the
# short form (60 per mode) as part of `cargo test`.
#   scripts/crash.sh [KILLS]    (default 500)
set -euo pipefail
cd "$(dirname "$0")/.."
PRELUDE_CRASH_KILLS="${1:-500}" cargo test -p prelude-self-test --test crash_consistency -- --nocapture 2>&1 |
  grep -E '^crash consistency|test result'
