#!/usr/bin/env bash
# Local services for sluice's development and tests, on 127.0.0.1 only, data under <repo>/.services/:
#   PostgreSQL 15  127.0.0.1:55432   (wal_level=logical; superuser role/database "sluice", password "sluice")
#   Kafka 3.9.1    127.0.0.1:59092   (single-node KRaft, controller on 127.0.0.1:59093)
#   Redis          127.0.0.1:56379
#
# Usage: scripts/services.sh up|down|status|env
#        scripts/services.sh start|stop|restart [postgres|kafka|redis ...]   (no name: all three)
#        scripts/services.sh logs postgres|kafka|redis                        (last 40 lines)
#
# `up`/`start` are idempotent and return once each service answers a real request (exit non-zero,
# with the tail of the service's log, if one does not). `down`/`stop` only stop processes that
# this checkout started (pid files and paths under .services/). `status` prints one line per
# service and exits 0 only if all three answer. `env` prints export lines: eval "$(scripts/services.sh env)".
# Needs scripts/install-deps.sh to have run (Debian packages and .deps/kafka/libs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
SVC="$ROOT/.services"

HOST=127.0.0.1
PG_PORT=55432
KAFKA_PORT=59092
KAFKA_CONTROLLER_PORT=59093
REDIS_PORT=56379

PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$SVC/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
PG_DSN="postgresql://sluice:sluice@$HOST:$PG_PORT/sluice"
PG_ADMIN_DSN="postgresql://sluice:sluice@$HOST:$PG_PORT/postgres"
# The unix socket path must stay under ~107 bytes; fall back to /tmp for deep checkouts.
PG_RUN="$PG_DIR/run"
if [ "${#PG_RUN}" -gt 80 ]; then
  PG_RUN="/tmp/sluice-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-10)"
fi

KAFKA_DIR="$SVC/kafka"
KAFKA_LIBS="$ROOT/.deps/kafka/libs"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_OUT="$KAFKA_DIR/kafka.out"
KAFKA_BROKERS="$HOST:$KAFKA_PORT"

REDIS_DIR="$SVC/redis"
REDIS_CONF="$REDIS_DIR/redis.conf"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_URL="redis://$HOST:$REDIS_PORT/0"

PG_WAIT=60
KAFKA_WAIT=120
REDIS_WAIT=20
STOP_WAIT=30

# Our own connection settings are explicit; stray libpq variables must not change them.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE PGPASSFILE || true

say() { printf 'services: %s\n' "$*"; }
err() { printf 'services: error: %s\n' "$*" >&2; }

log_tail() { # file
  if [ -f "$1" ]; then
    printf -- '----- last 40 lines of %s -----\n' "$1" >&2
    tail -n 40 "$1" >&2
    printf -- '-----\n' >&2
  else
    printf 'services: (no log at %s)\n' "$1" >&2
  fi
}

describe_pid() { if [ -n "$1" ]; then echo "pid $1"; else echo "(not started from this checkout)"; fi; }

pid_alive() { # running, and not a zombie waiting to be reaped
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
}

# does something accept TCP connections on 127.0.0.1:$1 (fails fast when nothing listens)
port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

re_escape() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }

# pid from a pid file if that process is alive and its command line contains $2
pid_from_file() { # pidfile pattern
  local pid
  [ -f "$1" ] || return 1
  pid="$(head -n 1 "$1" 2>/dev/null | tr -dc '0-9')"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  printf '%s\n' "$pid"
}

wait_gone() { # pid seconds
  local i=0
  while pid_alive "$1"; do
    [ "$i" -ge $(($2 * 5)) ] && return 1
    sleep 0.2
    i=$((i + 1))
  done
}

as_postgres() { runuser -u postgres -- "$@"; }

# Run a command that leaves a daemon behind with every inherited descriptor above 2 closed
# (our lock, and any pipe of a caller such as CI that reads until EOF). Callers redirect 0-2.
detached() {
  local fd
  for fd in /proc/self/fd/*; do
    fd="${fd##*/}"
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  exec "$@"
}

