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

step "4. a small shop database"
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
SQL
echo "tables public.customers and public.orders created"

step "5. capture: Postgres → Kafka (topics ${SLUICE_TOPIC_PREFIX}.public.*)"
log="$root/.sluice/demo/capture.log"
mkdir -p "$(dirname "$log")"
"$sluice" capture -c config/examples/shop.yaml >"$log" 2>&1 &
capture_pid=$!
trap 'kill "$capture_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q 'streaming' "$log" && break; sleep 0.1; done
cat "$log"

step "6. changes in Postgres"
psql "$SLUICE_PG_DSN" -e -q <<'SQL'
INSERT INTO customers (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', 'grace@example.com');
INSERT INTO orders (customer_id, status, amount) VALUES (1, 'new', 12.50), (2, 'new', 99.99);
UPDATE orders SET status = 'paid' WHERE id = 1;
UPDATE orders SET id = 10 WHERE id = 2;
DELETE FROM customers WHERE name = 'Grace';
SQL

step "7. the change events in Kafka"
"$sluice" tail -c config/examples/shop.yaml --idle-ms 3000 |
  sed -E 's/"ts_ms":[0-9]+,?//g' | cut -c1-220

step "8. SIGTERM: capture flushes, confirms what Kafka acknowledged, exits 0"
kill -TERM "$capture_pid"
wait "$capture_pid" && echo "capture exited 0"
trap - EXIT
tail -2 "$log"
psql "$SLUICE_PG_DSN" -Atc "SELECT 'slot sluice_shop confirmed_flush_lsn=' || confirmed_flush_lsn || ', current WAL=' || pg_current_wal_lsn() FROM pg_replication_slots WHERE slot_name = 'sluice_shop'"
