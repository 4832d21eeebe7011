#!/usr/bin/env bash
# Runs a command (the test suite, the benchmarks) next to real servers: a throwaway PostgreSQL 15
# cluster (wal_level=logical), a Redis server and ClickHouse (the chdb engine behind its HTTP
# front, or a real one given as CLICKHOUSE_URL), all on free loopback ports and torn down
# afterwards. Installs Debian's postgresql and redis-server where they are missing. No Docker.
# The command sees TEST_DATABASE_URL, TEST_REDIS_URL, TEST_CLICKHOUSE_URL and TEST_RUNTIME_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
need=()
[ -x "$PG_BIN/initdb" ] || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
# Browser tests drive Debian's Chromium (never a downloaded browser).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x "$PG_BIN/initdb" ] || PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

RUNTIME=$(mktemp -d /tmp/sessions-test.XXXXXX)
chmod 755 "$RUNTIME"
PG_DIR="$RUNTIME/pg"
mkdir -p "$PG_DIR" && chown postgres:postgres "$PG_DIR" 2>/dev/null || true
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }

cleanup() {
  as_postgres "'$PG_BIN/pg_ctl' -D '$PG_DIR' -m immediate stop" >/dev/null 2>&1 || true
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null || true
  [ -n "${CLICKHOUSE_PID:-}" ] && kill "$CLICKHOUSE_PID" 2>/dev/null || true
  rm -rf "$RUNTIME"
}
trap cleanup EXIT

PG_PORT=$(free_port)
as_postgres "'$PG_BIN/initdb' -D '$PG_DIR' -U postgres --auth=trust" >"$RUNTIME/initdb.log" 2>&1 || { cat "$RUNTIME/initdb.log"; exit 1; }
as_postgres "'$PG_BIN/pg_ctl' -D '$PG_DIR' -l '$PG_DIR/server.log' -w -o \"-p $PG_PORT -k '$PG_DIR' -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=100 -c max_wal_senders=100 -c max_connections=400 -c fsync=off\" start" >/dev/null

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$RUNTIME/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

# ClickHouse: a real one when CLICKHOUSE_URL is set, else the chdb engine behind its HTTP front.
if [ -n "${CLICKHOUSE_URL:-}" ]; then
  TEST_CLICKHOUSE_URL=$CLICKHOUSE_URL
else
  # node itself, not npx or the tsx CLI: their child would outlive a kill of the wrapper.
  CLICKHOUSE_DATA_DIR="$RUNTIME/clickhouse" node --import tsx tests/clickhouse/main.ts >"$RUNTIME/clickhouse.log" 2>&1 &
  CLICKHOUSE_PID=$!
  for _ in $(seq 300); do grep -q '^listening on ' "$RUNTIME/clickhouse.log" 2>/dev/null && break; sleep 0.1; done
  TEST_CLICKHOUSE_URL=$(sed -n 's/^listening on //p' "$RUNTIME/clickhouse.log")
  [ -n "$TEST_CLICKHOUSE_URL" ] || { cat "$RUNTIME/clickhouse.log"; exit 1; }
fi
export TEST_CLICKHOUSE_URL
unset CLICKHOUSE_URL

export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export TEST_RUNTIME_DIR="$RUNTIME"
"$@"
