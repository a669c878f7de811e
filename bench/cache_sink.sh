#!/usr/bin/env bash
# The Redis cache sink against Redis' own pipelined write rate, in one run on one machine.
#
#   ./bench/cache_sink.sh              # 1,000,000 change events, 3 partitions, 3 workers
#   EVENTS=200000 ./bench/cache_sink.sh
#   WORKERS=1 ./bench/cache_sink.sh    # one worker applying every partition
#
# 1. Writes EVENTS change events (inserts of distinct rows with 6 columns, as capture writes
#    them) into a fresh topic with kcat.
# 2. Times `sluice sink --workers WORKERS` (one process; by default one worker per partition)
#    from offset 0 until Redis holds every event's offset (from the moment a worker owns its
#    partitions, so the consumer group's join delay is not counted).
# 3. Times `redis-benchmark -P 64` doing the same number of HSETs with 6 fields each.
# 4. Times `sluice replay` rebuilding the same cache into a shadow database and switching.
# Prints the three rates and ends with cache_ratio=<sink rate / redis-benchmark rate>. For steps 2
# and 3 it also prints where Redis spent its CPU per event, from INFO commandstats (so it runs
# CONFIG RESETSTAT on the project's Redis).
# Uses Redis databases 11 (redis-benchmark), 12 (shadow) and 13 (the sink), emptied before and
# after; BENCH_DB_BASE=N uses N, N+1 and N+2 instead. Not part of the test suite: these machines are shared and noisy, so only ratios mean
# something.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
EVENTS=${EVENTS:-1000000}
PARTITIONS=${PARTITIONS:-3}
WORKERS=${WORKERS:-$PARTITIONS}
db_bench=${BENCH_DB_BASE:-11}
db_shadow=$((db_bench + 1))
db_sink=$((db_bench + 2))

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target sluice >/dev/null
sluice="${SLUICE_BIN:-$root/build/bin/sluice}"
./scripts/services.sh up >/dev/null
eval "$(./scripts/services.sh env)"
redis_host=127.0.0.1
redis_port=$(printf '%s' "$REDIS_URL" | sed -E 's#.*:([0-9]+)/.*#\1#')
rcli() { redis-cli -h "$redis_host" -p "$redis_port" "$@"; }
for db in $db_bench $db_shadow $db_sink; do rcli -n "$db" FLUSHDB >/dev/null; done

work=$(mktemp -d)
trap 'kill "${sink_pid:-}" 2>/dev/null || true; for db in $db_bench $db_shadow $db_sink; do rcli -n "$db" FLUSHDB >/dev/null || true; done; rm -rf "$work"' EXIT
prefix="bench_cache_$(date +%s)"
table="public.bench_orders"
topic="$prefix.$table"
cat >"$work/pipeline.yaml" <<YAML
pipeline: bench
source:
  postgres:
    dsn: "$SLUICE_PG_DSN"
    slot: bench_cache_unused
    publication: bench_cache_unused
    snapshot: never
    tables: [$table]
transport:
  kafka:
    brokers: $KAFKA_BROKERS
    topic_prefix: $prefix
    partitions: $PARTITIONS
sinks:
  orders:
    redis:
      url: redis://$redis_host:$redis_port/$db_sink
      tables: [$table]
      key: "order:{id}"
YAML

echo "== producing $EVENTS change events into $topic ($PARTITIONS partitions)"
# The topic as capture creates it (compacted, $PARTITIONS partitions): capture is started once
# on an empty table and stopped; the events themselves are generated, so the bench measures the
# sink alone.
psql "$SLUICE_PG_DSN" -q -c "CREATE TABLE IF NOT EXISTS $table (id bigint PRIMARY KEY)" 2>/dev/null
"$sluice" capture -c "$work/pipeline.yaml" --state-dir "$work/state" >"$work/capture.log" 2>&1 &
capture_pid=$!
for _ in $(seq 1 300); do grep -q streaming "$work/capture.log" && break; sleep 0.1; done
kill -TERM "$capture_pid"; wait "$capture_pid" || { cat "$work/capture.log"; exit 1; }
psql "$SLUICE_PG_DSN" -q -c "SELECT pg_drop_replication_slot('bench_cache_unused')" \
  -c "DROP PUBLICATION IF EXISTS bench_cache_unused" >/dev/null
