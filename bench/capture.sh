#!/usr/bin/env bash
# Capture benchmark (issue #3): sluice capture against the physical limits of its two stages,
# measured in one run on one machine (design.md, "Limits we measure against").
#
#   (a) pg_recvlogical decoding the workload's WAL with pgoutput into /dev/null
#   (b) kcat -P producing the same events (same keys, same values) into Kafka, acks=all
#   (c) sluice capture reading the same WAL into Kafka, until every event is in the topic
#
# Workload: ROWS row inserts in TXN_ROWS-row transactions (a plpgsql procedure that COMMITs
# after every TXN_ROWS rows, so ROWS/TXN_ROWS real transactions), written after all slots
# exist, so (a) and (c) decode exactly the same changes. Second variant: one BIG_TXN_ROWS-row
# transaction, for sluice's peak RSS under a huge transaction.
#
# Last line: capture_ratio=<sluice rate / the slower of (a) and (b)>.
# A benchmark, not a test: scripts/test.sh does not run it. See bench/README.md.
#
#   ./bench/capture.sh                      # ROWS=1000000 BIG_TXN_ROWS=2000000
#   ROWS=100000 BIG_TXN_ROWS=200000 ./bench/capture.sh    # a quick run
#
# Environment: ROWS, TXN_ROWS (10), BIG_TXN_ROWS (0 skips the variant), SLUICE (binary; built
# into build/ when missing), TIMEOUT_S (give up when the topic stops growing for that long, 120),
# KEEP_EVENTS=1 (keep the scratch directory: logs, pipeline files and the event file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ROWS="${ROWS:-1000000}"
TXN_ROWS="${TXN_ROWS:-10}"
BIG_TXN_ROWS="${BIG_TXN_ROWS:-2000000}"
TIMEOUT_S="${TIMEOUT_S:-120}"
PG_BIN=/usr/lib/postgresql/15/bin
SLUICE="${SLUICE:-$ROOT/build/bin/sluice}"

