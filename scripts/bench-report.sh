#!/usr/bin/env bash
# Runs every benchmark in one go and writes the report: docs/benchmarks.md with its charts
# (docs/benchmarks-latency.svg, docs/benchmarks-sdk.svg).
#
#   scripts/bench-report.sh full     # enough repetitions for stable percentiles (default, ~25 min on 2 cores)
#   scripts/bench-report.sh quick    # every configuration, few repetitions
#   scripts/bench-report.sh smoke    # every path once, from the debug build (what .ci/run does);
#                                    # writes target/bench-results/report/, not docs/
#
# Measures: the criterion benches of prelude-benches (strategies with the floor, cross-process,
# DPoP cost, memory); `prelude-conformance bench` for the reference client in process, through
# its adapter, and the official web SDK in Chromium (installs chromium and npm packages when
# missing); `prelude-conformance bench server` against a pinned mock; a perf profile of the mock
# under load (when perf works here); the Locust workload with a master and two workers.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-full}"
target=${CARGO_TARGET_DIR:-target}
results=$target/bench-results
mkdir -p "$results"
case "$mode" in
  smoke)
    profile=debug
    sdk_args=(--smoke); server_args=(--smoke); locust_seconds=10
    export BENCH_REPORT_DIR=$results/report
    ;;
  quick)
    profile=release
    criterion_args=(--warm-up-time 1 --measurement-time 3)
    sdk_args=(--bursts 4); server_args=(--duration 4); locust_seconds=15
    ;;
  full)
    profile=release
    criterion_args=()
    sdk_args=(); server_args=(); locust_seconds=30
    ;;
  *) echo "usage: $0 [full|quick|smoke]" >&2; exit 2 ;;
esac
bin=$target/$profile

if [ "$mode" = smoke ]; then
  # `cargo test` already ran the criterion benches once each (smoke) and wrote their results.
  cargo build -q -p prelude-conformance -p prelude-benches
else
  BENCH_MODE="$mode" cargo bench -p prelude-benches --benches -- "${criterion_args[@]}"
  cargo build -q --release -p prelude-conformance -p prelude-benches
fi

bench() { "$bin/prelude-conformance" bench --out-dir "$results" "$@"; }
echo "== contention: reference client in process, through its adapter" >&2
bench "${sdk_args[@]}" --name sdk-reference-in-process --label "prelude-session, in process" >/dev/null
bench "${sdk_args[@]}" --adapter "$bin/reference-adapter" --name sdk-reference-adapter \
  --label "prelude-session, reference adapter" >/dev/null
echo "== contention: the official web SDK in Chromium" >&2
. scripts/web-sdk-deps.sh
# The web SDK's per-call cost is the adapter's page.evaluate; a failed verdict is reported,
# not fatal to the report.
bench "${sdk_args[@]}" --adapter "node sdk-under-test/js/adapter.mjs" --name sdk-web-sdk \
  --label "@prelude.so/js-sdk, Chromium adapter" >/dev/null || echo "web SDK: see $results/sdk-web-sdk.md" >&2

echo "== server throughput (pinned mock)" >&2
"$bin/prelude-conformance" bench server "${server_args[@]}" --out-dir "$results" --name server >/dev/null

rm -f "$results/profile.md"
if [ "$mode" != smoke ] && perf stat -e instructions true >/dev/null 2>&1; then
  echo "== profile of the mock under load (perf)" >&2
  perf record -q -F 499 -o "$results/perf.data" -- "$bin/prelude-conformance" bench server \
    --clients 64 --duration 5 --out-dir "$results/profile-run" >/dev/null 2>&1
  perf report -q -i "$results/perf.data" --no-children --sort comm,dso,symbol -g none 2>/dev/null \
    | python3 scripts/perf-summary.py bench-server >"$results/profile.md"
fi

echo "== Locust: master and two workers on loopback" >&2
{
  echo "\`scripts/locust/run-local.sh $locust_seconds 20\`: a debug \`prelude-mock\`, one Locust master and two"
  echo "workers on loopback, 20 users refreshing back to back, each signing its proofs with the"
  echo "\`cryptography\` package. On 2 cores the Python workers, not the mock, are the limit."
  echo
  scripts/locust/run-local.sh "$locust_seconds" 20 | tail -n 2 | sed 's/^/- /'
} >"$results/locust.txt"
cat "$results/locust.txt" >&2

if [ "$mode" = smoke ]; then
  cargo run -q -p prelude-benches --bin bench-report
else
  BENCH_MODE="$mode" cargo run -q --release -p prelude-benches --bin bench-report
fi
