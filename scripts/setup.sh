#!/usr/bin/env bash
# Sets up everything kea-fanvil needs on Debian 12 (bookworm, Kea 2.2), 13 (trixie, Kea 2.6) or
# 14 (forky, Kea 3.0), as root: Debian packages (Kea with its headers, dnsmasq, ISC dhcpd where
# the release still ships it, build tools, googletest, nginx, tftpd-hpa and sipp for the tests),
# the virtual environment at .venv with the package and its dev tools, and the Kea hook library
# built against the installed Kea and installed into Kea's own hooks directory (Kea 2.6.3 and
# later load hooks from nowhere else). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  kea-dhcp4-server kea-dev kea-admin kea-common
  kea-ctrl-agent  # HTTP in front of Kea 2.x's control socket (the hook's commands over HTTP)
  libpq5  # the PostgreSQL inventory (psycopg loads the system's libpq)
  postgresql  # its tests start a cluster of their own (integration/pg.py); no service is started
  dnsmasq-base
  nginx tftpd-hpa openssl util-linux
  sip-tester  # sipp: the SIP peer of the PnP responder tests
  libboost-dev iproute2 procps g++ make pkg-config
  libgtest-dev  # googletest: the hook's C++ unit tests (tests/cpp, run by test.sh)
  python3 python3-venv python3-dev libpython3-dev
)
# Installed where the release has them: ISC dhcpd reached its end of life and Debian 14 (forky)
# no longer ships it; its wire tests then skip, saying so, and `render dhcpd` still works.
OPTIONAL_PACKAGES=(isc-dhcp-server)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages and the tests create network namespaces)" >&2
  exit 1
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# A package the archive knows, with a version to install (apt-cache needs the lists).
available() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
optional=()
for p in "${OPTIONAL_PACKAGES[@]}"; do
  installed "$p" || optional+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  for p in "${optional[@]}"; do
    if available "$p"; then
      missing+=("$p")
    else
      echo "setup.sh: $p is not in this release's archive; skipping it (its tests skip too)"
    fi
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing Debian packages: ${missing[*]}"
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
  for svc in kea-dhcp4-server kea-dhcp6-server kea-dhcp-ddns-server kea-ctrl-agent isc-dhcp-server isc-dhcp-server6 nginx tftpd-hpa postgresql; do
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

# Build the hook against the installed Kea headers, then install it where Kea loads hooks from
# (Kea refuses a hook built for another version: this runs again after every Kea upgrade).
.venv/bin/kea-fanvil hook build --quiet || {
  echo "setup.sh: building the Kea hook failed (see the output above)" >&2
  exit 1
}
.venv/bin/kea-fanvil hook install --quiet || {
  echo "setup.sh: installing the Kea hook failed (see the output above)" >&2
  exit 1
}
echo "setup.sh: ready (.venv/bin/kea-fanvil, Kea $(kea-dhcp4 -V | head -n 1), hook at $(.venv/bin/kea-fanvil hook path --installed))"
