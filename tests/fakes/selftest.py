#!/usr/bin/python3
"""Self-test of the gateway fakes.

Makes a test PKI with make_test_pki.sh in a temporary directory, starts gateways.py
with it and talks to every endpoint with urllib, verifying TLS against the test CA.
Prints one line per failed check and a final "N passed, M failed"; exits 0 only when
every check passed.
"""
import base64
import hashlib
import hmac
import json
import select
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The defaults of gateways.py.
TWILIO_SID, TWILIO_TOKEN = "AC" + "a" * 32, "twilio-test-token"
VONAGE_KEY, VONAGE_SECRET = "abcd1234", "Vq7tK2pX9mWz4RbN"
LW_ID, LW_SECRET, LW_SA, LW_BOT = ("lw-test-client-id", "lw-test-client-secret",
                                   "test.serviceaccount@example", "2000001")
LINE_TOKEN, WEBHOOK_SECRET = "line-test-channel-token", "webhook-test-secret"
LINE_USER = "U0123456789abcdef0123456789abcdef"
LW_USER_ID = "4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f10"

TWILIO_PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
LW_MSG_PATH = f"/v1.0/bots/{LW_BOT}/users/alice%40example.com/messages"

passed, failures = 0, []


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(name)
        print(f"FAIL {name}: {detail}", flush=True)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"{self.status} {self.body[:300]!r}"


