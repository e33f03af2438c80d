#!/usr/bin/env bash
# The Locust workload distributed on loopback: a `prelude-mock`, one Locust master and two
# workers, headless. Passes when Locust saw no failure, the server detected no reuse, and
# refreshes were made; prints the aggregated refreshes/s.
#
#   scripts/locust/run-local.sh [SECONDS] [USERS]      # default 15 s, 20 users
#
# Installs locust and cryptography (versions in requirements.txt) into target/tools/locust.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
users=${2:-20}
target=${CARGO_TARGET_DIR:-target}
venv=$target/tools/locust
if [ ! -x "$venv/bin/locust" ]; then
  echo "== installing locust into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r scripts/locust/requirements.txt
fi
cargo build -q -p prelude-mock-server
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$target/debug/prelude-mock" --port 0 >"$work/mock.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q "^Prelude API:" "$work/mock.log" && break; sleep 0.1; done
api=$(sed -n 's/^Prelude API: *//p' "$work/mock.log")
host=${api%/v1/session}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

locust=("$venv/bin/locust" -f scripts/locust/prelude_refresh.py)
for n in 1 2; do
  "${locust[@]}" --worker --master-host 127.0.0.1 --master-port "$port" >"$work/worker$n.log" 2>&1 &
  pids+=($!)
done
status=0
"${locust[@]}" --master --headless --master-bind-host 127.0.0.1 --master-bind-port "$port" \
  --expect-workers 2 -u "$users" -r "$users" -t "${seconds}s" --host "$host" \
  --csv "$work/run" --only-summary >"$work/master.log" 2>&1 || status=$?
grep "^prelude" "$work/master.log" || true
python3 - "$work/run_stats.csv" "$seconds" <<'PY'
import csv, sys
rows = {r["Name"]: r for r in csv.DictReader(open(sys.argv[1]))}
refresh, total = rows.get("refresh"), rows["Aggregated"]
failures = int(total["Failure Count"])
count = int(refresh["Request Count"]) if refresh else 0
print(f"locust: {count} refreshes, {float(refresh['Requests/s']) if refresh else 0:.0f}/s "
      f"aggregated over 2 workers, p50 {refresh['50%'] if refresh else '-'} ms, "
      f"p99 {refresh['99%'] if refresh else '-'} ms, {failures} failures")
sys.exit(0 if failures == 0 and count > 0 else 1)
PY
if [ "$status" -ne 0 ]; then
  echo "locust exited with $status" >&2
  tail -n 30 "$work/master.log" >&2
  exit 1
fi
