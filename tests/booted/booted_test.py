#!/usr/bin/python3
"""lwauth from its Debian packages on a booted Debian 12 system.

    tests/booted/booted_test.py [DEBS_DIR]

DEBS_DIR holds lwauth_VERSION_ARCH.deb and libpam-lwauth_VERSION_ARCH.deb (CTest passes
the ones the Packaging.BuildDebs fixture built); without it, scripts/build-debs builds
them in a temporary directory first.

What it does, as root, all in one temporary directory (/tmp/lwauth-booted.XXXXXX):

- mmdebstrap makes a minimal Debian 12 root from this machine's apt sources
  (/etc/apt/sources.list.d/debian.sources) with systemd, dbus, openssh-server and every
  package the two .debs depend on, so installing them downloads nothing;
- systemd-nspawn --register=no --keep-unit -b boots it (the host's network: the
  container's sshd listens on a free loopback port), under setpriv --pdeathsig so that
  the container goes down with this script; commands run inside through nsenter on the
  container's PID 1; boot is done when systemctl is-system-running says running or
  degraded (the failed units are printed);
- inside: apt-get install ./lwauth_*.deb ./libpam-lwauth_*.deb; a policy drop-in with
  two_step = required, the outbox channel in /var/lib/lwauth (the unit's state
  directory) and language = ja for one user, applied with systemctl reload; pam-auth-update --enable lwauth; users made
  with useradd and chpasswd, with a profile email set by lwauthctl admin contact set;
  sshd with KbdInteractiveAuthentication yes.

Then it checks, each step timed:

 1. ssh (tests/e2e/ssh_client.py, paramiko, from outside): the password through the real
    pam_unix (@include common-auth) and the code read from the outbox log in and run a
    command;
 2. a wrong code is refused; lwauthd's login socket is /run/lwauth/login.socket, mode
    0600 in a 0700 directory, both lwauth's;
 3. with lwauthd stopped and masked (so bus activation cannot start it), the default
    failmode=secure refuses the login with the module's message to the user and its
    line in the journal;
 4. systemctl reload lwauthd with a broken drop-in fails, lwauthd keeps running its
    policy (a login still works with 6-digit codes), and reloads again once it is gone;
 5. journalctl -u lwauthd -o json has LWAUTH_* fields, and no code sent appears anywhere
    in the journal;
 6. the unit's hardening is in force on the main PID (/proc/PID/status: NoNewPrivs 1,
    CapEff 0, Seccomp 2 with more filters than the container's PID 1), and it runs as
    the unit's User= (with no User= it says so: lwauthd then runs as root);
 7. su on a terminal inside the container: one user's su - other asks the other's
    password and a code, and the command runs;
 8. Japanese from the installed catalog (CATALOG, read here with Python's gettext): su -
    other on a terminal with LANG=ja_JP.UTF-8 in the caller's environment (no locale is
    generated in the container: lwauth reads its catalog itself) shows the Japanese code
    prompt, and the code message in the outbox is the catalog's Japanese with the code;
    an ssh login of the user with a [user:NAME] language = ja override shows her the
    Japanese prompt and gets a Japanese code message;
 9. apt-get purge lwauth libpam-lwauth leaves no file behind that was not there before
    the install (apt's, dpkg's and the logs' own files excepted, see PURGE_KEEPS; the
    administrator's drop-in is removed first), and /etc/pam.d/common-* no longer name
    pam_lwauth.

Under CTest (LWAUTH_TEST_FROM_CTEST=1) it runs only with LWAUTH_TEST_BOOTED=1 and
otherwise exits 77 (skipped). Needs: mmdebstrap, systemd-container (systemd-nspawn),
util-linux (nsenter, setpriv), python3-paramiko, and the network to Debian's mirror.
LWAUTH_TEST_KEEP=1 keeps the temporary directory (the container is stopped all the same);
LWAUTH_TEST_KEEP=/DIR (scripts/test) keeps only the journal, the outbox and the state
directory, in /DIR/<pid>, for tests/leak_audit.py.
Exit status: 0 all checks passed, 1 a check failed, 77 skipped.
"""

import gettext
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
from ssh_client import Outbox  # noqa: E402 - the e2e client's outbox reader

