#!/usr/bin/python3
"""Keyboard-interactive SSH test client for the lwauth end-to-end tests.

Run with Debian's /usr/bin/python3 (python3-paramiko):

    ssh_client.py --port P --user U [--password PW] [--key FILE]
                  [--outbox FILE] [--code-mode right|wrong|none] [--timeout 30]
                  [--line-ca FILE [--line-pick right|wrong]]

With --key, the client first offers that private key (publickey
authentication), then goes on to keyboard-interactive on the same connection,
as a server with "AuthenticationMethods publickey,keyboard-interactive"
requires. A refused key does not stop it: it tries keyboard-interactive all
the same, to show that the server does not ask anything without the key.

Answers keyboard-interactive prompts: a prompt containing "assword" gets the
password (an empty answer without --password), a prompt containing "code"
(any case) or "コード" (lwauth's Japanese prompts) gets the verification code.
In "right" mode the code is read from the outbox (JSON lines with keys time,
channel, kind, destination, text): the first run of 6-10 digits in "text" of
the newest line written after this client started (lines without such a run
are skipped; the outbox is polled up to --timeout seconds). "wrong" answers a
code that differs from the real one (its last digit changed; "000000" when no
code can be read), "none" answers an empty string.

With --line-ca, LINE's prompt ("Approve in LINE, then press Enter ...") is
answered as a person with a phone would: the test phone (tests/fakes/line_phone.py,
trusting that CA) opens the link shown before it and picks the number shown
("right") or another one ("wrong"), then the answer is Enter (an empty string).
Without it, that prompt gets an empty answer.

Every prompt and instruction received is printed to stderr (the password is
never printed). On success a session runs `echo lwauth-e2e-ok` and its output
is printed to stdout.

Exit codes: 0 authenticated and the session printed lwauth-e2e-ok,
1 authentication failed (paramiko.AuthenticationException), 2 any other error
(connection, timeout, no code in the outbox in "right" mode, session failure
after a successful authentication).
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time

import paramiko

CODE_RE = re.compile(r"(?<!\d)\d{6,10}(?!\d)")
LINE_LINK_RE = re.compile(r"(https?://\S+/l[/?]\S+)")
LINE_NUMBER_RE = re.compile(r"Then pick this number in LINE: (\d+)")
LINE_PHONE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes",
                          "line_phone.py")
SESSION_COMMAND = "echo lwauth-e2e-ok"


def log(msg):
    print("[ssh_client] " + msg, file=sys.stderr, flush=True)


class Outbox:
    """Reads verification codes written to the outbox after a start offset."""

    def __init__(self, path):
        self.path = path
        try:
            self.offset = os.path.getsize(path) if path else 0
        except OSError:
            self.offset = 0

    def _new_lines(self):
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                # The file was truncated or replaced: everything in it is new.
                f.seek(self.offset if size >= self.offset else 0)
                data = f.read()
        except OSError:
            return []
        # Only complete lines: a line still being written has no newline yet.
        return [l for l in data.decode("utf-8", "replace").split("\n")[:-1] if l.strip()]

    def wait_code(self, timeout):
        """Return the code of the newest new outbox line, or None on timeout."""
        if not self.path:
            return None
        deadline = time.monotonic() + timeout
        while True:
            for line in reversed(self._new_lines()):
                try:
                    text = json.loads(line).get("text", "")
                except (ValueError, AttributeError):
                    continue
                m = CODE_RE.search(str(text))
                if m:
                    return m.group(0)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)


def wrong_code(code):
    if not code:
        return "000000"
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def approve_in_line(args, text, errors):
    """The phone follows the last link shown in text and picks its number."""
    links = LINE_LINK_RE.findall(text)
    numbers = LINE_NUMBER_RE.findall(text)
    if not links or not numbers:
        errors.append("no LINE link and number before LINE's prompt")
        return
    number = int(numbers[-1])
    if args.line_pick == "wrong":
        number = 11 if number == 10 else number - 1
    phone = subprocess.run([sys.executable, LINE_PHONE, links[-1], "--ca-file", args.line_ca,
                            "--pick", str(number)], capture_output=True, text=True,
                           timeout=args.timeout)
    log("phone (pick=%s): exit %d, %s" % (args.line_pick, phone.returncode,
                                           phone.stdout.strip()[-200:]))


def make_handler(args, outbox, errors):
    """Build the prompt handler; problems are appended to errors (the
    handler runs in paramiko's transport thread, where raising is unsafe)."""

    def handler(title, instructions, prompts):
        if title:
            log("title: %r" % title)
        if instructions:
            log("instruction: %r" % instructions)
        answers = []
        for text, echo in prompts:
            log("prompt (echo=%s): %r" % (echo, text))
            # Text from PAM_TEXT_INFO/PAM_ERROR_MSG sent before a prompt is
            # prepended to it by sshd: classify on the last line first.
            last = text.strip().splitlines()[-1] if text.strip() else ""
            kind = None
            for candidate in (last, text):
                if "Approve in LINE" in candidate:
                    kind = "line"
                elif "assword" in candidate:
                    kind = "password"
                elif "code" in candidate.lower() or "コード" in candidate:
                    kind = "code"
                if kind:
                    break
            if kind == "line":
                if args.line_ca:
                    approve_in_line(args, text, errors)
                log("answer: <Enter> (LINE)")
                answers.append("")
            elif kind == "password":
                if args.password is None:
                    log("answer: <empty> (no --password given)")
                    answers.append("")
                else:
                    log("answer: <password>")
                    answers.append(args.password)
            elif kind == "code" and args.totp_secret:
                # The authenticator app's code, from Debian's oathtool.
                now = int(time.time()) + args.totp_offset
                code = subprocess.run(
                    ["oathtool", "--totp", "-b", args.totp_secret, "--now", "@%d" % now],
                    check=True, capture_output=True, text=True).stdout.strip()
                log("answer (code, authenticator app): %r" % code)
                answers.append(code)
            elif kind == "code":
                if args.code_mode == "none":
                    code = ""
                else:
                    real = outbox.wait_code(args.timeout)
                    if real is None and args.code_mode == "right":
                        errors.append("no verification code found in outbox %r within %ss"
                                      % (args.outbox, args.timeout))
                    if args.code_mode == "right":
                        code = real or ""
                    else:
                        code = wrong_code(real)
                log("answer (code, mode=%s): %r" % (args.code_mode, code))
                answers.append(code)
            else:
                log("answer: <empty> (unrecognised prompt)")
                answers.append("")
        return answers

    return handler


def load_key(path):
    """The private key in path (OpenSSH or PEM format, no passphrase)."""
    problems = []
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key_file(path)
        except (paramiko.SSHException, ValueError) as e:
            problems.append("%s: %s" % (cls.__name__, e))
    raise RuntimeError("cannot load key %r (%s)" % (path, "; ".join(problems)))


def offer_key(transport, user, key):
    """Publickey authentication; a refused key is logged, not raised."""
    try:
        remaining = transport.auth_publickey(user, key)
    except paramiko.AuthenticationException as e:
        log("publickey refused: %s" % e)
        return
    if transport.is_authenticated():
        log("publickey accepted: authenticated")
    else:
        log("publickey accepted (partial), methods left: %s" % ",".join(remaining))


def run_session(transport, timeout):
    chan = transport.open_session(timeout=timeout)
    chan.settimeout(timeout)
    chan.exec_command(SESSION_COMMAND)
    out = chan.makefile("rb").read().decode("utf-8", "replace")
    err = chan.makefile_stderr("rb").read().decode("utf-8", "replace")
    status = chan.recv_exit_status()
    chan.close()
    if err.strip():
        log("session stderr: %r" % err)
    sys.stdout.write(out)
    sys.stdout.flush()
    if status != 0 or "lwauth-e2e-ok" not in out:
        raise RuntimeError("session command failed (exit status %s)" % status)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password")
    p.add_argument("--key", help="private key to offer before keyboard-interactive")
    p.add_argument("--outbox")
    p.add_argument("--code-mode", choices=("right", "wrong", "none"), default="right")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--totp-secret", help="answer code prompts with oathtool --totp -b SECRET")
    p.add_argument("--totp-offset", type=int, default=0, help="seconds added to now for it")
    p.add_argument("--line-ca", help="CA of the fake LINE Login provider: approve in LINE")
    p.add_argument("--line-pick", choices=("right", "wrong"), default="right")
    args = p.parse_args()

    outbox = Outbox(args.outbox)  # records the outbox size before the login
    errors = []
    transport = None
    try:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
        transport = paramiko.Transport(sock)
        transport.start_client(timeout=args.timeout)
        if args.key:
            offer_key(transport, args.user, load_key(args.key))
        try:
            if not transport.is_authenticated():
                transport.auth_interactive(args.user, make_handler(args, outbox, errors))
        except paramiko.AuthenticationException:
            if errors:  # failed because the client could not answer: exit 2
                raise RuntimeError("; ".join(errors))
            raise
        if errors:
            raise RuntimeError("; ".join(errors))
        log("authenticated as %s" % args.user)
        run_session(transport, args.timeout)
        return 0
    except paramiko.AuthenticationException as e:
        log("authentication failed: %s" % e)
        return 1
    except Exception as e:  # noqa: BLE001 - any other failure is exit 2
        log("error: %s: %s" % (type(e).__name__, e))
        return 2
    finally:
        if transport is not None:
            transport.close()


if __name__ == "__main__":
    sys.exit(main())
