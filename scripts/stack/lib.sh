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
load_ports() {
  if [ ! -f "$STACK/ports.env" ]; then
    mkdir -p "$STACK"
    node -e '
      const net = require("node:net");
      const names = ["PG_PORT", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "QDRANT_PORT"];
      const servers = [];
      (async () => {
        for (const name of names) {
          const s = net.createServer();
          await new Promise((r) => s.listen(0, "127.0.0.1", r));
          servers.push(s);
          console.log(`${name}=${s.address().port}`);
        }
        servers.forEach((s) => s.close());
      })();
    ' >"$STACK/ports.env"
  fi
  # shellcheck disable=SC1091
  . "$STACK/ports.env"
}

# Prints the last lines of a log, for a failure message.
tail_log() { [ -f "$1" ] && { echo "--- last lines of $1:"; tail -n 40 "$1"; } >&2 || true; }
