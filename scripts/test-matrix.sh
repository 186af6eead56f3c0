#!/usr/bin/env bash
# The distribution matrix: runs the project's own setup, demo and whole test suite inside fresh
# Debian roots, one per release, so that every Kea Debian ships is proven, not only the host's.
#
#   bash scripts/test-matrix.sh                # trixie (Kea 2.6) and forky (Kea 3.0)
#   bash scripts/test-matrix.sh forky          # one release (bookworm too, for a fresh root of it)
#   bash scripts/test-matrix.sh --bootstrap-only
#   bash scripts/test-matrix.sh --run trixie -- .venv/bin/python -m pytest integration/test_ha.py
#                                              # one command in a root set up by an earlier run
#
# Each root is made with debootstrap (minbase) into KF_MATRIX_CACHE (default
# /var/cache/kea-fanvil/matrix) and reused while present: a run copies the project's tracked
# files into the root's /opt/kea-fanvil afresh, so what runs is this checkout, and what the root
# keeps is Debian's packages, the venv and pip's cache. KF_MATRIX_FRESH=1 bootstraps anew.
# The recipe (mounts, certificates, forky's expired Release file) is in FIELD-NOTES.
#
# Prints one summary line per release: Debian, Kea and Python versions, passed/failed/skipped.
# Exits non-zero when any release fails a step or runs no test. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$(pwd)

