# Sourced by the scripts (install-deps.sh, stack/up.sh, node24.sh, .ci/run): puts Node.js 24 LTS,
# the runtime vecrelay supports, first on PATH. When the machine's own node is older (Debian
# bookworm images ship Node 20, end-of-life since 2026-04-30), Node 24 comes from the npm
# registry: the package node-linux-<arch> ships the official binary. It is installed once under
# $VECRELAY_CACHE/node-24 (default ~/.cache/vecrelay) with the machine's npm, which then itself
# runs on Node 24 through PATH — so npm ci sees Node 24 and the engines checks pass.
NODE_WANT_MAJOR=24

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

use_node24() {
  [ "$(node_major)" -ge "$NODE_WANT_MAJOR" ] && return 0
  local arch
  case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) printf '[install] error: no Node %s package for %s: install Node %s yourself\n' \
      "$NODE_WANT_MAJOR" "$(uname -m)" "$NODE_WANT_MAJOR" >&2; return 1 ;;
  esac
  local dir=${VECRELAY_CACHE:-$HOME/.cache/vecrelay}/node-$NODE_WANT_MAJOR
  local bin=$dir/node_modules/node-linux-$arch/bin
  if [ ! -x "$bin/node" ]; then
    printf '[install] Node %s (this machine has %s): npm install node-linux-%s@%s into %s\n' \
      "$NODE_WANT_MAJOR" "$(node --version 2>/dev/null || echo none)" "$arch" "$NODE_WANT_MAJOR" "$dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@$NODE_WANT_MAJOR" >&2
    [ -x "$bin/node" ] || { printf '[install] error: %s/node was not installed\n' "$bin" >&2; return 1; }
  fi
  export PATH="$bin:$PATH"
}

# npm ci, on the node first on PATH (Node 24 after use_node24), when node_modules is missing, older
# than package-lock.json, or was installed by another Node major. Run from the repository root.
install_npm_packages() {
  local major installed_by
  major=$(node_major)
  installed_by=$(cat node_modules/.vecrelay-node 2>/dev/null || true)
  if [ "$installed_by" != "$major" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    printf '[install] npm ci (node %s)\n' "$(node --version)" >&2
    # warn, not error: an EBADENGINE warning is worth seeing.
    npm ci --no-audit --no-fund --loglevel=warn >&2
    echo "$major" >node_modules/.vecrelay-node
  fi
}
