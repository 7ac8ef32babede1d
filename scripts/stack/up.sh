#!/usr/bin/env bash
# Starts the local stack: PostgreSQL 15 + pgvector, Kafka (KRaft, single node; a PLAINTEXT listener
# and a SASL_PLAINTEXT one with a SCRAM-SHA-256/512 and PLAIN user) and the
# Qdrant-compatible test server. Idempotent: what already runs is left alone, what is missing is
# created. Waits on ready-checks, then writes $STACK/env.json (read by tests) and $STACK/env.
# First runs scripts/install-deps.sh, which installs only what is missing.
. "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/install-deps.sh" | grep -v '^\[install\] done$' || true
. "$ROOT/scripts/node-runtime.sh" && use_node24 # the test server runs on Node 24 too
load_ports
mkdir -p "$STACK/pg" "$KAFKA_DIR" "$QDRANT_DIR"

# --- PostgreSQL -------------------------------------------------------------------------------------
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 is not installed: run scripts/install-deps.sh"
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
  say "initdb $PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres: "$STACK/pg"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$STACK/pg/initdb.log" 2>&1 \
    || { tail_log "$STACK/pg/initdb.log"; die "initdb failed"; }
  mkdir -p "$STACK/pg/run" && [ "$(id -u)" = 0 ] && chown postgres: "$STACK/pg/run"
  cat >>"$PG_DATA/postgresql.conf" <<CONF

# --- vecrelay local stack ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$STACK/pg/run'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_connections = 200
wal_sender_timeout = 60s
# A scratch cluster for tests: durability against OS crashes is not needed (a process crash is
# still safe), speed is.
fsync = off
full_page_writes = off
synchronous_commit = off
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
CONF
fi
if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$STACK/pg/postgres.log" -w -t 60 start >/dev/null \
    || { tail_log "$STACK/pg/postgres.log"; die "PostgreSQL did not start"; }
fi
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 30 || die "PostgreSQL is not accepting connections"
"$PG_BIN/psql" -qAtX -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE EXTENSION IF NOT EXISTS vector" \
  >/dev/null || die "CREATE EXTENSION vector failed: is pgvector installed? run scripts/install-deps.sh"

# --- Kafka (KRaft, broker + controller in one process) ------------------------------------------------
cp_file=$STACK/kafka-classpath.txt
[ -s "$cp_file" ] || die "Kafka's classpath is missing ($cp_file): run scripts/install-deps.sh"
if ! pid_alive "$KAFKA_DIR/kafka.pid"; then
  cat >"$KAFKA_DIR/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL://127.0.0.1:$KAFKA_SASL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL://127.0.0.1:$KAFKA_SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL:SASL_PLAINTEXT
