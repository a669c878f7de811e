#!/usr/bin/env bash
# Snapshot benchmark (issue #4): sluice's initial snapshot against the physical limits of its
# two stages, measured in one run on one machine (design.md, "Limits we measure against").
#
#   (a) COPY (SELECT * FROM t) TO STDOUT through psql into /dev/null: how fast Postgres hands
#       out the table's rows
#   (b) kcat -P producing ROWS events of the size sluice writes (keyed, acks=all, idempotent)
#   (c) sluice capture with `snapshot: initial` on a fresh slot, from process start until the
#       snapshot request's state is 'done' (every row acknowledged by Kafka and recorded), at
#       snapshot_parallelism 1 and at the default (4)
#
# Workload: one table of ROWS rows shaped like an ordinary business table, loaded and
# VACUUM ANALYZEd before anything is timed (statistics and hint bits as on a table that has
# been in use; sluice splits a table into key ranges only when pg_class.reltuples says it is big).
#
# Last line: snapshot_ratio=<sluice at the default parallelism / the slower of (a) and (b)>.
# A benchmark, not a test: scripts/test.sh does not run it. See bench/README.md.
#
#   ./bench/snapshot.sh                     # ROWS=2000000
#   ROWS=200000 ./bench/snapshot.sh         # a quick run
#
# Environment: ROWS, SLUICE (binary; built into build/ when missing), SAMPLE (events read back
# from sluice's topic as the model of kcat's events, 10000), TIMEOUT_S (give up when the
# snapshot's rows_done stops growing for that long, 120), CATCHUP_S (wait at most that long for
# other slots' walsenders to get past the table load's WAL before timing anything, 60),
# KAFKA_YAML (extra lines for the pipeline's transport.kafka block, e.g.
# "    producer: {linger.ms: 50}"), KEEP_EVENTS=1 (keep the scratch directory: logs, pipeline
# files and the event file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ROWS="${ROWS:-2000000}"
SAMPLE="${SAMPLE:-10000}"
TIMEOUT_S="${TIMEOUT_S:-120}"
CATCHUP_S="${CATCHUP_S:-60}"
KAFKA_YAML="${KAFKA_YAML:-}"
SLUICE="${SLUICE:-$ROOT/build/bin/sluice}"

