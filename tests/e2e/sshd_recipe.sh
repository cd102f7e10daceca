#!/usr/bin/env bash
# Self-contained proof of the e2e recipe: the real /usr/sbin/sshd on a
# loopback port, keyboard-interactive auth through a private PAM stack
# (pam_wrapper + pam_matrix), test users from nss_wrapper files, and the
# paramiko client in ssh_client.py. Nothing under /etc is read or changed
# and no real account is used. Must run as root (sshd needs it).
#
# Usage: tests/e2e/sshd_recipe.sh        (SSHD_LOG_LEVEL=DEBUG3 for more log)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3                      # Debian's python (has paramiko)
SSHD=/usr/sbin/sshd                      # must be an absolute path (re-exec)
LIBDIR=/usr/lib/x86_64-linux-gnu
PAM_MATRIX=$LIBDIR/pam_wrapper/pam_matrix.so
PAM_PERMIT=/lib/x86_64-linux-gnu/security/pam_permit.so
TEST_USER=alice
TEST_UID=40001                           # made up: no such real account
TEST_PASSWORD='s3cret-Pw'
LOG_LEVEL="${SSHD_LOG_LEVEL:-VERBOSE}"

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

[ "$(id -u)" -eq 0 ] || { echo "FAIL: must run as root"; exit 1; }
for f in "$SSHD" /usr/bin/ssh-keygen "$PY" "$LIBDIR/libpam_wrapper.so" \
         "$LIBDIR/libnss_wrapper.so" "$PAM_MATRIX" "$PAM_PERMIT"; do
    [ -e "$f" ] || { echo "FAIL: missing $f"; exit 1; }
done
"$PY" -c 'import paramiko' || { echo "FAIL: $PY cannot import paramiko"; exit 1; }

T="$(mktemp -d /tmp/lwauth-e2e-sshd.XXXXXX)"
chmod 755 "$T"          # mktemp makes 0700: the user could not reach its home
SSHD_PID=
# pam_wrapper makes one /tmp/pam.<char> dir per process that loads it; sshd
# leaves via _exit(), so they are never removed. Note which exist already.
PAM_DIRS_BEFORE="$(ls -d /tmp/pam.? 2>/dev/null || true)"

cleanup() {
    if [ -n "$SSHD_PID" ] && kill -0 "$SSHD_PID" 2>/dev/null; then
        kill "$SSHD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SSHD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
    fi
    # Remove pam_wrapper dirs created during this run whose process is gone.
    for d in /tmp/pam.?; do
        [ -d "$d" ] || continue
        grep -qxF "$d" <<<"$PAM_DIRS_BEFORE" && continue
        pid="$(cat "$d/pid" 2>/dev/null)"
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then rm -rf "$d"; fi
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- files -----------------------------------------------------------------
mkdir -p /run/sshd && chmod 755 /run/sshd      # privsep dir, compiled in
mkdir -p "$T/pam.d" "$T/home/$TEST_USER"
chown "$TEST_UID:$TEST_UID" "$T/home/$TEST_USER"
ssh-keygen -q -t ed25519 -N '' -C lwauth-e2e -f "$T/ssh_host_ed25519_key"

# nss_wrapper databases: with NSS_WRAPPER_PASSWD/GROUP set these files are
# the only source of users and groups for sshd. "sshd" is the privsep user.
cat > "$T/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
sshd:x:102:65534::/run/sshd:/usr/sbin/nologin
$TEST_USER:x:$TEST_UID:$TEST_UID:lwauth e2e user:$T/home/$TEST_USER:/bin/sh
EOF
cat > "$T/group" <<EOF
root:x:0:
nogroup:x:65534:
$TEST_USER:x:$TEST_UID:
EOF
# pam_matrix passdb: user:password:service
echo "$TEST_USER:$TEST_PASSWORD:sshd" > "$T/passdb"

# PAM service file, named after the service sshd uses ("sshd").
cat > "$T/pam.d/sshd" <<EOF
auth     required $PAM_MATRIX passdb=$T/passdb
account  required $PAM_PERMIT
password required $PAM_PERMIT
session  required $PAM_PERMIT
EOF

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/ssh_host_ed25519_key
PidFile $T/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods keyboard-interactive
PasswordAuthentication no
PubkeyAuthentication no
HostbasedAuthentication no
PermitRootLogin no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
LogLevel $LOG_LEVEL
EOF

SSHD_ENV=(
    "LD_PRELOAD=libpam_wrapper.so libnss_wrapper.so"
    PAM_WRAPPER=1
    "PAM_WRAPPER_SERVICE_DIR=$T/pam.d"
    "NSS_WRAPPER_PASSWD=$T/passwd"
    "NSS_WRAPPER_GROUP=$T/group"
)

# --- start sshd ------------------------------------------------------------
if env "${SSHD_ENV[@]}" "$SSHD" -t -f "$T/sshd_config" 2> "$T/sshd-t.log"; then
    pass "sshd -t accepts the config"
else
    fail "sshd -t rejects the config"; cat "$T/sshd-t.log"; exit 1
fi

env "${SSHD_ENV[@]}" "$SSHD" -D -e -f "$T/sshd_config" 2> "$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
    grep -q "Server listening on 127.0.0.1 port $PORT" "$T/sshd.log" && break
    kill -0 "$SSHD_PID" 2>/dev/null || break
    sleep 0.1
done
if grep -q "Server listening on 127.0.0.1 port $PORT" "$T/sshd.log"; then
    pass "sshd listening on 127.0.0.1:$PORT (pid $SSHD_PID)"
else
    fail "sshd did not start"; cat "$T/sshd.log"; exit 1
fi

# --- logins ----------------------------------------------------------------
expect() {  # expect NAME WANTED_RC client-args...
    local name="$1" want="$2"; shift 2
    local out rc
    out="$("$PY" "$HERE/ssh_client.py" --port "$PORT" --timeout 20 "$@" 2> "$T/client.err")"
    rc=$?
    if [ "$rc" -eq "$want" ]; then
        pass "$name (exit $rc)"
    else
        fail "$name (exit $rc, wanted $want)"
        sed 's/^/  client: /' "$T/client.err"; echo "  stdout: $out"
        tail -n 40 "$T/sshd.log" | sed 's/^/  sshd: /'
    fi
    [ "$want" -ne 0 ] || [ "$rc" -ne 0 ] || grep -qx lwauth-e2e-ok <<<"$out" ||
        fail "$name: session output missing (got: $out)"
}

expect "right password authenticates" 0 --user "$TEST_USER" --password "$TEST_PASSWORD" --code-mode none
expect "wrong password is rejected" 1 --user "$TEST_USER" --password "not-the-password" --code-mode none
expect "unknown user is rejected" 1 --user nosuchuser --password "$TEST_PASSWORD" --code-mode none
expect "right password again (sshd still serving)" 0 --user "$TEST_USER" --password "$TEST_PASSWORD" --code-mode none

if grep -q "Accepted keyboard-interactive/pam for $TEST_USER" "$T/sshd.log"; then
    pass "sshd log shows keyboard-interactive/pam acceptance"
else
    fail "sshd log lacks 'Accepted keyboard-interactive/pam for $TEST_USER'"
fi

echo "sshd_recipe: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
