#!/usr/bin/env bash
# The Debian packages: scripts/build-debs builds them without touching the source tree,
# lintian finds no error or warning that is not overridden with a reason, and each file
# is where Debian looks for it.
#
#   tests/packaging/debs_test.sh              build the packages, then check them
#   tests/packaging/debs_test.sh DEBS_DIR     check packages built before
#   tests/packaging/debs_test.sh --build DIR  only build them into DIR (emptied first)
#
# Slow (a release build of lwauth): under ctest it runs only with LWAUTH_TEST_PACKAGES=1
# and otherwise exits 77, which ctest reports as skipped. CTest builds the packages once,
# with --build (the fixture Packaging.BuildDebs), for this check and for the booted label,
# so --build also runs with LWAUTH_TEST_BOOTED=1.
set -euo pipefail
self=$(readlink -f "$0")
src=$(dirname "$(dirname "$(dirname "$self")")")

build_only=
if [ "${1:-}" = --build ]; then
  build_only=1
  shift
fi
if [ -n "${LWAUTH_TEST_FROM_CTEST:-}" ] && [ "${LWAUTH_TEST_PACKAGES:-}" != 1 ] \
  && { [ -z "$build_only" ] || [ "${LWAUTH_TEST_BOOTED:-}" != 1 ]; }; then
  echo "debs_test: skipped: set LWAUTH_TEST_PACKAGES=1 to build and check the packages"
  exit 77
fi

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