die() { printf 'bench/snapshot: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- tools (installed if missing)
command -v kcat >/dev/null || apt_install kcat
[ -x /usr/bin/time ] || apt_install time
command -v psql >/dev/null || apt_install postgresql-client-15
if [ ! -x "$SLUICE" ]; then
  say "building sluice into $ROOT/build"
  cmake -S "$ROOT" -B "$ROOT/build" -G Ninja >/dev/null && cmake --build "$ROOT/build" --target sluice >/dev/null
fi

"$ROOT/scripts/services.sh" status >/dev/null || "$ROOT/scripts/services.sh" up
eval "$("$ROOT/scripts/services.sh" env)"
DSN="$SLUICE_PG_DSN"
BROKERS="$KAFKA_BROKERS"

# ---------------------------------------------------------------- names, scratch, cleanup
RUN="bs$(date +%s)_$$"
TABLE="bench_${RUN}"
VARIANTS=(p1 pdefault)
SLOTS=()
PUBS=()
for v in "${VARIANTS[@]}"; do
  SLOTS+=("bench_${RUN}_$v")
  PUBS+=("bench_${RUN}_$v")
done
KCAT_TOPIC="bench_${RUN}_kcat"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-snapshot.XXXXXX")"
EVENTS="$WORK/events.tsv"
PIDS=()

in_list() { local IFS=,; printf "'%s'" "$*" | sed "s/,/','/g"; }  # a b → 'a','b'

cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Only what this run created: its slots (once no walsender holds them), their snapshot
  # bookkeeping, publications and the table.
  psql_q >/dev/null 2>&1 <<SQL || true
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
 WHERE slot_name IN ($(in_list "${SLOTS[@]}")) AND active;
SELECT pg_sleep(0.5);
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE slot_name IN ($(in_list "${SLOTS[@]}"));
DELETE FROM sluice.snapshot_requests WHERE slot IN ($(in_list "${SLOTS[@]}"));
$(for p in "${PUBS[@]}"; do printf 'DROP PUBLICATION IF EXISTS %s;\n' "$p"; done)
DROP TABLE IF EXISTS public.$TABLE;
SQL
  if [ "${KEEP_EVENTS:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------- where the CPU went
# The services' pids, for broker_cpu (bench/lib.sh) and postgres_cpu.
SERVICES_STATUS=$("$ROOT/scripts/services.sh" status 2>/dev/null || true)
KAFKA_PID=$(sed -n 's/^kafka: .* pid \([0-9]*\).*/\1/p' <<<"$SERVICES_STATUS")
PG_PID=$(sed -n 's/^postgres: .* pid \([0-9]*\).*/\1/p' <<<"$SERVICES_STATUS")
# All of Postgres: the postmaster with every backend it reaped (the snapshot workers' and
# COPY's backends exit when their connection closes) plus the backends alive now. A backend
# whose client just left is counted only once reaped: callers wait a moment (settle) first.
# Other users of the same server count too: on a shared machine this is an upper bound.
postgres_cpu() {
  if [ -n "$PG_PID" ] && [ -r "/proc/$PG_PID/stat" ]; then
    {
      awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$PG_PID/stat"
      for c in $(pgrep -P "$PG_PID"); do
        awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$c/stat" 2>/dev/null || true
      done
    } | awk -v hz="$HZ" '{ s += $1 } END { printf "%.2f", s / hz }'
  else
    echo 0
  fi
}
settle() { sleep 0.3; }
time_cpu() { awk '{ printf "%.2f", $(NF - 1) + $NF }' "$1"; }  # FILE written by /usr/bin/time -f '... %U %S'
# Per-thread CPU of a running process, grouped: its main thread, the other threads named like
# it (sluice: snapshot planner and workers), librdkafka's (rdk:*).
thread_cpu() {  # PID → "main 1.23 s, other sluice threads 0.45 s, rdk:* 0.67 s"
  local pid="$1" t
  for t in /proc/"$pid"/task/*; do
    awk -v tid="${t##*/}" -v pid="$pid" '{ comm = $0; sub(/^[^(]*\(/, "", comm); sub(/\) .*$/, "", comm)
      sub(/^.*\) /, ""); print (tid == pid ? "main" : comm), $12 + $13 }' "$t/stat" 2>/dev/null || true
  done | awk -v hz="$HZ" '{ g = ($1 ~ /^rdk:/ ? "rdk:*" : ($1 == "main" ? "main thread" : "other " $1 " threads")); s[g] += $2 }
    END { n = 0; for (g in s) printf "%s%s %.2f s", (n++ ? ", " : ""), g, s[g] / hz }'
}

# ---------------------------------------------------------------- progress of a snapshot
# One psql session answers every poll (a new psql every 100 ms would itself cost CPU).
coproc POLL { exec psql "$DSN" -X -q -A -t -v ON_ERROR_STOP=0 2>&1; }
PIDS+=("$POLL_PID")
snapshot_state() {  # SLOT → "none|pending|running|done ROWS_DONE"
  printf "SELECT CASE WHEN count(*) = 0 THEN 'none' WHEN bool_and(state = 'done') THEN 'done' ELSE max(state) END || ' ' || coalesce(sum(rows_done), 0) FROM sluice.snapshot_requests WHERE slot = '%s';\n" "$1" >&"${POLL[1]}"
  local line
  IFS= read -r -t 30 line <&"${POLL[0]}" || die "no answer from Postgres about the snapshot of $1"
  case "$line" in none\ * | pending\ * | running\ * | done\ *) printf '%s' "$line" ;; *) die "polling the snapshot: $line" ;; esac
}

# ---------------------------------------------------------------- (a) COPY
run_copy() {  # → sets COPY_RATE
  local t0 t1 pg0 pg1 secs
  pg0=$(postgres_cpu)
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$WORK/copy.time" \
    psql "$DSN" -X -q -v ON_ERROR_STOP=1 -c "COPY (SELECT * FROM public.$TABLE) TO STDOUT" \
    >/dev/null 2>"$WORK/copy.err" || die "COPY failed: $(cat "$WORK/copy.err")"
  t1=$(now)
  settle
  pg1=$(postgres_cpu)
  secs=$(elapsed "$t0" "$t1")
  COPY_RATE=$(rate "$ROWS" "$secs")
  say "  (a) COPY TO STDOUT:  $ROWS rows in ${secs} s = $COPY_RATE rows/s"
  say "      postgres $(minus "$pg0" "$pg1") s cpu, psql $(time_cpu "$WORK/copy.time") s cpu"
}

