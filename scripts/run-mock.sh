#!/usr/bin/env bash
# Start the mock server with embedded defaults (or any prelude-mock flags you pass).
#   scripts/run-mock.sh                       # http://127.0.0.1:8910
#   scripts/run-mock.sh --tls --port 8443     # https with a generated certificate
#   scripts/run-mock.sh --user ada@example.com:pw --config mock.toml
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p prelude-mock-server -- "$@"
