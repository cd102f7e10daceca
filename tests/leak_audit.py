#!/usr/bin/python3
"""Leak audit: after the test suite, no file the tests kept holds a secret they used.

Run by scripts/test after ctest with LWAUTH_TEST_KEEP=DIR: every test process kept its
temporary directories under DIR/<pid><test> (tests/support/harness.cpp, keep_dir()). For each
process this collects the secrets its test used, from where they legitimately are:

  code              the codes lwauthd sent: the outbox, the fake gateways' journals
                    (requests.jsonl) and the SMTP server's (smtp.jsonl)
  typed code or PIN what the test typed: lwauthctl's standard input ("in"), the answers
                    to login prompts ("answers"), a PIN seeded in the store
  phone number      full numbers: the outbox's and gateways' destinations, lwauthctl's
                    arguments ("argv"), the policies
  authenticator secret  the otpauth:// secret `lwauthctl totp add` showed, oathtool's -b
  authenticator code    what oathtool (the test's authenticator app) printed
  recovery code     the codes `lwauthctl recovery generate` / `admin recovery` showed
  OAuth value       the authorization code, PKCE verifier, state and nonce the fake LINE
                    Login provider saw (its requests.jsonl)
  secret            the content of each file a policy names with a secret *_file key,
                    and of every file in a directory "secrets", named *secret* or *.key
                    (of a PEM key, each line of its body)
  key               lwauthd's code.key and contacts.key (raw and as hex)

and looks for each in every other file of that process: lwauthd's log, the state
directory (SQLite databases and their WAL, as bytes), the bus and fake servers' logs,
lwauthctl's and other commands' output ("out", "err"), what a login showed
("conversation"). Files given with --also (ctest's LastTest.log: every test's output)
are searched for the secrets of every process. The places a secret comes from are not
searched for it. Not searched at all: the outbox and the fakes' journals (where a code
is delivered), the test's own input, and the output of the user's devices (the test
phone following LINE's redirects, oathtool); the test SSH client's lines that say what
it typed are input too, the rest of its trace (what sshd showed) is searched. The test's
LDAP server (a "slapd" directory: its tree and database) is the company directory, where
the numbers come from: input, not searched.

A number (code, PIN, phone number) matches only as a whole run of digits, so that a code
is not found inside a timestamp; values a test uses as a wrong answer everywhere (one
digit repeated) and values shorter than 6 characters are not secrets here.

Prints one line per finding (file, kind, where the secret came from; never the secret)
and a summary; exits 1 when anything leaked, 2 on bad usage.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

# Files that are a test's input or a delivery's destination: never searched.
INPUT_NAMES = {"argv", "in", "answers", "test"}
SINK_NAMES = {"requests.jsonl", "smtp.jsonl"}
# *_file keys of lwauth.conf whose file is a secret (lwauth.conf(5)); ca_file, body_file
# and user_map_file are not.
SECRET_KEYS = re.compile(
    r"^\s*([a-z_.]*(?:secret|token|password|private_key|subject_key)_file)\s*=\s*(\S+)",
    re.M)
PHONE = re.compile(r"\+[0-9][0-9 ()-]{8,20}[0-9]")
DIGITS = re.compile(rb"[0-9]+")
# A hexadecimal number (an address in a stack trace): its digit runs are not numbers.
HEX = re.compile(rb"0x[0-9a-fA-F]+")
CODE_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{6,10}(?![0-9])")
RECOVERY = re.compile(r"\b[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}\b")
OTPAUTH_SECRET = re.compile(r"otpauth://[^\s\"']*[?&]secret=([A-Z2-7]+)", re.I)
MIN_LENGTH = 6


class Secret:
    def __init__(self, kind, value, origin):
        self.kind = kind
        self.value = value  # bytes
        self.origins = {origin}


class Ledger:
    """The secrets of one test process, by value."""

    def __init__(self):
        self.by_value = {}

    def add(self, kind, value, origin):
        if isinstance(value, str):
            value = value.encode()
        value = value.strip() if kind not in ("key",) else value
        if len(value) < MIN_LENGTH or len(set(value)) <= 1:
            return
        if value in self.by_value:
            known = self.by_value[value]
            known.origins.add(origin)
            if known.kind == "typed code or PIN" and kind in ("code", "authenticator code"):
                known.kind = kind  # a code lwauthd sent, which the test typed

        else:
            self.by_value[value] = Secret(kind, value, origin)

    def add_phone(self, text, origin):
        digits = re.sub(r"[^0-9]", "", text)
        if len(digits) >= 10:
            self.add("phone number", digits, origin)
            self.add("phone number", "+" + digits, origin)
            if text.strip() != "+" + digits:
                self.add("phone number", text.strip(), origin)

    def secrets(self):
        return self.by_value.values()


def read_text(path):
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def json_lines(path):
    for line in read_text(path).splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def strings_in(obj):
    """Every string in a JSON value."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_in(v)


