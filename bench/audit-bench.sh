#!/usr/bin/env bash
# What the audit log costs an import of 100k records: audit on against audit off, on SQLite and
# on a throw-away MariaDB. Each backend: ROUNDS alternating rounds timed (wall and CPU time,
# ratios against the audit-off imports of the same run), then the instructions of one import
# each way counted by callgrind (unchanged by the machine's load; client side only on MariaDB).
# Prints figures; asserts nothing beyond the import being whole and its one audit record.
#   bench/audit-bench.sh [RECORDS] [ROUNDS] [CALLGRIND_RECORDS]   (default: 100000 5 RECORDS;
#   CALLGRIND_RECORDS=0 skips the counts)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-100000}; rounds=${2:-5}; counted=${3:-$records}
command -v mariadbd >/dev/null || { echo "audit-bench: apt-get install mariadb-server" >&2; exit 1; }
if [ "$counted" != 0 ]; then
  command -v valgrind >/dev/null || { echo "audit-bench: apt-get install valgrind" >&2; exit 1; }
fi
cargo build -q --release --example bench_audit_import
bin="${CARGO_TARGET_DIR:-target}/release/examples/bench_audit_import"
D=$(mktemp -d /tmp/vmailsql-audit-bench.XXXXXX)
trap 'kill "$(cat "$D/pid" 2>/dev/null)" 2>/dev/null; sleep 1; rm -rf "$D"' EXIT

# Instructions executed inside Vmail::import, one import with audit off and one with it on.
count() {
  [ "$counted" != 0 ] || return 0
  local mode n=()
  for mode in off on; do
    valgrind --tool=callgrind --callgrind-out-file="$D/callgrind.$mode" \
      '--toggle-collect=vmailsql::records::<impl vmailsql::vmail::Vmail>::import' \
      "$bin" --once "$mode" "$counted" "$@" >/dev/null 2>"$D/valgrind.$mode"
    n+=("$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$D/valgrind.$mode")")
  done
  awk -v off="${n[0]}" -v on="${n[1]}" -v r="$counted" -v who="${1:+client side only}" \
    'BEGIN { printf "  callgrind (%d records, instructions in Vmail::import%s): off=%d on=%d on/off=%.4f\n",
             r, who ? ", " who : "", off, on, on / off }'
}

"$bin" "$records" "$rounds"
count

mariadb-install-db --no-defaults --datadir="$D" --user=root --auth-root-authentication-method=normal --skip-test-db >/dev/null
mariadbd --no-defaults --datadir="$D" --socket="$D/sock" --pid-file="$D/pid" --skip-networking \
  --user=root --log-error="$D/err" --skip-log-bin --innodb-buffer-pool-size=256M &
until mariadb-admin --no-defaults -S "$D/sock" -uroot ping >/dev/null 2>&1; do sleep 0.1; done
url="mysql://root@localhost/mysql?socket=$D/sock"
VMAILSQL_BENCH_SERVER_PID=$(cat "$D/pid") "$bin" "$records" "$rounds" "$url"
count "$url"
