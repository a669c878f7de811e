#!/usr/bin/env bash
# Records real pgoutput messages from a PostgreSQL 15 server into tests/fixtures/pgoutput/, so the
# decoder and change-builder unit tests run on bytes Postgres actually sent.
#
#   eval "$(scripts/services.sh env)"      # or any SLUICE_PG_DSN of a superuser, wal_level=logical
#   scripts/record-pgoutput-fixtures.sh     # rewrites tests/fixtures/pgoutput/*.txt
#
# For every scenario it opens one session that creates a temporary logical slot (pgoutput), runs
# the scenario's statements, sets the output formats capture uses (DateStyle=ISO,
# IntervalStyle=iso_8601, TimeZone=UTC, extra_float_digits=3: the output functions run in the
# reading session) and reads the slot with pg_logical_slot_get_binary_changes, proto_version 1,
# messages on, like the capture stream. Each scenario file has one header line ("# ...") and then
# one message per line: "<lsn> <hex of the message>".
#
# types.txt describes the user types of the fixture schema (what the type lookup asks pg_type and
# pg_attribute); keys.txt the key columns of each table (what capture asks pg_index).
#
# Idempotent: it drops and recreates the schema "fixture" and the publication "sluice_fixture".
# Relation and type oids, LSNs and timestamps change from one recording to the next; the tests
# read them from the files instead of hard-coding them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
OUT="$ROOT/tests/fixtures/pgoutput"
SCHEMA=fixture
PUBLICATION=sluice_fixture
SLOT_PREFIX=sluice_fixture_

if [ -z "${SLUICE_PG_DSN:-}" ]; then
  # shellcheck disable=SC2016 # the command is printed, not run
  echo 'record-pgoutput-fixtures: SLUICE_PG_DSN is not set; run: eval "$(scripts/services.sh env)"' >&2
  exit 1
fi
command -v psql >/dev/null || { echo 'record-pgoutput-fixtures: psql not found' >&2; exit 1; }

# Our own session settings are explicit; stray libpq variables must not change them.
unset PGOPTIONS PGDATESTYLE PGTZ PGCLIENTENCODING || true

psql_run() { psql "$SLUICE_PG_DSN" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

server_version="$(psql_run -c 'SHOW server_version')"
case "$server_version" in
  15*) ;;
  *) echo "record-pgoutput-fixtures: expected PostgreSQL 15, the server is $server_version" >&2; exit 1 ;;
esac
if [ "$(psql_run -c 'SHOW wal_level')" != logical ]; then
  echo 'record-pgoutput-fixtures: the server needs wal_level=logical' >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Everything is written under $work first and replaces the checked-in files only at the end, so a
# failed run leaves the old fixtures intact.
staged="$work/out"
mkdir -p "$staged"

echo "record-pgoutput-fixtures: PostgreSQL $server_version, schema $SCHEMA, output $OUT"

# --- objects -------------------------------------------------------------------------------------
# Every table of every scenario is created up front, before any slot exists, so the only DDL a
# slot sees is the schema change of scenario schema_change.
psql_run <<SQL
SET client_min_messages = warning;
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE slot_name LIKE '${SLOT_PREFIX}%' AND NOT active;
DROP PUBLICATION IF EXISTS $PUBLICATION;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA;

-- (a) primary key, REPLICA IDENTITY DEFAULT
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2));
CREATE TABLE line_items (order_id int, line int, sku text, PRIMARY KEY (order_id, line));

-- (b) REPLICA IDENTITY FULL
CREATE TABLE audit_full (id int PRIMARY KEY, note text, qty int);
ALTER TABLE audit_full REPLICA IDENTITY FULL;

-- (c) no primary key, REPLICA IDENTITY USING INDEX
CREATE TABLE by_index (label text, code text NOT NULL, region int NOT NULL);
CREATE UNIQUE INDEX by_index_code_region ON by_index (code, region);
ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_code_region;

-- (d) TOAST: EXTERNAL storage keeps the big value out of line and uncompressed
CREATE TABLE documents (id int PRIMARY KEY, title text, body text);
ALTER TABLE documents ALTER COLUMN body SET STORAGE EXTERNAL;

-- (d) TOAST under REPLICA IDENTITY FULL: the old row image is sent whole
CREATE TABLE documents_full (id int PRIMARY KEY, title text, body text);
ALTER TABLE documents_full ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE documents_full REPLICA IDENTITY FULL;

