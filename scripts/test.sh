#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs every check: ruff, mypy --strict, the import
# contracts (.importlinter), the hook's C++ unit tests (tests/cpp) and the whole pytest suite,
# including the integration tests that start real kea-dhcp4, dnsmasq and dhcpd in network
# namespaces (they need root). Exits non-zero if anything fails or no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== ruff"
.venv/bin/ruff check kea_fanvil tests integration benchmarks scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== import contracts (.importlinter)"
.venv/bin/lint-imports --no-cache
echo "== C++ unit tests"
make -C tests/cpp check
echo "== pytest"
set +e
.venv/bin/python -m pytest -ra "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
leftover=$(ip netns list 2>/dev/null | grep -c '^kf' || true)
if [ "$leftover" -gt 0 ]; then
  echo "test.sh: $leftover network namespace(s) left behind by the tests" >&2
  ip netns list >&2
  exit 1
fi
exit "$rc"