# ================================================================== PostgreSQL
pg_answers() {
  port_open "$PG_PORT" || return 1
  PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" "$PG_DSN" -XAtqc 'SELECT 1' </dev/null 2>/dev/null | grep -qx 1
}

pg_pid() { # postmaster of our data dir
  local pid
  [ -f "$PG_DATA/postmaster.pid" ] || return 1
  pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null | tr -dc '0-9')"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PG_DATA" || return 1
  printf '%s\n' "$pid"
}

# postgres must reach .services/pg: make every ancestor directory traversable if it is not.
pg_prepare_dirs() {
  mkdir -p "$SVC" "$PG_DIR" "$PG_RUN"
  chmod 755 "$SVC"
  chown postgres:postgres "$PG_DIR" "$PG_RUN"
  chmod 755 "$PG_DIR" "$PG_RUN"
  if [ -d "$PG_DATA" ] && [ "$(stat -c %U "$PG_DATA")" != postgres ]; then chown -R postgres:postgres "$PG_DATA"; fi
  if ! as_postgres test -w "$PG_DIR" -a -w "$PG_RUN"; then
    # walk from / downwards so that each check only depends on ancestors already fixed
    local d path dirs=()
    for path in "$PG_DIR" "$PG_RUN"; do
      d="$(dirname "$path")"
      while [ "$d" != "/" ]; do dirs=("$d" "${dirs[@]}"); d="$(dirname "$d")"; done
    done
    for d in "${dirs[@]}"; do
      if ! as_postgres test -x "$d"; then
        say "postgres: making $d traversable (chmod o+x) so the postgres user can reach $PG_DIR"
        chmod o+x "$d"
      fi
    done
    as_postgres test -w "$PG_DIR" -a -w "$PG_RUN" || { err "the postgres user cannot write $PG_DIR"; return 1; }
  fi
}

pg_write_conf() {
  cat >"$PG_DATA/sluice.conf" <<EOF
# written by scripts/services.sh on every start; postgresql.conf includes it last
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_connections = 200
password_encryption = 'scram-sha-256'
EOF
  cat >"$PG_DATA/pg_hba.conf" <<EOF
# written by scripts/services.sh
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
local   replication  all                  trust
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
  chown postgres:postgres "$PG_DATA/sluice.conf" "$PG_DATA/pg_hba.conf"
  chmod 600 "$PG_DATA/sluice.conf" "$PG_DATA/pg_hba.conf"
}

pg_init() {
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  say "postgres: initdb $PG_DATA"
  rm -rf "$PG_DATA"
  if ! as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 </dev/null; then
    log_tail "$PG_DIR/initdb.log"
    err "initdb failed"
    return 1
  fi
  printf "\ninclude_if_exists = 'sluice.conf'\n" >>"$PG_DATA/postgresql.conf"
}

pg_bootstrap_roles() {
  # over the unix socket as the postgres superuser (trust); idempotent
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres \
    >>"$PG_DIR/bootstrap.log" 2>&1 -f - <<'EOF' || return 1
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sluice') THEN
    CREATE ROLE sluice LOGIN SUPERUSER REPLICATION PASSWORD 'sluice';
  ELSE
    ALTER ROLE sluice LOGIN SUPERUSER REPLICATION PASSWORD 'sluice';
  END IF;
END
$$;
SELECT 'CREATE DATABASE sluice OWNER sluice'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sluice') \gexec
EOF
}