-- (e) truncate
CREATE TABLE parents (id serial PRIMARY KEY, name text);
CREATE TABLE children (id serial PRIMARY KEY, parent_id int REFERENCES parents (id));

-- (f) schema change
CREATE TABLE evolving (id int PRIMARY KEY, a text);

-- (g) one column of each type family
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
CREATE TYPE address AS (street text, zip int, tags text[]);
CREATE TABLE all_types (
  id int PRIMARY KEY,
  c_bool bool, c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8,
  c_numeric numeric, c_text text, c_varchar varchar(20), c_char char(5), c_bytea bytea,
  c_json json, c_jsonb jsonb, c_uuid uuid, c_date date, c_time time, c_timetz timetz,
  c_timestamp timestamp, c_timestamptz timestamptz, c_interval interval,
  c_int_array int[], c_text_2d text[], c_mood mood, c_mood_array mood[], c_domain positive_int,
  c_address address, c_inet inet, c_cidr cidr, c_macaddr macaddr, c_money money, c_bit bit(4),
  c_varbit varbit, c_tsvector tsvector, c_int4range int4range, c_point point, c_box box,
  c_circle circle);

-- (h) logical decoding messages
CREATE TABLE notes (id int PRIMARY KEY, body text);

CREATE PUBLICATION $PUBLICATION FOR TABLES IN SCHEMA $SCHEMA;
SQL

# --- scenarios -----------------------------------------------------------------------------------
# record <name> <description>, the scenario's statements on stdin. The slot is created in the same
# session before the statements run; a temporary slot is dropped when the session ends.
record() {
  local name="$1" description="$2"
  local slot="${SLOT_PREFIX}${name}"
  local raw="$work/$name.raw"
  {
    cat <<SQL
SET client_min_messages = warning;
SET datestyle = ISO;
SET intervalstyle = iso_8601;
SET timezone = UTC;
SET extra_float_digits = 3;
SET search_path = $SCHEMA;
\\o /dev/null
SELECT pg_create_logical_replication_slot('$slot', 'pgoutput', true);
SQL
    cat
    cat <<SQL
SET datestyle = ISO;
SET intervalstyle = iso_8601;
SET timezone = UTC;
SET extra_float_digits = 3;
\\o $raw
-- Logical decoding messages are not filtered by publication, so messages other sessions emit
-- (capture heartbeats of concurrent tests, say) reach this slot too. Messages of this script
-- have the prefix "fixture."; a foreign message is dropped, and with it the Begin and Commit of
-- its transaction (rows with its xid; a non-transactional message may have xid 0).
WITH changes AS (
  SELECT ordinality AS n, lsn, xid, data,
         get_byte(data, 0) = ascii('M')
           AND substring(data FROM 11 FOR 8) <> convert_to('fixture.', 'UTF8') AS foreign_message
    FROM pg_logical_slot_get_binary_changes('$slot', NULL, NULL, 'proto_version', '1',
                                            'publication_names', '$PUBLICATION',
                                            'messages', 'true') WITH ORDINALITY)
SELECT lsn || ' ' || encode(data, 'hex')
  FROM changes
 WHERE NOT foreign_message
   AND xid NOT IN (SELECT xid FROM changes WHERE foreign_message AND xid <> '0')
 ORDER BY n;
\\o
SQL
  } | psql_run
  if [ ! -s "$raw" ]; then
    echo "record-pgoutput-fixtures: scenario $name produced no messages" >&2
    exit 1
  fi
  {
    printf '# %s. Recorded by scripts/record-pgoutput-fixtures.sh from PostgreSQL %s: pg_logical_slot_get_binary_changes(proto_version 1, publication %s, messages true), DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC, extra_float_digits=3. One message per line: <lsn> <hex>.\n' \
      "$description" "$server_version" "$PUBLICATION"
    cat "$raw"
  } >"$staged/$name.txt"
  echo "  $name: $(wc -l <"$raw") messages"
}

record keyed "Scenario keyed: tables with a primary key (REPLICA IDENTITY DEFAULT); insert, update, an update of the primary key, delete" <<'SQL'
INSERT INTO accounts VALUES (1, 'ada', 10.50), (2, 'bob', NULL), (3, 'cy', 0);
BEGIN;
UPDATE accounts SET balance = 20 WHERE id = 1;
UPDATE accounts SET id = 20 WHERE id = 2;
DELETE FROM accounts WHERE id = 3;
COMMIT;
INSERT INTO line_items VALUES (7, 1, 'sku-1'), (7, 2, 'sku-2');
DELETE FROM line_items WHERE order_id = 7 AND line = 2;
SQL

