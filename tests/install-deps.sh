#!/usr/bin/env bash
# Installs what the whole test suite needs on Debian 12 (as root), and nothing when it is
# already there. Run by tests/run-all.sh; safe to run again.
set -euo pipefail

packages=(
  build-essential pkg-config valgrind        # C tests: gcc (with ASan), valgrind
  mariadb-server mariadb-client              # throw-away MariaDB instances
  exim4-daemon-heavy                         # Exim end-to-end tests and benchmark
  dovecot-core dovecot-pop3d dovecot-imapd   # POP3/IMAP end-to-end tests
  dovecot-auth-lua liblua5.4-dev lua5.4      # the Lua module and Dovecot's Lua passdb/userdb
  debootstrap                                # a Debian 13 root for the Dovecot 2.4 tests
  openssl whois                              # hash generators for password tests (mkpasswd)
  perl libperl-dev                           # Perl XS bindings
  lighttpd chromium chromium-driver          # control panel tests in a real browser
  libcgi-pm-perl                             # the CGI pages
  python3 python3-pip                        # end-to-end test driver
  libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3 libmariadb3 adduser  # the unpacked Postfix's libraries
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Do not let package scripts start system daemons on ports the tests may want (and leave a
  # policy-rc.d the machine already had alone).
  own_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=900 update -q
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
  if [[ -n $own_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# Postfix end-to-end tests: Debian's postfix package would remove exim4-daemon-heavy, so it is
# fetched and unpacked into a private root (cached), never installed. Its daemons need the
# postfix user and the postdrop group, created here as the package's postinst would.
if [[ $(id -u) -eq 0 ]]; then
  getent group postfix >/dev/null || addgroup --system --quiet postfix
  getent passwd postfix >/dev/null ||
    adduser --system --ingroup postfix --home /var/spool/postfix --no-create-home \
      --disabled-login --quiet postfix
  getent group postdrop >/dev/null || addgroup --system --quiet postdrop
  "$(dirname "$0")/postfix/fetch-postfix.sh" >/dev/null
elif ! getent passwd postfix >/dev/null || [[ ! -e /var/cache/vmailsql-tests/postfix/.complete ]]; then
  echo "install-deps: run as root to fetch Postfix (tests/postfix/fetch-postfix.sh) and create its user" >&2
  exit 1
fi

if ! python3 -c 'import pytest' 2>/dev/null; then
  echo "install-deps: installing pytest"
  python3 -m pip install -q pytest || python3 -m pip install -q --break-system-packages pytest
fi
echo "install-deps: all test dependencies present"
