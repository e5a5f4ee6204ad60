#!/usr/bin/env bash
# What the audit log costs an import of 100k records: audit on against audit off, on SQLite and
# on a throw-away MariaDB, best of several alternating rounds. Prints figures; asserts nothing
# beyond the import being whole and its one audit record.
#   bench/audit-bench.sh [RECORDS] [ROUNDS]      (default: 100000 5)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-100000}; rounds=${2:-5}
command -v mariadbd >/dev/null || { echo "audit-bench: apt-get install mariadb-server" >&2; exit 1; }
cargo build -q --release --example bench_audit_import
bin="${CARGO_TARGET_DIR:-target}/release/examples/bench_audit_import"
"$bin" "$records" "$rounds"
D=$(mktemp -d /tmp/vmailsql-audit-bench.XXXXXX)
trap 'kill "$(cat "$D/pid" 2>/dev/null)" 2>/dev/null; sleep 1; rm -rf "$D"' EXIT
mariadb-install-db --no-defaults --datadir="$D" --user=root --auth-root-authentication-method=normal --skip-test-db >/dev/null
mariadbd --no-defaults --datadir="$D" --socket="$D/sock" --pid-file="$D/pid" --skip-networking \
  --user=root --log-error="$D/err" --skip-log-bin --innodb-buffer-pool-size=256M &
until mariadb-admin --no-defaults -S "$D/sock" -uroot ping >/dev/null 2>&1; do sleep 0.1; done
"$bin" "$records" "$rounds" "mysql://root@localhost/mysql?socket=$D/sock"