def start_listening(argv):
    """Starts a server that prints "LISTENING <port>"; returns the process and the port."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("LISTENING "):
        proc.kill()
        raise RuntimeError(f"{Path(argv[1]).name} did not start: {line!r}")
    return proc, int(line.split()[1])


class Fake:
    """gateways.py running in a child process."""

    def __init__(self, pki, state, cert="server", *extra):
        self.proc, self.port = start_listening(
            [sys.executable, str(HERE / "gateways.py"), "--cert", f"{pki}/{cert}.pem",
             "--key", f"{pki}/{cert}.key", "--state-dir", str(state),
             "--lineworks-public-key", f"{pki}/lineworks.pub.pem", *extra])
        self.ctx = ssl.create_default_context(cafile=f"{pki}/ca.pem")
        self.state = Path(state)

    def journal(self):
        """The entries of requests.jsonl, oldest first."""
        text = (self.state / "requests.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    def call(self, path, form=None, js=None, raw=None, headers=None, method="POST",
             timeout=5, host="127.0.0.1"):
        headers = dict(headers or {})
        data = raw
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif js is not None:
            data = json.dumps(js).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(f"https://{host}:{self.port}{path}", data=data,
                                     headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                return Resp(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Resp(e.code, e.headers, e.read())

    def fault(self, service, mode, count=1):
        r = self.call("/_control", js={"service": service, "mode": mode, "count": count})
        assert r.status == 200, r

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(key, claims, alg="RS256"):
    signing_input = f"{b64u(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}." \
                    f"{b64u(json.dumps(claims).encode())}"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                         input=signing_input.encode(), capture_output=True, check=True).stdout
    return f"{signing_input}.{b64u(sig)}"


def claims(**over):
    now = int(time.time())
    return {"iss": LW_ID, "sub": LW_SA, "iat": now, "exp": now + 3600, **over}


# ------------------------------------------------------------------ services

def test_twilio(f):
    auth = basic(TWILIO_SID, TWILIO_TOKEN)
    msg = {"To": "+818012345678", "From": "+15005550006", "Body": "Your code is 123456"}
    r = f.call(TWILIO_PATH, msg, headers=auth)
    j = r.json or {}
    check("twilio 201", r.status == 201, r)
    check("twilio sid", str(j.get("sid", "")).startswith("SM") and len(j["sid"]) == 34, r)
    check("twilio shape", (j.get("status"), j.get("to"), j.get("from"), j.get("body"),
                           j.get("account_sid"), j.get("api_version"), j.get("direction"))
          == ("queued", msg["To"], msg["From"], msg["Body"], TWILIO_SID, "2010-04-01",
              "outbound-api") and j.get("uri", "").endswith(j.get("sid", "-") + ".json"), r)
    r = f.call(TWILIO_PATH, {"To": "+818012345678", "MessagingServiceSid": "MG" + "b" * 32,
                             "Body": "x"}, headers=auth)
    check("twilio messaging service", r.status == 201 and r.json["from"] is None
          and r.json["messaging_service_sid"] == "MG" + "b" * 32, r)

    def err(name, resp, status, code):
        j = resp.json or {}
        check(name, resp.status == status and j.get("code") == code and j.get("status") == status
              and j.get("more_info") == f"https://www.twilio.com/docs/errors/{code}"
              and isinstance(j.get("message"), str), resp)
    err("twilio bad token", f.call(TWILIO_PATH, msg, headers=basic(TWILIO_SID, "nope")), 401, 20003)
    err("twilio no auth", f.call(TWILIO_PATH, msg), 401, 20003)
    err("twilio other account", f.call(TWILIO_PATH.replace("a" * 32, "b" * 32), msg,
                                       headers=auth), 401, 20003)
    err("twilio no To", f.call(TWILIO_PATH, {**msg, "To": ""}, headers=auth), 400, 21604)
    err("twilio no From", f.call(TWILIO_PATH, {"To": msg["To"], "Body": "x"}, headers=auth),
        400, 21603)
    err("twilio no Body", f.call(TWILIO_PATH, {**msg, "Body": ""}, headers=auth), 400, 21602)
    err("twilio bad To", f.call(TWILIO_PATH, {**msg, "To": "08012345678"}, headers=auth), 400, 21211)
    for bad in ("0", "36001", "300s", ""):
        err(f"twilio ValidityPeriod {bad!r}", f.call(TWILIO_PATH, {**msg, "ValidityPeriod": bad},
                                                      headers=auth), 400, 21624)
    for good in ("1", "300", "36000"):
        check(f"twilio ValidityPeriod {good}", f.call(TWILIO_PATH, {**msg, "ValidityPeriod": good},
                                                      headers=auth).status == 201)

    f.fault("twilio", "429")
    err("twilio injected 429", f.call(TWILIO_PATH, msg, headers=auth), 429, 20429)
    check("twilio 429 used up", f.call(TWILIO_PATH, msg, headers=auth).status == 201)
    f.fault("twilio", "500", count=2)
    err("twilio injected 500 #1", f.call(TWILIO_PATH, msg, headers=auth), 500, 20500)
    err("twilio injected 500 #2", f.call(TWILIO_PATH, msg, headers=auth), 500, 20500)
    check("twilio 500 x2 used up", f.call(TWILIO_PATH, msg, headers=auth).status == 201)
    f.fault("twilio", "permanent:21211")
    err("twilio injected permanent", f.call(TWILIO_PATH, msg, headers=auth), 400, 21211)
    f.fault("twilio", "garbage")
    r = f.call(TWILIO_PATH, msg, headers=auth)
    check("twilio garbage", r.status == 200 and r.json is None and r.body, r)
    f.fault("twilio", "slow:400")
    t0 = time.monotonic()
    r = f.call(TWILIO_PATH, msg, headers=auth)
    check("twilio slow", r.status == 201 and time.monotonic() - t0 >= 0.4, r)
    f.fault("twilio", "timeout")
    try:
        r = f.call(TWILIO_PATH, msg, headers=auth, timeout=1)
        check("twilio timeout", False, f"answered {r}")
    except (OSError, urllib.error.URLError) as e:
        check("twilio timeout", "timed out" in str(e), repr(e))
    check("twilio after timeout", f.call(TWILIO_PATH, msg, headers=auth).status == 201)


def test_vonage(f):
    msg = {"api_key": VONAGE_KEY, "api_secret": VONAGE_SECRET, "from": "Acme",
           "to": "818012345678", "text": "Your code is 123456"}

    def status(resp):
        j = resp.json or {}
        m = (j.get("messages") or [{}])[0]
        return resp.status, j.get("message-count"), m.get("status"), m.get("error-text")
    r = f.call("/sms/json", msg)
    m = (r.json or {}).get("messages", [{}])[0]
    check("vonage success", status(r) == (200, "1", "0", None) and m.get("to") == msg["to"]
          and m.get("message-id") and "remaining-balance" in m and "message-price" in m, r)
    r = f.call("/sms/json", js=msg)
    check("vonage json body", status(r)[2] == "0", r)
    r = f.call("/sms/json", {**msg, "text": "x" * 200})
    check("vonage long text", status(r)[:3] == (200, "2", "0") and len(r.json["messages"]) == 2, r)
    japanese = "lwauth: 確認コードは 123456 です"
    for kind, shown, parts in (("unicode", japanese, "1"), ("text", "lwauth: ?????? 123456 ??", "1")):
        r = f.call("/sms/json", {**msg, "text": japanese, "type": kind})
        entry = f.journal()[-1]
        check(f"vonage japanese as {kind}", status(r)[:3] == (200, parts, "0")
              and entry["params"]["text"] == japanese and entry["handset_text"] == shown, entry)
    r = f.call("/sms/json", {**msg, "text": "確" * 71, "type": "unicode"})
    check("vonage unicode parts of 70", status(r)[:3] == (200, "2", "0"), r)
    r = f.call("/sms/json", {**msg, "text": "€" * 81, "type": "text"})
    check("vonage extension characters take two septets", status(r)[:3] == (200, "2", "0"), r)
    r = f.call("/sms/json", {**msg, "type": "binary"})
    check("vonage type the fake does not serve", status(r)[:3] == (200, "1", "3"), r)
    r = f.call("/sms/json", {**msg, "api_secret": "wrong"})
    check("vonage bad credentials", status(r)[:3] == (200, "1", "4"), r)
    r = f.call("/sms/json", {k: v for k, v in msg.items() if k != "text"})
    check("vonage missing text", status(r)[:3] == (200, "1", "2") and "text" in status(r)[3], r)
    r = f.call("/sms/json", {**msg, "to": "+818012345678"})
    check("vonage to with plus", status(r)[:3] == (200, "1", "3"), r)
    for sender in ("+15005550006", "0015005550006"):
        r = f.call("/sms/json", {**msg, "from": sender})
        check(f"vonage from {sender[:2]}", status(r) == (200, "1", "15",
                                                          "Illegal Sender Address - rejected"), r)
    r = f.call("/sms/json", {**msg, "from": "15005550006"})
    check("vonage numeric from", status(r)[2] == "0", r)
    f.fault("vonage", "429")
    check("vonage injected throttle", status(f.call("/sms/json", msg)) == (200, "1", "1", "Throttled"))
    f.fault("vonage", "permanent:9")
    r = f.call("/sms/json", msg)
    check("vonage injected permanent", status(r) == (200, "1", "9", "Partner Quota Violation"), r)
    f.fault("vonage", "permanent:15")
    r = f.call("/sms/json", msg)
    check("vonage injected 15", status(r) == (200, "1", "15", "Invalid Sender Address"), r)
    f.fault("vonage", "500")
    check("vonage injected 500", f.call("/sms/json", msg).status == 500)
    f.fault("vonage", "garbage")
    r = f.call("/sms/json", msg)
    check("vonage garbage", r.status == 200 and r.json is None, r)


def test_lineworks(f, pki):
    key = f"{pki}/lineworks.key"

    def token(assertion, **over):
        form = {"assertion": assertion, "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "client_id": LW_ID, "client_secret": LW_SECRET, "scope": "bot", **over}
        return f.call("/oauth2/v2.0/token", form)

    r = token(make_jwt(key, claims()))
    j = r.json or {}
    check("lineworks token 200", r.status == 200, r)
    check("lineworks token shape", j.get("token_type") == "Bearer" and j.get("scope") == "bot"
          and j.get("expires_in") == "86400" and j.get("access_token") and j.get("refresh_token"), r)
    access = j.get("access_token", "")

    def grant_error(name, resp, error="invalid_grant", status=400):
        check(name, resp.status == status and (resp.json or {}).get("error") == error
              and (resp.json or {}).get("error_description"), resp)
    grant_error("lineworks wrong key", token(make_jwt(f"{pki}/server.key", claims())))
    good = make_jwt(key, claims())
    head, _, sig = good.rpartition(".")
    tampered = head.split(".")[0] + "." + b64u(json.dumps(claims(sub="someone@else")).encode())
    grant_error("lineworks tampered claims", token(tampered + "." + sig))
    grant_error("lineworks wrong iss", token(make_jwt(key, claims(iss="other-client"))))
    grant_error("lineworks wrong sub", token(make_jwt(key, claims(sub="x.serviceaccount@example"))))
    now = int(time.time())
    grant_error("lineworks expired", token(make_jwt(key, claims(iat=now - 7200, exp=now - 3600))))
    grant_error("lineworks over 60 min", token(make_jwt(key, claims(exp=now + 3660))))
    grant_error("lineworks string exp", token(make_jwt(key, claims(exp=str(now + 600)))))
    grant_error("lineworks HS256", token(make_jwt(key, claims(), alg="HS256")))
    grant_error("lineworks padded base64", token(good.replace(".", "=.", 1)))
    grant_error("lineworks wrong secret", token(good, client_secret="nope"), "invalid_client", 401)
    grant_error("lineworks wrong client", token(good, client_id="nope"), "invalid_client", 401)
    grant_error("lineworks wrong scope", token(good, scope="mail"), "invalid_scope")
    grant_error("lineworks a scope beyond the grant", token(good, scope="bot.message user.read"),
                "invalid_scope")
    r = token(good, scope="bot.message")
    check("lineworks least scope", r.status == 200 and r.json.get("scope") == "bot.message", r)
    grant_error("lineworks grant type", token(good, grant_type="client_credentials"),
                "unsupported_grant_type")
    f.fault("lineworks-auth", "500")
    check("lineworks token injected 500", token(good).status == 500)

    bearer = {"Authorization": f"Bearer {access}"}
    text = {"content": {"type": "text", "text": "Your code is 123456"}}
    r = f.call(LW_MSG_PATH, js=text, headers=bearer)
    check("lineworks message 201", r.status == 201 and r.body == b"", r)

    def lw_error(name, resp, status, code):
        check(name, resp.status == status and (resp.json or {}).get("code") == code
              and (resp.json or {}).get("description"), resp)
    lw_error("lineworks no token", f.call(LW_MSG_PATH, js=text), 401, "UNAUTHORIZED")
    lw_error("lineworks unknown token", f.call(LW_MSG_PATH, js=text,
                                               headers={"Authorization": "Bearer x"}),
             401, "UNAUTHORIZED")
    lw_error("lineworks bad content", f.call(LW_MSG_PATH, js={"content": {"type": "text"}},
                                             headers=bearer), 400, "INVALID_PARAMETER")
    lw_error("lineworks other bot", f.call(LW_MSG_PATH.replace(LW_BOT, "42"), js=text,
                                           headers=bearer), 404, "NOT_FOUND")
    by_id = LW_MSG_PATH.replace("alice%40example.com", LW_USER_ID)
    check("lineworks message by user ID", f.call(by_id, js=text, headers=bearer).status == 201)
    check("lineworks login ID with a plain @",
          f.call(LW_MSG_PATH.replace("%40", "@"), js=text, headers=bearer).status == 201)
    for who in ("carol%40example.com", "alice", "4f6e1a52-0c1b-4d7e-9a3f-000000000000"):
        lw_error(f"lineworks unknown user {who}",
                 f.call(LW_MSG_PATH.replace("alice%40example.com", who), js=text, headers=bearer),
                 404, "NOT_FOUND")
    f.fault("lineworks", "429")
    r = f.call(LW_MSG_PATH, js=text, headers=bearer)
    lw_error("lineworks injected 429", r, 429, "TOO_MANY_REQUESTS")
    check("lineworks 429 headers",
          [r.headers.get(h) for h in ("rateLimit-limit", "rateLimit-remaining", "rateLimit-reset",
                                      "rateLimit-used")] == ["240", "0", "60", "240"], r.headers)
    f.fault("lineworks", "permanent:403")
    lw_error("lineworks injected 403", f.call(LW_MSG_PATH, js=text, headers=bearer), 403, "FORBIDDEN")
    r = f.call("/_control", js={"service": "lineworks", "action": "expire_tokens"})
    lw_error("lineworks expired token", f.call(LW_MSG_PATH, js=text, headers=bearer),
             403, "UNAUTHORIZED")
    fresh = (token(make_jwt(key, claims())).json or {}).get("access_token")
    r = f.call(LW_MSG_PATH, js=text, headers={"Authorization": f"Bearer {fresh}"})
    check("lineworks fresh token", r.status == 201, r)


def test_line(f):
    bearer = {"Authorization": f"Bearer {LINE_TOKEN}"}
    push = {"to": LINE_USER, "messages": [{"type": "text", "text": "Your code is 123456"}]}
    r = f.call("/v2/bot/message/push", js=push, headers=bearer)
    sent = (r.json or {}).get("sentMessages") or [{}]
    check("line push 200", r.status == 200 and len(sent) == 1 and sent[0].get("id", "").isdigit()
          and sent[0].get("quoteToken") and r.headers.get("x-line-request-id"), r)
    r = f.call("/v2/bot/message/push", js=push, headers={"Authorization": "Bearer nope"})
    check("line bad token", r.status == 401 and "Authentication failed" in
          (r.json or {}).get("message", ""), r)
    r = f.call("/v2/bot/message/push", js={"to": LINE_USER, "messages": [{"type": "text",
                                                                          "text": ""}]},
               headers=bearer)
    check("line empty text", r.status == 400 and r.json.get("message")
          == "The request body has 1 error(s)" and r.json.get("details")
          == [{"message": "May not be empty", "property": "messages[0].text"}], r)
    for bad in ("Unobody", "alice", "U0123456789ABCDEF0123456789ABCDEF"):
        r = f.call("/v2/bot/message/push", js={**push, "to": bad}, headers=bearer)
        check(f"line malformed to {bad}", r.status == 400 and r.json == {
            "message": "The property, 'to', in the request body is invalid (line: -, column: -)"}, r)
    r = f.call("/v2/bot/message/push", js={**push, "to": "U" + "f" * 32}, headers=bearer)
    check("line unknown user", r.status == 400 and r.json == {"message": "Failed to send messages"}, r)
    retry = {**bearer, "X-Line-Retry-Key": "123e4567-e89b-12d3-a456-426614174000"}
    first = f.call("/v2/bot/message/push", js=push, headers=retry)
    again = f.call("/v2/bot/message/push", js=push, headers=retry)
    check("line retry key accepted", first.status == 200, first)
    check("line retry key 409", again.status == 409 and again.json.get("message")
          == "The retry key is already accepted" and again.json.get("sentMessages")
          == first.json.get("sentMessages") and again.headers.get("x-line-accepted-request-id")
          == first.headers.get("x-line-request-id"), again)
    f.fault("line", "429")
    r = f.call("/v2/bot/message/push", js=push, headers=bearer)
    check("line injected 429", r.status == 429 and r.json
          == {"message": "The API rate limit has been exceeded. Try again later."}, r)
    f.fault("line", "permanent:429")
    r = f.call("/v2/bot/message/push", js=push, headers=bearer)
    check("line injected monthly limit", r.status == 429
          and r.json == {"message": "You have reached your monthly limit."}, r)
    f.fault("line", "permanent:400")
    r = f.call("/v2/bot/message/push", js=push, headers=bearer)
    check("line injected 400", r.status == 400 and r.json["message"] == "Failed to send messages", r)
    f.fault("line", "500")
    check("line injected 500", f.call("/v2/bot/message/push", js=push, headers=bearer).status == 500)
    # The message is taken and the answer lost: the same retry key is then answered 409.
    retry = {**bearer, "X-Line-Retry-Key": "9b2c3f1e-0d4a-4c5b-8e6f-7a8b9c0d1e2f"}
    f.fault("line", "taken:500")
    first = f.call("/v2/bot/message/push", js=push, headers=retry)
    again = f.call("/v2/bot/message/push", js=push, headers=retry)
    check("line taken 500", first.status == 500 and first.json
          == {"message": "Internal server error"}, first)
    check("line taken then 409", again.status == 409 and again.headers.get(
        "x-line-accepted-request-id"), again)
    f.fault("line", "taken:timeout")
    lost = {**bearer, "X-Line-Retry-Key": "0c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f"}
    try:
        f.call("/v2/bot/message/push", js=push, headers=lost, timeout=1)
        check("line taken timeout", False, "answered")
    except (TimeoutError, urllib.error.URLError):
        check("line taken timeout", True)
    again = f.call("/v2/bot/message/push", js=push, headers=lost)
    check("line taken timeout then 409", again.status == 409, again)


def test_webhook(f):
    body = json.dumps({"kind": "sms", "destination": "+818012345678", "text": "123456"}).encode()
    sig = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    ct = {"Content-Type": "application/json"}
    r = f.call("/webhook", raw=body, headers={**ct, "X-Lwauth-Signature": sig})
    check("webhook 200", r.status == 200 and r.json == {"ok": True}, r)
    r = f.call("/webhook", raw=body, headers={**ct, "X-Lwauth-Signature": sig[:-2] + "00"})
    check("webhook bad signature", r.status == 401, r)
    r = f.call("/webhook", raw=body + b" ", headers={**ct, "X-Lwauth-Signature": sig})
    check("webhook changed body", r.status == 401, r)
    check("webhook no signature", f.call("/webhook", raw=body, headers=ct).status == 401)
    f.fault("webhook", "500")
    r = f.call("/webhook", raw=body, headers={**ct, "X-Lwauth-Signature": sig})
    check("webhook injected 500", r.status == 500, r)
    f.fault("webhook", "429")
    r = f.call("/webhook", raw=body, headers={**ct, "X-Lwauth-Signature": sig})
    check("webhook injected 429", r.status == 429 and r.headers.get("Retry-After") == "1", r)


def test_control_and_journal(f, state):
    r = f.call("/_control", js={"service": "twilio", "mode": "sometimes"})
    check("control rejects bad mode", r.status == 400, r)
    r = f.call("/_control", js={"service": "sms", "mode": "500"})
    check("control rejects bad service", r.status == 400, r)
    f.fault("line", "500", count=0)
    f.call("/_control", js={"reset": True})
    r = f.call("/_control", method="GET")
    check("control reset", r.status == 200 and all(q == [] for q in r.json.values()), r)
    check("unknown path", f.call("/nowhere", js={}).status == 404)
    check("wrong method", f.call("/sms/json", method="GET").status == 405)

    entries = [json.loads(x) for x in (state / "requests.jsonl").read_text().splitlines()]
    services = {e["service"] for e in entries}
    check("journal services", services == {"twilio", "vonage", "lineworks-auth", "lineworks",
                                           "line", "webhook"}, services)
    ok = [e for e in entries if e["service"] == "twilio" and e["delivered"]]
    check("journal twilio entry", ok and ok[0]["params"]["To"] == "+818012345678"
          and ok[0]["status"] == 201 and ok[0]["headers"]["Authorization"].startswith("Basic "),
          ok[:1])
    check("journal faults", any(e["fault"] == "timeout" and e["status"] is None for e in entries)
          and any(e["fault"] == "429" and not e["delivered"] for e in entries))
    check("journal taken", any(e["fault"] == "taken:500" and e["delivered"] for e in entries))
    wh = [e for e in entries if e["service"] == "webhook" and e["delivered"]]
    check("journal webhook json", wh and wh[0]["params"]["kind"] == "sms"
          and wh[0]["headers"]["X-Lwauth-Signature"].startswith("sha256="), wh[:1])


# ------------------------------------------------------------------ TLS and shutdown

def test_tls(pki, state):
    f = Fake(pki, state)
    try:
        r = f.call("/_control", method="GET", host="localhost")
        check("tls localhost name", r.status == 200, r)
    finally:
        f.stop()
    for cert, why in (("selfsigned", "self-signed"), ("wronghost", "mismatch")):
        f = Fake(pki, state, cert)
        try:
            f.call("/_control", method="GET")
            check(f"tls {cert} rejected", False, "the client accepted it")
        except urllib.error.URLError as e:
            check(f"tls {cert} rejected", isinstance(e.reason, ssl.SSLCertVerificationError)
                  and why in str(e.reason), repr(e.reason))
        finally:
            f.stop()


def test_shutdown_during_hang(pki, state):
    f = Fake(pki, state)
    f.fault("webhook", "timeout")
    t = threading.Thread(target=lambda: _ignore(f.call, "/webhook", raw=b"{}", timeout=20),
                         daemon=True)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    rc = f.stop()
    check("shutdown interrupts a hang", rc == 0 and time.monotonic() - t0 < 3,
          f"rc={rc} after {time.monotonic() - t0:.1f}s")


# An app granted less (--lineworks-scope) and a provider and domain of other members
# (--line-user-ids, --lineworks-users).
def test_lineworks_directory(pki, state):
    """The Directory API: a member by login ID or user ID, 404, the scope, the rate."""
    f = Fake(pki, state, "server", "--lineworks-scope", "bot,user.read",
             "--lineworks-rate-limit", "8")
    try:
        form = {"assertion": make_jwt(f"{pki}/lineworks.key", claims()), "client_id": LW_ID,
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "client_secret": LW_SECRET}
        reader = {"Authorization": "Bearer " + f.call("/oauth2/v2.0/token",
                                                      {**form, "scope": "user.read"}).json["access_token"]}
        bot = {"Authorization": "Bearer " + f.call("/oauth2/v2.0/token",
                                                   {**form, "scope": "bot"}).json["access_token"]}
        r = f.call("/v1.0/users/alice%40example.com", method="GET", headers=reader)
        check("directory member 200", r.status == 200 and r.json.get("cellPhone") ==
              "+81 90-1234-5678" and r.json.get("email") == "alice@example.com", r)
        r = f.call(f"/v1.0/users/{LW_USER_ID}", method="GET", headers=reader)
        check("directory member by user ID", r.status == 200
              and r.json.get("email") == "alice@example.com", r)
        r = f.call("/v1.0/users/bob@example.com", method="GET", headers=reader)
        check("directory member without a cellPhone", r.status == 200
              and r.json.get("cellPhone") is None, r)
        r = f.call("/v1.0/users/carol%40example.com", method="GET", headers=reader)
        check("directory unknown member 404", r.status == 404
              and r.json.get("code") == "NOT_FOUND", r)
        r = f.call("/v1.0/users/alice%40example.com", method="GET", headers=bot)
        check("directory a token without the scope 403", r.status == 403
              and r.json.get("code") == "FORBIDDEN", r)
        r = f.call("/v1.0/users/alice%40example.com", method="GET")
        check("directory no token 401", r.status == 401, r)
        check("directory POST 405", f.call("/v1.0/users/alice%40example.com", js={},
                                           headers=reader).status == 405)
        # Five counted so far (a request refused for its token is not).
        for _ in range(3):
            r = f.call("/v1.0/users/alice%40example.com", method="GET", headers=reader)
        check("directory the eighth request of the minute", r.status == 200, r)
        r = f.call("/v1.0/users/alice%40example.com", method="GET", headers=reader)
        check("directory over the rate limit 429", r.status == 429
              and r.json.get("code") == "TOO_MANY_REQUESTS"
              and 1 <= int(r.headers.get("rateLimit-reset", "0")) <= 60, r.headers)
        entries = [e for e in f.journal() if e["service"] == "lineworks-users"]
        check("directory journal", len(entries) == 10 and all("at" in e for e in entries)
              and entries[0]["method"] == "GET", entries[:1])
    finally:
        check("directory clean exit", f.stop() == 0)


def test_grants_and_members(pki, state):
    other_line_user = "U" + "9" * 32
    f = Fake(pki, state, "server", "--lineworks-scope", "bot.message", "--line-user-ids",
             other_line_user, "--lineworks-users", "carol@example.com")
    try:
        form = {"assertion": make_jwt(f"{pki}/lineworks.key", claims()), "client_id": LW_ID,
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "client_secret": LW_SECRET}
        r = f.call("/oauth2/v2.0/token", {**form, "scope": "bot"})
        check("lineworks scope outside the grant", r.status == 400
              and r.json.get("error") == "invalid_scope", r)
        r = f.call("/oauth2/v2.0/token", {**form, "scope": "bot.message"})
        check("lineworks scope inside the grant", r.status == 200, r)
        bearer = {"Authorization": f"Bearer {(r.json or {}).get('access_token')}"}
        text = {"content": {"type": "text", "text": "Your code is 123456"}}
        r = f.call(LW_MSG_PATH, js=text, headers=bearer)
        check("lineworks other members", r.status == 404 and r.json.get("code") == "NOT_FOUND", r)
        r = f.call(LW_MSG_PATH.replace("alice", "carol"), js=text, headers=bearer)
        check("lineworks a listed member", r.status == 201, r)
        line = {"Authorization": f"Bearer {LINE_TOKEN}"}
        push = {"to": LINE_USER, "messages": [{"type": "text", "text": "Your code is 123456"}]}
        r = f.call("/v2/bot/message/push", js=push, headers=line)
        check("line other provider's users", r.status == 400
              and r.json == {"message": "Failed to send messages"}, r)
        r = f.call("/v2/bot/message/push", js={**push, "to": other_line_user}, headers=line)
        check("line a listed user", r.status == 200, r)
    finally:
        f.stop()


# ------------------------------------------------------------------ SMTP (smtp_server.py)

class Smtp:
    """smtp_server.py in plain mode (no TLS offered), with its fault options."""

    def __init__(self, out, *options):
        self.proc, self.port = start_listening(
            [sys.executable, str(HERE.parent / "integration/smtp_server.py"), "--mode", "plain",
             "--out", str(out), *options])

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def smtp_send(port, timeout=5):
    """Sends one message; returns (seconds to the greeting, the reply to the '.')."""
    t0 = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org",
                      timeout=timeout) as s:
        greeted = time.monotonic() - t0
        s.ehlo("client.example.org")
        s.mail("<noreply@example.com>")
        s.rcpt("<alice@example.com>")
        return greeted, s.data(b"Subject: x\r\n\r\ncode 123456\r\n")


def test_smtp(tmp):
    out = Path(tmp) / "smtp.jsonl"
    server = Smtp(out, "--greet-delay", "0.8", "--dot-delay", "0.5")
    try:
        t0 = time.monotonic()
        greeted, reply = smtp_send(server.port)
        check("smtp greet delay", greeted >= 0.7, greeted)
        check("smtp dot delay", reply[0] == 250 and time.monotonic() - t0 >= 1.2, reply)
        entry = json.loads(out.read_text().splitlines()[-1])
        check("smtp ehlo recorded", entry.get("ehlo") == "client.example.org", entry)
    finally:
        server.stop()
    for stall, recorded in (("data", 0), ("dot", 1)):
        out.write_text("")
        server = Smtp(out, "--stall", stall)
        try:
            smtp_send(server.port, timeout=1)
            check(f"smtp stall {stall}", False, "answered")
        except (TimeoutError, OSError):
            check(f"smtp stall {stall}", True)
        finally:
            server.stop()
        check(f"smtp stall {stall} recorded", len(out.read_text().splitlines()) == recorded)


def _ignore(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except Exception:
        pass


def main():
    with tempfile.TemporaryDirectory(prefix="lwauth-fakes-") as tmp:
        pki, state = Path(tmp) / "pki", Path(tmp) / "state"
        subprocess.run([str(HERE / "make_test_pki.sh"), str(pki)], check=True)
        f = Fake(pki, state)
        try:
            test_twilio(f)
            test_vonage(f)
            test_lineworks(f, pki)
            test_line(f)
            test_webhook(f)
            test_control_and_journal(f, state)
        finally:
            check("clean exit", f.stop() == 0)
        test_grants_and_members(pki, Path(tmp) / "state-grants")
        test_lineworks_directory(pki, Path(tmp) / "state-directory")
        test_tls(pki, Path(tmp) / "state-tls")
        test_shutdown_during_hang(pki, Path(tmp) / "state-hang")
        test_smtp(tmp)
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
