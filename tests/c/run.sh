#!/bin/bash
# tests/c/run.sh: the C side of libvmailsql, end to end.
#
#  1. builds the cdylib (release; VMAILSQL_C_PROFILE=debug for a debug build) and checks its
#     SONAME and that the header and the library export the same functions;
#  2. compiles a stub including vmailsql.h as C99 (-Wall -Wextra -Wpedantic -Werror) and as C++;
#  3. checks that test_api.c calls every function of the header;
#  4. runs test_api under AddressSanitizer (+UBSan) and under valgrind (zero errors, zero
#     definite leaks), each against SQLite and a throw-away MariaDB that it stops mid-test;
#  5. runs the fork-safety program on MariaDB (plain and under AddressSanitizer);
#  6. installs into a staging directory with `make install DESTDIR=...` and builds the examples
#     against the staged pkg-config file, then runs the example resolver.
#
# Exits non-zero on any failure; a missing tool is a failure naming the package to install.
# Uses $CARGO_TARGET_DIR when set.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/c
PROFILE=${VMAILSQL_C_PROFILE:-release}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
passed=0
failed=0

need() { # need TOOL PACKAGE
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "tests/c/run.sh: '$1' is missing: apt-get install $2" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
}
need cargo "cargo (or rustup)"
need gcc gcc
need g++ g++
need valgrind valgrind
need make make
need pkg-config pkg-config
need readelf binutils
need nm binutils
need mariadbd mariadb-server
need mariadb-install-db mariadb-server
need mariadb-admin mariadb-client
need mariadb mariadb-client

step() { printf '\n== %s\n' "$*"; }
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

