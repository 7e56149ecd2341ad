#!/usr/bin/env bash
# Every benchmark scenario against tracetail and nginx + Nchan, side by side, in one run.
#
#   bench/compare.sh                 # builds release binaries, runs everything (about 8 minutes)
#   RATES=100,300,1000 bench/compare.sh
#
# Each hub is pinned to core 0 and the load generator to core 1 (taskset); each scenario starts
# a fresh hub. The generator's JSON reports are kept in $OUT (default: a new temporary
# directory, printed at the end), and a table tracetail / Nchan / ratio is printed from them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh

cargo build --release --locked -q -p tracetail -p tracetail-bench
SERVER=target/release/tracetail
BENCH=target/release/tracetail-bench
PORT=${PORT:-24318}
RATES=${RATES:-100,300,1000,2000,4000}
WORK=$(mktemp -d)
OUT=${OUT:-$(mktemp -d -t tracetail-compare.XXXXXX)}
mkdir -p "$OUT"
PIN="taskset -c 0"
trap 'stop_server; rm -rf "$WORK"' EXIT
have_nchan || { echo "compare: install nginx-light and libnginx-mod-nchan first" >&2; exit 1; }

# run NAME ARGS...: the scenario against each hub, appending JSON reports to $OUT/NAME.HUB.
run() {
  local name=$1
  shift
  local hub
  for hub in tracetail nchan; do
    if [[ $hub == tracetail ]]; then start_tracetail "$PORT"; else start_nchan "$PORT" "$name"; fi
    echo "$ tracetail-bench $* ($hub, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    taskset -c 1 "$BENCH" "$@" "${PUBLISH_ARGS[@]}" --server-pid "$SERVER_PID" --json \
      >"$OUT/$name.$hub" || echo "  failed: see $OUT/$name.$hub" >&2
  done
  stop_server
}

# The ingest of each hub differs: tracetail takes OTLP batches with durable acks, Nchan one
# message per request held in memory.
ingest() {
  start_tracetail "$PORT"
  echo "$ tracetail-bench ingest (tracetail)" >&2
  taskset -c 1 "$BENCH" ingest "${PUBLISH_ARGS[@]}" --server-pid "$SERVER_PID" --json \
    --batch 512 --concurrency 8 --duration 10s --payload 200 >"$OUT/ingest.tracetail"
  start_nchan "$PORT" ingest
  echo "$ tracetail-bench fanout --subscribers 0 (nchan publish)" >&2
  taskset -c 1 "$BENCH" fanout "${PUBLISH_ARGS[@]}" --server-pid "$SERVER_PID" --json \
    --subscribers 0 --rate 200000 --publishers 8 --duration 10s --payload 200 \
    >"$OUT/ingest.nchan"
  stop_server
}

run idle1k idle --connections 1000 --hold 5s
run idle15k idle --connections 15000 --hold 5s
run fanout fanout --subscribers 1000 --rates "$RATES" --duration 10s --payload 200
run wide fanout --subscribers 15000 --rate 10 --duration 10s --payload 200 --drain 10s
run resume resume --subscribers 1000 --events 1000 --payload 200
ingest

python3 bench/table.py "$OUT"
echo "reports: $OUT" >&2
