#!/usr/bin/env bash
# The core benchmarks of tracetail on this machine: ingest, fan-out and idle connections.
#
#   bench/core.sh            # builds release binaries, then runs each scenario once
#
# The server is pinned to core 0 and the load generator to core 1 (taskset), on loopback.
# Each scenario starts a fresh server on an empty data directory. Prints each report as the
# load generator writes it; BENCHMARKS.md quotes them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release -q -p tracetail -p tracetail-bench
SERVER=target/release/tracetail
BENCH=target/release/tracetail-bench
PORT=${PORT:-24318}
URL=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
PIN="taskset -c 0"
trap 'stop_server; rm -rf "$WORK"' EXIT
source bench/lib.sh

start_server() {
  start_tracetail "$PORT"
}

run() {
  echo
  echo "\$ tracetail-bench $*"
  taskset -c 1 "$BENCH" "$@" --url "$URL" --server-pid "$SERVER_PID"
}

start_server
run ingest --batch 512 --concurrency 8 --duration 15s --payload 200

for rate in 100 300 600; do
  start_server
  run fanout --subscribers 1000 --rate "$rate" --duration 15s --payload 200
done

start_server
run idle --connections 10000 --hold 10s
