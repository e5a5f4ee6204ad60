#!/usr/bin/env bash
# Library-level lookup benchmark on a throw-away MariaDB: the seed's queries against
# Vmail::resolve at growing table sizes, on the seed's legacy schema. Prints figures; asserts nothing.
#   bench/lib-bench.sh [SIZES...]      (default: 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000 100000}")
read -r -a sizes <<< "${sizes[*]}"
command -v mariadbd >/dev/null || { echo "lib-bench: apt-get install mariadb-server" >&2; exit 1; }
D=$(mktemp -d /tmp/vmailsql-bench.XXXXXX)
trap 'kill "$(cat "$D/pid" 2>/dev/null)" 2>/dev/null; sleep 1; rm -rf "$D"' EXIT
mariadb-install-db --no-defaults --datadir="$D" --user=root --auth-root-authentication-method=normal --skip-test-db >/dev/null
mariadbd --no-defaults --datadir="$D" --socket="$D/sock" --pid-file="$D/pid" --skip-networking \
  --user=root --log-error="$D/err" --skip-log-bin --innodb-buffer-pool-size=256M &
until mariadb-admin --no-defaults -S "$D/sock" -uroot ping >/dev/null 2>&1; do sleep 0.1; done
cargo build -q --release --example bench_resolve
sql() { mariadb --no-defaults -S "$D/sock" -uroot "$@"; }
for n in "${sizes[@]}"; do
  db="bench_$n"; domains=$(( n / 10 > 0 ? n / 10 : 1 ))
  sql -e "CREATE DATABASE $db"
  sql "$db" < sql/legacy/init-db.sql
  sql "$db" <<SQL
INSERT INTO domain SELECT CONCAT('d', seq, '.example'), 'vmail', NULL, CONCAT('/var/mail/d', seq), NULL FROM seq_0_to_$((domains - 1));
INSERT INTO popbox SELECT CONCAT('d', seq % $domains, '.example'), CONCAT('u', seq), '{md5}5ebe2294ecd0e0f08eab7690d2a6ee69', CONCAT('u', seq) FROM seq_0_to_$((n - 1));
INSERT INTO forwarder SELECT CONCAT('d', seq % $domains, '.example'), CONCAT('f', seq), 'someone@remote.example' FROM seq_0_to_$((n / 10));
INSERT INTO forwarder SELECT CONCAT('d', seq, '.example'), '_default_', 'postmaster@remote.example' FROM seq_0_to_$((domains - 1)) WHERE seq % 2 = 0;
INSERT INTO domain_alias SELECT CONCAT('d', seq, '.example'), CONCAT('alias', seq, '.example') FROM seq_0_to_$((domains - 1)) WHERE seq % 5 = 0;
ANALYZE TABLE domain, popbox, forwarder, domain_alias;
SQL
  rounds=$(( n >= 100000 ? 200 : 1000 ))
  "${CARGO_TARGET_DIR:-target}/release/examples/bench_resolve" "mysql://root@localhost/$db?socket=$D/sock" "$n" "$rounds"
done