awk -v n="$EVENTS" 'BEGIN {
  for (i = 1; i <= n; i++) {
    lsn = sprintf("%X/%X", int(i / 65536) + 1, (i % 65536) * 64);
    printf "{\"id\":%d}\t{\"op\":\"c\",\"before\":null,\"after\":{\"id\":%d,\"customer_id\":%d,\"status\":\"new\",\"amount\":\"%d.99\",\"note\":\"order note %d\",\"placed_at\":\"2026-11-28T17:13:20.123456Z\"},\"unchanged\":[],\"source\":{\"connector\":\"sluice\",\"version\":\"0.1.0\",\"db\":\"shop\",\"schema\":\"public\",\"table\":\"bench_orders\",\"lsn\":\"%s\",\"commit_lsn\":\"%s\",\"seq\":0,\"txId\":%d,\"ts_ms\":1764350000123,\"snapshot\":false},\"ts_ms\":1764350000140}\n", i, i, i % 1000, i % 500, i, lsn, lsn, i
  }
}' >"$work/events.tsv"
kcat -b "$KAFKA_BROKERS" -P -t "$topic" -K $'\t' -X topic.partitioner=murmur2_random \
  -X linger.ms=50 -X batch.num.messages=10000 -X compression.codec=lz4 <"$work/events.tsv" ||
  { echo "kcat could not produce (is Kafka up?)" >&2; exit 1; }
produced=0
for _ in $(seq 1 120); do
  produced=$(kcat -b "$KAFKA_BROKERS" -Q -t "$topic" 2>/dev/null | wc -l || echo 0)
  hw=0
  for p in $(seq 0 $((PARTITIONS - 1))); do
    h=$(kcat -b "$KAFKA_BROKERS" -C -t "$topic" -p "$p" -o -1 -c 1 -f '%o\n' -e 2>/dev/null | tail -1)
    hw=$((hw + ${h:-0} + 1))
  done
  [ "$hw" -ge "$EVENTS" ] && break
  sleep 1
done
echo "in the topic: $hw records"

# Sum of the next-offsets the sink stored with its data (caught up when it equals EVENTS).
sum_offsets="local s = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do s = s + tonumber(v) end
return s"
# Waits until the sink has applied every event, asking Redis every 20 ms from one redis-cli:
# a poll that forks processes would take CPU from the sink and Redis it measures.
wait_caught_up() {
  local n
  while read -r n; do
    kill -0 "$sink_pid" 2>/dev/null || { cat "$work/sink.log"; exit 1; }
    [ "${n:-0}" -ge "$EVENTS" ] && return 0
  done < <(rcli -n "$db_sink" -r -1 -i 0.02 EVAL "$sum_offsets" 1 __sluice:offsets)
  echo "redis-cli stopped polling" >&2
  exit 1
}

# CPU seconds (user + system) a process has used so far.
cpu_of() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
# Where Redis spent its CPU per event since the last CONFIG RESETSTAT, from INFO commandstats:
# the time inside each command, EXEC's own share (its time less the commands it ran), and the
# rest (reading and parsing requests, writing replies). Args: CPU seconds, what an event is.
redis_breakdown() {
  rcli INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v cpu="$1" -v n="$EVENTS" -v what="$2" '
    /^cmdstat_/ { name = substr($1, 9); usec[name] = $5; total += $5 }
    END {
      inner = usec["hset"] + usec["incr"] + usec["del"] + usec["hdel"]
      own = usec["exec"] > inner ? usec["exec"] - inner : 0
      other = cpu * 1e6 - (total - usec["exec"]) - own
      printf "Redis CPU per %s: HSET %.1f us, HMGET %.1f us, EXEC %.1f us, other %.1f us\n",
        what, usec["hset"] / n, usec["hmget"] / n, own / n, (other > 0 ? other : 0) / n
    }'
}
redis_pid=$(rcli INFO server | tr -d '\r' | sed -n 's/^process_id://p')

