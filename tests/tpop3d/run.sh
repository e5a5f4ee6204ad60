#!/usr/bin/env bash
# The tpop3d stage: tpop3d is not packaged in Debian 12, so these tests play its side of both
# driver interfaces byte for byte (../shared/reference/daemons.md):
#   - auth-other: the helper as `make install` installs it (DESTDIR staging), driven over its
#     stdin/stdout in tpop3d's key\0value\0 framing: fragmented writes, the 4096-byte limit,
#     hostile requests, and 10,000 requests under valgrind;
#   - auth-perl: perl_host.c embeds Perl as tpop3d does, loads perl/tpop3d/tpop3d.pl from
#     auth-perl-start and calls Vmailsql::Tpop3d's subroutines with one hash reference;
# both through every login case of legacy-contract.md §3 on SQLite and on a throw-away MariaDB
# (the seed's schema, latin1 case-insensitive), and with that MariaDB stopped.
# Needs (and fails naming them): cargo, gcc, make, valgrind, perl with libperl-dev,
# mariadb-server, mariadb-client, python3 with pytest. Run as root (as CI does).
set -euo pipefail
cd "$(dirname "$0")/../.."

missing() { echo "tpop3d stage: $1 not found: $2" >&2; exit 1; }
command -v cargo >/dev/null || missing cargo "install Rust (https://rustup.rs)"
for tool in gcc:gcc make:make valgrind:valgrind perl:perl mariadbd:mariadb-server \
    mariadb:mariadb-client python3:python3; do
  command -v "${tool%%:*}" >/dev/null || [[ -x /usr/sbin/${tool%%:*} ]] ||
    missing "${tool%%:*}" "apt-get install ${tool#*:}"
done
python3 -c 'import pytest' 2>/dev/null || missing pytest "python3 -m pip install pytest"
exec python3 -m pytest -q -p no:cacheprovider tests/tpop3d "$@"
