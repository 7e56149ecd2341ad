#!/usr/bin/env bash
# CPU of `tracetail tail` following 10,000 events/s, in JSON and human form.
#
#   bench/tail.sh
#
# Starts a release server, two tails writing to files, and the load generator publishing
# 10,000 events/s for 20 s to one subscriber of its own; prints each tail's CPU seconds
# (utime + stime from /proc) and how many lines it wrote.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release -q -p tracetail -p tracetail-bench
BIN=target/release/tracetail
PORT=${PORT:-47400}
URL=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

"$BIN" tail "$URL" --json >"$WORK/json.out" 2>"$WORK/json.err" &
JSON_PID=$!
PIDS+=($JSON_PID)
"$BIN" tail "$URL" --color never >"$WORK/human.out" 2>"$WORK/human.err" &
HUMAN_PID=$!
PIDS+=($HUMAN_PID)
sleep 1

cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
json_before=$(cpu "$JSON_PID")
human_before=$(cpu "$HUMAN_PID")
target/release/tracetail-bench fanout --url "$URL" --subscribers 1 --rate 10000 \
  --duration 20s --payload 200
sleep 2
used() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
echo "tail --json:  $(used "$(cpu "$JSON_PID")" "$json_before") CPU s for" \
  "$(wc -l <"$WORK/json.out") lines"
echo "tail (human): $(used "$(cpu "$HUMAN_PID")" "$human_before") CPU s for" \
  "$(wc -l <"$WORK/human.out") lines"