SSH_CLIENT = os.path.join(SRC, "tests", "e2e", "ssh_client.py")
APT_SOURCES = "/etc/apt/sources.list.d/debian.sources"
OUTBOX = "/var/lib/lwauth/outbox.jsonl"
DROPIN_DIR = "/etc/lwauth/lwauth.conf.d"
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-2", "carol": "carol-pw-3",
             "hanako": "hanako-pw-4"}
JAPANESE_USER = "hanako"  # [policy] language = ja for her alone
CATALOG = "/usr/share/locale/ja/LC_MESSAGES/lwauth.mo"
CODE_PROMPT = "Verification code: "
CODE_MESSAGE = ("lwauth: your verification code is %1$s. It expires in %2$s. Never share it "
                "with anyone.")
UNAVAILABLE = "The login verification service is not available"
BOOT_TIMEOUT = 120
CODE_RE = r"(?<![0-9])%s(?![0-9])"

POLICY = """[policy]
two_step = required

[code]
resend_interval = 0s

[channel.outbox]
type = outbox
path = %s

[user:%s]
language = ja
""" % (OUTBOX, JAPANESE_USER)

BROKEN_POLICY = "[code]\nlength = 99\n"

# sshd_config.d is included before Debian's own settings, and the first value wins.
SSHD_CONFIG = """Port %d
ListenAddress 127.0.0.1
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
AuthenticationMethods keyboard-interactive
"""

# Paths below the root that may differ between before the install and after the purge,
# and why: apt's and dpkg's own records of what they did (Debian policy leaves the
# package database and logs to them), the logs and the journal (the system's, not the
# packages'), and what is not on disk (/tmp, /run are mounts inside the container).
PURGE_KEEPS = (
    "var/lib/dpkg/", "var/lib/apt/", "var/cache/apt/", "var/cache/debconf/",
    "var/cache/ldconfig/", "var/log/", "var/tmp/", "tmp/", "run/",
)

failures = []
timings = []


def log(msg):
    print("[booted] " + msg, flush=True)


def check(ok, what, detail=""):
    log(("ok:   " if ok else "FAIL: ") + what + ("" if ok or not detail else "\n" + detail))
    if not ok:
        failures.append(what)
    return ok


class Timer:
    """Times a step and records it for the summary."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        log("--- " + self.name)
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        timings.append((self.name, time.monotonic() - self.start))
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deb_depends(deb):
    """Package names in deb's Depends (the first of each alternative, no versions)."""
    field = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], check=True, text=True,
                           capture_output=True).stdout
    names = []
    for dep in field.split(","):
        name = dep.split("|")[0].split("(")[0].strip().split(":")[0]
        if name:
            names.append(name)
    return names


