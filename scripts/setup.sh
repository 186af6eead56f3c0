#!/usr/bin/env bash
# Sets up everything kea-fanvil needs on Debian bookworm, as root: Debian packages (Kea 2.2 with its
# headers, dnsmasq, ISC dhcpd, build tools, and nginx and tftpd-hpa, the file servers of the probe
# tests), the virtual environment at .venv with the package and its dev tools, and the Kea hook
# library built against the installed Kea. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  kea-dhcp4-server kea-dev kea-admin kea-common
  dnsmasq-base isc-dhcp-server
  nginx tftpd-hpa openssl util-linux
  sip-tester  # sipp: the SIP peer of the PnP responder tests
  libboost-dev iproute2 procps g++ make pkg-config
  python3 python3-venv python3-dev libpython3-dev
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages and the tests create network namespaces)" >&2
  exit 1
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packaged services (Kea and dhcpd on port 67, nginx on 80, tftpd-hpa on 69) must not start
  # outside our namespaces; nginx's install even fails when port 80 is taken. A policy-rc.d that
  # says no keeps the packages' scripts from starting them during the install (Docker images
  # already have one: it is left alone).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# kea-fanvil setup.sh: start no service while installing\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in kea-dhcp4-server kea-dhcp6-server kea-dhcp-ddns-server kea-ctrl-agent isc-dhcp-server isc-dhcp-server6 nginx tftpd-hpa; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# The hook embeds Debian's libpython3.11, so the venv must be made from Debian's python3 (the same
# ABI), not from any other python3 that happens to be first on PATH.
PY=/usr/bin/python3
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.base_prefix == "/usr" else 1)'; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'

# Build the hook against the installed Kea headers.
.venv/bin/kea-fanvil hook build --quiet || {
  echo "setup.sh: building the Kea hook failed (see the output above)" >&2
  exit 1
}
echo "setup.sh: ready (.venv/bin/kea-fanvil, hook at $(.venv/bin/kea-fanvil hook path))"