# SASL: a listener that requires a login (kafka.sasl tests). SCRAM users live in the cluster
# metadata (created at format time, or by the admin API below); PLAIN's user is listed here.
listener.name.sasl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
log.dirs=$KAFKA_DIR/data
# One broker: the internal topics must not ask for 3 replicas, or groups never get a coordinator.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# vecrelay creates its topics itself (compacted, with set partitions); catch any that it forgets.
auto.create.topics.enable=false
num.partitions=1
num.network.threads=2
num.io.threads=2
CONF
  java_cp=$(cat "$cp_file")
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    say "formatting Kafka storage"
    rm -f "$KAFKA_DIR/scram-users"
    cluster_id=$(java -cp "$java_cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java -cp "$java_cp" -Dlog4j.configuration="file:$ROOT/scripts/stack/kafka/log4j.properties" \
      -Dkafka.log.file="$KAFKA_DIR/storage-tool.log" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" -g \
      --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
      >"$KAFKA_DIR/format.log" 2>&1 || { tail_log "$KAFKA_DIR/format.log"; die "Kafka storage format failed"; }
    echo "$KAFKA_SASL_USER" >"$KAFKA_DIR/scram-users"
  fi
  say "starting Kafka on 127.0.0.1:$KAFKA_PORT"
  nohup java -Xms512m -Xmx1g -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/scripts/stack/kafka/log4j.properties" \
    -Dkafka.log.file="$KAFKA_DIR/server.log" \
    -cp "$java_cp" kafka.Kafka "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/stdout.log" 2>&1 </dev/null &
  echo $! >"$KAFKA_DIR/kafka.pid"
fi

# --- Qdrant-compatible test server ------------------------------------------------------------------
# REST on $QDRANT_PORT, Qdrant's gRPC API on $QDRANT_GRPC_PORT (as Qdrant's 6333 / 6334). The
# grpc-port file says the running server serves gRPC: one started by an older up.sh does not (it
# keeps running, gRPC left out of env.json, until it is restarted: see below).
if ! pid_alive "$QDRANT_DIR/server.pid"; then
  say "starting the Qdrant-compatible test server on 127.0.0.1:$QDRANT_PORT (gRPC :$QDRANT_GRPC_PORT)"
  # Own stdio, so the caller's pipes close when up.sh ends.
  cd "$ROOT"
  rm -f "$QDRANT_DIR/grpc-port"
  nohup node --import tsx test/qdrant-server/main.ts --host 127.0.0.1 --port "$QDRANT_PORT" \
    --grpc-port "$QDRANT_GRPC_PORT" >"$QDRANT_DIR/server.log" 2>&1 </dev/null &
  echo $! >"$QDRANT_DIR/server.pid"
  echo "$QDRANT_GRPC_PORT" >"$QDRANT_DIR/grpc-port"
fi

# --- ready checks, then the addresses for tests and tools -------------------------------------------
node --disable-warning=TimeoutNegativeWarning "$ROOT/scripts/stack/wait-ready.mjs" kafka "127.0.0.1:$KAFKA_PORT" 90 "$KAFKA_DIR/kafka.pid" \
  || { tail_log "$KAFKA_DIR/server.log"; tail_log "$KAFKA_DIR/stdout.log"; die "Kafka is not ready"; }

# The SASL listener exists only if the running broker was started with it (a broker started by
# an older up.sh has none until the stack is restarted: down.sh, then up.sh).
sasl_json=""
if grep -q "^listeners=.*SASL://127.0.0.1:$KAFKA_SASL_PORT" "$KAFKA_DIR/server.properties"; then
  if [ ! -f "$KAFKA_DIR/scram-users" ]; then
    # Storage formatted before the listener existed: create the SCRAM user through the admin API.
    say "creating the SCRAM user $KAFKA_SASL_USER"
    # One mechanism per call: Kafka refuses two changes to one user in one request.
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      java -cp "$(cat "$cp_file")" -Dlog4j.configuration="file:$ROOT/scripts/stack/kafka/log4j.properties" \
        -Dkafka.log.file="$KAFKA_DIR/config-command.log" \
        kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users \
        --entity-name "$KAFKA_SASL_USER" --add-config "$mechanism=[password=$KAFKA_SASL_PASSWORD]" \
        >"$KAFKA_DIR/scram.log" 2>&1 || { tail_log "$KAFKA_DIR/scram.log"; die "creating the SCRAM user failed"; }
    done
    echo "$KAFKA_SASL_USER" >"$KAFKA_DIR/scram-users"
  fi
  KAFKA_SASL_USER=$KAFKA_SASL_USER KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD \
    node --disable-warning=TimeoutNegativeWarning "$ROOT/scripts/stack/wait-ready.mjs" kafka-sasl "127.0.0.1:$KAFKA_SASL_PORT" 60 "$KAFKA_DIR/kafka.pid" \
    || { tail_log "$KAFKA_DIR/server.log"; die "Kafka's SASL listener is not ready"; }
  sasl_json=$(printf ',\n  "kafkaSasl": { "brokers": ["127.0.0.1:%s"], "username": "%s", "password": "%s", "mechanisms": ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] }' \
    "$KAFKA_SASL_PORT" "$KAFKA_SASL_USER" "$KAFKA_SASL_PASSWORD")
else
  say "Kafka runs without the SASL listener (started by an older up.sh): restart the stack to add it"
fi
node --disable-warning=TimeoutNegativeWarning "$ROOT/scripts/stack/wait-ready.mjs" http "http://127.0.0.1:$QDRANT_PORT/" 30 "$QDRANT_DIR/server.pid" \
  || { tail_log "$QDRANT_DIR/server.log"; die "the Qdrant test server is not ready"; }

grpc_url="" grpc_json="" grpc_env=""
if [ -f "$QDRANT_DIR/grpc-port" ]; then
  grpc_url="http://127.0.0.1:$(cat "$QDRANT_DIR/grpc-port")"
  grpc_json=", \"grpcUrl\": \"$grpc_url\""
  grpc_env="export QDRANT_TEST_SERVER_GRPC_URL=$grpc_url"
else
  say "the Qdrant test server runs without gRPC (started by an older up.sh): to add it, stop only" \
    "that server (kill \$(cat $QDRANT_DIR/server.pid)) and run up.sh again"
fi

cat >"$STACK/env.json" <<JSON
{
  "pg": { "host": "127.0.0.1", "port": $PG_PORT, "user": "postgres", "database": "postgres" },
  "kafka": { "brokers": ["127.0.0.1:$KAFKA_PORT"] },
  "qdrantTestServer": { "url": "http://127.0.0.1:$QDRANT_PORT"$grpc_json }$sasl_json
}
JSON
cat >"$STACK/env" <<ENV
# source this file to reach the local stack from a shell
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=postgres
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
${sasl_json:+export KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT KAFKA_SASL_USER=$KAFKA_SASL_USER KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD
}export QDRANT_TEST_SERVER_URL=http://127.0.0.1:$QDRANT_PORT
$grpc_env
ENV
say "ready: postgres 127.0.0.1:$PG_PORT, kafka 127.0.0.1:$KAFKA_PORT${sasl_json:+ (SASL 127.0.0.1:$KAFKA_SASL_PORT)}, qdrant-test-server http://127.0.0.1:$QDRANT_PORT${grpc_url:+ (gRPC $grpc_url)}"
say "addresses in $STACK/env.json (source $STACK/env in a shell)"