def is_outbox(path):
    return "outbox" in path.name


def is_line_provider_journal(path):
    return path.name == "requests.jsonl" and any(
        e.get("service") in ("authorize", "token") for e in json_lines(path))


def argv_of(path):
    """The command line of the run whose output `path` is (its sibling "argv")."""
    argv = path.parent / "argv"
    return read_text(argv).splitlines() if argv.is_file() else []


def collect_deliveries(path, ledger):
    """Codes and destinations in the outbox, the gateways' and the SMTP server's journals."""
    if is_line_provider_journal(path):
        for entry in json_lines(path):
            params = entry.get("params") or {}
            for key in ("code", "code_verifier", "state", "nonce"):
                if isinstance(params.get(key), str):
                    ledger.add("OAuth value", params[key], path)
        return
    for entry in json_lines(path):
        for text in strings_in(entry):
            # A code is in a message's words; a run of digits in an identifier or a
            # token (a bot's number, a JWT) is not one.
            if any(c.isspace() for c in text):
                for code in CODE_IN_TEXT.findall(text):
                    ledger.add("code", code, path)
            for phone in PHONE.findall(text):
                ledger.add_phone(phone, path)


def collect_typed(path, ledger):
    for line in read_text(path).splitlines():
        line = line.strip()
        if re.fullmatch(r"[0-9]{6,10}", line):
            ledger.add("typed code or PIN", line, path)
        elif RECOVERY.fullmatch(line.lower()):
            ledger.add("recovery code", line.lower(), path)
        elif PHONE.fullmatch(line):
            ledger.add_phone(line, path)


def collect_argv(path, ledger):
    args = read_text(path).splitlines()
    for i, arg in enumerate(args):
        if PHONE.fullmatch(arg.strip()):
            ledger.add_phone(arg, path)
        if i > 0 and args[i - 1] == "-b" and args and args[0].endswith("oathtool"):
            ledger.add("authenticator secret", arg, path)
    if len(args) >= 2 and "totp" in args and "confirm" in args:
        for arg in args:
            if re.fullmatch(r"[0-9]{6,8}", arg):
                ledger.add("typed code or PIN", arg, path)


def collect_shown(path, ledger):
    """What lwauthctl showed once on purpose: a new authenticator secret, recovery codes."""
    argv = argv_of(path)
    if not argv or not argv[0].endswith("lwauthctl"):
        return
    text = read_text(path)
    if "totp" in argv:
        for secret in OTPAUTH_SECRET.findall(text):
            ledger.add("authenticator secret", secret, path)
            ledger.add("authenticator secret", secret.upper(), path)
    if "recovery" in argv:
        for code in RECOVERY.findall(text):
            ledger.add("recovery code", code, path)
            ledger.add("recovery code", code.replace("-", ""), path)


def collect_policy(path, ledger):
    text = read_text(path)
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";")):
            continue
        for phone in PHONE.findall(line):
            ledger.add_phone(phone, path)
    secret_files = []
    for key, value in SECRET_KEYS.findall(text):
        secret = Path(value)
        if not secret.is_absolute() or not secret.is_file():
            continue
        secret_files.append(secret)
        collect_secret(secret, ledger)
    return secret_files


def collect_secret(path, ledger):
    """A secret file's content (of a PEM key, each line of its base64 body)."""
    content = read_text(path)
    if "PRIVATE KEY" in content:
        for line in content.splitlines():
            if not line.startswith("-----") and len(line) >= 32:
                ledger.add("secret", line, path)
    else:
        ledger.add("secret", content, path)


def collect_key(path, ledger):
    """One of lwauthd's keys: 32 random bytes."""
    try:
        raw = path.read_bytes()
    except OSError:
        return
    ledger.add("key", raw, path)
    ledger.add("key", raw.hex(), path)


def is_policy(path):
    return path.suffix == ".conf" and path.name != "bus.conf"


def is_state_key(path):
    return path.name in ("code.key", "contacts.key")


def is_secret_file(path):
    return path.parent.name == "secrets" or "secret" in path.name or path.suffix == ".key"


def device_of(path):
    """Which of the user's devices printed `path`: the test phone
    (tests/fakes/line_phone.py), which follows LINE's redirects with their codes, or the
    authenticator app (oathtool), which shows its codes; None for anything else."""
    argv = argv_of(path)
    if any(arg.endswith("line_phone.py") for arg in argv):
        return "phone"
    if argv and argv[0].endswith("oathtool"):
        return "app"
    return None


