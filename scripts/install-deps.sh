#!/usr/bin/env bash
# Installs everything the local stack and the tests need on a new Debian bookworm machine, and
# nothing twice: each step checks first. Safe to rerun.
#   - Debian packages: PostgreSQL 15 (+ server headers), JDK 17 + Maven, docker-compose (offline
#     validation of docker-compose.yml), a C toolchain for pgvector, openssl (the TLS tests make
#     their certificates with it)
#   - pgvector, built from Debian's source package against postgresql-server-dev-15
#   - Kafka's jars, resolved by Maven from Maven Central (scripts/stack/kafka/pom.xml)
#   - Node.js 24 LTS when the machine's node is older (scripts/node-runtime.sh), then the npm
#     packages (npm ci, run on Node 24)
# Downloads are cached under $VECRELAY_CACHE (default ~/.cache/vecrelay) and ~/.m2.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stack_dir=${VECRELAY_STACK_DIR:-$root/.stack}
cache=${VECRELAY_CACHE:-$HOME/.cache/vecrelay}
PG_MAJOR=15
mkdir -p "$stack_dir" "$cache"

say() { printf '[install] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages ---------------------------------------------------------------------------
packages=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-client-$PG_MAJOR
  openjdk-17-jdk-headless maven docker-compose build-essential ca-certificates curl xz-utils openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postgresql-common may create and start a default cluster; the stack runs its own.
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin

# --- pgvector from Debian's source package -------------------------------------------------------
pg_config=$PG_BIN/pg_config
[ -x "$pg_config" ] || pg_config=/usr/bin/pg_config
control="$("$pg_config" --sharedir)/extension/vector.control"
if [ ! -f "$control" ]; then
  src_cache=$cache/pgvector
  mkdir -p "$src_cache/lists/partial"
  if ! ls "$src_cache"/pgvector_*.orig.tar.* >/dev/null 2>&1; then
    say "downloading Debian's pgvector source package (trixie)"
    # A private source list and state directory: the machine's own apt configuration is untouched.
    # The Debian mirror the machine already uses (one-line and deb822 source formats).
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 || true)
    mirror=${mirror% }
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "deb-src ${mirror%/} trixie main" >"$src_cache/sources.list"
    apt_opts=(-o Dir::Etc::sourcelist="$src_cache/sources.list" -o Dir::Etc::sourceparts=/dev/null
      -o Dir::State::Lists="$src_cache/lists" -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" update -qq
    (cd "$src_cache" && apt-get "${apt_opts[@]}" source --download-only pgvector >/dev/null)
  fi
  tarball=$(ls "$src_cache"/pgvector_*.orig.tar.* | sort -V | tail -n 1)
  build=$(mktemp -d)
  tar -xf "$tarball" -C "$build"
  src=$(echo "$build"/pgvector-*)
  say "building $(basename "$src") against PostgreSQL $PG_MAJOR"
  # OPTFLAGS="": no -march=native, so the build runs on any x86-64 machine.
  make -s -C "$src" PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
  as_root make -s -C "$src" PG_CONFIG="$pg_config" install >/dev/null
  rm -rf "$build"
fi

# --- Kafka jars from Maven Central -------------------------------------------------------------------
pom=$root/scripts/stack/kafka/pom.xml
cp_file=$stack_dir/kafka-classpath.txt
if [ ! -s "$cp_file" ] || [ "$pom" -nt "$cp_file" ]; then
  say "resolving Kafka's jars with Maven"
  mvn -B -q -f "$pom" dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file" \
    >"$stack_dir/maven.log" 2>&1 || { cat "$stack_dir/maven.log"; exit 1; }
fi

# --- Node.js 24 and the npm packages ----------------------------------------------------------------
# npm ci runs under Node 24 (npm runs on the first node on PATH): the engines checks see the
# runtime the packages will run on.
. "$root/scripts/node-runtime.sh"
use_node24
install_npm_packages
say "done"