WORK=$(mktemp -d /tmp/vmailsql-c.XXXXXX)
. "$HERE/mariadb.sh"
cleanup() {
    mariadb_stop "$WORK/db" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

step "build libvmailsql ($PROFILE)"
if [ "$PROFILE" = release ]; then
    (cd "$ROOT" && cargo build --lib --release)
else
    (cd "$ROOT" && cargo build --lib)
fi
SO=$TARGET_DIR/$PROFILE/libvmailsql.so
[ -f "$SO" ] || { echo "no $SO after the build" >&2; exit 1; }
mkdir -p "$WORK/lib"
ln -s "$SO" "$WORK/lib/libvmailsql.so.0"
ln -s "$SO" "$WORK/lib/libvmailsql.so"
LINK=(-I"$ROOT/include" -L"$WORK/lib" -lvmailsql -Wl,-rpath,"$WORK/lib" -lpthread)
CWARN=(-std=c99 -Wall -Wextra -Wpedantic -Werror)

step "SONAME and exported functions"
readelf -d "$SO" >"$WORK/dynamic"
if grep -q 'SONAME.*\[libvmailsql\.so\.0\]' "$WORK/dynamic"; then
    ok "SONAME is libvmailsql.so.0"
else
    bad "SONAME: $(grep SONAME "$WORK/dynamic" || echo none)"
fi
# Functions of the C API: every prototype in the header (other exported entry points, such as
# Exim's dlfunc functions, are not part of it).
grep -oE '^[a-z].*[ *]vmailsql_[a-z_0-9]+\(' "$ROOT/include/vmailsql.h" |
    grep -oE 'vmailsql_[a-z_0-9]+\($' | tr -d '(' | sort -u >"$WORK/header-functions"
nm -D --defined-only "$SO" | awk '$2 == "T" { print $3 }' | sort -u >"$WORK/exported"
missing=$(comm -23 "$WORK/header-functions" "$WORK/exported")
if [ -z "$missing" ] && [ -s "$WORK/header-functions" ]; then
    ok "all $(wc -l <"$WORK/header-functions") header functions are exported"
else
    bad "declared in vmailsql.h but not exported: $missing"
fi
# Exim's ${dlfunc} entry points (vmailsql_exim_*) are tested through Exim (tests/e2e).
untested=$(grep -v '^vmailsql_exim_' "$WORK/header-functions" | while read -r f; do
    grep -qw "$f" "$HERE/test_api.c" || echo "$f"
done)
if [ -z "$untested" ]; then
    ok "test_api.c calls every one of them"
else
    bad "functions test_api.c never calls: $untested"
fi

step "header compiles as C99 and as C++"
if gcc "${CWARN[@]}" -I"$ROOT/include" -c "$HERE/stub.c" -o "$WORK/stub.o"; then
    ok "gcc -std=c99 -Wall -Wextra -Wpedantic -Werror"
else
    bad "header as C99"
fi
if g++ -x c++ -Wall -Wextra -Werror -I"$ROOT/include" -c "$HERE/stub.c" -o "$WORK/stubxx.o"; then
    ok "g++ -Wall -Wextra -Werror"
else
    bad "header as C++"
fi
if g++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I"$ROOT/include" \
    -c "$HERE/stub.c" -o "$WORK/stubxx11.o"; then
    ok "g++ -std=c++11 -Wpedantic"
else
    bad "header as C++11"
fi

step "compile the tests"
gcc "${CWARN[@]}" -g -O1 -o "$WORK/test_api" "$HERE/test_api.c" "${LINK[@]}"
gcc "${CWARN[@]}" -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
    -o "$WORK/test_api_asan" "$HERE/test_api.c" "${LINK[@]}"
gcc "${CWARN[@]}" -g -O1 -o "$WORK/test_fork" "$HERE/test_fork.c" "${LINK[@]}"
gcc "${CWARN[@]}" -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
    -o "$WORK/test_fork_asan" "$HERE/test_fork.c" "${LINK[@]}"

step "throw-away MariaDB"
mariadb_install "$WORK/db"
export VMAILSQL_TEST_MYSQL_URL="mysql://root@localhost/vmailtest?socket=$WORK/db/sock"
export VMAILSQL_TEST_MYSQL_STOP="mariadb-admin --no-defaults -S $WORK/db/sock -uroot shutdown"
export VMAILSQL_TEST_MYSQL_CLIENT="mariadb --no-defaults -S $WORK/db/sock -uroot -N -B -e"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=print_suppressions=0

run() { # run NAME COMMAND...: with a fresh server, which the test may stop itself
    local name=$1
    shift
    mariadb_stop "$WORK/db"
    mariadb_start "$WORK/db"
    $VMAILSQL_TEST_MYSQL_CLIENT "DROP DATABASE IF EXISTS vmailtest; CREATE DATABASE vmailtest"
    echo "-- $name"
    if "$@"; then ok "$name"; else bad "$name (exit $?)"; fi
    mariadb_stop "$WORK/db"
}

step "API tests"
run "test_api under AddressSanitizer" "$WORK/test_api_asan"
run "test_api under valgrind" valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --error-exitcode=1 "$WORK/test_api"

step "fork safety"
run "test_fork" "$WORK/test_fork"
run "test_fork under AddressSanitizer" "$WORK/test_fork_asan"

step "install layout and examples"
STAGE=$WORK/stage
if make -s -C "$ROOT" install DESTDIR="$STAGE" PREFIX=/usr/local LIBRARY="$SO" \
    >"$WORK/install.log" 2>&1; then
    ok "make install DESTDIR=... PREFIX=/usr/local"
else
    cat "$WORK/install.log"
    bad "make install"
fi
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
for f in "lib/libvmailsql.so.$VERSION" lib/libvmailsql.so.0 lib/libvmailsql.so \
    include/vmailsql.h lib/pkgconfig/vmailsql.pc libexec/vmailsql/checkpassword \
    lib/lua/5.4/vmailsql.so share/vmailsql/dovecot/vmailsql.lua; do
    if [ -e "$STAGE/usr/local/$f" ]; then ok "installed $f"; else bad "not installed: $f"; fi
done
if [ "$(readlink "$STAGE/usr/local/lib/libvmailsql.so.0")" = "libvmailsql.so.$VERSION" ] &&
    [ "$(readlink "$STAGE/usr/local/lib/libvmailsql.so")" = libvmailsql.so.0 ]; then
    ok "symlinks libvmailsql.so -> .so.0 -> .so.$VERSION"
else
    bad "symlinks"
fi
export PKG_CONFIG_PATH=$STAGE/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$STAGE
if [ "$(pkg-config --modversion vmailsql)" = "$VERSION" ]; then
    ok "pkg-config --modversion vmailsql is $VERSION"
else
    bad "pkg-config version"
fi
# shellcheck disable=SC2046
if gcc "${CWARN[@]}" -o "$WORK/resolve" "$ROOT/examples/resolve.c" \
    $(pkg-config --cflags --libs vmailsql); then
    ok "examples/resolve.c builds with pkg-config"
else
    bad "examples/resolve.c"
fi
if gcc "${CWARN[@]}" -o "$WORK/checkpassword" "$ROOT/examples/checkpassword.c" \
    $(pkg-config --cflags --libs vmailsql); then
    ok "examples/checkpassword.c builds with pkg-config"
else
    bad "examples/checkpassword.c"
fi
# The staged library is found through its SONAME symlink: a small program makes a database
# through the API, then the example resolver answers from it.
cat >"$WORK/mkdb.c" <<'C'
#include <stdio.h>
#include "vmailsql.h"
int main(int argc, char **argv) {
    vmailsql *h = NULL;
    int bad = argc != 2 || vmailsql_open_url(argv[1], &h) != VMAILSQL_OK ||
              vmailsql_create_schema(h) != VMAILSQL_OK ||
              vmailsql_add_domain(h, "example.org", "/var/mail/example.org", "vmail", NULL,
                                  VMAILSQL_UNLIMITED) != VMAILSQL_OK ||
              vmailsql_add_popbox(h, "example.org", "alice", "alice-pw", NULL) != VMAILSQL_OK ||
              vmailsql_add_forwarder(h, "example.org", "info",
                                     "alice@example.org, bob@elsewhere.example") != VMAILSQL_OK;
    if (bad)
        fprintf(stderr, "mkdb: %s\n", vmailsql_last_error());
    vmailsql_free(h);
    return bad;
}
C
# shellcheck disable=SC2046
gcc "${CWARN[@]}" -o "$WORK/mkdb" "$WORK/mkdb.c" $(pkg-config --cflags --libs vmailsql)
export LD_LIBRARY_PATH=$STAGE/usr/local/lib
if [ -x "$WORK/resolve" ] && "$WORK/mkdb" "sqlite://$WORK/example.db"; then
    set +e
    out=$("$WORK/resolve" -u "sqlite://$WORK/example.db" alice@example.org Info@Example.ORG \
        nobody@example.org 2>&1)
    status=$?
    set -e
    expected="alice@example.org: popbox /var/mail/example.org/alice (user vmail)
Info@Example.ORG: forwarder -> alice@example.org, bob@elsewhere.example
nobody@example.org: not found (no forwarder, popbox or catch-all for nobody@example.org)"
    if [ "$out" = "$expected" ] && [ "$status" = 1 ]; then
        ok "examples/resolve answers from the staged library"
    else
        bad "examples/resolve said (exit $status): $out"
    fi
    ldd "$WORK/resolve" >"$WORK/ldd.out"
    if grep -q "libvmailsql.so.0 => $STAGE" "$WORK/ldd.out"; then
        ok "the example loads libvmailsql.so.0 from the install"
    else
        bad "the example does not load the staged libvmailsql.so.0"
    fi
else
    bad "could not run the example resolver"
fi
unset LD_LIBRARY_PATH

echo
echo "tests/c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
