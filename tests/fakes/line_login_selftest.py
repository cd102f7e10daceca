#!/usr/bin/python3
"""Self-test of the LINE Login fake (line_login.py) and the test phone (line_phone.py).

Makes a test PKI with make_test_pki.sh, starts line_login.py over TLS, and drives it
through its wire format only: a stand-in relying party (plain HTTP on loopback, in this
process) serves a short link, the callback and a confirmation page, as lwauthd will; the
phone follows the link and picks a number; tokens are exchanged with urllib and the ID
tokens verified with python3-cryptography against the channel secret and the JWKS.
Prints one line per failed check and a final "N passed, M failed"; exits 0 only when
every check passed.
"""
import hashlib
import hmac
import json
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gateways  # noqa: E402
import line_phone  # noqa: E402
import selftest as st  # noqa: E402  (check, Resp, start_listening, b64u)
from selftest import check  # noqa: E402

CHANNEL, SECRET = "1234567890", "0123456789abcdef0123456789abcdef"  # line_login.py defaults
ES_CHANNEL, ES_SECRET = "2000000001", "es256-channel-secret"
DEFAULT_SUB = "Ua1b2c3d4e5f60718293a4b5c6d7e8f90"
OTHER_SUB = "U" + "f" * 32


def s256(verifier):
    return st.b64u(hashlib.sha256(verifier.encode()).digest())


# ------------------------------------------------------------------ relying party

