#!/usr/bin/env bash
# Stops the local stack; idempotent. Data stays in $STACK for the next `up`, unless --purge.
. "$(dirname "$0")/lib.sh"

stop_pid() { # name pidfile seconds
  local name=$1 pidfile=$2 seconds=$3
  if pid_alive "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "$name did not stop in ${seconds}s: killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$pidfile"
}

stop_pid "the Qdrant test server" "$QDRANT_DIR/server.pid" 10
stop_pid "Kafka" "$KAFKA_DIR/kafka.pid" 30
if [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  say "stopping PostgreSQL"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop
fi
rm -f "$STACK/env.json" "$STACK/env"
if [ "${1:-}" = "--purge" ]; then
  say "removing $STACK"
  rm -rf "$STACK"
fi
say "stopped"
