#!/usr/bin/env bash
# Runs nginx + Nchan on 127.0.0.1 in the foreground, as the benchmark peer of tracetail.
#
#   bench/nchan/start.sh [PORT] [DIR]     # defaults: 8080, a new temporary directory
#
# Everything nginx writes (pid, error log, temp dirs, the filled-in config) stays in DIR.
# Works as an unprivileged user and as root (then the worker runs as root too, so it can read
# DIR). The caller pins it, e.g. `taskset -c 0 bench/nchan/start.sh`; exec keeps the pid.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PORT=${1:-8080}
DIR=${2:-$(mktemp -d -t tracetail-nchan.XXXXXX)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

MODULE=""
for candidate in /usr/lib/nginx/modules/ngx_nchan_module.so \
  /usr/share/nginx/modules/ngx_nchan_module.so; do
  [[ -f "$candidate" ]] && MODULE=$candidate && break
done
if [[ ! -x "$NGINX" || -z "$MODULE" ]]; then
  echo "nchan: nginx with the Nchan module is not installed" \
    "(Debian: apt-get install nginx-light libnginx-mod-nchan)" >&2
  exit 3
fi

mkdir -p "$DIR/tmp" "$DIR/logs"
# As many connections as the hard open-files limit allows (nginx cannot raise it), at most 65536.
NOFILE=$(ulimit -Hn)
if [[ "$NOFILE" == unlimited || "$NOFILE" -gt 65536 ]]; then
  NOFILE=65536
fi
USER_LINE=""
if [[ $(id -u) -eq 0 ]]; then
  USER_LINE="user root;"
fi
sed -e "s|@PREFIX@|$DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@MODULE@|$MODULE|g" -e "s|@NOFILE@|$NOFILE|g" \
  -e "s|@USER_LINE@|$USER_LINE|g" "$HERE/nginx.conf.in" >"$DIR/nginx.conf"
exec "$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log"