class RelyingParty:
    """Stands in for lwauthd's endpoint: /l/TOKEN redirects to an authorize URL,
    /cb records the callback and shows a confirmation page, /confirm records the pick."""

    def __init__(self):
        self.links, self.callbacks, self.picks = {}, [], []
        rp = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path.startswith("/l/") and url.path[3:] in rp.links:
                    return self.reply(302, headers=[("Location", rp.links.pop(url.path[3:]))])
                if url.path == "/cb":
                    q = dict(urllib.parse.parse_qsl(url.query))
                    rp.callbacks.append(q)
                    if "code" not in q:
                        return self.reply(200, b"<p>LINE refused the login.</p>")
                    buttons = "".join(f'<button name="number" value="{n}">{n}</button>'
                                      for n in (17, 42, 86))
                    page = (f'<form method="post" action="/confirm"><input type="hidden" '
                            f'name="csrf" value="T-{len(rp.callbacks)}">{buttons}</form>')
                    return self.reply(200, page.encode(),
                                      [("Set-Cookie", "s=1; Path=/; HttpOnly")])
                self.reply(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rp.picks.append({**dict(urllib.parse.parse_qsl(body.decode())),
                                 "cookie": self.headers.get("Cookie")})
                self.reply(200, b"<p>Thank you.</p>")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.callback = self.base + "/cb"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def link(self, authorize_url):
        token = secrets.token_urlsafe(8)
        self.links[token] = authorize_url
        return f"{self.base}/l/{token}"


# ------------------------------------------------------------------ the fake

class Fake:
    def __init__(self, pki, state, *extra):
        self.proc, self.port = st.start_listening(
            [sys.executable, str(HERE / "line_login.py"), "--cert", f"{pki}/server.pem",
             "--key", f"{pki}/server.key", "--state-dir", str(state), *extra])
        self.base = f"https://127.0.0.1:{self.port}"
        self.ca = f"{pki}/ca.pem"
        self.ctx = ssl.create_default_context(cafile=self.ca)

    def call(self, path, data=None, headers=None, timeout=5):
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                return st.Resp(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return st.Resp(e.code, e.headers, e.read())

    def control(self, **body):
        r = self.call("/_control", json.dumps(body).encode(),
                      {"Content-Type": "application/json"})
        assert r.status == 200, r
        return r.json

    def token(self, form, timeout=5):
        return self.call("/oauth2/v2.1/token", urllib.parse.urlencode(form).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded"}, timeout)

    def jwks(self):
        return self.call("/oauth2/v2.1/certs").json

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)


class Login:
    """One authorization request: its parameters and the verifier behind the challenge."""

    def __init__(self, fake, rp, client_id=CHANNEL, secret=SECRET, **over):
        self.fake, self.rp, self.secret = fake, rp, secret
        self.verifier = secrets.token_urlsafe(48)
        self.params = {"response_type": "code", "client_id": client_id,
                       "redirect_uri": rp.callback, "state": secrets.token_urlsafe(16),
                       "scope": "openid", "nonce": secrets.token_urlsafe(16),
                       "code_challenge": s256(self.verifier), "code_challenge_method": "S256"}
        self.params.update(over)
        self.params = {k: v for k, v in self.params.items() if v is not None}

    def url(self):
        return f"{self.fake.base}/oauth2/v2.1/authorize?{urllib.parse.urlencode(self.params)}"

    def authorize(self):
        """The fake's single answer (no redirect followed); (page, callback query)."""
        page = line_phone.Phone(self.fake.ca, max_hops=0).open(self.url())
        location = page.headers.get("Location", "")
        return page, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

    def code(self):
        page, q = self.authorize()
        assert page.status == 302 and "code" in q, (page.status, q)
        return q["code"]

    def exchange(self, code, **over):
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.params["redirect_uri"], "client_id": self.params["client_id"],
                "client_secret": self.secret, "code_verifier": self.verifier, **over}
        return self.fake.token({k: v for k, v in form.items() if v is not None})


# ------------------------------------------------------------------ JWS checks

def parts(token):
    h, c, s = token.split(".")
    return (json.loads(gateways.b64url_decode(h)), json.loads(gateways.b64url_decode(c)),
            gateways.b64url_decode(s))


def hs256_ok(token, secret):
    signing_input, _, sig = token.rpartition(".")
    want = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(want, gateways.b64url_decode(sig))


def es256_ok(token, jwks):
    header, _, sig = parts(token)
    keys = [k for k in jwks["keys"] if k["kid"] == header.get("kid")]
    if not keys or len(sig) != 64:
        return False
    x, y = (int.from_bytes(gateways.b64url_decode(keys[0][c]), "big") for c in ("x", "y"))
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        key.verify(der, token.rpartition(".")[0].encode(), ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):  # ValueError: not a point of P-256
        return False


def grant_error(name, resp, error, status=400):
    j = resp.json or {}
    check(name, resp.status == status and j.get("error") == error
          and isinstance(j.get("error_description"), str), resp)


# ------------------------------------------------------------------ tests

def test_phone_flow(fake, rp):
    login = Login(fake, rp)
    phone = line_phone.Phone(fake.ca)
    page = phone.open(rp.link(login.url()))
    check("phone: three hops to the confirmation page",
          [h["status"] for h in page.hops] == [302, 302, 200] and page.status == 200, page.hops)
    cb = rp.callbacks[-1]
    check("callback has code and state", set(cb) == {"code", "state"}
          and cb["state"] == login.params["state"] and len(cb["code"]) == 20, cb)
    done = phone.pick(page, 42)
    pick = rp.picks[-1]
    check("phone: picked number posted", done.status == 200 and pick.get("number") == "42"
          and pick.get("csrf") == f"T-{len(rp.callbacks)}" and pick.get("cookie") == "s=1", pick)
    out = subprocess.run([sys.executable, str(HERE / "line_phone.py"),
                          rp.link(Login(fake, rp).url()), "--ca-file", fake.ca, "--pick", "86"],
                         capture_output=True, text=True, timeout=30)
    check("phone CLI", out.returncode == 0 and json.loads(out.stdout)["status"] == 200
          and rp.picks[-1].get("number") == "86", out.stdout + out.stderr)

    r = login.exchange(cb["code"])
    j = r.json or {}
    check("token 200", r.status == 200 and set(j) == {"access_token", "expires_in", "id_token",
                                                      "refresh_token", "scope", "token_type"}
          and j["token_type"] == "Bearer" and j["expires_in"] == 2592000
          and j["scope"] == "openid" and r.headers.get("x-line-request-id"), r)
    header, claims, _ = parts(j["id_token"])
    check("HS256 verifies with the channel secret", header == {"typ": "JWT", "alg": "HS256"}
          and hs256_ok(j["id_token"], SECRET.encode()), header)
    now = time.time()
    check("ID token claims", claims.get("iss") == "https://access.line.me"
          and claims.get("sub") == DEFAULT_SUB and claims.get("aud") == CHANNEL
          and claims.get("nonce") == login.params["nonce"] and claims.get("amr") == ["pwd"]
          and abs(claims.get("iat", 0) - now) < 5 and claims.get("exp", 0) - claims["iat"] == 3600
          and "auth_time" not in claims, claims)
    grant_error("code is single use", login.exchange(cb["code"]), "invalid_grant")


def test_token_checks(fake, rp):
    rfc = Login(fake, rp, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    rfc.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    check("S256 of RFC 7636 appendix B", rfc.exchange(rfc.code()).status == 200)
    login = Login(fake, rp)
    grant_error("wrong code_verifier", login.exchange(login.code(), code_verifier="A" * 43),
                "invalid_grant")
    grant_error("code_verifier 42 chars", login.exchange(login.code(), code_verifier="A" * 42),
                "invalid_request")
    grant_error("code_verifier 129 chars", login.exchange(login.code(), code_verifier="A" * 129),
                "invalid_request")
    grant_error("no code_verifier", login.exchange(login.code(), code_verifier=None),
                "invalid_request")
    code = login.code()
    grant_error("redirect_uri mismatch", login.exchange(code, redirect_uri=rp.callback + "x"),
                "invalid_grant")
    grant_error("code burnt by the failed attempt", login.exchange(code), "invalid_grant")
    grant_error("wrong client_secret", login.exchange(login.code(), client_secret="nope"),
                "invalid_client", 401)
    grant_error("unknown client_id", login.exchange(login.code(), client_id="999"),
                "invalid_client", 401)
    grant_error("other channel's code", Login(fake, rp, ES_CHANNEL, ES_SECRET)
                .exchange(login.code()), "invalid_grant")
    grant_error("grant_type", login.exchange(login.code(), grant_type="refresh_token"),
                "unsupported_grant_type")
    grant_error("no code", login.exchange(None), "invalid_request")
    grant_error("unknown code", login.exchange("x" * 20), "invalid_grant")
    r = fake.call("/oauth2/v2.1/token", json.dumps({"grant_type": "authorization_code"}).encode(),
                  {"Content-Type": "application/json"})
    grant_error("JSON body refused", r, "invalid_request")
    code = login.code()
    fake.control(action="expire_codes")
    grant_error("expired code", login.exchange(code), "invalid_grant")
    check("a new code works after expire_codes", login.exchange(login.code()).status == 200)
    check("GET token is 405", fake.call("/oauth2/v2.1/token").status == 405)


def test_short_code_lifetime(pki, tmp, rp):
    fake = Fake(pki, Path(tmp) / "state-life", "--code-lifetime", "0.5",
                "--redirect-uri", rp.callback)
    try:
        login = Login(fake, rp)
        code = login.code()
        time.sleep(0.7)
        grant_error("code older than --code-lifetime", login.exchange(code), "invalid_grant")
        check("a fresh code is fine", login.exchange(login.code()).status == 200)
    finally:
        check("clean exit (lifetime)", fake.stop() == 0)


def test_authorize_checks(fake, rp):
    def error(name, want, **over):
        login = Login(fake, rp, **over)
        page, q = login.authorize()
        check(name, page.status == 302 and q.get("error") == want
              and q.get("state") == login.params.get("state") and "code" not in q
              and page.headers["Location"].startswith(rp.callback + "?"), (page.status, q))
    error("response_type token", "UNSUPPORTED_RESPONSE_TYPE", response_type="token")
    error("scope without openid", "INVALID_SCOPE", scope="profile")
    error("unknown scope", "INVALID_SCOPE", scope="openid friends")
    error("no nonce", "INVALID_REQUEST", nonce=None)
    error("PKCE plain", "INVALID_REQUEST", code_challenge_method="plain")
    error("no code_challenge", "INVALID_REQUEST", code_challenge=None)
    error("bad max_age", "INVALID_REQUEST", max_age="soon")
    error("no state", "INVALID_REQUEST", state=None)
    for name, over in (("unknown client_id", {"client_id": "999"}),
                       ("unregistered redirect_uri", {"redirect_uri": rp.callback + "/other"}),
                       ("redirect_uri prefix only", {"redirect_uri": rp.base + "/c"}),
                       ("no redirect_uri", {"redirect_uri": None})):
        page, _ = Login(fake, rp, **over).authorize()
        check(f"{name}: error page, no redirect", page.status == 400
              and "Location" not in page.headers
              and page.headers.get("Content-Type", "").startswith("text/html"), page.status)
    page, q = Login(fake, rp, scope="openid profile", max_age="600", bot_prompt="normal",
                    ui_locales="ja").authorize()
    check("bot_prompt adds friendship_status_changed", q.get("friendship_status_changed")
          == "false" and "code" in q, q)


def test_decisions(fake, rp):
    login = Login(fake, rp)
    fake.control(service="authorize", mode="deny")
    page, q = login.authorize()
    check("deny: ACCESS_DENIED redirect", q == {"error": "ACCESS_DENIED", "state":
          login.params["state"], "error_description": "The resource owner denied the request."}, q)
    fake.control(service="authorize", mode="error", error="SERVER_ERROR",
                 error_description="try later")
    check("error: SERVER_ERROR", login.authorize()[1].get("error") == "SERVER_ERROR")
    check("decisions used up", "code" in login.authorize()[1])
    fake.control(service="authorize", mode="approve", sub=OTHER_SUB, amr=["lineqr"],
                 auth_age=120, count=2)
    for i in (1, 2):
        login = Login(fake, rp, max_age="60")
        claims = parts(login.exchange(login.code()).json["id_token"])[1]
        check(f"approve as another sub #{i}", claims["sub"] == OTHER_SUB
              and claims["amr"] == ["lineqr"]
              and abs(claims["auth_time"] - (time.time() - 120)) < 5, claims)
    login = Login(fake, rp)
    check("back to the default sub", parts(login.exchange(login.code()).json["id_token"])[1]
          ["sub"] == DEFAULT_SUB)
    fake.control(service="authorize", mode="approve", amr=None)
    login = Login(fake, rp)
    check("amr null omits amr", "amr" not in parts(login.exchange(login.code())
                                                   .json["id_token"])[1])
    fake.control(service="authorize", mode="deny")
    page = line_phone.Phone(fake.ca).open(rp.link(Login(fake, rp).url()))
    check("phone sees the refusal page", page.status == 200 and "refused" in page.text()
          and rp.callbacks[-1]["error"] == "ACCESS_DENIED", page.hops)


def test_es256(fake, rp):
    jwks = fake.jwks()
    key = jwks["keys"][0] if jwks.get("keys") else {}
    check("JWKS shape", len(jwks["keys"]) == 1 and set(key) == {"kid", "kty", "alg", "use",
                                                                "crv", "x", "y"}
          and (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
          and len(gateways.b64url_decode(key["x"])) == 32, jwks)
    login = Login(fake, rp, ES_CHANNEL, ES_SECRET)
    token = login.exchange(login.code()).json["id_token"]
    header, claims, _ = parts(token)
    check("ES256 verifies with the JWKS", header == {"typ": "JWT", "alg": "ES256",
                                                     "kid": key["kid"]}
          and es256_ok(token, jwks) and claims["aud"] == ES_CHANNEL, header)
    fake.control(action="rotate_key")
    jwks2 = fake.jwks()
    token = login.exchange(login.code()).json["id_token"]
    check("rotate_key: two keys, the new one signs", len(jwks2["keys"]) == 2
          and parts(token)[0]["kid"] == jwks2["keys"][1]["kid"] and es256_ok(token, jwks2)
          and not es256_ok(token, jwks), jwks2)


def faulty(fake, rp, mode, channel=(CHANNEL, SECRET)):
    fake.control(service="token", mode=mode)
    login = Login(fake, rp, *channel)
    r = login.exchange(login.code())
    return login, r.json["id_token"]


def test_id_token_faults(fake, rp):
    jwks = fake.jwks()
    _, token = faulty(fake, rp, "bad_signature")
    check("bad_signature", not hs256_ok(token, SECRET.encode()))
    _, token = faulty(fake, rp, "bad_signature", (ES_CHANNEL, ES_SECRET))
    check("bad_signature ES256", not es256_ok(token, jwks) and parts(token)[0]["kid"])
    for mode, test in (("wrong_iss", lambda c, l: c["iss"] != "https://access.line.me"),
                       ("wrong_aud", lambda c, l: c["aud"] != CHANNEL),
                       ("wrong_nonce", lambda c, l: c["nonce"] != l.params["nonce"]),
                       ("no_nonce", lambda c, l: "nonce" not in c),
                       ("expired", lambda c, l: c["exp"] < time.time()),
                       ("iat_future", lambda c, l: c["iat"] > time.time() + 60),
                       ("oversized", lambda c, l: len(c["padding"]) >= 65536)):
        login, token = faulty(fake, rp, mode)
        check(f"{mode}: claim wrong, signature right", test(parts(token)[1], login)
              and hs256_ok(token, SECRET.encode()), parts(token)[1])
    login, token = faulty(fake, rp, "old_auth_time")
    check("old_auth_time", "auth_time" in parts(token)[1]
          and parts(token)[1]["auth_time"] < time.time() - 3600)
    _, token = faulty(fake, rp, "alg_none")
    check("alg_none", parts(token)[0]["alg"] == "none" and token.endswith("."))
    _, token = faulty(fake, rp, "alg_swap")
    check("alg_swap on an HS256 channel: ES256 by the JWKS", parts(token)[0]["alg"] == "ES256"
          and es256_ok(token, jwks))
    _, token = faulty(fake, rp, "alg_swap", (ES_CHANNEL, ES_SECRET))
    check("alg_swap on an ES256 channel: HS256 by the secret", parts(token)[0]["alg"] == "HS256"
          and hs256_ok(token, ES_SECRET.encode()))
    _, token = faulty(fake, rp, "unknown_kid", (ES_CHANNEL, ES_SECRET))
    check("unknown_kid", parts(token)[0]["kid"] not in [k["kid"] for k in jwks["keys"]])
    _, token = faulty(fake, rp, "no_kid", (ES_CHANNEL, ES_SECRET))
    check("no_kid", "kid" not in parts(token)[0])
    _, token = faulty(fake, rp, "hs256_public_key", (ES_CHANNEL, ES_SECRET))
    check("hs256_public_key", parts(token)[0]["alg"] == "HS256"
          and not hs256_ok(token, ES_SECRET.encode()))
    login = Login(fake, rp)
    check("faults used up", hs256_ok(login.exchange(login.code()).json["id_token"],
                                     SECRET.encode()))


def test_transport_faults(fake, rp):
    login = Login(fake, rp)
    fake.control(service="token", mode="500")
    r = login.exchange(login.code())
    check("token 500", r.status == 500 and r.json.get("error") == "server_error", r)
    fake.control(service="token", mode="garbage")
    r = login.exchange(login.code())
    check("token garbage", r.status == 200 and r.json is None, r)
    fake.control(service="token", mode="429")
    check("token 429", login.exchange(login.code()).status == 429)
    fake.control(service="token", mode="slow:400")
    t0 = time.monotonic()
    r = login.exchange(login.code())
    check("token slow", r.status == 200 and time.monotonic() - t0 >= 0.4, r)
    fake.control(service="token", mode="timeout")
    try:
        r = fake.token({"grant_type": "authorization_code"}, timeout=1)
        check("token timeout", False, f"answered {r}")
    except (OSError, urllib.error.URLError) as e:
        check("token timeout", "timed out" in str(e), repr(e))
    fake.control(service="certs", mode="500")
    check("certs 500", fake.call("/oauth2/v2.1/certs").status == 500)
    fake.control(service="authorize", mode="slow:300")
    t0 = time.monotonic()
    check("authorize slow", "code" in login.authorize()[1] and time.monotonic() - t0 >= 0.3)
    fake.control(service="token", mode="500", count=0)
    fake.control(reset=True, service="token")
    check("reset", login.exchange(login.code()).status == 200)


def test_control_and_journal(fake, rp, state):
    bad = [{"service": "token", "mode": "nope"}, {"service": "certs", "mode": "expired"},
           {"service": "authorize", "mode": "error", "error": "access_denied"},
           {"service": "nope", "mode": "500"}, {"service": "token", "mode": "500", "count": -1},
           {"action": "channel", "channel_id": "1", "channel_secret": "s",
            "id_token_alg": "RS256"}, {"action": "channel", "channel_id": "1"}, {}]
    for body in bad:
        r = fake.call("/_control", json.dumps(body).encode(), {"Content-Type": "application/json"})
        check(f"control refuses {body}", r.status == 400 and "error" in (r.json or {}), r)
    s = fake.call("/_control").json
    check("control state", s["channels"][ES_CHANNEL]["id_token_alg"] == "ES256"
          and s["codes"]["issued"] >= s["codes"]["used"] > 0 and len(s["kids"]) == 2, s)
    entries = [json.loads(x) for x in (state / "requests.jsonl").read_text().splitlines()]
    services = {e["service"] for e in entries}
    check("journal", services == {"authorize", "token", "certs"}
          and all(e["path"].startswith("/oauth2/v2.1/") for e in entries)
          and any(e["fault"] == "timeout" and e["status"] is None for e in entries)
          and any(e["service"] == "authorize" and e["params"].get("scope") == "openid"
                  for e in entries), services)


def main():
    with tempfile.TemporaryDirectory(prefix="lwauth-line-fake-") as tmp:
        pki, state = Path(tmp) / "pki", Path(tmp) / "state"
        subprocess.run([str(HERE / "make_test_pki.sh"), str(pki)], check=True)
        rp = RelyingParty()
        fake = Fake(pki, state, "--redirect-uri", rp.callback, "--hang-seconds", "2")
        try:
            fake.control(action="channel", channel_id=ES_CHANNEL, channel_secret=ES_SECRET,
                         redirect_uris=[rp.callback], id_token_alg="ES256")
            test_phone_flow(fake, rp)
            test_token_checks(fake, rp)
            test_authorize_checks(fake, rp)
            test_decisions(fake, rp)
            test_es256(fake, rp)
            test_id_token_faults(fake, rp)
            test_transport_faults(fake, rp)
            test_control_and_journal(fake, rp, state)
        finally:
            check("clean exit", fake.stop() == 0)
        test_short_code_lifetime(pki, tmp, rp)
    print(f"{st.passed} passed, {len(st.failures)} failed")
    return 1 if st.failures else 0


if __name__ == "__main__":
    sys.exit(main())