record replica_full "Scenario replica_full: REPLICA IDENTITY FULL; update and delete carry the whole old row ('O')" <<'SQL'
INSERT INTO audit_full VALUES (1, 'first', 5);
UPDATE audit_full SET note = 'second', qty = NULL WHERE id = 1;
DELETE FROM audit_full WHERE id = 1;
SQL

record replica_index "Scenario replica_index: no primary key, REPLICA IDENTITY USING INDEX on (code, region)" <<'SQL'
INSERT INTO by_index VALUES ('north', 'n1', 1);
UPDATE by_index SET label = 'north-east' WHERE code = 'n1';
UPDATE by_index SET code = 'n2' WHERE code = 'n1';
DELETE FROM by_index WHERE code = 'n2';
SQL

record toast "Scenario toast: a 102400-byte out-of-line text, then an update of another column and one of the primary key (the text comes back as 'u', unchanged, both times), delete" <<'SQL'
INSERT INTO documents
  SELECT 1, 'draft', string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 3200) AS i;
UPDATE documents SET title = 'final' WHERE id = 1;
UPDATE documents SET id = 2 WHERE id = 1;
DELETE FROM documents WHERE id = 2;
SQL

record toast_full "Scenario toast_full: REPLICA IDENTITY FULL and a 4096-byte out-of-line text; update of another column, of the key, delete (the old row 'O' carries the text, the new tuple does not)" <<'SQL'
INSERT INTO documents_full
  SELECT 1, 'draft', string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 128) AS i;
UPDATE documents_full SET title = 'final' WHERE id = 1;
UPDATE documents_full SET id = 2 WHERE id = 1;
DELETE FROM documents_full WHERE id = 2;
SQL

record truncate "Scenario truncate: two tables truncated in one statement, with RESTART IDENTITY, then with CASCADE" <<'SQL'
INSERT INTO parents (name) VALUES ('p1');
INSERT INTO children (parent_id) SELECT id FROM parents;
TRUNCATE parents, children RESTART IDENTITY;
INSERT INTO parents (name) VALUES ('p2');
INSERT INTO children (parent_id) SELECT id FROM parents;
TRUNCATE parents CASCADE;
SQL

record schema_change "Scenario schema_change: inserts between ADD COLUMN, RENAME COLUMN and DROP COLUMN (each sends a new Relation message)" <<'SQL'
INSERT INTO evolving VALUES (1, 'one');
ALTER TABLE evolving ADD COLUMN b int;
INSERT INTO evolving VALUES (2, 'two', 2);
ALTER TABLE evolving RENAME COLUMN a TO a_renamed;
INSERT INTO evolving VALUES (3, 'three', 3);
ALTER TABLE evolving DROP COLUMN b;
INSERT INTO evolving VALUES (4, 'four');
SQL

record type_families "Scenario type_families: one column of each type family; row 1 ordinary values, rows 2 and 3 edge values, row 4 all NULL" <<'SQL'
INSERT INTO all_types VALUES (
  1, true, 12, 1234, 1234567890123, 3.14, 0.1,
  '12345678901234567890.123456789012345678901234567890', 'hello', 'varchar', 'ab', '\x00ff10',
  '{"a": [1, 2.5, "x"], "b": null}', '{"b": {"c": true}, "a": 1}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '13:14:15.123456', '12:34:56.789+05:30',
  '2024-02-29 13:14:15.5', '2024-02-29 13:14:15.123+02', '1 year 2 months 3 days 04:05:06.5',
  '{1,NULL,3}', '{{"a b","c,d"},{"say \"hi\"","back\\slash"},{"NULL",NULL}}', 'happy',
  '{sad,happy}', 42, ROW('1 "Main" St, Apt 2', 12345, '{x,y}'), '192.168.0.1/24', '10.0.0.0/8',
  '08:00:2b:01:02:03', 1234.56, B'1010', B'101', 'a fat cat sat', '[1,10)', '(1,2)',
  '((1,2),(3,4))', '<(1,2),3>');
