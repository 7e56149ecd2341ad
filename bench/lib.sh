# Shared by the benchmark scripts (sourced, not run): start and stop the hub under test.
#
# The caller sets SERVER (the tracetail binary) and WORK (a scratch directory it removes), and
# may set PIN (a command prefix such as `taskset -c 0`, empty for none). After a start,
# SERVER_PID is the process that does the work (tracetail, or nginx's one worker) and
# PUBLISH_ARGS holds the generator flags that point at the hub.

HUB_PID=""
SERVER_PID=""
PUBLISH_ARGS=()
NCHAN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/nchan"

stop_server() {
  if [[ -n "$HUB_PID" ]]; then
    kill "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" 2>/dev/null || true
    HUB_PID=""
    SERVER_PID=""
  fi
}

# Polls URL until it answers, for up to 10 s.
wait_ready() {
  local url=$1
  for _ in $(seq 100); do
    curl -sf "$url" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the hub at $url did not start; its log:" >&2
  cat "$WORK/server.log" >&2
  return 1
}

# A fresh tracetail on an empty data directory at 127.0.0.1:PORT.
start_tracetail() {
  local port=$1
  stop_server
  rm -rf "$WORK/data"
  ${PIN:-} "$SERVER" serve --listen "127.0.0.1:$port" --data-dir "$WORK/data" \
    >"$WORK/server.log" 2>&1 &
  HUB_PID=$!
  SERVER_PID=$HUB_PID
  PUBLISH_ARGS=(--url "http://127.0.0.1:$port")
  wait_ready "http://127.0.0.1:$port/readyz"
}

# A fresh nginx + Nchan at 127.0.0.1:PORT, publishing to and subscribing on channel CHANNEL.
start_nchan() {
  local port=$1 channel=${2:-bench}
  stop_server
  rm -rf "$WORK/nchan"
  ${PIN:-} "$NCHAN_DIR/start.sh" "$port" "$WORK/nchan" >"$WORK/server.log" 2>&1 &
  HUB_PID=$!
  wait_ready "http://127.0.0.1:$port/healthz"
  # nginx's master is HUB_PID (start.sh execs it); its only child is the worker.
  SERVER_PID=$(cat "/proc/$HUB_PID/task/$HUB_PID/children")
  SERVER_PID=${SERVER_PID%% *}
  [[ -n "$SERVER_PID" ]] || { echo "nginx started no worker" >&2; return 1; }
  PUBLISH_ARGS=(--nchan-pub "http://127.0.0.1:$port/pub?id=$channel"
    --nchan-sub "http://127.0.0.1:$port/sub/$channel")
}

# Whether nginx with the Nchan module is installed.
have_nchan() {
  command -v nginx >/dev/null 2>&1 && [[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]]
}
