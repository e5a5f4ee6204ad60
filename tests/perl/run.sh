#!/usr/bin/env bash
# The Perl stage: builds the release cdylib (cargo does nothing when it is current), then the XS
# module against it, then runs its tests (t/*.t: bindings, the admin scripts on SQLite and on a
# throw-away MariaDB, terminal password prompts). Exits non-zero on any failure.
#
#   tests/perl/run.sh                      # library in ${CARGO_TARGET_DIR:-target}/release
#   VMAILSQL_LIB_DIR=/opt/lib tests/perl/run.sh   # a library built elsewhere (no cargo build)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

missing() { echo "perl stage: $1 not found: apt-get install $2" >&2; exit 1; }
command -v perl >/dev/null || missing perl perl
command -v make >/dev/null || missing make make
command -v cc >/dev/null || command -v gcc >/dev/null || missing 'a C compiler (cc)' gcc
perl -MExtUtils::MakeMaker -e1 2>/dev/null || missing ExtUtils::MakeMaker perl
core=$(perl -MConfig -e 'print "$Config{archlibexp}/CORE"')
[[ -e $core/perl.h ]] || missing "$core/perl.h (Perl's C headers)" libperl-dev
command -v prove >/dev/null || missing prove perl
# The tests start their own MariaDB and drive a terminal with Python: they fail, not skip,
# without them, but say so here first.
command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || missing mariadbd mariadb-server
command -v mariadb >/dev/null || missing 'the mariadb client' mariadb-client
command -v python3 >/dev/null || missing python3 python3

if [[ -z ${VMAILSQL_LIB_DIR:-} ]]; then
  command -v cargo >/dev/null || { echo "perl stage: cargo not found (install Rust, https://rustup.rs)" >&2; exit 1; }
  target=${CARGO_TARGET_DIR:-target}
  [[ $target == /* ]] || target=$root/$target
  echo "perl stage: cargo build --release --lib (target $target)"
  CARGO_TARGET_DIR=$target cargo build --release --lib
  export VMAILSQL_LIB_DIR=$target/release
fi
export VMAILSQL_INCLUDE_DIR=${VMAILSQL_INCLUDE_DIR:-$root/include}

cd perl
perl Makefile.PL
make
make test
