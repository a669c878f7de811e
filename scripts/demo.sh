#!/usr/bin/env bash
# The README's main-job command: builds sluice, starts the local services, and runs the sample
# shop pipeline (config/examples/shop.yaml) end to end with readable output.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bold=$(tput bold 2>/dev/null || true); plain=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

step "1. dependencies and build"
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target sluice | tail -1
sluice=build/bin/sluice

step "2. local services (Postgres, Kafka, Redis on 127.0.0.1)"
./scripts/services.sh up
eval "$(./scripts/services.sh env)"
printf 'postgres: %s\n' "$(psql "$SLUICE_PG_DSN" -Atc 'SELECT version()' | cut -d' ' -f1-2), $(psql "$SLUICE_PG_DSN" -Atc 'SHOW wal_level')"
printf 'kafka:    %s\n' "$(kcat -b "$KAFKA_BROKERS" -L -m 5 2>/dev/null | grep -m1 'broker 1')"
printf 'redis:    %s\n' "$(redis-cli -u "$REDIS_URL" PING)"

step "3. the pipeline file"
"$sluice" validate -c config/examples/shop.yaml

step "4. a shop database that already has rows"
# A fresh start each run: new topic prefix, no leftover slot or capture state.
export SLUICE_TOPIC_PREFIX="shop_demo_$(date +%s)"
export SLUICE_STATE_DIR="$root/.sluice/demo"
rm -rf "$SLUICE_STATE_DIR"
psql "$SLUICE_PG_DSN" -q <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'sluice_shop';
DROP PUBLICATION IF EXISTS sluice_shop;
DROP TABLE IF EXISTS public.orders, public.customers;
CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE public.orders (
  id serial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
  amount numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL DEFAULT now(), note text);
INSERT INTO public.customers (name, email)
  SELECT 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, 1000) i;
INSERT INTO public.orders (customer_id, status, amount, placed_at)
  SELECT 1 + i % 1000, (ARRAY['new', 'paid', 'shipped'])[1 + i % 3], (i % 500) + 0.99,
         '2026-01-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 200000) i;
ANALYZE public.orders, public.customers;
SQL
psql "$SLUICE_PG_DSN" -Atc "SELECT 'public.orders: ' || count(*) || ' rows' FROM public.orders"
psql "$SLUICE_PG_DSN" -Atc "SELECT 'public.customers: ' || count(*) || ' rows' FROM public.customers"

step "5. capture: initial snapshot beside the stream (topics ${SLUICE_TOPIC_PREFIX}.public.*)"
log="$root/.sluice/demo/capture.log"
mkdir -p "$(dirname "$log")"
"$sluice" capture -c config/examples/shop.yaml >"$log" 2>&1 &
capture_pid=$!
trap 'kill "$capture_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q 'streaming' "$log" && break; sleep 0.1; done
progress_sql="SELECT string_agg(schema_name || '.' || table_name || ' ' || state || ' ' || rows_done || '/~' || rows_estimate, ',  ' ORDER BY id) FROM sluice.snapshot_requests WHERE slot = 'sluice_shop'"
for _ in $(seq 1 600); do
  line=$(psql "$SLUICE_PG_DSN" -Atc "$progress_sql")
  printf 'snapshot: %s\n' "$line"
  [ -n "$line" ] && ! grep -qE 'pending|running' <<<"$line" && break
  sleep 0.5
done
grep -E 'snapshot|streaming|slot' "$log" | cut -c1-160

step "6. changes in Postgres, while capture streams"
psql "$SLUICE_PG_DSN" -e -q <<'SQL'
INSERT INTO customers (name, email) VALUES ('Ada', 'ada@example.com');
INSERT INTO orders (customer_id, status, amount) VALUES (1001, 'new', 12.50);
UPDATE orders SET status = 'paid' WHERE id = 1;
UPDATE orders SET id = 300000 WHERE id = 2;
DELETE FROM customers WHERE id = 3;
SQL
sleep 1

step "7. the change events in Kafka"
echo "-- the first snapshot events of public.orders (op r):"
kcat -b "$KAFKA_BROKERS" -C -t "${SLUICE_TOPIC_PREFIX}.public.orders" -o beginning -c 2 -e -q -f '%k %s\n' |
  sed -E 's/"ts_ms":[0-9]+,?//g' | cut -c1-220
echo "-- the latest events of each topic (the changes of step 6):"
for t in orders customers; do
  kcat -b "$KAFKA_BROKERS" -C -t "${SLUICE_TOPIC_PREFIX}.public.$t" -o -4 -e -q -f '%k %s\n' |
    sed -E 's/"ts_ms":[0-9]+,?//g' | sed 's/^/'"$t"': /' | cut -c1-220