echo "== sluice sink --workers $WORKERS from offset 0"
"$sluice" sink orders -c "$work/pipeline.yaml" --workers "$WORKERS" >"$work/sink.log" 2>&1 &
sink_pid=$!
until grep -q 'assigned' "$work/sink.log" 2>/dev/null; do
  kill -0 "$sink_pid" 2>/dev/null || { cat "$work/sink.log"; exit 1; }
  sleep 0.01
done
rcli CONFIG RESETSTAT >/dev/null
t0=$EPOCHREALTIME
redis_cpu0=$(cpu_of "$redis_pid")
wait_caught_up
t1=$EPOCHREALTIME
sink_cpu=$(cpu_of "$sink_pid")
redis_cpu=$(awk -v a="$redis_cpu0" -v b="$(cpu_of "$redis_pid")" 'BEGIN { printf "%.2f", b - a }')
sink_rate=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }')
echo "sink: $EVENTS events in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
echo "keys in Redis: $(rcli -n "$db_sink" DBSIZE); sink peak RSS: $(awk '/VmHWM/ { printf "%d MiB", $2 / 1024 }' "/proc/$sink_pid/status")"
# Where the time goes: the worker and Redis each on their own core at best, Kafka beside them.
echo "CPU per event: sink $(awk -v c="$sink_cpu" -v n="$EVENTS" 'BEGIN { printf "%.1f", c * 1e6 / n }') us," \
  "Redis $(awk -v c="$redis_cpu" -v n="$EVENTS" 'BEGIN { printf "%.1f", c * 1e6 / n }') us"
redis_breakdown "$redis_cpu" event

echo "== redis-benchmark -P 64: $EVENTS HSETs of 6 fields"
rcli CONFIG RESETSTAT >/dev/null
redis_cpu0=$(cpu_of "$redis_pid")
bench_out=$(redis-benchmark -h "$redis_host" -p "$redis_port" --dbnum "$db_bench" -P 64 -n "$EVENTS" \
  -r "$EVENTS" -q HSET 'order:__rand_int__' id __rand_int__ customer_id 42 status new \
  amount 17.99 note 'order note 1' placed_at 2026-11-28T17:13:20.123456Z 2>/dev/null | tr '\r' '\n' |
  grep 'requests per second' | tail -1)
redis_rate=$(printf '%s' "$bench_out" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/' | cut -d. -f1)
bench_cpu=$(awk -v a="$redis_cpu0" -v b="$(cpu_of "$redis_pid")" 'BEGIN { printf "%.2f", b - a }')
echo "CPU per HSET: Redis $(awk -v c="$bench_cpu" -v n="$EVENTS" 'BEGIN { printf "%.1f", c * 1e6 / n }') us"
redis_breakdown "$bench_cpu" HSET
rcli -n "$db_bench" FLUSHDB >/dev/null

echo "== sluice replay into a shadow database, while the sink keeps running"
replay_out=$("$sluice" replay orders -c "$work/pipeline.yaml" --shadow-db "$db_shadow" 2>&1 | tail -1)
echo "$replay_out"
replay_rate=$(printf '%s' "$replay_out" | sed -E 's/.*\(([0-9,]+) records\/s\).*/\1/' | tr -d ,)
kill -TERM "$sink_pid"
wait "$sink_pid" || true
grep -E 'events applied' "$work/sink.log" | tail -2 | sed 's/^/  /' 
sink_pid=

echo
echo "sink_rate=$sink_rate events/s ($WORKERS workers, from offset 0 until caught up)"
echo "redis_benchmark_rate=$redis_rate HSET/s (-P 64, 6 fields)"
echo "replay_rate=$replay_rate records/s (into the shadow database, then SWAPDB)"
echo "cache_ratio=$(awk -v s="$sink_rate" -v r="$redis_rate" 'BEGIN { printf "%.2f", s / r }')"
