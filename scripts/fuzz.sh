#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time: scripts/fuzz.sh [SECONDS]
# (default 10 per target). Seeds come from fuzz/corpus/<target> (committed; never written
# here); new inputs go to a scratch corpus. A crash stops the run with the input saved under
# fuzz/artifacts/<target>/ and a non-zero exit. Prints executions per target.
#
# cargo-fuzz wants nightly flags; the machine has one stable toolchain, so RUSTC_BOOTSTRAP=1
# lets stable accept them. No sanitizer: the code under test forbids `unsafe`, and what the
# fuzzers look for are panics, hangs and broken invariants (asserted in the targets).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
target_dir="$(pwd)/${CARGO_TARGET_DIR:-target}"
tools="$target_dir/tools"
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools" --target-dir "$tools/build"
fi

cd fuzz
cargo fuzz build -s none --target-dir "$target_dir/fuzz"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf '%-16s %12s %10s\n' target executions exec/s
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target" "corpus/$target"
  log="$scratch/$target.log"
  if ! cargo fuzz run -s none --target-dir "$target_dir/fuzz" "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  printf '%-16s %12s %10s\n' "$target" "$runs" "$rate"
done