done
for t in orders customers; do
  n=$(kcat -b "$KAFKA_BROKERS" -C -t "${SLUICE_TOPIC_PREFIX}.public.$t" -o beginning -e -q -f 'x\n' | wc -l)
  echo "topic ${SLUICE_TOPIC_PREFIX}.public.$t holds $n records"
done

step "7b. the cache: sluice sink order_cache keeps public.orders in Redis"
# A Redis sink owns its database (replay swaps whole databases): start from an empty one.
redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
sink_log="$root/.sluice/demo/sink.log"
"$sluice" sink order_cache -c config/examples/shop.yaml >"$sink_log" 2>&1 &
sink_pid=$!
trap 'kill "$capture_pid" "$sink_pid" 2>/dev/null || true' EXIT
rows=$(psql "$SLUICE_PG_DSN" -Atc "SELECT count(*) FROM orders")
# Counts the order keys only (the sink's own keys start with __sluice:); SCAN does not block.
until [ "$(redis-cli -u "$REDIS_URL" --scan --pattern 'order:*' | wc -l)" -ge "$rows" ]; do
  sleep 0.5
done
echo "Redis holds all $rows orders; order:1 is:"
redis-cli -u "$REDIS_URL" HGETALL order:1 | paste -d= - - | paste -sd' '

step "7c. a change in Postgres appears in Redis within a second"
before=$(date +%s%N)
psql "$SLUICE_PG_DSN" -qc "UPDATE orders SET status = 'refunded', note = 'demo' WHERE id = 7"
until [ "$(redis-cli -u "$REDIS_URL" HGET order:7 status)" = refunded ]; do sleep 0.01; done
echo "order:7 status=refunded in Redis $(( ($(date +%s%N) - before) / 1000000 )) ms after the UPDATE"
psql "$SLUICE_PG_DSN" -qc "DELETE FROM orders WHERE id = 8"
until [ "$(redis-cli -u "$REDIS_URL" EXISTS order:8)" = 0 ]; do sleep 0.01; done
echo "order:8 deleted in Postgres: gone from Redis"
sleep 1.5   # sinks commit offsets once a second
"$sluice" status -c config/examples/shop.yaml

step "7d. replay: rebuild the cache from the log in a shadow database, then switch (SWAPDB)"
redis-cli -u "$REDIS_URL" SET stale:key "only in the old copy" >/dev/null
"$sluice" replay order_cache -c config/examples/shop.yaml 2>&1 |
  grep -E 'building|%|caught up|rebuilt' | sed -E 's/^[0-9TZ:.-]+ INFO replay: //'
echo "stale:key after the switch: EXISTS=$(redis-cli -u "$REDIS_URL" EXISTS stale:key) (the old copy is gone)"
demo="$root/.sluice/demo"
psql "$SLUICE_PG_DSN" -Atc "SELECT customer_id || ' ' || status || ' ' || amount || ' ' || coalesce(note, '') FROM orders ORDER BY id" >"$demo/pg.txt"
psql "$SLUICE_PG_DSN" -Atc "SELECT 'HMGET order:' || id || ' customer_id status amount note' FROM orders ORDER BY id" |
  redis-cli -u "$REDIS_URL" --raw | paste -d' ' - - - - >"$demo/redis.txt"
# Every key that is not the sink's own bookkeeping (__sluice:*).
keys=$(redis-cli -u "$REDIS_URL" --scan | grep -vc '^__sluice:' || true)
if cmp -s "$demo/pg.txt" "$demo/redis.txt" && [ "$keys" -eq "$(wc -l <"$demo/pg.txt")" ]; then
  echo "Redis equals Postgres: $keys orders, every field, no other keys"
else
  echo "Redis differs from Postgres:"; diff "$demo/pg.txt" "$demo/redis.txt" | head
fi
kill -TERM "$sink_pid"; wait "$sink_pid" && echo "sink exited 0 after committing what it applied"
trap 'kill "$capture_pid" 2>/dev/null || true' EXIT

step "8. SIGTERM: capture flushes, confirms what Kafka acknowledged, exits 0"
kill -TERM "$capture_pid"
wait "$capture_pid" && echo "capture exited 0"
trap - EXIT
tail -2 "$log"
psql "$SLUICE_PG_DSN" -Atc "SELECT 'slot sluice_shop confirmed_flush_lsn=' || confirmed_flush_lsn || ', current WAL=' || pg_current_wal_lsn() FROM pg_replication_slots WHERE slot_name = 'sluice_shop'"
