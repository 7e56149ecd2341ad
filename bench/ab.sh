#!/usr/bin/env bash
# Two builds of tracetail, alternately, on the same fan-out: server CPU per delivery.
#
#   bench/ab.sh BEFORE_BINARY AFTER_BINARY
#   SUBSCRIBERS=200 RATE=2000 ROUNDS=2 bench/ab.sh old/tracetail target/release/tracetail
#
# Each round runs BEFORE then AFTER on a fresh hub pinned to core 0, the load generator on
# core 1, and prints one line per run: server CPU seconds, microseconds of server CPU per
# delivery, deliveries/s, p99 latency, mean events per publish request, lost and duplicated.
# Alternating the builds keeps a noisy machine from favouring one of them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh

[[ $# -eq 2 ]] || { echo "usage: bench/ab.sh BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
BINARIES=("$1" "$2")
cargo build --release --locked -q -p tracetail-bench
BENCH=target/release/tracetail-bench
PORT=${PORT:-24319}
WORK=$(mktemp -d)
PIN="taskset -c 0"
trap 'stop_server; rm -rf "$WORK"' EXIT

for round in $(seq "${ROUNDS:-2}"); do
  for which in 0 1; do
    SERVER=${BINARIES[$which]}
    start_tracetail "$PORT"
    taskset -c 1 "$BENCH" fanout "${PUBLISH_ARGS[@]}" --subscribers "${SUBSCRIBERS:-1000}" \
      --rate "${RATE:-300}" --duration "${DURATION:-15s}" --payload 200 \
      --server-pid "$SERVER_PID" --json >"$WORK/report.json"
    python3 - "$round" "$([[ $which == 0 ]] && echo before || echo after)" "$WORK/report.json" <<'PY'
import json, sys
round_, which, path = sys.argv[1:]
report = json.load(open(path))
counts, server = report["counts"], report["server"]
per_delivery = server["cpu_seconds"] * 1e6 / max(counts["deliveries"], 1)
print(f"round {round_} {which:6}  cpu {server['cpu_seconds']:.2f} s  "
      f"{per_delivery:.3f} us/delivery  {report['deliveries_per_second']:,.0f} deliveries/s  "
      f"p99 {report['latency']['p99_ms']:.1f} ms  batch {report['publish']['mean_batch']:.1f}  "
      f"lost {counts['lost']}  duplicated {counts['duplicates']}")
PY
  done
done
