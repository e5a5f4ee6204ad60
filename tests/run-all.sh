#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, builds, and runs
# every stage. Real components only (MariaDB, Exim, Dovecot, a web server, Chromium): a missing
# one fails its stage with a message naming the package, nothing is skipped.
#
#   sudo tests/run-all.sh            # everything
#   sudo tests/run-all.sh rust c     # only some stages
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

stage_deps()  { tests/install-deps.sh; }
stage_lint()  { cargo fmt --check && cargo clippy --all-targets --all-features -- -D warnings; }
stage_rust()  { cargo build --release --lib && cargo test --all-features && tests/header-drift.sh; }
stage_c()     { tests/c/run.sh; }
stage_perl()  { tests/perl/run.sh; }
stage_tpop3d() { tests/tpop3d/run.sh; }
stage_e2e()   { cargo build --release --all-features && python3 -m pytest -v tests/e2e --ignore=tests/e2e/test_postfix.py; }
stage_postfix() { cargo build --release --all-features && python3 -m pytest -v tests/e2e/test_postfix.py; }

all=(deps lint rust c perl tpop3d e2e postfix)
wanted=("${@:-${all[@]}}")
passed=0 failed=0 failures=()
for stage in "${wanted[@]}"; do
  if ! declare -F "stage_$stage" >/dev/null; then
    echo "run-all: unknown stage $stage (stages: ${all[*]})" >&2
    exit 2
  fi
  echo "==== stage $stage ===="
  if "stage_$stage"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("$stage")
    [[ $stage == deps ]] && break
  fi
done
((failed)) && echo "run-all: failed stages: ${failures[*]}"
echo "stages: $passed passed, $failed failed"
((failed == 0))
