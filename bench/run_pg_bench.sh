#!/usr/bin/env bash
# Runs store_ingest against a throwaway local PostgreSQL: initdb into /tmp, start on
# 127.0.0.1 (fsync on, synchronous_commit on), run, stop (pg_ctl stop -m fast), remove.
#
#   bench/run_pg_bench.sh [BUILD_DIR] [store_ingest options...]
#   e.g. bench/run_pg_bench.sh build-pg --messages 100000 --producers 16 --window 64
#
# One server on the same machine, no standby: a commit is one local WAL fsync. With a
# synchronous standby each commit also waits for the standby's flush (one network round
# trip + fsync), which grouped commits amortise the same way. As root the server runs as
# user postgres (PostgreSQL refuses root). Environment: PG_BINDIR, PG_PORT (default 55432).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
BIN=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PORT=${PG_PORT:-55432}
EXE=$BUILD/bench/store_ingest
[ -x "$BIN/initdb" ] || { echo "run_pg_bench: no PostgreSQL server binaries (install the postgresql package)" >&2; exit 1; }
[ -x "$EXE" ] || { echo "run_pg_bench: build $EXE first (cmake --build $BUILD --target store_ingest)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/courier-pg-bench-XXXXXX)
AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$DIR"
  AS=(setpriv --reuid=postgres --regid=postgres --clear-groups --)
fi
cleanup() {
  "${AS[@]}" "$BIN/pg_ctl" stop -D "$DIR/data" -m fast -w >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U courier --auth=trust -E UTF8 --locale=C --no-sync >"$DIR/initdb.log"
"${AS[@]}" "$BIN/pg_ctl" start -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_wal_size=4GB" >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U courier courier
"$EXE" --store postgres --conninfo "host=127.0.0.1 port=$PORT user=courier dbname=courier" "$@"
