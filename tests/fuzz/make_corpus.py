#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ from lwauth's own inputs: the
shipped policy, the unit tests' policies, the answers the fake services of tests/fakes/
give (their documented wire formats, errors included) and ID tokens signed the way the
fake LINE Login signs them. Run it again after a fake or the shipped policy changes;
scripts/fuzz adds what the fuzzers find to a temporary copy, never here."""

import json
import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
import gateways  # noqa: E402
import line_login  # noqa: E402

OUT = ROOT / "tests" / "fuzz" / "corpus"


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def policies():
    write("policy", "shipped.conf", (ROOT / "etc/lwauth/lwauth.conf").read_bytes())
    n = 0
    for test in sorted((ROOT / "tests" / "unit").glob("*_test.cpp")):
        for text in re.findall(r'R"\((.*?)\)"', test.read_text(), re.S):
            if re.search(r"^\[[a-z_.:-]+\]", text, re.M) and n < 40:
                write("policy", f"{test.stem}-{n:02d}.conf", text)
                n += 1


def policy_dictionary():
    """tests/fuzz/policy.dict: every section and key the shipped policy names."""
    text = (ROOT / "etc/lwauth/lwauth.conf").read_text()
    words = sorted(set(re.findall(r"^#?\s*(\[[a-z_.:-]+\])", text, re.M)) |
                   {w + " =" for w in re.findall(r"^#?([a-z_0-9]+) =", text, re.M)})
    lines = ["# Sections and keys of etc/lwauth/lwauth.conf (tests/fuzz/make_corpus.py)"]
    lines += [json.dumps(w) for w in words]
    (ROOT / "tests" / "fuzz" / "policy.dict").write_text("\n".join(lines) + "\n")


def gateway(name, gid, status, body, flags=0):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    write("gateways", name, struct.pack(">BHB", gid, status, flags) + raw)


def gateway_replies():
    gateway("twilio-201", 0, 201, {"sid": "SM" + "0" * 32, "status": "queued",
                                   "error_code": None, "to": "+819012345678"})
    for code in (20429, 21211, 21408, 21610, 21612, 21614, 20003):
        e = gateways.twilio_error(code, to="+819012345678")
        gateway(f"twilio-{code}", 0, e.status, e.body)
    gateway("vonage-0", 1, 200, {"message-count": "1", "messages": [
        {"to": "819012345678", "message-id": "0A0000000123ABCD", "status": "0",
         "remaining-balance": "15.53590000", "message-price": "0.03330000", "network": "23410"}]})
    for status in (1, 2, 4, 5, 9, 15, 29):
        e = gateways.vonage_error(status)
        gateway(f"vonage-{status}", 1, e.status, e.body)
    gateway("line-200", 2, 200, {"sentMessages": [{"id": "461230966842064897",
                                                   "quoteToken": "IStG5h1Tz7b"}]})
    gateway("line-token", 2, 200, {"access_token": "a" * 43, "expires_in": 2592000,
                                   "id_token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
                                   "scope": "openid", "token_type": "Bearer"})
    gateway("line-invalid-grant", 2, 400, {"error": "invalid_grant",
                                           "error_description": "invalid authorization code"})
    for status in (400, 401, 403, 409, 429, 500):
        e = gateways.line_error(status)
        gateway(f"line-{status}", 2, e.status, e.body)
    gateway("lineworks-token", 3, 200, {"access_token": "kr1AAA" + "b" * 43,
                                        "refresh_token": "kr1AAA" + "c" * 43,
                                        "scope": "bot.message", "token_type": "Bearer",
                                        "expires_in": "86400"})
    gateway("lineworks-201", 3, 201, b"")
    for error in ("invalid_client", "invalid_scope", "invalid_grant"):
        e = gateways.oauth_error(error, "refused")
        gateway(f"lineworks-{error}", 3, e.status, e.body)
    e = gateways.lineworks_error(403, "The access token has expired", "UNAUTHORIZED")
    gateway("lineworks-403", 3, e.status, e.body)
    gateway("webhook-204", 4, 204, b"")
    gateway("webhook-503", 4, 503, b"busy", 0)
    gateway("smtp-250", 5, 250, b"", 2)
    gateway("smtp-550", 5, 550, b"", 4)
    gateway("smtp-timeout", 5, 0, b"", 3)


def id_tokens():
    now = 1700000000  # the fuzz target's clock (jose_fuzz.cpp)
    claims = {"iss": "https://access.line.me", "sub": "U" + "4af4980629" * 3 + "ab",
              "aud": "1234567890", "exp": now + 3600, "iat": now, "nonce": "n-0S6_WzA2Mj",
              "auth_time": now, "amr": ["linesso"]}
    hs = line_login.jws({"typ": "JWT", "alg": "HS256"}, claims,
                        line_login.hs256(b"0123456789abcdef0123456789abcdef"))
    write("jose", "hs256", "H" + json.dumps({"keys": []}) + "\n" + hs)
    keys = line_login.SigningKeys()
    kid, key = keys.current()
    jwks = json.dumps(keys.jwks())
    es = line_login.jws({"typ": "JWT", "alg": "ES256", "kid": kid}, claims,
                        line_login.es256(key))
    write("jose", "es256", "E" + jwks + "\n" + es)
    write("jose", "es256-alg-none", "E" + jwks + "\n" +
          line_login.jws({"typ": "JWT", "alg": "none"}, claims, None))
    write("jose", "es256-wrong-sig", "E" + jwks + "\n" +
          line_login.jws({"typ": "JWT", "alg": "ES256", "kid": kid}, claims,
                         line_login.flipped(line_login.es256(key))))


def line_requests():
    write("line_callback", "link", "l\nja,en-US;q=0.9,en;q=0.8\nk=\1")
    write("line_callback", "link-head", "l HEAD\nen\nk=\1")
    write("line_callback", "link-unknown", "l\n\nk=AAAAAAAAAAAAAAAAAAAAAB")
    opened = "l\nen\nk=\1\n--\n"
    write("line_callback", "callback", opened + "c\nen-GB;q=0.5, *;q=0.1\nstate=\2\ncode=abc")
    write("line_callback", "callback-denied", opened + "c\nja\nstate=\2\nerror=ACCESS_DENIED")
    write("line_callback", "callback-error", opened + "c\n\nstate=\2\nerror=SERVER_ERROR")
    write("line_callback", "callback-twice", opened + "c\n\nstate=\2\ncode=a\n--\nc\n\nstate=\2\ncode=a")
    write("line_callback", "callback-unknown", "c\n\nstate=x\ncode=abc")
    write("line_callback", "confirm", "f\nja;q=0.1\nconfirm=\3\nnumber=10")


def others():
    write("pam_args", "usual", "mode=second_factor\nfailmode=secure\ntimeout=30")
    write("pam_args", "primary", "mode=primary\nfailmode=safe\ndebug\ntimeout=3600")
    write("pam_args", "bad", "timeout=0\nmode=other")
    # Bytes: the engine's and the bus codec's inputs are FuzzedDataProvider programs.
    # FuzzedDataProvider takes strings from the front, integers and booleans from the back:
    # the SMS channel works, mode=second_factor, the user taro, then the latest code (0x01)
    # from the login's own bus client.
    write("engine", "right-code", b"\x01\\ \x01\x01\x00\x00")
    # The right code with a vertical tab after it, which the engine trims: a success.
    write("engine", "right-code-spaced", b"328608\x0b\\a\x07!\x000")
    write("engine", "answers", b"\x01\x00r\x00000000\x00\x01\x00\x02\x10" + b"\x01" * 8)
    write("engine", "wrong", b"123456\x00654321\x00999999\x00r\x00\xff\xfe\x03")
    write("bus_codec", "step", b"verdict\x00id\x00prompt\x00hello\x00" + b"\x01\x00")
    write("bus_codec", "raw", b"\x06a{sv}\x07s\x00\x01" + b"\x08" * 4 + b"\x02\x03")


if __name__ == "__main__":
    policies()
    policy_dictionary()
    gateway_replies()
    id_tokens()
    line_requests()
    others()
