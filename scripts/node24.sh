#!/usr/bin/env bash
# Runs a command with Node.js 24 first on PATH (installed on first use: scripts/node-runtime.sh).
# package.json's scripts start through it, so `npm test` and `npm run demo` run on Node 24 even
# when the npm that started them runs on the machine's older node.
#   bash scripts/node24.sh node scripts/run-tests.mjs
set -euo pipefail
. "$(dirname "$0")/node-runtime.sh"
use_node24
exec "$@"