# ---------------------------------------------------------------- (c) sluice snapshot
write_pipeline() {  # FILE SLOT PUBLICATION PREFIX PARALLELISM (empty: sluice's default)
  {
    cat <<YAML
pipeline: bench_snapshot
source:
  postgres:
    dsn: "$DSN"
    slot: $2
    publication: $3
    snapshot: initial
    tables: [public.$TABLE]
YAML
    [ -z "$5" ] || printf '    snapshot_parallelism: %s\n' "$5"
    cat <<YAML
transport:
  kafka:
    brokers: $BROKERS
    topic_prefix: $4
    partitions: 1
YAML
    [ -z "$KAFKA_YAML" ] || printf '%s\n' "$KAFKA_YAML"
  } >"$1"
}

log_offset() {  # LOG "PATTERN" T0 → seconds from T0 to the first log line matching PATTERN
  local ts
  ts=$(awk -v p="$2" 'index($0, p) { print $1; exit }' "$1")
  if [ -n "$ts" ]; then elapsed "$3" "$(date -d "$ts" +%s.%N)"; else echo "?"; fi
}

run_sluice() {  # LABEL SLOT PUBLICATION PREFIX PARALLELISM → sets SLUICE_RATE SLUICE_HWM_KB SLUICE_TOPIC
  local label="$1" slot="$2" pub="$3" prefix="$4" par="$5"
  local yaml="$WORK/$label.yaml" log="$WORK/$label.log" timef="$WORK/$label.time"
  local t0 t1 tpid spid="" wpid="" wpid_started st="" done_rows last_rows=-1 last_progress hwm_kb broker0 broker1 pg0 pg1 secs count threads
  SLUICE_TOPIC="$prefix.public.$TABLE"
  write_pipeline "$yaml" "$slot" "$pub" "$prefix" "$par"
  broker0=$(broker_cpu)
  pg0=$(postgres_cpu)
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
  # The schema sluice keeps its progress in exists once the slot is created.
  while ! grep -q ' INFO capture: created replication slot ' "$log"; do
    kill -0 "$spid" 2>/dev/null || die "sluice capture exited early: $(tail -5 "$log")"
    sleep 0.02
  done
  wpid_started=0
  last_progress=$SECONDS
  while :; do
    kill -0 "$spid" 2>/dev/null || die "sluice capture exited early: $(tail -5 "$log")"
    if [ "$wpid_started" = 0 ] && grep -q ' INFO capture: streaming ' "$log"; then
      wpid=$(walsender_pid "$slot")
      if [ -n "$wpid" ]; then proc_sampler "$wpid" "$WORK/$label.walsender" & PIDS+=($!); fi
      wpid_started=1
    fi
    st=$(snapshot_state "$slot")
    [ "${st%% *}" = "done" ] && break
    done_rows=${st##* }
    if [ "$done_rows" != "$last_rows" ]; then last_rows=$done_rows; last_progress=$SECONDS; fi
    [ $((SECONDS - last_progress)) -lt "$TIMEOUT_S" ] ||
      die "snapshot stuck at '$st' for ${TIMEOUT_S}s: $(tail -5 "$log")"
    sleep 0.1
  done
  t1=$(now)
  broker1=$(broker_cpu)
  threads=$(thread_cpu "$spid")
  cp "$WORK/$label.sluice" "$WORK/$label.sluice.at-end" 2>/dev/null || true
  settle  # sluice is idle now; its workers' backends are gone
  pg1=$(postgres_cpu)
  hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$spid/status")
  kill -TERM "$spid"
  wait "$tpid" || die "sluice capture did not exit 0 after SIGTERM: $(tail -5 "$log")"
  done_rows=${st##* }
  [ "$done_rows" -eq "$ROWS" ] || die "snapshot done with rows_done=$done_rows, expected $ROWS"
  count=$(topic_count "$SLUICE_TOPIC")
  [ "$count" -eq "$ROWS" ] || die "topic $SLUICE_TOPIC holds $count records, expected $ROWS"
  secs=$(elapsed "$t0" "$t1")
  SLUICE_RATE=$(rate "$ROWS" "$secs")
  SLUICE_HWM_KB=$hwm_kb
  say "  (c) sluice snapshot, parallelism ${par:-default}: $ROWS rows in ${secs} s = $SLUICE_RATE rows/s"
  say "      snapshot started $(log_offset "$log" ' INFO snapshot: snapshot of ' "$t0") s after start" \
    "($(sed -n 's/.* INFO snapshot: snapshot of .* started: .* in \([0-9]*\) range.*/\1/p' "$log" | head -1) ranges)," \
    "logged done at $(log_offset "$log" ' done: ' "$t0") s"
  say "      sluice $(field "$WORK/$label.sluice.at-end" 1) s cpu ($threads;" \
    "main thread +$(field "$WORK/$label.sluice.at-end" 3) s waiting for a cpu)"
  say "      postgres $(minus "$pg0" "$pg1") s cpu (its walsender $(field "$WORK/$label.walsender" 1) s), broker $(minus "$broker0" "$broker1") s cpu"
  say "      peak RSS $((SLUICE_HWM_KB / 1024)) MiB (VmHWM before SIGTERM; $(($(cut -d' ' -f1 "$timef") / 1024)) MiB over its whole life)"
}

# ---------------------------------------------------------------- (b) kcat -P
# kcat's events: SAMPLE events read back from sluice's topic, repeated until there are ROWS,
# each with its own key (id 1..ROWS) written into the key and the value (the row's "id" and its
# note), so the sizes are those of sluice's events for the same rows.
make_events() {  # TOPIC
  kcat -b "$BROKERS" -C -t "$1" -o beginning -c "$SAMPLE" -e -q -f '%k\t%s\n' >"$WORK/sample.tsv"
  local n
  n=$(wc -l <"$WORK/sample.tsv")
  [ "$n" -gt 0 ] || die "read no events back from $1"
  # (index/substr, not sub() with a pattern built per line: mawk caches every dynamic regex)
  awk -F '\t' -v rows="$ROWS" '
    function swap(s, from, to,   at) {
      at = index(s, from)
      return at ? substr(s, 1, at - 1) to substr(s, at + length(from)) : s
    }
    { k[NR] = $1; v[NR] = $2 }
    END {
      for (i = 1; i <= rows; i++) {
        s = (i - 1) % NR + 1
        match(k[s], /[0-9]+/); old = substr(k[s], RSTART, RLENGTH)
        val = swap(v[s], "\"id\":" old ",", "\"id\":" i ",")
        val = swap(val, "\"order " old "\"", "\"order " i "\"")
        printf "%s\t%s\n", swap(k[s], old, i), val
      }
    }' "$WORK/sample.tsv" >"$EVENTS"
  say "  events: $(awk -v b="$(stat -c %s "$EVENTS")" -v n="$ROWS" 'BEGIN { printf "%.0f", b / n - 2 }') bytes of key+value on average" \
    "(modelled on $n of sluice's events)"
}

run_kcat() {  # → sets KCAT_RATE
  local t0 t1 count broker0 broker1 secs
  broker0=$(broker_cpu)
  t0=$(now)
  # Same producer settings as sluice (transport/src/kafka_producer.cpp): idempotent, acks=all,
  # lz4, linger 5 ms, 10,000-message batches, 100,000-message local queue. Keys from the file.
  /usr/bin/time -f '%U %S' -o "$WORK/kcat.time" \
    kcat -b "$BROKERS" -P -t "$KCAT_TOPIC" -K $'\t' \
    -X acks=all -X enable.idempotence=true -X compression.type=lz4 -X linger.ms=5 \
    -X batch.num.messages=10000 -X queue.buffering.max.messages=100000 \
    -X queue.buffering.max.kbytes=65536 -X partitioner=murmur2_random \
    <"$EVENTS" 2>"$WORK/kcat.err" || die "kcat -P failed: $(tail -3 "$WORK/kcat.err")"
  t1=$(now)
  broker1=$(broker_cpu)
  count=$(topic_count "$KCAT_TOPIC")
  [ "$count" -eq "$ROWS" ] || die "kcat topic $KCAT_TOPIC holds $count records, expected $ROWS"
  secs=$(elapsed "$t0" "$t1")
  KCAT_RATE=$(rate "$ROWS" "$secs")
  say "  (b) kcat -P:         $ROWS events in ${secs} s = $KCAT_RATE events/s"
  say "      kcat $(time_cpu "$WORK/kcat.time") s cpu, broker $(minus "$broker0" "$broker1") s cpu"
}

# ================================================================ the table
say "bench/snapshot: run $RUN, a table of $ROWS rows"
say "  sluice $("$SLUICE" version 2>/dev/null | head -1), $(psql_q -c 'SHOW server_version'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"

# A row shaped like an ordinary business table: bigint key, ints, numeric, text, timestamptz.
t0=$(now)
psql_q >/dev/null <<SQL
CREATE TABLE public.$TABLE (
  id bigint PRIMARY KEY,
  account_id integer NOT NULL,
  amount numeric(12,2) NOT NULL,
  status text NOT NULL,
  note text,
  created_at timestamptz NOT NULL
);
SET synchronous_commit = off;
INSERT INTO public.$TABLE
SELECT g, (g % 5000)::int, ((g * 7919) % 1000000) / 100.0,
       (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4],
       'order ' || g,
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second'
  FROM generate_series(1::bigint, $ROWS) AS g;
VACUUM (ANALYZE) public.$TABLE;
SQL
t1=$(now)
say "  table: $ROWS rows, $(psql_q -c "SELECT pg_size_pretty(pg_table_size('public.$TABLE'))") (+ $(psql_q -c "SELECT pg_size_pretty(pg_indexes_size('public.$TABLE'))") of primary key), loaded and analyzed in $(elapsed "$t0" "$t1") s"
# The load wrote a few hundred MB of WAL. Every other logical slot being streamed on this server
# decodes all of it (its publication filters only afterwards), and the next checkpoint writes
# the table out: both would compete with what we time, so let them finish first.
LOAD_LSN=$(psql_q -c "SELECT pg_current_wal_lsn()")
psql_q -c "CHECKPOINT" >/dev/null 2>&1 || true
t0=$(now)
behind=$(psql_q -c "SELECT count(*) FROM pg_stat_replication WHERE sent_lsn < '$LOAD_LSN'")
while [ "$behind" -gt 0 ] && [ "$(elapsed "$t0" "$(now)" | cut -d. -f1)" -lt "$CATCHUP_S" ]; do
  sleep 0.5
  behind=$(psql_q -c "SELECT count(*) FROM pg_stat_replication WHERE sent_lsn < '$LOAD_LSN'")
done
say "  other walsenders past the load's WAL after $(elapsed "$t0" "$(now)") s$([ "$behind" -eq 0 ] || printf ' (%s still behind: expect noise)' "$behind")"

# ================================================================ measurements
run_copy
say ""
run_sluice p1 "${SLOTS[0]}" "${PUBS[0]}" "bench_${RUN}_p1" 1
P1_RATE=$SLUICE_RATE
P1_HWM_KB=$SLUICE_HWM_KB
P1_TOPIC=$SLUICE_TOPIC
psql_q -c "SELECT pg_drop_replication_slot('${SLOTS[0]}')" >/dev/null
say ""
make_events "$P1_TOPIC"
run_kcat
[ "${KEEP_EVENTS:-0}" = 1 ] || rm -f "$EVENTS"
say ""
run_sluice pdefault "${SLOTS[1]}" "${PUBS[1]}" "bench_${RUN}_pdefault" ""
PD_RATE=$SLUICE_RATE
PD_HWM_KB=$SLUICE_HWM_KB
psql_q -c "SELECT pg_drop_replication_slot('${SLOTS[1]}')" >/dev/null

# ================================================================ summary
say ""
say "summary (rows/s; load now $(cut -d' ' -f1-3 /proc/loadavg))"
say "  COPY TO STDOUT               $COPY_RATE"
say "  kcat -P                      $KCAT_RATE"
say "  sluice, parallelism 1        $P1_RATE   peak RSS $((P1_HWM_KB / 1024)) MiB"
say "  sluice, default parallelism  $PD_RATE   peak RSS $((PD_HWM_KB / 1024)) MiB"
awk -v s="$PD_RATE" -v a="$COPY_RATE" -v b="$KCAT_RATE" \
  'BEGIN { m = (a < b ? a : b); printf "snapshot_ratio=%.2f\n", (m > 0 ? s / m : 0) }'
