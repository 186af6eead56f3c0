#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the demo lab: real kea-dhcp4 with the
# kea-fanvil hook in a network namespace, several simulated phones, a table of what each got.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python integration/demo_lab.py "$@"
