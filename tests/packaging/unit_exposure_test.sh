#!/usr/bin/env bash
# The shipped unit's hardening, as systemd judges it: "systemd-analyze security
# --offline=yes" on packaging/systemd/lwauthd.service gives an exposure of 1.5 or lower
# (lwauthd runs as its own user, without capabilities). The whole table is printed, so
# that a failure shows which setting costs what.
#
# The unit also must not hide other users' processes from lwauthd (ProtectProc=invisible,
# ptraceable or noaccess): a screen locker is local only when lwauthd can read its
# process's /proc/PID/cgroup, and lwauthd is not root (see the unit's comments).
set -euo pipefail
self=$(readlink -f "$0")
src=$(dirname "$(dirname "$(dirname "$self")")")
unit="$src/packaging/systemd/lwauthd.service"
max=1.5

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Offline, systemd-analyze also warns that /usr/sbin/lwauthd is not installed: not ours.
table=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null || true)
echo "$table"
level=$(sed -n 's/.*Overall exposure level for lwauthd\.service: \([0-9.]*\).*/\1/p' <<<"$table")
if [ -z "$level" ]; then
  fail "systemd-analyze gave no exposure level for $unit"
elif awk -v level="$level" -v max="$max" 'BEGIN { exit !(level > max) }'; then
  fail "exposure $level is above $max"
else
  echo "exposure $level (at most $max)"
fi

grep -q '^User=lwauth$' "$unit" || fail "$unit does not run lwauthd as User=lwauth"
if grep -Eq '^ProtectProc=(invisible|ptraceable|noaccess)' "$unit"; then
  fail "$unit hides other users' processes from lwauthd: every screen locker would look remote"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
