#!/usr/bin/env bash
# Shows whether each part of the local stack runs, and where.
. "$(dirname "$0")/lib.sh"
[ -f "$STACK/ports.env" ] || { say "not set up (run npm run stack:up)"; exit 1; }
load_ports
rc=0
if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then say "postgres   up    127.0.0.1:$PG_PORT"; else say "postgres   down"; rc=1; fi
if pid_alive "$KAFKA_DIR/kafka.pid"; then
  say "kafka      up    127.0.0.1:$KAFKA_PORT"
  if grep -q "^listeners=.*SASL://127.0.0.1:$KAFKA_SASL_PORT" "$KAFKA_DIR/server.properties"; then
    say "kafka-sasl up    127.0.0.1:$KAFKA_SASL_PORT (user $KAFKA_SASL_USER)"
  else
    say "kafka-sasl none  (the broker predates the SASL listener: restart the stack to add it)"
  fi
else say "kafka      down"; rc=1; fi
if pid_alive "$QDRANT_DIR/server.pid"; then
  say "qdrant-ts  up    http://127.0.0.1:$QDRANT_PORT$([ -f "$QDRANT_DIR/grpc-port" ] && echo " (gRPC http://127.0.0.1:$(cat "$QDRANT_DIR/grpc-port"))")"
else say "qdrant-ts  down"; rc=1; fi
exit $rc