pg_start() {
  if pg_answers; then
    say "postgres: already up ($HOST:$PG_PORT)"
    return 0
  fi
  [ -x "$PG_BIN/pg_ctl" ] || { err "PostgreSQL 15 not installed; run scripts/install-deps.sh"; return 1; }
  id postgres >/dev/null 2>&1 || { err "no 'postgres' OS user; run scripts/install-deps.sh"; return 1; }
  pg_prepare_dirs
  pg_init || return 1
  pg_write_conf
  if ! pg_pid >/dev/null; then
    # lock files left by a postmaster that was killed (e.g. at the end of a session) name a pid
    # that may since belong to another process, which would make postgres refuse to start
    rm -f "$PG_DATA/postmaster.pid" "$PG_RUN/.s.PGSQL.$PG_PORT.lock"
    say "postgres: starting on $HOST:$PG_PORT"
    if ! (detached runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_WAIT" start \
        >"$PG_DIR/pg_ctl.log" 2>&1 </dev/null); then
      cat "$PG_DIR/pg_ctl.log" >&2 || true
      log_tail "$PG_LOG"
      err "postgres did not start"
      return 1
    fi
  fi
  local i=0
  until "$PG_BIN/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT" </dev/null; do
    if [ "$i" -ge $((PG_WAIT * 2)) ] || ! pg_pid >/dev/null; then
      log_tail "$PG_LOG"
      err "postgres is not accepting connections"
      return 1
    fi
    sleep 0.5
    i=$((i + 1))
  done
  if ! pg_bootstrap_roles; then
    log_tail "$PG_DIR/bootstrap.log"
    err "could not create role/database sluice"
    return 1
  fi
  if ! pg_answers; then
    log_tail "$PG_LOG"
    err "postgres does not answer SELECT 1 with $PG_DSN"
    return 1
  fi
  say "postgres: up ($PG_DSN)"
}

pg_stop() {
  local pid
  if ! pid="$(pg_pid)"; then
    say "postgres: not running (from this checkout)"
    return 0
  fi
  say "postgres: stopping (pid $pid)"
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_WAIT" stop >/dev/null 2>&1 </dev/null \
    || as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 </dev/null || true
  if ! wait_gone "$pid" 10; then
    say "postgres: still running, SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || { err "postgres (pid $pid) would not stop"; return 1; }
  fi
  say "postgres: stopped"
}

pg_status() {
  local pid
  pid="$(pg_pid || true)"
  if pg_answers; then
    echo "postgres: up   $HOST:$PG_PORT $(describe_pid "$pid")"
    return 0
  fi
  echo "postgres: down${pid:+ (pid $pid alive, not answering)}"
  return 1
}

# ================================================================== Kafka
kafka_java() { # class args...
  java -Xmx256m -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" -cp "$KAFKA_LIBS/*" "$@"
}

kafka_errors() { # the cause is often well above the last 40 lines of shutdown noise
  if [ -f "$KAFKA_LOG" ] && grep -qE '^\[[^]]*\] (ERROR|FATAL) ' "$KAFKA_LOG"; then
    printf -- '----- last ERROR/FATAL lines of %s -----\n' "$KAFKA_LOG" >&2
    grep -E '^\[[^]]*\] (ERROR|FATAL) ' "$KAFKA_LOG" | tail -n 10 | cut -c1-400 >&2
    printf -- '-----\n' >&2
  fi
}

kafka_answers() {
  port_open "$KAFKA_PORT" || return 1
  timeout 20 kcat -b "$KAFKA_BROKERS" -L -m 5 </dev/null 2>/dev/null | grep -q "broker 1 at $HOST:$KAFKA_PORT"
}

kafka_pid() {
  local pid
  if pid="$(pid_from_file "$KAFKA_PID" "$KAFKA_CONF")"; then
    printf '%s\n' "$pid"
    return 0
  fi
  # fall back to the command line, which names this checkout's server.properties
  pid="$(pgrep -f -- "kafka\.Kafka $(re_escape "$KAFKA_CONF")\$" | head -n 1 || true)"
  [ -n "$pid" ] || return 1
  printf '%s\n' "$pid"
}

kafka_write_conf() {
  cat >"$KAFKA_CONF" <<EOF
# written by scripts/services.sh on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
  cat >"$KAFKA_DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
EOF
}

kafka_start() {
  if kafka_answers; then
    say "kafka: already up ($KAFKA_BROKERS)"
    return 0
  fi
  [ -f "$KAFKA_LIBS/kafka_2.13-3.9.1.jar" ] || { err "Kafka jars missing in $KAFKA_LIBS; run scripts/install-deps.sh"; return 1; }
  command -v java >/dev/null 2>&1 || { err "java not found; run scripts/install-deps.sh"; return 1; }
  command -v kcat >/dev/null 2>&1 || { err "kcat not found; run scripts/install-deps.sh"; return 1; }
  mkdir -p "$KAFKA_DIR/data"
  chmod 755 "$SVC"
  kafka_write_conf
  local pid
  if pid="$(kafka_pid)"; then
    say "kafka: process $pid is running, waiting for it to answer"
  else
    if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
      if [ ! -s "$KAFKA_DIR/cluster.id" ]; then
        kafka_java kafka.tools.StorageTool random-uuid </dev/null 2>"$KAFKA_DIR/format.log" | tr -d '[:space:]' >"$KAFKA_DIR/cluster.id" || true
        [ -s "$KAFKA_DIR/cluster.id" ] || { log_tail "$KAFKA_DIR/format.log"; err "could not generate a cluster id"; return 1; }
      fi
      say "kafka: formatting storage (cluster id $(cat "$KAFKA_DIR/cluster.id"))"
      if ! kafka_java kafka.tools.StorageTool format -t "$(cat "$KAFKA_DIR/cluster.id")" -c "$KAFKA_CONF" \
          --ignore-formatted >>"$KAFKA_DIR/format.log" 2>&1 </dev/null; then
        log_tail "$KAFKA_DIR/format.log"
        err "kafka storage format failed"
        return 1
      fi
    fi
    say "kafka: starting on $KAFKA_BROKERS"
    # setsid: own session, so the broker outlives this shell and ignores its terminal's signals
    (detached setsid nohup java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:CICompilerCount=2 \
      -Djava.awt.headless=true -Dkafka.logs.dir="$KAFKA_DIR" \
      -Dlog4j.configuration="file:$ROOT/scripts/kafka/log4j.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF" </dev/null >>"$KAFKA_OUT" 2>&1) &
    pid=$!
    echo "$pid" >"$KAFKA_PID"
  fi
  local deadline=$((SECONDS + KAFKA_WAIT))
  until kafka_answers; do
    if ! pid_alive "$pid" && pid="$(kafka_pid)"; then
      echo "$pid" >"$KAFKA_PID"
    fi
    if ! pid_alive "$pid"; then
      log_tail "$KAFKA_OUT"
      log_tail "$KAFKA_LOG"
      kafka_errors
      err "kafka exited during startup"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tail "$KAFKA_LOG"
      kafka_errors
      err "kafka did not answer a metadata request within ${KAFKA_WAIT}s (pid $pid left running)"
      return 1
    fi
    sleep 1
  done
  say "kafka: up ($KAFKA_BROKERS, pid $pid)"
}

kafka_stop() {
  local pid
  if ! pid="$(kafka_pid)"; then
    say "kafka: not running (from this checkout)"
    rm -f "$KAFKA_PID"
    return 0
  fi
  say "kafka: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$STOP_WAIT"; then
    say "kafka: still running after ${STOP_WAIT}s, SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || { err "kafka (pid $pid) would not stop"; return 1; }
  fi
  rm -f "$KAFKA_PID"
  say "kafka: stopped"
}

kafka_status() {
  local pid
  pid="$(kafka_pid || true)"
  if kafka_answers; then
    echo "kafka:    up   $KAFKA_BROKERS $(describe_pid "$pid")"
    return 0
  fi
  echo "kafka:    down${pid:+ (pid $pid alive, not answering)}"
  return 1
}

# ================================================================== Redis
redis_answers() {
  [ "$(timeout 5 redis-cli -h "$HOST" -p "$REDIS_PORT" PING </dev/null 2>/dev/null)" = "PONG" ]
}

redis_pid() { pid_from_file "$REDIS_PID" "redis-server $HOST:$REDIS_PORT"; }

redis_start() {
  if redis_answers; then
    say "redis: already up ($HOST:$REDIS_PORT)"
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 || { err "redis-server not found; run scripts/install-deps.sh"; return 1; }
  mkdir -p "$REDIS_DIR"
  chmod 755 "$SVC"
  cat >"$REDIS_CONF" <<EOF
# written by scripts/services.sh on every start
bind $HOST
port $REDIS_PORT
protected-mode yes
dir $REDIS_DIR
daemonize yes
pidfile $REDIS_PID
logfile $REDIS_LOG
save ""
appendonly no
databases 16
EOF
  if ! redis_pid >/dev/null; then
    say "redis: starting on $HOST:$REDIS_PORT"
    rm -f "$REDIS_PID"
    if ! (detached redis-server "$REDIS_CONF" </dev/null >>"$REDIS_LOG" 2>&1); then
      log_tail "$REDIS_LOG"
      err "redis-server failed to start"
      return 1
    fi
  fi
  local i=0
  until redis_answers; do
    if [ "$i" -ge $((REDIS_WAIT * 5)) ]; then
      log_tail "$REDIS_LOG"
      err "redis did not answer PING within ${REDIS_WAIT}s"
      return 1
    fi
    sleep 0.2
    i=$((i + 1))
  done
  say "redis: up ($REDIS_URL)"
}

redis_stop() {
  local pid
  if ! pid="$(redis_pid)"; then
    say "redis: not running (from this checkout)"
    return 0
  fi
  say "redis: stopping (pid $pid)"
  timeout 10 redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 </dev/null || kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 10; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || { err "redis (pid $pid) would not stop"; return 1; }
  fi
  rm -f "$REDIS_PID"
  say "redis: stopped"
}

redis_status() {
  local pid
  pid="$(redis_pid || true)"
  if redis_answers; then
    echo "redis:    up   $HOST:$REDIS_PORT $(describe_pid "$pid")"
    return 0
  fi
  echo "redis:    down${pid:+ (pid $pid alive, not answering)}"
  return 1
}

# ================================================================== commands
print_env() {
  cat <<EOF
export SLUICE_PG_DSN=$PG_DSN
export SLUICE_PG_ADMIN_DSN=$PG_ADMIN_DSN
export KAFKA_BROKERS=$KAFKA_BROKERS
export REDIS_URL=$REDIS_URL
EOF
}

canon() { # service name -> postgres|kafka|redis
  case "$1" in
    pg | postgres | postgresql) echo postgres ;;
    kafka) echo kafka ;;
    redis) echo redis ;;
    *) err "unknown service '$1' (postgres, kafka or redis)"; exit 2 ;;
  esac
}

svc_call() { # action service
  case "$2" in
    postgres) "pg_$1" ;;
    kafka) "kafka_$1" ;;
    redis) "redis_$1" ;;
  esac
}

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

with_lock() {
  mkdir -p "$SVC"
  exec 9>"$SVC/.lock"
  if ! flock -w 300 9; then
    err "another scripts/services.sh holds $SVC/.lock"
    exit 1
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  up | start | down | stop | restart)
    names=()
    if [ $# -eq 0 ]; then
      names=(postgres kafka redis)
    else
      for n in "$@"; do names+=("$(canon "$n")"); done
    fi
    with_lock
    rc=0
    case "$cmd" in
      up | start)
        for n in "${names[@]}"; do svc_call start "$n" || rc=1; done ;;
      down | stop)
        for n in "${names[@]}"; do svc_call stop "$n" || rc=1; done ;;
      restart)
        for n in "${names[@]}"; do svc_call stop "$n" || rc=1; done
        for n in "${names[@]}"; do svc_call start "$n" || rc=1; done ;;
    esac
    exit "$rc"
    ;;
  status)
    rc=0
    pg_status || rc=1
    kafka_status || rc=1
    redis_status || rc=1
    exit "$rc"
    ;;
  env)
    print_env
    ;;
  logs)
    [ $# -eq 1 ] || { usage >&2; exit 2; }
    case "$(canon "$1")" in
      postgres) tail -n 40 "$PG_LOG" ;;
      kafka) tail -n 40 "$KAFKA_LOG" ;;
      redis) tail -n 40 "$REDIS_LOG" ;;
    esac
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
