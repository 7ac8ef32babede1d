#!/usr/bin/env bash
# Runs a command with Node.js 24 first on PATH (installed on first use: scripts/node-runtime.sh),
# once the npm packages are installed on it. package.json's scripts start through it, so
# `npm test` and `npm run demo` run on Node 24 even when the npm that started them runs on the
# machine's older node, and from a fresh clone.
#   bash scripts/node24.sh node scripts/run-tests.mjs
set -euo pipefail
. "$(dirname "$0")/node-runtime.sh"
use_node24
(cd "$(dirname "$0")/.." && install_npm_packages)
exec "$@"
