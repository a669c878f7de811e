#!/usr/bin/env bash
# Installs what sluice needs to build and test, and only what is missing:
#   - Debian packages (compiler, libraries, PostgreSQL 15, Redis, kcat, a JRE and Maven);
#   - an Apache Kafka 3.9.1 broker, fetched from Maven Central into <repo>/.deps/kafka/libs.
# Idempotent: a second run checks with dpkg-query and a marker file and is done in seconds.
# Usage: scripts/install-deps.sh        (as root, or with sudo available)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
KAFKA_VERSION=3.9.1
KAFKA_LIBS="$ROOT/.deps/kafka/libs"
KAFKA_MARKER="$KAFKA_LIBS/.sluice-kafka-$KAFKA_VERSION"

export DEBIAN_FRONTEND=noninteractive

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install packages"
  SUDO=(sudo -n)
fi

# ---------------------------------------------------------------- Debian packages
PACKAGES=(
  g++ cmake ninja-build pkg-config
  librdkafka-dev libpq-dev libpqxx-dev nlohmann-json3-dev libhiredis-dev libyaml-cpp-dev
  libcurl4-openssl-dev libsqlite3-dev catch2
  postgresql-15 postgresql-client-15 redis-server redis-tools kcat clang-format procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
# A JRE and Maven only when the commands are absent (any Java >= 11 runs Kafka 3.9).
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)

if [ "${#missing[@]}" -eq 0 ]; then
  say "Debian packages: all ${#PACKAGES[@]} present"
else
  say "Debian packages missing: ${missing[*]}"
  # Keep apt from auto-starting system postgresql/redis services while installing (ours run on
  # other ports and do not need them). Only when no policy-rc.d exists; removed afterwards.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ "$(id -u)" -eq 0 ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  cleanup_policy() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
  trap cleanup_policy EXIT
  say "apt-get update"
  # A third-party source that cannot be reached must not stop us: Debian's own lists suffice.
  "${SUDO[@]}" apt-get update -qq || say "warning: apt-get update reported errors; going on"
  say "apt-get install ${missing[*]}"
  mkdir -p "$ROOT/.deps"
  aptlog="$ROOT/.deps/apt-install.log"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" \
    >"$aptlog" 2>&1 </dev/null || { tail -n 40 "$aptlog" >&2; die "apt-get install failed"; }
  cleanup_policy
  trap - EXIT
  say "Debian packages installed"
fi

[ -x /usr/lib/postgresql/15/bin/postgres ] || die "PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin"
command -v java >/dev/null 2>&1 || die "java not found after install"
command -v mvn >/dev/null 2>&1 || die "mvn not found after install"

# ---------------------------------------------------------------- Kafka (Maven Central)
if [ -f "$KAFKA_MARKER" ] && [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; then
  say "Kafka $KAFKA_VERSION: present in .deps/kafka/libs"
else
  say "Kafka $KAFKA_VERSION: fetching jars from Maven Central (mvn)"
  tmp="$ROOT/.deps/kafka/libs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mvnlog="$ROOT/.deps/kafka/mvn.log"
  if ! mvn -B -Dstyle.color=never -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -Dkafka.version="$KAFKA_VERSION" </dev/null >"$mvnlog" 2>&1; then
    tail -n 40 "$mvnlog" >&2
    rm -rf "$tmp"
    die "mvn could not fetch Kafka $KAFKA_VERSION (log: .deps/kafka/mvn.log)"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"; }
  # sanity check: the broker's tool classes load with this classpath
  if ! java -cp "$tmp/*" -Dlog4j.configuration=file:/dev/null kafka.tools.StorageTool random-uuid \
      >/dev/null 2>&1 </dev/null; then
    rm -rf "$tmp"
    die "the fetched Kafka jars do not run (java -cp ... kafka.tools.StorageTool failed)"
  fi
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  touch "$KAFKA_MARKER"
  say "Kafka $KAFKA_VERSION: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in .deps/kafka/libs"
fi

say "done"
