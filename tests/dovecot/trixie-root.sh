#!/usr/bin/env bash
# A minimal Debian 13 (trixie) root holding the real Dovecot 2.4, for the Dovecot 2.4 tests,
# and libvmailsql plus its Lua module built inside it (against trixie's libc and Lua 5.4); also
# Debian 13's MariaDB 11.8, for the tests of what MariaDB 10.11 lacks (parsec accounts, the
# uca1400 default collation).
#
#   tests/dovecot/trixie-root.sh [ROOT]      (as root; default /var/cache/vmailsql-tests/trixie)
#
# The root is cached: it is built with debootstrap only when ROOT/.vmailsql-root is missing or
# names another package set, then reused by every later run on the machine. The library is
# built on every run (incrementally: its target directory lives in the root too; without the
# features only vmailctl needs) with the host's Rust toolchain bind-mounted read-only into a
# private mount namespace, so no mount outlives this script, and installed in the root with
# `make install PREFIX=/usr/local`. Nothing else of the host changes. Prints how long each
# part took.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
root=${1:-/var/cache/vmailsql-tests/trixie}
packages=(dovecot-core dovecot-pop3d dovecot-imapd dovecot-auth-lua
          liblua5.4-dev gcc libc6-dev make mariadb-server mariadb-client)
stamp="trixie minbase: ${packages[*]}"

fail() { echo "trixie-root: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 not found: apt-get install $2"; }
need debootstrap debootstrap
need unshare util-linux
[[ $(id -u) -eq 0 ]] || fail "run as root (debootstrap, chroot)"

mirror() {  # the Debian mirror this machine's apt sources name, else deb.debian.org
  local uri
  uri=$(grep -hsoE '^(URIs:|deb) *(\[[^]]*\] *)?https?://[^ ]+/debian/?( |$)' \
          /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
        grep -oE 'https?://[^ ]+' | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_root() {
  local tmp=$root.new start=$SECONDS
  rm -rf "$tmp" && mkdir -p "$(dirname "$root")"
  echo "trixie-root: debootstrap --variant=minbase trixie from $(mirror) (about 30 s)"
  debootstrap --variant=minbase trixie "$tmp" "$(mirror)" > "$tmp.log" 2>&1 ||
    { tail -20 "$tmp.log" >&2; exit 1; }
  # Package scripts must not start daemons: they would listen on the host's ports 110 and 143.
  printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"
  chmod 755 "$tmp/usr/sbin/policy-rc.d"
  echo "trixie-root: installing ${packages[*]}"
  chroot "$tmp" env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends ${packages[*]} &&
           apt-get clean" >> "$tmp.log" 2>&1 || { tail -20 "$tmp.log" >&2; exit 1; }
  mkdir -p "$tmp/opt/rustup" "$tmp/opt/cargo" "$tmp/build/src" "$tmp/build/target"
  echo "$stamp" > "$tmp/.vmailsql-root"
  rm -rf "$root" && mv "$tmp" "$root" && mv "$tmp.log" "$root.log"
  echo "trixie-root: root built in $((SECONDS - start)) s ($(du -sh "$root" | cut -f1))"
}

add_packages() {  # a cached root of an older package set: install what it lacks, keep the rest
  local start=$SECONDS
  echo "trixie-root: adding packages to the cached root: ${packages[*]}"
  chroot "$root" env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends ${packages[*]} &&
           apt-get clean" >> "$root.log" 2>&1 || return 1
  echo "$stamp" > "$root/.vmailsql-root"
  echo "trixie-root: packages added in $((SECONDS - start)) s"
}

build_library() {  # cargo inside the root, the host's toolchain and crate cache mounted read-only
  local start=$SECONDS
  local rustup_home=${RUSTUP_HOME:-$HOME/.rustup} cargo_home=${CARGO_HOME:-$HOME/.cargo}
  [[ -d $rustup_home/toolchains ]] || fail "no Rust toolchain in $rustup_home (install rustup)"
  local toolchain
  toolchain=$(rustup show active-toolchain 2>/dev/null | cut -d' ' -f1)
  mkdir -p "$root/build/cargo-home"
  unshare --mount --propagation private sh -euc '
    root=$1 repo=$2 rustup_home=$3 cargo_home=$4 toolchain=$5
    mount -t proc proc "$root/proc"  # rustup finds itself through /proc/self/exe
    mount --bind "$rustup_home" "$root/opt/rustup" && mount -o remount,bind,ro "$root/opt/rustup"
    mount --bind "$cargo_home" "$root/opt/cargo" && mount -o remount,bind,ro "$root/opt/cargo"
    mount --bind "$repo" "$root/build/src" && mount -o remount,bind,ro "$root/build/src"
    exec chroot "$root" env -i PATH=/opt/cargo/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root \
      RUSTUP_HOME=/opt/rustup RUSTUP_TOOLCHAIN="$toolchain" CARGO_HOME=/build/cargo-home \
      CARGO_TARGET_DIR=/build/target VMAILSQL_KEEP_HEADER=1 \
      sh -euc "mkdir -p /build/cargo-home && ln -sfn /opt/cargo/registry /build/cargo-home/registry
               cd /build/src && cargo build --release --lib --no-default-features --offline -q
               make -s install PREFIX=/usr/local
               ldconfig"
  ' sh "$root" "$repo" "$rustup_home" "$cargo_home" "$toolchain" > "$root.build.log" 2>&1 ||
    { tail -30 "$root.build.log" >&2; exit 1; }
  echo "trixie-root: library and Lua module built and installed in the root" \
       "in $((SECONDS - start)) s"
}

# One builder at a time per root (two test runs on one machine share the cache).
mkdir -p "$(dirname "$root")"
exec 9> "$root.lock"
flock 9
if [[ -f $root/.vmailsql-root && $(cat "$root/.vmailsql-root") == "$stamp" ]]; then
  echo "trixie-root: cached root $root"
elif [[ -f $root/.vmailsql-root ]] && add_packages; then
  :
else
  build_root
fi
build_library