work=$(mktemp -d /tmp/lwauth-debs-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ $# -ge 1 ] && [ -z "$build_only" ]; then
  debs=$(readlink -f "$1")
else
  debs="${1:-$work/debs}"
  [ -z "$build_only" ] || rm -rf "$debs"
  before=$(git -C "$src" status --porcelain --ignored)
  "$src/scripts/build-debs" "$debs"
  after=$(git -C "$src" status --porcelain --ignored)
  [ "$before" = "$after" ] || fail "scripts/build-debs changed the source tree: $(diff <(echo "$before") <(echo "$after"))"
  if [ -n "$build_only" ]; then
    [ "$failures" -eq 0 ] || exit 1
    echo "debs_test: packages built in $debs"
    exit 0
  fi
fi

version=$(sed -n 's/^project(lwauth VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lwauth="$debs/lwauth_${version}_${arch}.deb"
pam="$debs/libpam-lwauth_${version}_${arch}.deb"
changes="$debs/lwauth_${version}_${arch}.changes"
for f in "$lwauth" "$pam" "$changes"; do
  [ -f "$f" ] || { echo "FAIL: no $f" >&2; exit 1; }
done

# lintian reads the .changes and every .deb it names.
lintian --fail-on error,warning "$changes" || fail "lintian on $changes"

# expect_file DEB MODE PATH: PATH is in DEB with ls-style MODE (e.g. -rw-r--r--).
expect_file() {
  local mode
  mode=$(dpkg-deb -c "$1" | awk -v p=".$3" '$6 == p || $6 == p "/" { print $1 }')
  [ "$mode" = "$2" ] || fail "$(basename "$1"): $3 is ${mode:-missing}, not $2"
}
expect_file "$pam" -rw-r--r-- "/usr/lib/$multiarch/security/pam_lwauth.so"
expect_file "$pam" -rw-r--r-- /usr/share/pam-configs/lwauth
expect_file "$pam" -rw-r--r-- /usr/share/pam-configs/lwauth-primary
expect_file "$pam" -rw-r--r-- /usr/share/man/man8/pam_lwauth.8.gz
expect_file "$lwauth" -rwxr-xr-x /usr/sbin/lwauthd
expect_file "$lwauth" -rwxr-xr-x /usr/bin/lwauthctl
expect_file "$lwauth" -rw-r--r-- /lib/systemd/system/lwauthd.service
expect_file "$lwauth" -rw-r--r-- /usr/share/dbus-1/system.d/org.lwauth.Auth1.conf
expect_file "$lwauth" -rw-r--r-- /usr/share/dbus-1/system-services/org.lwauth.Auth1.service
expect_file "$lwauth" -rw-r--r-- /usr/share/lwauth/common-pins
# the Japanese catalog, read by lwauthd, lwauthctl and pam_lwauth.so
expect_file "$lwauth" -rw-r--r-- /usr/share/locale/ja/LC_MESSAGES/lwauth.mo
expect_file "$lwauth" -rw-r--r-- /etc/lwauth/lwauth.conf
expect_file "$lwauth" drwxr-x--- /etc/lwauth/secrets
expect_file "$lwauth" -rw-r--r-- /usr/lib/sysusers.d/lwauth.conf
expect_file "$lwauth" -rw-r--r-- /usr/share/polkit-1/rules.d/50-lwauth.rules
for page in man1/lwauthctl.1.gz man5/lwauth.conf.5.gz man8/lwauthd.8.gz; do
  expect_file "$lwauth" -rw-r--r-- "/usr/share/man/$page"
done

dpkg-deb -e "$lwauth" "$work/lwauth.control"
dpkg-deb -e "$pam" "$work/pam.control"
dpkg-deb -x "$pam" "$work/pam.files"
dpkg-deb -x "$lwauth" "$work/lwauth.files"
grep -qx /etc/lwauth/lwauth.conf "$work/lwauth.control/conffiles" \
  || fail "/etc/lwauth/lwauth.conf is not a conffile"
grep -q "^Depends:.*lwauth (= $version)" "$work/pam.control/control" \
  || fail "libpam-lwauth does not depend on lwauth (= $version)"
grep -q "^Rules-Requires-Root: no" "$src/packaging/debian/control" \
  || fail "packaging/debian/control does not say Rules-Requires-Root: no"

# lwauthd runs unprivileged: its user from sysusers.d (created by postinst before the unit
# starts, then given /etc/lwauth/secrets), the unit's User=, the bus name for that user,
# and the polkit rule for fprintd.
grep -Eqx 'u lwauth - "[^"]+" /var/lib/lwauth' "$work/lwauth.files/usr/lib/sysusers.d/lwauth.conf" \
  || fail "sysusers.d/lwauth.conf does not make the system user lwauth with home /var/lib/lwauth"
unit="$work/lwauth.files/lib/systemd/system/lwauthd.service"
for line in User=lwauth Group=lwauth StateDirectory=lwauth; do
  grep -qx "$line" "$unit" || fail "lwauthd.service has no $line"
done
grep -q '<policy user="lwauth">' "$work/lwauth.files/usr/share/dbus-1/system.d/org.lwauth.Auth1.conf" \
  || fail "the bus policy does not let the user lwauth own org.lwauth.Auth1"
grep -qx 'User=lwauth' "$work/lwauth.files/usr/share/dbus-1/system-services/org.lwauth.Auth1.service" \
  || fail "the activation file does not name the user lwauth"
rules="$work/lwauth.files/usr/share/polkit-1/rules.d/50-lwauth.rules"
for action in net.reactivated.fprint.device.verify net.reactivated.fprint.device.setusername; do
  grep -q "\"$action\"" "$rules" || fail "the polkit rule does not grant $action"
done
grep -q 'subject.user == "lwauth"' "$rules" || fail "the polkit rule is not for the user lwauth alone"
sysusers_at=$(grep -n 'systemd-sysusers.*lwauth.conf' "$work/lwauth.control/postinst" | cut -d: -f1 | head -1)
start_at=$(grep -n 'deb-systemd-invoke' "$work/lwauth.control/postinst" | cut -d: -f1 | head -1)
chgrp_at=$(grep -n 'chown root:lwauth /etc/lwauth/secrets' "$work/lwauth.control/postinst" | cut -d: -f1 | head -1)
[ -n "$sysusers_at" ] || fail "lwauth's postinst does not run systemd-sysusers lwauth.conf"
[ -n "$chgrp_at" ] || fail "lwauth's postinst does not give /etc/lwauth/secrets to the group lwauth"
if [ -n "$sysusers_at" ] && [ -n "$start_at" ] && [ "$sysusers_at" -gt "$start_at" ]; then
  fail "lwauth's postinst starts lwauthd before it creates the user lwauth"
fi
# The bus read the policy naming lwauth before the user existed: it reads it again first.
reload_at=$(grep -n 'ReloadConfig' "$work/lwauth.control/postinst" | cut -d: -f1 | head -1)
if [ -z "$reload_at" ] || [ -z "$sysusers_at" ] || [ "$reload_at" -lt "$sysusers_at" ] \
  || { [ -n "$start_at" ] && [ "$reload_at" -gt "$start_at" ]; }; then
  fail "lwauth's postinst does not have the bus reload its policy between making the user and starting lwauthd"
fi
if [ -n "$sysusers_at" ] && [ -n "$chgrp_at" ] && [ "$sysusers_at" -gt "$chgrp_at" ]; then
  fail "lwauth's postinst gives /etc/lwauth/secrets to the group lwauth before it creates it"
fi

# The profiles: pam-auth-update's format, off until the administrator enables one.
profile() { tr '\t' ' ' <"$work/pam.files/usr/share/pam-configs/$1"; }
expect_profile() {
  profile "$1" | grep -qx -- "$2" || fail "profile $1 has no line \"$2\""
}
for p in lwauth lwauth-primary; do
  expect_profile "$p" "Default: no"
  expect_profile "$p" "Auth:"
done
expect_profile lwauth "Auth-Type: Additional"
expect_profile lwauth " required pam_lwauth.so mode=second_factor"
expect_profile lwauth-primary "Auth-Type: Primary"
expect_profile lwauth-primary " \[success=end default=ignore\] pam_lwauth.so mode=primary"
priority=$(profile lwauth-primary | sed -n 's/^Priority: //p')
[ "${priority:-0}" -gt 256 ] || fail "lwauth-primary's priority ${priority:-none} is not above pam_unix's 256"

grep -qx $'\tpam-auth-update --package' "$work/pam.control/postinst" \
  || fail "postinst does not run pam-auth-update --package"
grep -qx $'\tpam-auth-update --package --remove lwauth lwauth-primary' "$work/pam.control/prerm" \
  || fail "prerm does not remove the profiles with pam-auth-update"

if [ "$failures" -ne 0 ]; then
  echo "debs_test: $failures failures" >&2
  exit 1
fi
echo "debs_test: packages in $debs pass"
