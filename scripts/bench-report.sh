#!/usr/bin/env bash
# Run the benchmarks and write docs/benchmarks.md (+ docs/benchmarks-latency.svg).
#   scripts/bench-report.sh quick    # every configuration, few repetitions (~10 min on 2 cores)
#   scripts/bench-report.sh full     # enough repetitions for stable percentiles (default)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-full}"
case "$mode" in
  quick) criterion_args=(--warm-up-time 1 --measurement-time 3) ;;
  full)  criterion_args=() ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
BENCH_MODE="$mode" cargo bench -p prelude-benches --benches -- "${criterion_args[@]}"
BENCH_MODE="$mode" cargo run --quiet --release -p prelude-benches --bin bench-report
