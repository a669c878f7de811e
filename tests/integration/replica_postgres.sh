#!/usr/bin/env bash
# A throwaway Postgres 15 with wal_level=replica, for the test that capture refuses such a
# server. Usage: replica_postgres.sh start|stop PORT DIR
set -euo pipefail
cmd=$1 port=$2 dir=$3
bin=/usr/lib/postgresql/15/bin
case "$cmd" in
  start)
    rm -rf "$dir"
    mkdir -p "$dir"
    chown postgres "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U sluice >/dev/null
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
      -o "-c wal_level=replica -c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" >/dev/null
    ;;
  stop)
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop PORT DIR" >&2
    exit 64
    ;;
esac
