# Shared by up.sh, down.sh and status.sh: where the stack lives and how to reach its parts.
# All state is under $STACK (default .stack/, git-ignored): data, logs, pids, ports, env.json.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK=${VECRELAY_STACK_DIR:-$ROOT/.stack}
PG_BIN=/usr/lib/postgresql/15/bin
PG_DATA=$STACK/pg/data
KAFKA_DIR=$STACK/kafka
QDRANT_DIR=$STACK/qdrant-test-server

say() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# initdb and postgres refuse to run as root; as root, run them as the 'postgres' system user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Ports are chosen free once and kept in $STACK/ports.env, so a restart finds the same addresses.
# A port added to the stack later (KAFKA_SASL_PORT, QDRANT_GRPC_PORT) is chosen and appended on
# the next `up`.
PORT_NAMES=(PG_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT QDRANT_PORT KAFKA_SASL_PORT QDRANT_GRPC_PORT)
load_ports() {
  mkdir -p "$STACK"
  [ -f "$STACK/ports.env" ] || : >"$STACK/ports.env"
  # shellcheck disable=SC1091
  . "$STACK/ports.env"
  local missing=() name
  for name in "${PORT_NAMES[@]}"; do [ -n "${!name:-}" ] || missing+=("$name"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  node -e '
    const net = require("node:net");
    const servers = [];
    (async () => {
      for (const name of process.argv.slice(1)) {
        const s = net.createServer();
        await new Promise((r) => s.listen(0, "127.0.0.1", r));
        servers.push(s);
        console.log(`${name}=${s.address().port}`);
      }
      servers.forEach((s) => s.close());
    })();
  ' "${missing[@]}" >>"$STACK/ports.env"
  # shellcheck disable=SC1091
  . "$STACK/ports.env"
}

# The SASL listener's user (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN). A local test stack only: the
# password is no secret, tests read it from env.json.
KAFKA_SASL_USER=vecrelay
KAFKA_SASL_PASSWORD=vecrelay-local-sasl

# Prints the last lines of a log, for a failure message.
tail_log() { [ -f "$1" ] && { echo "--- last lines of $1:"; tail -n 40 "$1"; } >&2 || true; }
