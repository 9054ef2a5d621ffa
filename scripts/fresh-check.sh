#!/usr/bin/env bash
# `make fresh-check`: run `make test` from a clean clone of this repository inside a pristine
# Debian 12 root (../shared/tools/fresh-debian.sh), the only honest check of the set-up steps.
# Needs root (debootstrap, mount, chroot); the first run also builds the cached base (~75 s).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=../shared/tools/fresh-debian.sh
[ -x "$tool" ] || [ -f "$tool" ] || { echo "fresh-check: $tool not found (it comes with ../shared/)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (run it with sudo)" >&2; exit 2; }
for pkg in debootstrap debian-archive-keyring zstd; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ -n "${need[*]:-}" ]; then
  echo "fresh-check: installing the tool's host packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
log=$(mktemp /tmp/fresh-check.XXXXXX.log)
start=$(date +%s)
set +e
bash "$tool" "$PWD" -- make test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))
echo "fresh-check: exit $status after ${elapsed}s; pytest said: $(grep -E '[0-9]+ (passed|failed)' "$log" | tail -1)"
echo "fresh-check: full log in $log"
exit "$status"