def files_under(root):
    """Regular files only: no link is followed (the tests make links to other places),
    and no FIFO is opened."""
    for parent, _dirs, names in os.walk(root):
        for name in sorted(names):
            path = Path(parent) / name
            try:
                if path.is_file() and not path.is_symlink():
                    yield path
            except OSError:
                continue


def collect(group):
    """The secrets of one test process and the files to search."""
    ledger = Ledger()
    files = list(files_under(group))
    skip = set()
    for path in files:
        if path.name in INPUT_NAMES:
            skip.add(path)
            if path.name == "argv":
                collect_argv(path, ledger)
            elif path.name in ("in", "answers"):
                collect_typed(path, ledger)
        elif is_outbox(path) or path.name in SINK_NAMES:
            skip.add(path)
            collect_deliveries(path, ledger)
        elif is_policy(path):
            skip.add(path)
            skip.update(collect_policy(path, ledger))
        elif is_state_key(path):
            skip.add(path)
            collect_key(path, ledger)
        elif path.parent.name == "pki":
            skip.add(path)  # the fakes' TLS certificates and keys, not lwauth's
        elif "slapd" in path.parent.parts:
            skip.add(path)  # the test's directory server: where the contacts come from
        elif is_secret_file(path):
            skip.add(path)
            collect_secret(path, ledger)
        elif device_of(path):
            skip.add(path)
            if device_of(path) == "app" and path.name == "out":
                for code in CODE_IN_TEXT.findall(read_text(path)):
                    ledger.add("authenticator code", code, path)
    for path in files:
        if path.name in ("out", "err") and path not in skip:
            collect_shown(path, ledger)
            if is_ssh_client_trace(path):
                collect_ssh_client_answers(path, ledger)
    return ledger, [p for p in files if p not in skip]


def is_ssh_client_trace(path):
    """The trace of the test's SSH client (tests/e2e/ssh_client.py): what sshd showed,
    which is searched, and lines "[ssh_client] answer ...: '<what it typed>'", which are
    the test's input."""
    return path.name == "err" and any(arg.endswith("ssh_client.py") for arg in argv_of(path))


SSH_CLIENT_ANSWER = re.compile(rb"^\[ssh_client\] answer[^\n]*\n?", re.M)


def collect_ssh_client_answers(path, ledger):
    for line in SSH_CLIENT_ANSWER.findall(path.read_bytes()):
        for code in CODE_IN_TEXT.findall(line.decode(errors="replace")):
            ledger.add("typed code or PIN", code, path)


def find(secrets, path):
    """The secrets in the file at `path`."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if is_ssh_client_trace(path):
        data = SSH_CLIENT_ANSWER.sub(b"", data)
    found = []
    numbers = set(DIGITS.findall(HEX.sub(b" ", data)))
    for secret in secrets:
        if path in secret.origins and not is_ssh_client_trace(path):
            continue
        if secret.value.isdigit():
            if secret.value in numbers:
                found.append(secret)
        elif secret.value in data:
            found.append(secret)
    return found


def report_name(group, root):
    test = group / "test"
    name = read_text(test).strip() if test.is_file() else ""
    return f"{group.relative_to(root)}" + (f" ({name})" if name else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("keep_dir", type=Path, help="the directory LWAUTH_TEST_KEEP named")
    ap.add_argument("--also", type=Path, action="append", default=[],
                    help="a file to search for every process's secrets (ctest's LastTest.log)")
    args = ap.parse_args()
    root = args.keep_dir
    if not root.is_dir():
        print(f"leak_audit: {root} is not a directory", file=sys.stderr)
        return 2
    groups = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    findings = []
    every = {}
    counts = {}
    files_searched = 0
    bytes_searched = 0
    for group in groups:
        ledger, files = collect(group)
        for secret in ledger.secrets():
            counts[secret.kind] = counts.get(secret.kind, 0) + 1
            every.setdefault(secret.value, secret)
        for path in files:
            files_searched += 1
            bytes_searched += path.stat().st_size
            for secret in find(ledger.secrets(), path):
                origin = sorted(str(o.relative_to(root)) if o.is_relative_to(root) else str(o)
                                for o in secret.origins)[0]
                findings.append(f"{path.relative_to(root)}: a {secret.kind} "
                                f"(from {origin}) in {report_name(group, root)}")
    for path in args.also:
        if not path.is_file():
            continue
        files_searched += 1
        bytes_searched += path.stat().st_size
        for secret in find(list(every.values()), path):
            findings.append(f"{path}: a {secret.kind} of the tests")
    for line in findings:
        print(f"LEAK {line}")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"
    print(f"leak_audit: {len(groups)} test processes, {files_searched} files "
          f"({bytes_searched // 1024} KiB) searched for their secrets ({kinds}): "
          f"{len(findings)} leak(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
