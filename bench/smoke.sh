#!/usr/bin/env bash
# Exactness smoke test of the benchmark scenarios, for CI: fails when any acknowledged event
# is lost or duplicated, or a resume is not exact — never on speed. Well under 60 s.
#
#   bench/smoke.sh
#
# Runs a small fan-out (200 subscribers, 200 events/s for 3 s) and a resume storm (200
# subscribers miss 500 events and reconnect with Last-Event-ID) against a release tracetail,
# then against nginx + Nchan when it is installed. Builds the release binaries if missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh

TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER=$TARGET_DIR/release/tracetail
BENCH=$TARGET_DIR/release/tracetail-bench
if [[ ! -x "$SERVER" || ! -x "$BENCH" ]]; then
  cargo build --release --locked -q -p tracetail -p tracetail-bench
fi
PORT=${PORT:-24390}
WORK=$(mktemp -d)
trap 'stop_server; rm -rf "$WORK"' EXIT

scenarios() {
  "$BENCH" fanout "${PUBLISH_ARGS[@]}" --server-pid "$SERVER_PID" --strict \
    --subscribers 200 --rate 200 --duration 3s --payload 200 --drain 10s --timeout 40s
  "$BENCH" resume "${PUBLISH_ARGS[@]}" --server-pid "$SERVER_PID" --strict \
    --subscribers 200 --events 500 --payload 200 --drain 10s --timeout 40s
}

started=$SECONDS
start_tracetail "$PORT"
scenarios
if have_nchan; then
  start_nchan "$((PORT + 1))" "smoke$RANDOM"
  scenarios
else
  echo "smoke: nginx + Nchan not installed, tracetail only"
fi
stop_server
echo "smoke: every delivery exact, in $((SECONDS - started)) s"