INSERT INTO all_types VALUES (
  2, false, -32768, -2147483648, 9223372036854775807, 'NaN', 'Infinity', 'NaN',
  E'quote " backslash \\ newline \n tab \t unicode é ☃', '', 'a', '\x',
  '"just a string"', '[]', '00000000-0000-0000-0000-000000000000', '0044-03-15 BC',
  '24:00:00', '00:00:00-08', '-infinity', 'infinity', '-1 years -2 mons +3 days -00:00:01',
  '{}', '{}', 'sad', '{}', 1, ROW(NULL, NULL, NULL), '::1', '2001:db8::/32',
  'ff:ff:ff:ff:ff:ff', -0.01, B'0000', B'', '', 'empty', '(-1.5,2.25)', '((0,0),(0,0))',
  '<(0,0),0>');
INSERT INTO all_types (id, c_float4, c_float8, c_numeric, c_date, c_timestamp, c_timestamptz,
                       c_int_array)
  VALUES (3, '-Infinity', '-Infinity', '-0.000000000000000000001', 'infinity', 'infinity',
          '0044-03-15 12:00:00+00 BC', '[0:1]={5,6}');
INSERT INTO all_types (id) VALUES (4);
SQL

record messages "Scenario messages: pg_logical_emit_message, transactional (with a row, and alone with binary content) and non-transactional (also from a transaction that rolls back)" <<'SQL'
BEGIN;
INSERT INTO notes VALUES (1, 'with a message');
SELECT pg_logical_emit_message(true, 'fixture.txn', 'inside the transaction');
COMMIT;
SELECT pg_logical_emit_message(false, 'fixture.heartbeat', '{"ts":1}');
BEGIN;
SELECT pg_logical_emit_message(false, 'fixture.nontx', 'survives the rollback');
SELECT pg_logical_emit_message(true, 'fixture.txn', 'rolled back');
ROLLBACK;
SELECT pg_logical_emit_message(true, 'fixture.bytes', '\x00ff01'::bytea);
SQL

# --- catalog -------------------------------------------------------------------------------------
# The user types of the schema (not the row types of its tables, nor arrays of those), as the
# capture's type lookup reads them: typtype, typcategory, typelem, typbasetype and the element's
# delimiter; then the attributes of composite types in order.
{
  echo "# User types of schema $SCHEMA, recorded with the fixtures by scripts/record-pgoutput-fixtures.sh (PostgreSQL $server_version)."
  echo "# type <oid> <name> <typtype> <typcategory> <typelem> <typbasetype> <delimiter of the element type, else its own>"
  echo "# attr <composite type oid> <attnum> <attname> <atttypid>"
  psql_run -F ' ' <<SQL
WITH user_types AS (
  SELECT t.* FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE n.nspname = '$SCHEMA'
     AND NOT EXISTS (SELECT 1 FROM pg_class c
                      WHERE c.relkind <> 'c'
                        AND (c.oid = t.typrelid
                             OR c.reltype = t.typelem AND t.typcategory = 'A')))
SELECT 'type', t.oid, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype,
       coalesce(e.typdelim, t.typdelim)
  FROM user_types t LEFT JOIN pg_type e ON e.oid = t.typelem
 ORDER BY t.oid;
SELECT 'attr', t.oid, a.attnum, a.attname, a.atttypid
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname = '$SCHEMA'
 ORDER BY t.oid, a.attnum;
SQL
} >"$staged/types.txt"

# Key columns of each table: the primary key, else the replica-identity index (the query of
# capture's source_catalog::key_columns).
{
  echo "# Key columns of the tables of schema $SCHEMA (primary key, else replica-identity index), recorded by scripts/record-pgoutput-fixtures.sh."
  echo "# <schema>.<table> <column>[,<column>...]"
  psql_run -F ' ' <<SQL
SELECT n.nspname || '.' || c.relname,
       array_to_string(coalesce(
         (SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE i.indrelid = c.oid AND i.indisprimary),
         (SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE i.indrelid = c.oid AND i.indisreplident)), ',')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = '$SCHEMA' AND c.relkind IN ('r', 'p')
 ORDER BY 1;
SQL
} >"$staged/keys.txt"

mkdir -p "$OUT"
rm -f "$OUT"/*.txt
cp "$staged"/*.txt "$OUT"/
echo "record-pgoutput-fixtures: wrote $(find "$staged" -name '*.txt' | wc -l) files to $OUT"
