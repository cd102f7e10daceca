#!/usr/bin/python3
"""tests/leak_audit.py finds each kind of secret where it leaked, names the file and the
kind without printing the secret, and passes what the tests leave when nothing leaked."""

import json
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

AUDIT = Path(__file__).resolve().parent / "leak_audit.py"
CODE = "604172"
PHONE = "+81 90 3141 5926"
PIN = "730518"
SECRET = "k7Qm2ZxV9pL4wR8tN3yB6cH1"
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DP"
RECOVERY = "ab2c-de3f-gh4i"


def write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


class LeakAudit(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="lwauth-leak-audit.")
        self.root = Path(self.tmp.name)
        self.group = self.root / "4242"
        g = self.group
        write(g / "test", "Suite.Name\n")
        test = g / "lwauth-test.abc123"
        write(test / "outbox.jsonl", json.dumps({
            "channel": "sms", "kind": "login", "user": "alice",
            "destination": PHONE.replace(" ", ""),
            "text": f"Your verification code is {CODE}."}) + "\n")
        write(test / "secrets" / "hook", SECRET + "\n", 0o600)
        write(test / "etc" / "lwauth.conf",
              f"[channel.hook]\ntype = webhook\nhmac_secret_file = {test}/secrets/hook\n")
        write(test / "state" / "code.key", "", 0o600)
        (test / "state" / "code.key").write_bytes(bytes(range(7, 39)))
        # A clean state database and log: the masked number, a code's hash, times.
        db = sqlite3.connect(test / "state" / "lwauth.db")
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('+81 •• •••• 5926'), ('1764835200'), ('f00d')")
        db.commit()
        db.close()
        write(test / "lwauthd.log",
              "lwauthd: info: code sent [event=code-sent user=alice destination=+81 •• •••• 5926"
              " at=1604172999]\n")
        # lwauthctl as run() keeps it: its arguments, what was typed, what it printed.
        run = g / "lwauth-run.def456"
        write(run / "argv", f"/build/lwauthctl\ncontact\nadd\nphone\n{PHONE}\n")
        write(run / "in", f"{CODE}\n{PIN}\n")
        write(run / "out", "Your phone +81 •• •••• 5926 is verified.\n")
        write(run / "err", "")
        totp = g / "lwauth-run.ghi789"
        write(totp / "argv", "/build/lwauthctl\ntotp\nadd\n")
        write(totp / "in", "")
        write(totp / "out", f"  otpauth://totp/lwauth:alice?secret={TOTP}&issuer=lwauth\n")
        rec = g / "lwauth-run.jkl012"
        write(rec / "argv", "/build/lwauthctl\nrecovery\ngenerate\n")
        write(rec / "in", "")
        write(rec / "out", f"Recovery codes:\n\n  {RECOVERY}\n")

    def tearDown(self):
        self.tmp.cleanup()

    def audit(self, *extra):
        return subprocess.run(["/usr/bin/python3", str(AUDIT), str(self.root), *extra],
                              capture_output=True, text=True, timeout=60)

    def assert_leak(self, text, path_part, kind, secret):
        self.assertIn(f"{path_part}: a {kind}", text)
        self.assertNotIn(secret, text)

    def test_passes_when_each_secret_is_only_where_it_belongs(self):
        r = self.audit()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 leak(s)", r.stdout)
        for kind in ("code", "phone number", "secret", "key", "typed code or PIN",
                     "authenticator secret", "recovery code"):
            self.assertIn(kind, r.stdout)

    def test_finds_a_code_in_the_log(self):
        with open(self.group / "lwauth-test.abc123" / "lwauthd.log", "a") as f:
            f.write(f"lwauthd: debug: answer {CODE} [event=x]\n")
        r = self.audit()
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "lwauthd.log", "code", CODE)
        self.assertIn("(Suite.Name)", r.stdout)

    def test_finds_a_full_phone_number_in_the_database(self):
        db = sqlite3.connect(self.group / "lwauth-test.abc123" / "state" / "lwauth.db")
        db.execute("INSERT INTO t VALUES (?)", ("819031415926",))
        db.commit()
        db.close()
        r = self.audit()
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "lwauth.db", "phone number", "819031415926")

    def test_finds_a_typed_pin_in_command_output(self):
        write(self.group / "lwauth-run.def456" / "err", f"bad PIN {PIN}\n")
        r = self.audit()
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "lwauth-run.def456/err", "typed code or PIN", PIN)

    def test_finds_a_secret_file_and_a_key_in_the_log(self):
        log = self.group / "lwauth-test.abc123" / "lwauthd.log"
        with open(log, "a") as f:
            f.write(f"signing with {SECRET} key {bytes(range(7, 39)).hex()}\n")
        r = self.audit()
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "lwauthd.log", "secret", SECRET)
        self.assert_leak(r.stdout, "lwauthd.log", "key", bytes(range(7, 39)).hex())

    def test_finds_shown_once_secrets_outside_their_output(self):
        write(self.group / "lwauth-test.abc123" / "conversation",
              f"{TOTP}\n{RECOVERY}\n")
        r = self.audit()
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "conversation", "authenticator secret", TOTP)
        self.assert_leak(r.stdout, "conversation", "recovery code", RECOVERY)

    def test_the_authenticator_apps_codes_belong_to_its_output(self):
        app = self.group / "lwauth-run.mno345"
        write(app / "argv", f"/usr/bin/oathtool\n--totp\n-b\n{TOTP}\n")
        write(app / "in", "")
        write(app / "out", "281904\n")
        self.assertEqual(self.audit().returncode, 0)
        write(self.group / "lwauth-test.abc123" / "conversation", "code 281904?\n")
        r = self.audit()
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "conversation", "authenticator code", "281904")

    def test_the_ssh_clients_answers_are_input_and_the_rest_of_its_trace_is_searched(self):
        ssh = self.group / "lwauth-run.pqr678"
        write(ssh / "argv", "/usr/bin/python3\n/src/tests/e2e/ssh_client.py\n--user\nalice\n")
        write(ssh / "in", "")
        write(ssh / "out", "")
        write(ssh / "err", "[ssh_client] prompt (echo=False): 'Verification code: '\n"
                           f"[ssh_client] answer (code, mode=right): '{CODE}'\n")
        self.assertEqual(self.audit().returncode, 0)
        with open(ssh / "err", "a") as f:
            f.write(f"[ssh_client] prompt (echo=False): 'Code {CODE} was wrong'\n")
        r = self.audit()
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "lwauth-run.pqr678/err", "code", CODE)

    def test_a_code_inside_a_longer_number_is_no_leak(self):
        # at=1604172999 in the clean log holds the code's digits inside a longer number.
        r = self.audit()
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_a_code_inside_a_hexadecimal_address_is_no_leak(self):
        # A sanitizer's or debugger's stack frame: the code's digits between hex letters.
        log = self.root / "LastTest.log"
        write(log, f"    #14 0x55565e{CODE} in testing::Test::Run()\n")
        r = self.audit("--also", str(log))
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_searches_the_also_files_for_every_process(self):
        log = self.root / "LastTest.log"
        write(log, f"[ RUN ] Suite.Name\nsent {PHONE}\n")
        r = self.audit("--also", str(log))
        self.assertEqual(r.returncode, 1)
        self.assert_leak(r.stdout, "LastTest.log", "phone number", PHONE)


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=sys.argv[:1])