MIRROR=${KF_MATRIX_MIRROR:-http://deb.debian.org/debian}
CACHE=${KF_MATRIX_CACHE:-/var/cache/kea-fanvil/matrix}
bootstrap_only=0
releases=()
run_command=()
while [ $# -gt 0 ]; do
  arg=$1; shift
  case "$arg" in
    --bootstrap-only) bootstrap_only=1 ;;
    --run) [ $# -gt 0 ] || { echo "test-matrix.sh: --run needs a release" >&2; exit 2; }
      releases=("$1"); shift
      [ "${1:-}" = -- ] && shift
      run_command=("$@"); set --
      [ ${#run_command[@]} -gt 0 ] || { echo "test-matrix.sh: --run RELEASE -- COMMAND" >&2; exit 2; } ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    bookworm|trixie|forky) releases+=("$arg") ;;
    *) echo "test-matrix.sh: unknown release or option '$arg' (trixie, forky, --bootstrap-only, --run)" >&2; exit 2 ;;
  esac
done
[ ${#releases[@]} -gt 0 ] || releases=(trixie forky)

if [ "$(id -u)" -ne 0 ]; then
  echo "test-matrix.sh: run as root (debootstrap, chroot and network namespaces need it)" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  echo "test-matrix.sh: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi

# debootstrap's script for a release; bookworm's debootstrap has none for forky, which is built
# like sid (testing).
bootstrap_script() {
  if [ -e "/usr/share/debootstrap/scripts/$1" ]; then echo "/usr/share/debootstrap/scripts/$1"
  else echo /usr/share/debootstrap/scripts/sid; fi
}

bootstrap() {
  local release=$1 root=$2
  if [ "${KF_MATRIX_FRESH:-0}" = 1 ] && [ -d "$root" ]; then
    unmount_root "$root"
    rm -rf --one-file-system "$root"
  fi
  if [ -e "$root/.kf-bootstrapped" ]; then
    return 0
  fi
  # A half-made root (an interrupted run) is started over; it is never mounted at this point.
  unmount_root "$root"
  rm -rf --one-file-system "$root"
  mkdir -p "$(dirname "$root")"
  echo "test-matrix.sh: $release: debootstrap into $root (a few minutes)"
  local log="$CACHE/$release.debootstrap.log"
  if ! debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv,iproute2 \
      "$release" "$root" "$MIRROR" "$(bootstrap_script "$release")" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "test-matrix.sh: $release: debootstrap failed (log: $log)" >&2
    return 1
  fi
  # forky (testing) is served with a Release file whose Valid-Until has passed.
  printf 'Acquire::Check-Valid-Until "false";\n' >"$root/etc/apt/apt.conf.d/99kea-fanvil-matrix"
  printf 'deb %s %s main\n' "$MIRROR" "$release" >"$root/etc/apt/sources.list"
  touch "$root/.kf-bootstrapped"
}

# Every mount below the root, deepest first, lazily where busy.
unmount_root() {
  local root=$1
  [ -d "$root" ] || return 0
  local mounts
  mounts=$(awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r)
  local m
  for m in $mounts; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

mount_root() {
  local root=$1
  # `ip netns add` inside needs the root to be a mount point and /run a tmpfs of its own.
  mount --bind "$root" "$root"
  mount --make-private "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --make-rslave "$root/sys"
  mount --rbind /dev "$root/dev"
  mount --make-rslave "$root/dev"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
}

# Processes still running inside the root (a server a failed test left), then its mounts.
release_root() {
  local root=$1 pid
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "${pid#/proc/}" 2>/dev/null
  done
  sleep 0.2
  unmount_root "$root"
}

# The project's files as git has them (tracked, and untracked but not ignored), never .venv or
# build output: the root runs this checkout, set up by its own scripts.
copy_project() {
  local dest=$1
  mkdir -p "$dest"
  find "$dest" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
  if git -C "$project" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$project" ls-files -z --cached --others --exclude-standard \
      | tar -C "$project" --null --ignore-failed-read -T - -cf - | tar -C "$dest" -xf -
  else
    tar -C "$project" --exclude=.venv --exclude=build --exclude=__pycache__ -cf - . | tar -C "$dest" -xf -
  fi
}

# "N passed, N failed, N skipped" from pytest's closing line in LOG (zeros where absent).
counts() {
  local line
  line=$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$1" | tail -n 1)
  local p f e s
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  echo "$p passed, $((f + e)) failed, $s skipped"
}

# Runs bash -c STEPS inside ROOT, as root, with the project copied in and the mounts made.
in_root() {
  local root=$1 steps=$2
  copy_project "$root/opt/kea-fanvil"
  # The host's CA bundle: pip inside must trust what the host trusts (a proxy's CA included).
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/kea-fanvil-host-ca.crt"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mount_root "$root"
  local rc=0
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI="${CI:-}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/kea-fanvil-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-60}" \
    bash -c "cd /opt/kea-fanvil && $steps" </dev/null || rc=$?
  release_root "$root"
  return "$rc"
}

run_release() {
  local release=$1 root=$2 log=$3
  in_root "$root" 'set -e
    echo "== matrix: setup.sh"; bash scripts/setup.sh
    echo "== matrix: demo.sh"; bash scripts/demo.sh
    echo "== matrix: test.sh"; bash scripts/test.sh' >"$log" 2>&1
}

summary_line() {
  local release=$1 root=$2 log=$3 status=$4
  local debian kea python
  debian=$(cat "$root/etc/debian_version" 2>/dev/null || echo '?')
  kea=$(chroot "$root" kea-dhcp4 -V 2>/dev/null | head -n 1 || true)
  python=$(chroot "$root" python3 -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?')
  printf 'matrix: %-7s Debian %s, Kea %s, Python %s: %s (%s)\n' \
    "$release" "$debian" "${kea:-?}" "$python" "$(counts "$log")" "$status"
}

mkdir -p "$CACHE"
for release in "${releases[@]}"; do
  bootstrap "$release" "$CACHE/$release/root"
done
[ "$bootstrap_only" = 0 ] || exit 0
if [ ${#run_command[@]} -gt 0 ]; then
  root="$CACHE/${releases[0]}/root"
  [ -x "$root/opt/kea-fanvil/.venv/bin/python" ] || {
    echo "test-matrix.sh: $root is not set up yet: run the matrix for ${releases[0]} once" >&2
    exit 1
  }
  trap 'release_root "$root"' EXIT
  in_root "$root" "$(printf '%q ' "${run_command[@]}")"
  exit $?
fi

trap 'for r in "${releases[@]}"; do release_root "$CACHE/$r/root"; done' EXIT
summaries=()
failed=0
for release in "${releases[@]}"; do
  root="$CACHE/$release/root"
  log="$CACHE/$release.log"
  echo "test-matrix.sh: $release: setup, demo and tests inside $root (log: $log)"
  started=$SECONDS
  status=ok
  if ! run_release "$release" "$root" "$log"; then
    status="FAILED at $(grep -oE '^== matrix: [a-z.]+' "$log" | tail -n 1 | sed 's/== matrix: //')"
    failed=1
    tail -n 40 "$log" | sed "s/^/  $release| /"
  fi
  grep -E '^(FAILED|ERROR|SKIPPED) ' "$log" | sed "s/^/  $release| /" || true
  if [ "$status" = ok ] && ! grep -qE '^=+ .*[0-9]+ passed' "$log"; then
    status="FAILED: no test ran"
    failed=1
  fi
  summaries+=("$(summary_line "$release" "$root" "$log" "$status, $((SECONDS - started)) s")")
  echo "${summaries[-1]}"
done
echo "== distribution matrix"
printf '%s\n' "${summaries[@]}"
# One closing line over all releases, in the form test runners' summaries take.
# A release that failed outside pytest (setup, the demo) counts as one failure.
total_p=0 total_f=0 total_s=0
for i in "${!releases[@]}"; do
  read -r p _ f _ s _ <<<"$(counts "$CACHE/${releases[$i]}.log" | tr -d ,)"
  case "${summaries[$i]}" in *"(FAILED"*) [ "$f" -gt 0 ] || f=1 ;; esac
  total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
done
echo "matrix: $total_p passed, $total_f failed, $total_s skipped"
exit "$failed"