class Container:
    """A Debian 12 root under dir, booted with systemd-nspawn."""

    def __init__(self, dir, debs, ssh_port):
        self.dir = dir
        self.root = os.path.join(dir, "root")
        self.debs = debs
        self.ssh_port = ssh_port
        self.name = "lwauth-booted-%d" % os.getpid()
        self.nspawn = None
        self.pid1 = None

    def host_path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def make_root(self):
        include = ["systemd", "dbus", "openssh-server", "passwd", "libpam-runtime"]
        for deb in self.debs:
            include += [p for p in deb_depends(deb) if p not in ("lwauth", "libpam-lwauth")]
        cmd = ["mmdebstrap", "--variant=apt", "--include=" + ",".join(sorted(set(include))),
               "bookworm", self.root, APT_SOURCES]
        with open(os.path.join(self.dir, "mmdebstrap.log"), "w") as out:
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise RuntimeError("mmdebstrap failed: " + tail(out.name))
        # apt's timers could take the dpkg lock in the middle of the test.
        for timer in ("apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer"):
            os.symlink("/dev/null", self.host_path("/etc/systemd/system/" + timer))
        write(self.host_path("/etc/ssh/sshd_config.d/lwauth-test.conf"),
              SSHD_CONFIG % self.ssh_port)
        os.makedirs(self.host_path("/var/tmp/lwauth-debs"))
        for deb in self.debs:
            shutil.copy(deb, self.host_path("/var/tmp/lwauth-debs"))

    def boot(self):
        out = open(os.path.join(self.dir, "nspawn.log"), "w")
        # --pdeathsig: if this script dies, nspawn gets SIGTERM and powers the container off.
        self.nspawn = subprocess.Popen(
            ["setpriv", "--pdeathsig", "TERM", "systemd-nspawn", "--register=no",
             "--keep-unit", "--quiet", "--console=passive", "--machine=" + self.name,
             "-b", "-D", self.root], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while self.pid1 is None:
            if self.nspawn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("systemd-nspawn did not start the container: " +
                                   tail(out.name))
            self.pid1 = self.find_pid1()
            time.sleep(0.1)
        state = ""
        while state not in ("running", "degraded"):
            if self.nspawn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the container did not boot (last state %r): %s"
                                   % (state, tail(out.name)))
            time.sleep(0.2)
            state = self.run(["systemctl", "is-system-running"], check=False).stdout.strip()
        log("boot: system %s" % state)
        if state == "degraded":
            log("failed units:\n" + self.run(["systemctl", "--failed", "--no-legend"]).stdout)

    def find_pid1(self):
        """The container's PID 1 (systemd), a child of systemd-nspawn (setpriv exec'd it)."""
        try:
            with open("/proc/%d/task/%d/children" % (self.nspawn.pid, self.nspawn.pid)) as f:
                children = f.read().split()
        except OSError:
            return None
        for child in children:
            try:
                with open("/proc/%s/comm" % child) as f:
                    if f.read().strip() == "systemd":
                        return int(child)
            except OSError:
                pass
        return None

    def enter(self, argv):
        return ["nsenter", "-t", str(self.pid1), "-a", "--", "env", "-i",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"] + argv

    def run(self, argv, check=True, input=None, timeout=120):
        r = subprocess.run(self.enter(argv), capture_output=True, text=True, input=input,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("in the container, %s exited %d:\n%s%s"
                               % (" ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def sh(self, script, check=True):
        return self.run(["sh", "-ec", script], check=check)

    def stop(self):
        if self.nspawn is None or self.nspawn.poll() is not None:
            return
        self.nspawn.terminate()  # nspawn asks the container's systemd to power off
        try:
            self.nspawn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log("the container did not power off in 30 s: killing systemd-nspawn")
            self.nspawn.kill()
            self.nspawn.wait()


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return str(e)


def file_list(root):
    """Every path below root, relative to it, that is not one of PURGE_KEEPS."""
    paths = set()
    for top, dirs, files in os.walk(root):
        rel_top = os.path.relpath(top, root)
        for name in dirs + files:
            rel = os.path.normpath(os.path.join(rel_top, name))
            if not (rel + "/").startswith(PURGE_KEEPS):
                paths.add(rel)
    return paths


def ssh(c, user, code_mode="right", password=None):
    """Logs in through the container's sshd: (exit status, stdout, stderr)."""
    r = subprocess.run(
        ["/usr/bin/python3", SSH_CLIENT, "--port", str(c.ssh_port), "--user", user,
         "--password", password or PASSWORDS[user], "--outbox", c.host_path(OUTBOX),
         "--code-mode", code_mode, "--timeout", "30"],
        capture_output=True, text=True, timeout=120)
    # What the client typed stays out of this test's output (ctest keeps it in
    # LastTest.log, which the leak audit searches).
    trace = TYPED.sub(r"\1<typed>", r.stderr)
    log("ssh %s (code %s): exit %d\n%s" % (user, code_mode, r.returncode, indent(trace)))
    return r.returncode, r.stdout, r.stderr


TYPED = re.compile(r"^(\[ssh_client\] answer[^:]*: ).*$", re.M)


def indent(text):
    return "".join("    " + line + "\n" for line in text.strip().splitlines())


def sent_codes(c):
    """Every code the outbox received."""
    codes = []
    try:
        with open(c.host_path(OUTBOX)) as f:
            for line in f:
                m = re.search(r"(?<![0-9])[0-9]{6,10}(?![0-9])", json.loads(line).get("text", ""))
                if m:
                    codes.append(m.group(0))
    except OSError:
        pass
    return codes


def last_message(c):
    """The text of the newest outbox line."""
    with open(c.host_path(OUTBOX)) as f:
        lines = [line for line in f if line.strip()]
    return json.loads(lines[-1]).get("text", "") if lines else ""


def installed_japanese(c):
    """The code prompt and, for a code, its message, as the installed catalog words them
    (read here with Python's own .mo reader, not lwauth's)."""
    with open(c.host_path(CATALOG), "rb") as f:
        ja = gettext.GNUTranslations(f)
    minutes = ja.ngettext("%s minute", "%s minutes", 5) % 5  # the default code lifetime
    return (ja.gettext(CODE_PROMPT),
            lambda code: ja.gettext(CODE_MESSAGE).replace("%1$s", code).replace("%2$s", minutes))


def install(c):
    for user in PASSWORDS:
        c.run(["useradd", "--create-home", "--shell", "/bin/bash", user])
    c.run(["chpasswd"], input="".join("%s:%s\n" % up for up in PASSWORDS.items()))
    before = file_list(c.root)
    c.sh("apt-get install --yes /var/tmp/lwauth-debs/*.deb")
    active = c.run(["systemctl", "is-active", "lwauthd"], check=False).stdout.strip() == "active"
    check(active, "lwauthd is started on installation")
    # Started once: not after failed starts (its bus policy unread, its name refused).
    restarts = c.run(["systemctl", "show", "-p", "NRestarts", "--value", "lwauthd"],
                     check=False).stdout.strip()
    check(restarts == "0", "lwauthd started on installation without restarts (NRestarts %s)"
          % restarts)
    if not active:
        log(c.run(["journalctl", "--no-pager", "-b", "-u", "lwauthd", "-n", "40"],
                  check=False).stdout)
    c.run(["mkdir", "-m", "0755", "-p", DROPIN_DIR])
    write(c.host_path(DROPIN_DIR + "/50-booted-test.conf"), POLICY)
    reload = c.run(["systemctl", "reload", "lwauthd"], check=False)
    check(reload.returncode == 0, "systemctl reload lwauthd applies a good drop-in",
          reload.stderr)
    for user in PASSWORDS:
        c.run(["lwauthctl", "admin", "contact", "set", user, "email", user + "@example.com"])
    c.run(["pam-auth-update", "--enable", "lwauth"])
    common_auth = c.run(["cat", "/etc/pam.d/common-auth"]).stdout
    check("pam_lwauth.so mode=second_factor" in common_auth,
          "pam-auth-update --enable lwauth puts pam_lwauth in common-auth", common_auth)
    c.run(["systemctl", "reload-or-restart", "ssh"])
    return before


def check_ssh_logins(c):
    rc, out, err = ssh(c, "alice")
    check(rc == 0 and "lwauth-e2e-ok" in out,
          "(1) ssh: password (pam_unix) + the code from the outbox logs in and runs a command",
          err)
    check("Verification code" in err and "Password" in err,
          "(1) ssh asked for the password and the verification code", err)
    rc, out, err = ssh(c, "carol", code_mode="wrong")
    check(rc == 1 and "lwauth-e2e-ok" not in out, "(2) ssh: a wrong code is refused", err)
    # The module as root (sshd) goes to lwauthd's login socket, which the unit's
    # RuntimeDirectory= holds: lwauth's, and the socket root's alone to reach.
    sock = c.run(["stat", "-c", "%a %U %F", "/run/lwauth/login.socket", "/run/lwauth"],
                 check=False).stdout.split("\n")
    check(len(sock) >= 2 and sock[0] == "600 lwauth socket" and
          sock[1] == "700 lwauth directory",
          "(1) lwauthd listens on /run/lwauth/login.socket (0600, in a 0700 directory of lwauth)",
          " | ".join(sock))


def check_daemon_down(c):
    c.run(["systemctl", "mask", "--runtime", "lwauthd"])
    c.run(["systemctl", "stop", "lwauthd"])
    since = c.run(["date", "+%Y-%m-%d %H:%M:%S"]).stdout.strip()
    rc, out, err = ssh(c, "alice")
    check(rc == 1 and "lwauth-e2e-ok" not in out,
          "(3) ssh with lwauthd stopped and masked is refused (failmode=secure)", err)
    check(UNAVAILABLE in err, "(3) the user is told: " + UNAVAILABLE, err)
    journal = c.run(["journalctl", "--since", since, "-o", "cat", "--no-pager"]).stdout
    check("login refused (failmode=secure)" in journal,
          "(3) pam_lwauth logs \"login refused (failmode=secure)\"", journal[-2000:])
    check(c.run(["systemctl", "is-active", "lwauthd"], check=False).stdout.strip() != "active",
          "(3) bus activation did not start the masked lwauthd")
    c.run(["systemctl", "unmask", "--runtime", "lwauthd"])
    c.run(["systemctl", "start", "lwauthd"])


def check_broken_reload(c):
    broken = DROPIN_DIR + "/60-broken.conf"
    write(c.host_path(broken), BROKEN_POLICY)
    reload = c.run(["systemctl", "reload", "lwauthd"], check=False)
    check(reload.returncode != 0,
          "(4) systemctl reload lwauthd with a broken drop-in fails (exit %d)"
          % reload.returncode, reload.stderr)
    check(c.run(["systemctl", "is-active", "lwauthd"], check=False).stdout.strip() == "active",
          "(4) lwauthd keeps running after the refused reload")
    rc, out, err = ssh(c, "alice")
    codes = sent_codes(c)
    check(rc == 0 and "lwauth-e2e-ok" in out and codes and len(codes[-1]) == 6,
          "(4) the running policy stays: a login with a 6-digit code works", err)
    os.unlink(c.host_path(broken))
    reload = c.run(["systemctl", "reload", "lwauthd"], check=False)
    check(reload.returncode == 0, "(4) reload succeeds again without the broken drop-in",
          reload.stderr)


def check_journal(c):
    lines = c.run(["journalctl", "-u", "lwauthd", "-o", "json", "--no-pager"]).stdout
    fields = set()
    for line in lines.splitlines():
        fields.update(k for k in json.loads(line) if k.startswith("LWAUTH_"))
    check({"LWAUTH_EVENT", "LWAUTH_USER"} <= fields,
          "(5) journalctl -u lwauthd -o json has LWAUTH_* fields: " + " ".join(sorted(fields)))
    everything = c.run(["journalctl", "-o", "json", "--no-pager"]).stdout
    codes = sent_codes(c)
    leaked = [code for code in codes if re.search(CODE_RE % code, everything)]
    check(codes and not leaked,
          "(5) none of the %d codes sent is in the journal" % len(codes),
          "codes found: %d" % len(leaked))
    keep_for_audit(c, everything)


def keep_for_audit(c, journal):
    """With LWAUTH_TEST_KEEP a directory (scripts/test), the whole journal, the outbox and
    lwauthd's state directory go to LWAUTH_TEST_KEEP/<pid> for tests/leak_audit.py."""
    keep = os.environ.get("LWAUTH_TEST_KEEP", "")
    if not keep.startswith("/"):
        return
    where = os.path.join(keep, str(os.getpid()))
    os.makedirs(where, exist_ok=True)
    write(os.path.join(where, "test"), "Booted.Login\n")
    write(os.path.join(where, "journal.json"), journal)
    state = c.host_path(os.path.dirname(OUTBOX))
    for name in os.listdir(state):
        if os.path.isfile(os.path.join(state, name)):
            shutil.copy(os.path.join(state, name), os.path.join(where, name))


def proc_status(c, pid):
    text = c.run(["cat", "/proc/%s/status" % pid]).stdout
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def check_hardening(c):
    pid = c.run(["systemctl", "show", "-p", "MainPID", "--value", "lwauthd"]).stdout.strip()
    status = proc_status(c, pid)
    init = proc_status(c, 1)
    log("lwauthd (PID %s): NoNewPrivs %s, CapEff %s, Seccomp %s with %s filters (PID 1: %s)"
        % (pid, status.get("NoNewPrivs"), status.get("CapEff"), status.get("Seccomp"),
           status.get("Seccomp_filters"), init.get("Seccomp_filters")))
    check(status.get("NoNewPrivs", "").strip() == "1", "(6) NoNewPrivs is 1")
    check(int(status.get("CapEff", "1"), 16) == 0, "(6) no effective capability (CapEff 0)")
    check(status.get("Seccomp", "").strip() == "2" and
          int(status.get("Seccomp_filters", "0")) > int(init.get("Seccomp_filters", "0")),
          "(6) seccomp filters of its own (Seccomp 2, more filters than PID 1)")
    analyze = c.run(["systemd-analyze", "security", "--no-pager", "lwauthd"], check=False)
    log("systemd-analyze security lwauthd: " + (analyze.stdout.strip().splitlines() or [""])[-1])
    uid = status.get("Uid", "").split()[0]
    user = c.run(["systemctl", "show", "-p", "User", "--value", "lwauthd"]).stdout.strip()
    if not user:
        log("NOTE (6): the unit sets no User=, so there is no user to check: lwauthd runs "
            "as UID %s%s; with a User= the UID must be that user's" %
            (uid, " (root)" if uid == "0" else ""))
        return
    want = c.run(["id", "-u", user], check=False).stdout.strip()
    check(uid == want, "(6) lwauthd runs as the unit's User=%s (UID %s, is %s)"
          % (user, want or "unknown", uid))


def pty_expect(fd, pattern, buf, timeout=30):
    """Reads fd into buf until pattern matches the text read so far; True if it did."""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, buf[0]):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            return bool(re.search(pattern, buf[0]))
        if not data:
            return bool(re.search(pattern, buf[0]))
        buf[0] += data.decode("utf-8", "replace")
    return True


def su(c, caller, target, lang=None):
    """caller, on a terminal of the container (script allocates it) and with LANG=lang in
    its environment if given, runs su - target: (exit status, transcript, asked for the
    password, asked for a code)."""
    outbox = Outbox(c.host_path(OUTBOX))
    argv = c.enter(["setpriv", "--reuid=" + caller, "--regid=" + caller, "--init-groups",
                    "--reset-env"] + (["env", "LANG=" + lang] if lang else []) +
                   ["script", "-qec", "su - %s -c 'echo lwauth-su-ok'" % target, "/dev/null"])
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    buf = [""]
    try:
        asked_password = pty_expect(fd, r"Password: ?$", buf)
        if asked_password:
            os.write(fd, (PASSWORDS[target] + "\n").encode())
        asked_code = pty_expect(fd, r"(?:[Cc]ode|コード)[^\n]*: ?$", buf)
        code = outbox.wait_code(30) if asked_code else None
        if code:
            os.write(fd, (code + "\n").encode())
        pty_expect(fd, r"lwauth-su-ok", buf)
        pty_expect(fd, r"\Z.", buf, timeout=10)  # the rest, until the terminal closes
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    transcript = buf[0].replace(PASSWORDS[target], "<password>")
    rc = os.waitstatus_to_exitcode(status)
    log("su - %s as %s%s: exit %d\n%s" % (target, caller, " with LANG=" + lang if lang else "",
                                          rc, indent(transcript)))
    return rc, transcript, asked_password, asked_code


def check_su(c):
    rc, transcript, asked_password, asked_code = su(c, "alice", "bob")
    check(asked_password and asked_code, "(7) su - bob on a terminal asks the password and "
          "the code", transcript)
    check(rc == 0 and "lwauth-su-ok" in transcript,
          "(7) su - bob with the code runs the command as bob", transcript)


def check_japanese(c):
    prompt, message_for = installed_japanese(c)
    check(prompt != CODE_PROMPT, "(8) the installed catalog has the code prompt in Japanese: "
          + prompt)
    rc, transcript, _, asked_code = su(c, "bob", "alice", lang="ja_JP.UTF-8")
    check(asked_code and prompt.rstrip() in transcript and CODE_PROMPT.rstrip() not in transcript,
          "(8) su - alice with LANG=ja_JP.UTF-8 shows the Japanese code prompt", transcript)
    check(rc == 0 and "lwauth-su-ok" in transcript,
          "(8) su - alice in Japanese with the code runs the command", transcript)
    text = last_message(c)
    codes = sent_codes(c)
    check(codes and text == message_for(codes[-1]),
          "(8) su's code message in the outbox is the catalog's Japanese", text)
    rc, out, err = ssh(c, JAPANESE_USER)
    check(rc == 0 and "lwauth-e2e-ok" in out,
          "(8) ssh as %s ([user:%s] language = ja) logs in" % (JAPANESE_USER, JAPANESE_USER), err)
    check(prompt in err and CODE_PROMPT.rstrip() not in err,
          "(8) sshd shows %s the Japanese code prompt" % JAPANESE_USER, err)
    text = last_message(c)
    codes = sent_codes(c)
    check(codes and text == message_for(codes[-1]),
          "(8) her code message in the outbox is the catalog's Japanese", text)


def check_purge(c, before):
    # The drop-in is the administrator's file, not the package's: dpkg would rightly leave
    # it, and the directories above it, behind.
    c.run(["rm", "-r", DROPIN_DIR])
    c.run(["apt-get", "purge", "--yes", "lwauth", "libpam-lwauth"])
    left = sorted(file_list(c.root) - before)
    check(not left, "(9) apt-get purge leaves no file behind", "\n".join(left))
    stacks = c.sh("grep -l pam_lwauth /etc/pam.d/common-* || true").stdout.strip()
    check(not stacks, "(9) after the purge no common-* names pam_lwauth", stacks)


def build_debs(tmp):
    out = os.path.join(tmp, "debs")
    subprocess.run([os.path.join(SRC, "scripts", "build-debs"), out], check=True)
    return out


def find_debs(debs_dir):
    found = sorted(os.path.join(debs_dir, f) for f in os.listdir(debs_dir)
                   if re.match(r"(lwauth|libpam-lwauth)_.*\.deb$", f))
    if len(found) != 2:
        raise RuntimeError("expected lwauth and libpam-lwauth .debs in %s, found %s"
                           % (debs_dir, found))
    return found


def run_all(tmp, debs_dir):
    with Timer("packages"):
        debs = find_debs(debs_dir or build_debs(tmp))
    c = Container(tmp, debs, free_port())
    try:
        with Timer("mmdebstrap"):
            c.make_root()
        with Timer("boot"):
            c.boot()
        with Timer("install and set up"):
            before = install(c)
        checks = (("(1, 2) ssh logins", check_ssh_logins),
                  ("(3) lwauthd stopped", check_daemon_down),
                  ("(4) broken reload", check_broken_reload),
                  ("(5) journal", check_journal),
                  ("(6) hardening", check_hardening),
                  ("(7) su on a terminal", check_su),
                  ("(8) Japanese", check_japanese),
                  ("(9) purge", lambda c: check_purge(c, before)))
        for name, step in checks:
            with Timer(name):
                try:
                    step(c)
                except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
                    check(False, "%s: %s: %s" % (name, type(e).__name__, e))
    finally:
        with Timer("power off"):
            c.stop()


def main():
    if os.environ.get("LWAUTH_TEST_FROM_CTEST") and os.environ.get("LWAUTH_TEST_BOOTED") != "1":
        print("booted_test: skipped: set LWAUTH_TEST_BOOTED=1 to boot Debian 12 and log in")
        return 77
    if os.geteuid() != 0:
        print("booted_test: run as root (mmdebstrap, systemd-nspawn)", file=sys.stderr)
        return 1
    # CTest's timeout and ^C end the container and the directory too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("booted_test: terminated"))
    tmp = tempfile.mkdtemp(prefix="lwauth-booted.")
    started = time.monotonic()
    try:
        run_all(tmp, sys.argv[1] if len(sys.argv) > 1 else None)
    except Exception as e:  # noqa: BLE001 - any error is a failure, after the cleanup
        failures.append("%s: %s" % (type(e).__name__, e))
        log("ERROR: %s: %s" % (type(e).__name__, e))
    finally:
        # LWAUTH_TEST_KEEP=DIR (scripts/test) keeps only what keep_for_audit copied there.
        keep = os.environ.get("LWAUTH_TEST_KEEP", "")
        if keep and not keep.startswith("/"):
            log("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for name, seconds in timings:
        log("time: %6.1f s  %s" % (seconds, name))
    log("time: %6.1f s  in all" % (time.monotonic() - started))
    if failures:
        log("%d failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
