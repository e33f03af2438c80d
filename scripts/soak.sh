#!/usr/bin/env bash
# Bounded soak of prelude-mock: sustained refresh load from 16 sessions for SECONDS (default
# 300), resident memory sampled twice a second; prints the summary and the memory curve.
# CI runs the 15-second form as part of `cargo test`.
#   scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
PRELUDE_SOAK_SECONDS="${1:-300}" cargo test --release -p prelude-mock-server --test soak -- --nocapture 2>&1 |
  grep -E '^soak|test result'
