#!/usr/bin/env bash
# Installs and starts a local ClickHouse server for tokentrail on Debian.
# Idempotent: each step is skipped when already done.
#   deploy/local/clickhouse.sh install   # apt-get install clickhouse-server/client
#   deploy/local/clickhouse.sh start     # install, then start on 127.0.0.1:9000 if nothing answers
#   deploy/local/clickhouse.sh stop      # stop the server started by this script (by its pidfile)
set -euo pipefail

PIDFILE=${CLICKHOUSE_PIDFILE:-/run/clickhouse-server.pid}
CONFIG=${CLICKHOUSE_CONFIG:-/etc/clickhouse-server/config.xml}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "clickhouse.sh: need root (or sudo) to run: $*" >&2; exit 1; fi
}

install() {
  if [ -x /usr/sbin/clickhouse-server ] && command -v clickhouse-client >/dev/null; then return 0; fi
  echo "clickhouse.sh: installing clickhouse-server and clickhouse-client from Debian" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

answering() { clickhouse-client --port "${CLICKHOUSE_PORT:-9000}" -q 'SELECT 1' >/dev/null 2>&1; }

start() {
  install
  if answering; then echo "clickhouse.sh: ClickHouse already answers on port ${CLICKHOUSE_PORT:-9000}" >&2; return 0; fi
  as_root mkdir -p /var/lib/clickhouse /var/log/clickhouse-server
  as_root chown -R clickhouse:clickhouse /var/lib/clickhouse /var/log/clickhouse-server
  as_root start-stop-daemon --start --oknodo --chuid clickhouse:clickhouse --background \
    --make-pidfile --pidfile "$PIDFILE" --exec /usr/sbin/clickhouse-server -- --config-file="$CONFIG"
  for _ in $(seq 1 100); do
    if answering; then echo "clickhouse.sh: ClickHouse started (pidfile $PIDFILE)" >&2; return 0; fi
    sleep 0.2
  done
  echo "clickhouse.sh: ClickHouse did not answer within 20s; see /var/log/clickhouse-server/" >&2
  exit 1
}

stop() {
  [ -f "$PIDFILE" ] || { echo "clickhouse.sh: no pidfile $PIDFILE" >&2; return 0; }
  as_root start-stop-daemon --stop --oknodo --pidfile "$PIDFILE" --retry 10
  as_root rm -f "$PIDFILE"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
