#!/usr/bin/env bash
# Puts Debian 12's Postfix (postfix, postfix-mysql) into a private root WITHOUT installing it:
# the postfix package conflicts with exim4-daemon-heavy (both are the mail-transport-agent), and
# installing it would remove the Exim the other tests need. The .debs are fetched with
# `apt-get download` into a cache and unpacked with `dpkg-deb -x`; a rerun reuses both.
#
#   tests/postfix/fetch-postfix.sh [ROOT]     # default /var/cache/vmailsql-tests/postfix
#
# The tests run that Postfix with their own main.cf (daemon_directory and friends pointing into
# ROOT). Prints ROOT on success.
set -euo pipefail

root=${1:-${VMAILSQL_POSTFIX_ROOT:-/var/cache/vmailsql-tests/postfix}}
debs=$root/debs
tree=$root/root

if [[ -x $tree/usr/sbin/postfix && -e $tree/etc/postfix/dynamicmaps.cf && -e $root/.complete ]]; then
  echo "$root"
  exit 0
fi

mkdir -p "$debs"
cd "$debs"
if ! ls postfix_*.deb >/dev/null 2>&1 || ! ls postfix-mysql_*.deb >/dev/null 2>&1; then
  echo "fetch-postfix: apt-get download postfix postfix-mysql into $debs" >&2
  apt-get -o DPkg::Lock::Timeout=900 download postfix postfix-mysql >&2 || {
    apt-get -o DPkg::Lock::Timeout=900 update -q >&2
    apt-get -o DPkg::Lock::Timeout=900 download postfix postfix-mysql >&2
  }
fi
rm -rf "$tree"
mkdir -p "$tree"
for deb in postfix_*.deb postfix-mysql_*.deb; do
  dpkg-deb -x "$deb" "$tree"
done
# Postfix's own libraries (libpostfix-*.so) live in usr/lib/postfix; the mysql map plugin is
# dlopen()ed by name from the shlib_directory. Its C dependencies (libmariadb3) are ordinary
# packages that do not conflict with anything; mariadb-client already pulls in libmariadb3.
# Only the mysql map is used (for the PostfixAdmin-style baseline); Postfix reads the list of
# map plugins from its meta_directory.
grep -E '^mysql[[:space:]]' "$tree/usr/share/postfix/dynamicmaps.cf" > "$tree/etc/postfix/dynamicmaps.cf"
# postdrop and postqueue stay without set-gid (Debian's postinst would add it): the tests run
# them as root, and a set-gid program would ignore the LD_LIBRARY_PATH that finds
# libpostfix-*.so in this private root. `postfix check` warns about it; that is expected.
touch "$root/.complete"
echo "$root"
