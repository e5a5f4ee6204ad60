#!/usr/bin/env bash
# Proves that the header drift check can fail on any machine (not only in CI): with the
# committed include/vmailsql.h edited by one character, `cargo test` must fail and name the
# command that regenerates it. The header is restored whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."
header=include/vmailsql.h
saved=$(mktemp)
cp -p "$header" "$saved"
trap 'cp -p "$saved" "$header"; rm -f "$saved"' EXIT

# One character: the first 'v' of the include guard's name becomes 'w'.
sed -i '0,/VMAILSQL_H/s//WMAILSQL_H/' "$header"
if cmp -s "$header" "$saved"; then
  echo "header-drift: could not edit $header" >&2
  exit 1
fi
log=$(env -u CI cargo test --test header committed_header_matches 2>&1)
status=$?
if ((status == 0)); then
  echo "header-drift: FAILED: cargo test passed with an edited $header" >&2
  exit 1
fi
if ! grep -q 'run `make header`' <<<"$log"; then
  echo "header-drift: FAILED: the failure does not name \`make header\`:" >&2
  echo "$log" | tail -20 >&2
  exit 1
fi
echo "header-drift: an edited header fails cargo test, naming make header"