die() { printf 'bench/capture: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- tools (installed if missing)
command -v kcat >/dev/null || apt_install kcat
[ -x /usr/bin/time ] || apt_install time
{ command -v psql >/dev/null && [ -x "$PG_BIN/pg_recvlogical" ]; } || apt_install postgresql-client-15
if [ ! -x "$SLUICE" ]; then
  say "building sluice into $ROOT/build"
  cmake -S "$ROOT" -B "$ROOT/build" -G Ninja >/dev/null && cmake --build "$ROOT/build" --target sluice >/dev/null
fi

"$ROOT/scripts/services.sh" status >/dev/null || "$ROOT/scripts/services.sh" up
eval "$("$ROOT/scripts/services.sh" env)"
DSN="$SLUICE_PG_DSN"
BROKERS="$KAFKA_BROKERS"

# ---------------------------------------------------------------- names, scratch, cleanup
RUN="bc$(date +%s)_$$"
TABLE="bench_${RUN}"
BIG_TABLE="bench_${RUN}_big"
PUB="bench_${RUN}"
BIG_PUB="bench_${RUN}_big"
SLOT_RECV="bench_${RUN}_recv"
SLOT_SLUICE="bench_${RUN}_sluice"
SLOT_BIG_RECV="bench_${RUN}_big_recv"
SLOT_BIG_SLUICE="bench_${RUN}_big_sluice"
PREFIX="bench_${RUN}"
SLUICE_TOPIC="$PREFIX.public.$TABLE"
BIG_TOPIC="$PREFIX.public.$BIG_TABLE"
KCAT_TOPIC="${PREFIX}_kcat"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-capture.XXXXXX")"
EVENTS="$WORK/events.tsv"
PIDS=()

cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Only what this run created: its slots (once no walsender holds them), publications, tables.
  psql_q >/dev/null 2>&1 <<SQL || true
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
 WHERE slot_name IN ('$SLOT_RECV','$SLOT_SLUICE','$SLOT_BIG_RECV','$SLOT_BIG_SLUICE') AND active;
SELECT pg_sleep(0.5);
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE slot_name IN ('$SLOT_RECV','$SLOT_SLUICE','$SLOT_BIG_RECV','$SLOT_BIG_SLUICE');
DROP PUBLICATION IF EXISTS $PUB;
DROP PUBLICATION IF EXISTS $BIG_PUB;
DROP PROCEDURE IF EXISTS ${TABLE}_fill(bigint, integer);
DROP TABLE IF EXISTS $TABLE, $BIG_TABLE;
SQL
  if [ "${KEEP_EVENTS:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_walsender_sampler() {  # SLOT FILE
  local pid
  pid=$(walsender_pid "$1")
  if [ -n "$pid" ]; then
    proc_sampler "$pid" "$2" &
    PIDS+=($!)
  fi
}
walsender_cpu() {  # FILE → "walsender 1.23 s cpu (+0.40 s waiting for a cpu)"
  printf 'walsender %s s cpu (+%s s waiting for a cpu)' "$(field "$1" 1)" "$(field "$1" 3)"
}
# The broker's pid, for broker_cpu (bench/lib.sh).
KAFKA_PID=$("$ROOT/scripts/services.sh" status 2>/dev/null | sed -n 's/^kafka: .* pid \([0-9]*\).*/\1/p')
time_cpu() { awk '{ printf "%.2f", $1 + $2 }' "$1"; }  # FILE written by /usr/bin/time -f '%U %S'

# ---------------------------------------------------------------- (a) pg_recvlogical
run_recvlogical() {  # SLOT PUBLICATION END_LSN ROWS → sets RECV_RATE, RECV_S
  local slot="$1" pub="$2" end="$3" n="$4" t0 t1 pid
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$WORK/recv.time" \
    "$PG_BIN/pg_recvlogical" -d "$DSN" --slot="$slot" --start --no-loop --endpos="$end" \
    -o proto_version=1 -o publication_names="$pub" -f /dev/null 2>"$WORK/recv.err" &
  pid=$!
  PIDS+=("$pid")
  start_walsender_sampler "$slot" "$WORK/recv.walsender"
  wait "$pid" || die "pg_recvlogical failed: $(cat "$WORK/recv.err")"
  t1=$(now)
  RECV_S=$(elapsed "$t0" "$t1")
  RECV_RATE=$(rate "$n" "$RECV_S")
  sleep 0.2
  say "  (a) pg_recvlogical: $n changes in ${RECV_S} s = $RECV_RATE events/s"
  say "      $(walsender_cpu "$WORK/recv.walsender"), pg_recvlogical $(time_cpu "$WORK/recv.time") s cpu"
}

# ---------------------------------------------------------------- (c) sluice capture
write_pipeline() {  # FILE TABLE SLOT PUBLICATION
  cat >"$1" <<YAML
pipeline: bench_capture
source:
  postgres:
    dsn: "$DSN"
    slot: $3
    publication: $4
    snapshot: never
    tables: [public.$2]
transport:
  kafka:
    brokers: $BROKERS
    topic_prefix: $PREFIX
    partitions: 1
YAML
}

run_sluice() {  # TABLE SLOT PUBLICATION TOPIC ROWS LABEL → sets SLUICE_RATE SLUICE_S SLUICE_HWM_KB SLUICE_MAXRSS_KB
  local table="$1" slot="$2" pub="$3" topic="$4" n="$5" label="$6"
  local yaml="$WORK/$label.yaml" log="$WORK/$label.log" timef="$WORK/$label.time"
  local t0 t1 tpid spid="" count=0 last_count=-1 last_progress hwm_kb broker0 broker1 ts streaming_s="?" parts=""
  write_pipeline "$yaml" "$table" "$slot" "$pub"
  broker0=$(broker_cpu)
  t0=$(now)
  /usr/bin/time -f '%M %U %S' -o "$timef" "$SLUICE" capture -c "$yaml" --state-dir "$WORK/state-$label" 2>"$log" &
  tpid=$!
  PIDS+=("$tpid")
  for _ in $(seq 500); do
    spid=$(pgrep -P "$tpid" || true)
    [ -n "$spid" ] && break
    sleep 0.01
  done
  [ -n "$spid" ] || die "sluice did not start: $(tail -5 "$log")"
  proc_sampler "$spid" "$WORK/$label.sluice" &
  PIDS+=($!)
  start_walsender_sampler "$slot" "$WORK/$label.walsender"
  last_progress=$SECONDS
  while :; do
    kill -0 "$spid" 2>/dev/null || die "sluice capture exited early: $(tail -5 "$log")"
    # Only once sluice created its topics: asking about a missing topic would auto-create it.
    if [ -z "$parts" ] && grep -q ' INFO capture: streaming ' "$log"; then parts=$(topic_partitions "$topic"); fi
    [ -n "$parts" ] && count=$(topic_count "$topic" "$parts")
    [ "$count" -ge "$n" ] && break
    if [ "$count" != "$last_count" ]; then last_count=$count; last_progress=$SECONDS; fi
    [ $((SECONDS - last_progress)) -lt "$TIMEOUT_S" ] ||
      die "sluice stuck at $count of $n events for ${TIMEOUT_S}s: $(tail -5 "$log")"
    sleep 0.1
  done
  t1=$(now)
  broker1=$(broker_cpu)
  hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$spid/status")
  cp "$WORK/$label.sluice" "$WORK/$label.sluice.at-end" 2>/dev/null || true
  kill -TERM "$spid"
  wait "$tpid" || die "sluice capture did not exit 0 after SIGTERM: $(tail -5 "$log")"
  [ "$count" -eq "$n" ] || die "topic $topic holds $count records, expected $n"
  SLUICE_S=$(elapsed "$t0" "$t1")
  SLUICE_RATE=$(rate "$n" "$SLUICE_S")
  SLUICE_HWM_KB=$hwm_kb
  SLUICE_MAXRSS_KB=$(cut -d' ' -f1 "$timef")
  ts=$(awk '/ INFO capture: streaming / { print $1; exit }' "$log")
  [ -n "$ts" ] && streaming_s=$(elapsed "$t0" "$(date -d "$ts" +%s.%N)")
  say "  (c) sluice capture: $n events in ${SLUICE_S} s = $SLUICE_RATE events/s  (streaming from ${streaming_s} s on)"
  say "      sluice $(field "$WORK/$label.sluice.at-end" 1) s cpu (main thread $(field "$WORK/$label.sluice.at-end" 2) s" \
    "+$(field "$WORK/$label.sluice.at-end" 3) s waiting for a cpu), $(walsender_cpu "$WORK/$label.walsender")," \
    "broker $(awk -v a="$broker0" -v b="$broker1" 'BEGIN { printf "%.2f", b - a }') s cpu"
  say "      peak RSS $((SLUICE_HWM_KB / 1024)) MiB (VmHWM before SIGTERM; $((SLUICE_MAXRSS_KB / 1024)) MiB over its whole life)"
}

# ---------------------------------------------------------------- (b) kcat -P
run_kcat() {  # FILE TOPIC ROWS → sets KCAT_RATE KCAT_S
  local file="$1" topic="$2" n="$3" t0 t1 count broker0 broker1
  broker0=$(broker_cpu)
  t0=$(now)
  # Same producer settings as sluice (transport/src/kafka_producer.cpp): idempotent, acks=all,
  # lz4, linger 5 ms, 10,000-message batches, 100,000-message local queue. Keys from the file.
  /usr/bin/time -f '%U %S' -o "$WORK/kcat.time" \
    kcat -b "$BROKERS" -P -t "$topic" -K $'\t' \
    -X acks=all -X enable.idempotence=true -X compression.type=lz4 -X linger.ms=5 \
    -X batch.num.messages=10000 -X queue.buffering.max.messages=100000 \
    -X queue.buffering.max.kbytes=65536 -X partitioner=murmur2_random \
    <"$file" 2>"$WORK/kcat.err" || die "kcat -P failed: $(tail -3 "$WORK/kcat.err")"
  t1=$(now)
  broker1=$(broker_cpu)
  count=$(topic_count "$topic")
  [ "$count" -eq "$n" ] || die "kcat topic $topic holds $count records, expected $n"
  KCAT_S=$(elapsed "$t0" "$t1")
  KCAT_RATE=$(rate "$n" "$KCAT_S")
  say "  (b) kcat -P:        $n events in ${KCAT_S} s = $KCAT_RATE events/s"
  say "      kcat $(time_cpu "$WORK/kcat.time") s cpu, broker $(awk -v a="$broker0" -v b="$broker1" 'BEGIN { printf "%.2f", b - a }') s cpu"
}

# ================================================================ variant 1: small transactions
[ $((ROWS % TXN_ROWS)) -eq 0 ] || die "ROWS must be a multiple of TXN_ROWS"
say "bench/capture: run $RUN, $ROWS row changes in $((ROWS / TXN_ROWS)) transactions of $TXN_ROWS rows"
say "  sluice $("$SLUICE" version 2>/dev/null | head -1), $(psql_q -c 'SHOW server_version'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"

# A row shaped like an ordinary business table: bigint key, ints, numeric, text, timestamptz.
psql_q >/dev/null <<SQL
CREATE TABLE public.$TABLE (
  id bigint PRIMARY KEY,
  account_id integer NOT NULL,
  amount numeric(12,2) NOT NULL,
  status text NOT NULL,
  note text,
  created_at timestamptz NOT NULL
);
CREATE PUBLICATION $PUB FOR TABLE public.$TABLE;
CREATE PROCEDURE ${TABLE}_fill(n bigint, per_txn integer) LANGUAGE plpgsql AS \$\$
DECLARE
  i bigint := 0;
BEGIN
  WHILE i < n LOOP
    INSERT INTO public.$TABLE
    SELECT g, (g % 5000)::int, ((g * 7919) % 1000000) / 100.0,
           (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4],
           'order ' || g || ' ' || md5(g::text),
           timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second'
      FROM generate_series(i + 1, i + per_txn) AS g;
    COMMIT;
    i := i + per_txn;
  END LOOP;
END
\$\$;
SELECT 1 FROM pg_create_logical_replication_slot('$SLOT_RECV', 'pgoutput');
SELECT 1 FROM pg_create_logical_replication_slot('$SLOT_SLUICE', 'pgoutput');
SQL

t0=$(now)
psql_q -c "SET synchronous_commit = off" -c "CALL ${TABLE}_fill($ROWS, $TXN_ROWS)"
t1=$(now)
END_LSN=$(psql_q -c "SELECT pg_current_wal_lsn()")
say "  workload: $ROWS rows in $(elapsed "$t0" "$t1") s, WAL up to $END_LSN"

run_recvlogical "$SLOT_RECV" "$PUB" "$END_LSN" "$ROWS"
SMALL_RECV_RATE=$RECV_RATE
psql_q -c "SELECT pg_drop_replication_slot('$SLOT_RECV')" >/dev/null

run_sluice "$TABLE" "$SLOT_SLUICE" "$PUB" "$SLUICE_TOPIC" "$ROWS" small
SMALL_RATE=$SLUICE_RATE
SMALL_HWM_KB=$SLUICE_HWM_KB
SMALL_MAXRSS_KB=$SLUICE_MAXRSS_KB
psql_q -c "SELECT pg_drop_replication_slot('$SLOT_SLUICE')" >/dev/null

# (b) produces exactly the events sluice wrote: same keys, same values, same order.
kcat -b "$BROKERS" -C -t "$SLUICE_TOPIC" -o beginning -e -q -f '%k\t%s\n' >"$EVENTS"
lines=$(wc -l <"$EVENTS")
[ "$lines" -eq "$ROWS" ] || die "read $lines events back from $SLUICE_TOPIC, expected $ROWS"
say "  events: $(awk -v b="$(stat -c %s "$EVENTS")" -v n="$ROWS" 'BEGIN { printf "%.0f", b / n - 2 }') bytes of key+value on average"
run_kcat "$EVENTS" "$KCAT_TOPIC" "$ROWS"
[ "${KEEP_EVENTS:-0}" = 1 ] || rm -f "$EVENTS"

# ================================================================ variant 2: one huge transaction
if [ "$BIG_TXN_ROWS" -gt 0 ]; then
  say ""
  say "bench/capture: one transaction of $BIG_TXN_ROWS rows"
  psql_q >/dev/null <<SQL
CREATE TABLE public.$BIG_TABLE (LIKE public.$TABLE INCLUDING ALL);
CREATE PUBLICATION $BIG_PUB FOR TABLE public.$BIG_TABLE;
SELECT 1 FROM pg_create_logical_replication_slot('$SLOT_BIG_RECV', 'pgoutput');
SELECT 1 FROM pg_create_logical_replication_slot('$SLOT_BIG_SLUICE', 'pgoutput');
SQL
  t0=$(now)
  psql_q <<SQL
INSERT INTO public.$BIG_TABLE
SELECT g, (g % 5000)::int, ((g * 7919) % 1000000) / 100.0,
       (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4],
       'order ' || g || ' ' || md5(g::text),
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second'
  FROM generate_series(1::bigint, $BIG_TXN_ROWS) AS g;
SQL
  t1=$(now)
  BIG_END_LSN=$(psql_q -c "SELECT pg_current_wal_lsn()")
  say "  workload: $BIG_TXN_ROWS rows in one transaction in $(elapsed "$t0" "$t1") s, WAL up to $BIG_END_LSN"
  run_recvlogical "$SLOT_BIG_RECV" "$BIG_PUB" "$BIG_END_LSN" "$BIG_TXN_ROWS"
  BIG_RECV_RATE=$RECV_RATE
  psql_q -c "SELECT pg_drop_replication_slot('$SLOT_BIG_RECV')" >/dev/null
  run_sluice "$BIG_TABLE" "$SLOT_BIG_SLUICE" "$BIG_PUB" "$BIG_TOPIC" "$BIG_TXN_ROWS" big
  psql_q -c "SELECT pg_drop_replication_slot('$SLOT_BIG_SLUICE')" >/dev/null
  BIG_RATE=$SLUICE_RATE
  BIG_HWM_KB=$SLUICE_HWM_KB
  BIG_MAXRSS_KB=$SLUICE_MAXRSS_KB
fi

# ================================================================ summary
say ""
say "summary (events/s; load now $(cut -d' ' -f1-3 /proc/loadavg))"
say "  pg_recvlogical   $SMALL_RECV_RATE"
say "  kcat -P          $KCAT_RATE"
say "  sluice capture   $SMALL_RATE   peak RSS $((SMALL_HWM_KB / 1024)) MiB ($((SMALL_MAXRSS_KB / 1024)) MiB incl. shutdown)"
if [ "$BIG_TXN_ROWS" -gt 0 ]; then
  say "  one big txn      $BIG_RATE   peak RSS $((BIG_HWM_KB / 1024)) MiB ($((BIG_MAXRSS_KB / 1024)) MiB incl. shutdown);" \
    "pg_recvlogical $BIG_RECV_RATE, ratio $(awk -v s="$BIG_RATE" -v a="$BIG_RECV_RATE" 'BEGIN { printf "%.2f", (a > 0 ? s / a : 0) }')"
fi
awk -v s="$SMALL_RATE" -v a="$SMALL_RECV_RATE" -v b="$KCAT_RATE" \
  'BEGIN { m = (a < b ? a : b); printf "capture_ratio=%.2f\n", (m > 0 ? s / m : 0) }'
