#!/usr/bin/python3
"""Loopback fakes of the SMS and notification gateways lwauth talks to.

One HTTPS server on 127.0.0.1 serves, at their real paths:
  twilio          POST /2010-04-01/Accounts/{AccountSid}/Messages.json
  vonage          POST /sms/json
  lineworks-auth  POST /oauth2/v2.0/token
  lineworks       POST /v1.0/bots/{botId}/users/{userId}/messages
  lineworks-users GET  /v1.0/users/{userId}
  line            POST /v2/bot/message/push
  webhook         POST /webhook (--webhook-path)
and the test control endpoint /_control. See README.md for the wire formats,
their sources, the error answers and the control interface.

Standard library only; JWT signatures are checked with the openssl command.
"""
import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SERVICES = ("twilio", "vonage", "lineworks-auth", "lineworks", "lineworks-users", "line",
            "webhook")
# The scopes that read members (Directory API, "Get a member").
LINEWORKS_USER_SCOPES = {"user", "user.read", "directory", "directory.read"}
# The default members of the fake's domain (--lineworks-members), by login ID.
LINEWORKS_MEMBERS = {
    "alice@example.com": {"userId": "4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f10",
                          "email": "alice@example.com", "cellPhone": "+81 90-1234-5678",
                          "telephone": "+81 3-1234-5678"},
    "bob@example.com": {"userId": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
                        "email": "bob@example.com", "cellPhone": None},
}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
RECORDED_HEADERS = ("Authorization", "Content-Type", "User-Agent", "X-Lwauth-Signature",
                    "X-Line-Retry-Key")


class HttpError(Exception):
    """An answer other than success: status, JSON-able body (or bytes), extra headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


# ---------------------------------------------------------------- fault injection

def parse_mode(service, mode):
    """Checks a fault mode (see README.md) and returns it."""
    kind, _, arg = str(mode).partition(":")
    if mode in ("ok", "500", "429", "timeout", "garbage") or (kind == "slow" and arg.isdigit()):
        return mode
    if kind == "taken" and arg in ("500", "timeout"):
        return mode
    if kind == "permanent" and (arg.isdigit() or service == "lineworks-auth" and arg):
        return mode
    raise ValueError(f"unknown mode {mode!r} for {service}")


class Faults:
    """Per service, a FIFO of [mode, remaining]; remaining 0 means until reset.
    check(service, mode) returns the mode to queue or raises ValueError."""

    def __init__(self, services=SERVICES, check=parse_mode):
        self.lock = threading.Lock()
        self.services, self.check = services, check
        self.queues = {s: [] for s in services}

    def add(self, service, mode, count):
        with self.lock:
            self.queues[service].append([self.check(service, mode), count])

    def reset(self, service=None):
        with self.lock:
            for s in ([service] if service else self.services):
                self.queues[s].clear()

    def take(self, service):
        with self.lock:
            q = self.queues[service]
            if not q:
                return None
            mode = q[0][0]
            if q[0][1] > 0:
                q[0][1] -= 1
                if q[0][1] == 0:
                    q.pop(0)
            return None if mode == "ok" else mode

    def state(self):
        with self.lock:
            return {s: [list(e) for e in q] for s, q in self.queues.items()}


# ---------------------------------------------------------------- helpers

def now_rfc2822():
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())


# The GSM 03.38 default alphabet (3GPP TS 23.038 6.2.1) and its extension table (6.2.1.1),
# whose characters take two septets.
GSM_ALPHABET = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = "\f^{}\\[~]|€"


def is_gsm(text):
    return all(c in GSM_ALPHABET or c in GSM_EXTENSION for c in text)


def sms_parts(text, encoding=None):
    """Segments of an SMS: GSM 7-bit 160/153 septets (an extension character takes two),
    UCS-2 70/67 UTF-16 units. Without `encoding`, GSM when the text allows it (as Twilio
    chooses)."""
    if encoding is None:
        encoding = "text" if is_gsm(text) else "unicode"
    if encoding == "text":
        size, single, multi = sum(2 if c in GSM_EXTENSION else 1 for c in text), 160, 153
    else:
        size, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if size <= single else -(-size // multi)


def gsm_handset_text(text):
    """What a phone shows of a text sent as GSM 7-bit: characters outside the alphabet and
    its extension table cannot be carried and arrive as "?"."""
    return "".join(c if c in GSM_ALPHABET or c in GSM_EXTENSION else "?" for c in text)


def b64url_decode(part):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", part):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def rs256_ok(public_key_file, signing_input, signature):
    with tempfile.NamedTemporaryFile() as sig:
        sig.write(signature)
        sig.flush()
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", public_key_file,
                            "-signature", sig.name], input=signing_input, capture_output=True)
    return r.returncode == 0


# ---------------------------------------------------------------- services

TWILIO_ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21624: (400, "Validity period can only be set to integers between 1 and 36,000 seconds."),
}

VONAGE_STATUS = {  # https://developer.vonage.com/en/api-errors/sms
    1: "Throttled", 2: "Missing Parameters", 3: "Invalid Parameters", 4: "Invalid Credentials",
    5: "Internal Error", 6: "Invalid Message", 7: "Number Barred", 8: "Partner Account Barred",
    9: "Partner Quota Violation", 10: "Too Many Existing Binds",
    11: "Account Not Enabled For HTTP", 12: "Message Too Long", 14: "Invalid Signature",
    15: "Invalid Sender Address",
}

LINE_MESSAGES = {
    400: "Failed to send messages",  # also the answer for a user ID the provider has not
    401: "Authentication failed. Confirm that the access token in the authorization header is valid.",
    403: "Access to this API is not available for your account",
    429: "You have reached your monthly limit.",
    500: "Internal server error",
}

LINEWORKS_CODES = {400: "INVALID_PARAMETER", 401: "UNAUTHORIZED", 403: "FORBIDDEN",
                   404: "NOT_FOUND", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR"}


def twilio_error(code, **fmt):
    status, message = TWILIO_ERRORS.get(code, (400, f"Twilio error {code}"))
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else {}
    return HttpError(status, {"code": code, "message": message.format(**fmt),
                              "more_info": f"https://www.twilio.com/docs/errors/{code}",
                              "status": status}, headers)


def vonage_error(status, text=None):
    return HttpError(200, {"message-count": "1", "messages": [
        {"status": str(status), "error-text": text or VONAGE_STATUS.get(status, "Error")}]})


def oauth_error(error, description):
    return HttpError(401 if error == "invalid_client" else 400,
                     {"error": error, "error_description": description})


def lineworks_error(status, description, code=None):
    return HttpError(status, {"code": code or LINEWORKS_CODES.get(status, "ERROR"),
                              "description": description})


def lineworks_rate_limited(limit, reset, used):
    """The Directory API's 429: `reset` seconds until the limit resets."""
    return HttpError(429, {"code": "TOO_MANY_REQUESTS", "description": "API rate limit exceeded"},
                     {"rateLimit-limit": str(limit), "rateLimit-remaining": "0",
                      "rateLimit-reset": str(reset), "rateLimit-used": str(used)})


def line_error(status, message=None, details=None):
    body = {"message": message or LINE_MESSAGES.get(status, "Error")}
    if details:
        body["details"] = details
    return HttpError(status, body)


def injected_error(service, mode, req):
    """The answer a service gives for an injected 500 / 429 / permanent:X."""
    kind, _, arg = mode.partition(":")
    if service == "twilio":
        return twilio_error({"500": 20500, "429": 20429}.get(mode) or int(arg),
                            to=req.form().get("To", ""))
    if service == "vonage":
        if mode == "500":
            return HttpError(500, b"Internal Server Error")
        return vonage_error(1 if mode == "429" else int(arg))
    if service == "lineworks-auth":
        if mode == "500":
            return HttpError(500, {"error": "server_error", "error_description": "internal error"})
        if mode == "429":
            return lineworks_error(429, "API rate limit exceeded")
        return oauth_error(arg, f"injected {arg}")
    if service in ("lineworks", "lineworks-users"):
        if mode == "429":
            # The Directory API's is a limit about to reset: a wait short enough for a test.
            return lineworks_rate_limited(240, 1 if service == "lineworks-users" else 60, 240)
        status = 500 if mode == "500" else int(arg)
        return lineworks_error(status, f"injected {status}")
    if service == "line":
        if mode == "429":
            return line_error(429, "The API rate limit has been exceeded. Try again later.")
        return line_error(500 if mode == "500" else int(arg))
    # webhook
    if mode == "429":
        return HttpError(429, {"error": "rate limited"}, {"Retry-After": "1"})
    status = 500 if mode == "500" else int(arg)
    return HttpError(status, {"error": f"injected {status}"})


class Gateways:
    """The state and the request logic of every fake service."""

    def __init__(self, args):
        self.args = args
        self.faults = Faults()
        self.lock = threading.Lock()
        self.journal = Path(args.state_dir) / "requests.jsonl"
        self.lw_tokens = {}       # LINE WORKS access token -> expiry (epoch seconds)
        self.lw_scopes = {}       # LINE WORKS access token -> the scopes it was given
        self.lw_user_times = []   # when each Directory API request came (monotonic)
        self.lw_members = LINEWORKS_MEMBERS
        if args.lineworks_members:
            self.lw_members = json.loads(Path(args.lineworks_members).read_text())
        self.line_retry = {}      # X-Line-Retry-Key -> (request id, sentMessages)

    def record(self, entry):
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        with self.lock, open(self.journal, "a", encoding="utf-8") as f:
            f.write(line)

    # -- Twilio Programmable Messaging
    def twilio(self, req, account_sid):
        a = self.args
        if req.basic_auth() != (a.twilio_account_sid, a.twilio_auth_token) \
                or account_sid != a.twilio_account_sid:
            raise twilio_error(20003)
        p = req.form()
        to, sender, mss, body = (p.get(k) for k in ("To", "From", "MessagingServiceSid", "Body"))
        if not to:
            raise twilio_error(21604)
        if not sender and not mss:
            raise twilio_error(21603)
        if not body:
            raise twilio_error(21602)
        if not re.fullmatch(r"\+[1-9]\d{6,14}", to):
            raise twilio_error(21211, to=to)
        validity = p.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            raise twilio_error(21624)
        sid = "SM" + secrets.token_hex(16)
        base = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
        stamp = now_rfc2822()
        return 201, {
            "account_sid": account_sid, "api_version": "2010-04-01", "body": body,
            "date_created": stamp, "date_sent": None, "date_updated": stamp,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": sender, "messaging_service_sid": mss, "num_media": "0",
            "num_segments": str(sms_parts(body)), "price": None, "price_unit": "USD",
            "sid": sid, "status": "queued",
            "subresource_uris": {"media": base + "/Media.json"}, "to": to, "uri": base + ".json",
        }, {}

    # -- Vonage SMS API
    def vonage(self, req):
        p = req.json() if req.content_type() == "application/json" else req.form()
        for name in ("api_key", "api_secret", "from", "to", "text"):
            if not p.get(name):
                raise vonage_error(2, f"Missing {name} param")
        if (p["api_key"], p["api_secret"]) != (self.args.vonage_api_key,
                                               self.args.vonage_api_secret):
            raise vonage_error(4, "Bad Credentials")
        if not re.fullmatch(r"\d{7,15}", str(p["to"])):
            raise vonage_error(3, "Invalid to param")
        if re.fullmatch(r"(\+|00)\d+", str(p["from"])):
            # A number is one of the account's in E.164 without "+": "+44..." is no sender
            # the account has.
            raise vonage_error(15, "Illegal Sender Address - rejected")
        kind = p.get("type", "text")  # Vonage's default
        if kind not in ("text", "unicode"):
            raise vonage_error(3, "Invalid type param")
        # What the phone shows: "text" is GSM 7-bit, so Japanese arrives as question marks.
        req.extra["handset_text"] = p["text"] if kind == "unicode" else gsm_handset_text(p["text"])
        parts = [{"to": p["to"], "message-id": secrets.token_hex(8).upper(), "status": "0",
                  "remaining-balance": "15.53590000", "message-price": "0.03330000",
                  "network": "23410"} for _ in range(sms_parts(p["text"], kind))]
        return 200, {"message-count": str(len(parts)), "messages": parts}, {}

    # -- LINE WORKS API 2.0: access token for a service account (JWT)
    def lineworks_auth(self, req):
        a = self.args
        p = req.form()
        if p.get("grant_type") != JWT_BEARER:
            raise oauth_error("unsupported_grant_type", f"grant_type must be {JWT_BEARER}")
        if not p.get("assertion") or not p.get("client_id") or not p.get("client_secret"):
            raise oauth_error("invalid_request", "assertion, client_id and client_secret are required")
        if (p["client_id"], p["client_secret"]) != (a.lineworks_client_id, a.lineworks_client_secret):
            raise oauth_error("invalid_client", "unknown client_id or wrong client_secret")
        scopes = set(re.split(r"[ ,]+", p.get("scope", "").strip())) - {""}
        if not scopes or not scopes <= set(a.lineworks_scope.split(",")):
            raise oauth_error("invalid_scope", f"scope {p.get('scope', '')!r} is not allowed")
        self.check_jwt(p["assertion"])
        token = "kr1AAA" + secrets.token_urlsafe(32)
        with self.lock:
            self.lw_tokens[token] = time.time() + a.lineworks_expires_in
            self.lw_scopes[token] = scopes
        return 200, {"access_token": token, "refresh_token": "kr1AAA" + secrets.token_urlsafe(32),
                     "scope": " ".join(sorted(scopes)), "token_type": "Bearer",
                     "expires_in": str(a.lineworks_expires_in)}, {}

    def check_jwt(self, assertion):
        a = self.args

        def bad(why):
            return oauth_error("invalid_grant", f"invalid assertion: {why}")
        parts = assertion.split(".")
        if len(parts) != 3:
            raise bad("not a JWS compact serialization")
        try:
            header, claims = (json.loads(b64url_decode(x)) for x in parts[:2])
            signature = b64url_decode(parts[2])
        except ValueError as e:
            raise bad(str(e)) from None
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise bad("alg must be RS256")
        if not a.lineworks_public_key:
            raise bad("no service account public key is configured (--lineworks-public-key)")
        if not rs256_ok(a.lineworks_public_key, f"{parts[0]}.{parts[1]}".encode(), signature):
            raise bad("signature does not verify")
        if not isinstance(claims, dict):
            raise bad("claims are not an object")
        if claims.get("iss") != a.lineworks_client_id:
            raise bad("iss must be the client ID")
        if claims.get("sub") != a.lineworks_service_account:
            raise bad("sub must be the service account")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
            raise bad("iat and exp must be integers (seconds since the epoch)")
        now = time.time()
        if exp <= now:
            raise bad("expired (exp is in the past)")
        if iat > now + 60 or exp <= iat:
            raise bad("iat is in the future or after exp")
        if exp - iat > 3600:
            raise bad("exp - iat is more than 60 minutes")

    # -- LINE WORKS API 2.0: bot message to a user
    def lineworks(self, req, bot_id, user_id):
        self.lineworks_token(req)
        if bot_id != self.args.lineworks_bot_id:
            raise lineworks_error(404, f"Bot {bot_id} not found")
        if urllib.parse.unquote(user_id) not in self.args.lineworks_users.split(","):
            raise lineworks_error(404, "User not found")
        content = req.json().get("content")
        if not isinstance(content, dict) or content.get("type") != "text" \
                or not isinstance(content.get("text"), str) or not content["text"]:
            raise lineworks_error(400, "content must be {\"type\": \"text\", \"text\": \"...\"}")
        return 201, b"", {}

    def lineworks_token(self, req):
        """The scopes of the request's valid access token; raises the bot API's errors."""
        m = re.fullmatch(r"Bearer (\S+)", req.headers.get("Authorization", ""))
        with self.lock:
            expiry = self.lw_tokens.get(m.group(1)) if m else None
            scopes = self.lw_scopes.get(m.group(1), set()) if m else set()
        if expiry is None:
            raise lineworks_error(401, "Authentication failed")
        if expiry <= time.time():
            raise lineworks_error(403, "The access token has expired", "UNAUTHORIZED")
        return scopes

    # -- LINE WORKS API 2.0 Directory: get a member, by user ID or login ID
    def lineworks_users(self, req, user_id):
        scopes = self.lineworks_token(req)
        now = time.monotonic()
        with self.lock:
            window = [t for t in self.lw_user_times if t > now - 60]
            self.lw_user_times = window + [now]
        limit = self.args.lineworks_rate_limit
        if len(window) >= limit:
            raise lineworks_rate_limited(limit, max(1, int(window[0] + 60 - now + 0.999)),
                                         len(window))
        if not scopes & LINEWORKS_USER_SCOPES:
            raise lineworks_error(403, "Not allowed scope")
        wanted = urllib.parse.unquote(user_id)
        for login_id, member in self.lw_members.items():
            if wanted in (login_id, member.get("userId")):
                return 200, member, {"rateLimit-limit": str(limit),
                                     "rateLimit-remaining": str(limit - len(window) - 1)}
        raise lineworks_error(404, "User not found")

    def expire_lineworks_tokens(self):
        with self.lock:
            for token in self.lw_tokens:
                self.lw_tokens[token] = 0

    # -- LINE Messaging API: push message
    def line(self, req):
        if req.headers.get("Authorization") != f"Bearer {self.args.line_channel_token}":
            raise line_error(401)
        request_id = str(uuid.uuid4())
        key = req.headers.get("X-Line-Retry-Key")
        with self.lock:
            accepted = self.line_retry.get(key) if key else None
        if accepted:
            raise HttpError(409, {"message": "The retry key is already accepted",
                                  "sentMessages": accepted[1]},
                            {"x-line-request-id": request_id,
                             "x-line-accepted-request-id": accepted[0]})
        body = req.json()
        messages = body.get("messages")
        details = []
        if not body.get("to"):
            details.append({"message": "May not be empty", "property": "to"})
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            details.append({"message": "Size must be between 1 and 5", "property": "messages"})
        else:
            for i, msg in enumerate(messages):
                if not isinstance(msg, dict) or not msg.get("type"):
                    details.append({"message": "May not be empty", "property": f"messages[{i}].type"})
                elif msg["type"] == "text" and not msg.get("text"):
                    details.append({"message": "May not be empty", "property": f"messages[{i}].text"})
        if details:
            raise line_error(400, f"The request body has {len(details)} error(s)", details)
        if not isinstance(body["to"], str) or not re.fullmatch(r"[UCR][0-9a-f]{32}", body["to"]):
            raise line_error(400, "The property, 'to', in the request body is invalid "
                                  "(line: -, column: -)")
        if body["to"] not in self.args.line_user_ids.split(","):
            raise line_error(400)  # "Failed to send messages": no such user for this provider
        sent = [{"id": str(secrets.randbelow(9 * 10**17) + 10**17),
                 "quoteToken": secrets.token_urlsafe(48)} for _ in messages]
        if key:
            with self.lock:
                self.line_retry[key] = (request_id, sent)
        return 200, {"sentMessages": sent}, {"x-line-request-id": request_id}

    # -- generic webhook
    def webhook(self, req):
        want = "sha256=" + hmac.new(self.args.webhook_secret.encode(), req.body,
                                    hashlib.sha256).hexdigest()
        if not hmac.compare_digest(req.headers.get("X-Lwauth-Signature", ""), want):
            raise HttpError(401, {"error": "bad or missing X-Lwauth-Signature"})
        if not isinstance(req.json(), dict):
            raise HttpError(400, {"error": "body must be a JSON object"})
        return 200, {"ok": True}, {}

    # -- test control
    def control(self, req):
        if req.command == "POST":
            c = req.json()
            service = c.get("service")
            if service is not None and service not in SERVICES:
                raise HttpError(400, {"error": f"unknown service {service!r}"})
            try:
                if c.get("reset"):
                    self.faults.reset(service)
                elif c.get("action") == "expire_tokens" and service == "lineworks":
                    self.expire_lineworks_tokens()
                elif service and "mode" in c:
                    count = c.get("count", 1)
                    if not isinstance(count, int) or count < 0:
                        raise ValueError("count must be an integer >= 0")
                    self.faults.add(service, c["mode"], count)
                else:
                    raise ValueError("expected {service, mode[, count]}, {reset[, service]}"
                                     " or {service: lineworks, action: expire_tokens}")
            except ValueError as e:
                raise HttpError(400, {"error": str(e)}) from None
        return 200, self.faults.state(), {}


ROUTES = [  # (service, path pattern); groups are passed to the service method
    ("twilio", re.compile(r"/2010-04-01/Accounts/([^/]+)/Messages\.json")),
    ("vonage", re.compile(r"/sms/json")),
    ("lineworks-auth", re.compile(r"/oauth2/v2\.0/token")),
    ("lineworks", re.compile(r"/v1\.0/bots/([^/]+)/users/([^/]+)/messages")),
    ("lineworks-users", re.compile(r"/v1\.0/users/([^/]+)")),
    ("line", re.compile(r"/v2/bot/message/push")),
]


# ---------------------------------------------------------------- HTTP plumbing

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gateway-fake/1"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.gw.args.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    # request accessors used by the services
    def content_type(self):
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def form(self):
        try:
            pairs = urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True,
                                           strict_parsing=bool(self.body))
        except (UnicodeDecodeError, ValueError):
            raise HttpError(400, {"error": "body is not application/x-www-form-urlencoded"}) from None
        self.parsed = dict(pairs)
        return self.parsed

    def json(self):
        try:
            self.parsed = json.loads(self.body or b"null")
        except ValueError:
            raise HttpError(400, {"error": "body is not JSON"}) from None
        return self.parsed if isinstance(self.parsed, dict) else {}

    def basic_auth(self):
        m = re.fullmatch(r"Basic (\S+)", self.headers.get("Authorization", ""))
        try:
            user, _, password = base64.b64decode(m.group(1), validate=True).decode().partition(":")
            return user, password
        except (AttributeError, ValueError):
            return None

    def dispatch(self):
        gw = self.server.gw
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.parsed = None
        self.extra = {}  # what a service adds to the journal entry (handset_text)
        path = urllib.parse.urlsplit(self.path).path
        service, groups = None, ()
        for name, pattern in ROUTES:
            m = pattern.fullmatch(path)
            if m:
                service, groups = name, m.groups()
        if path == gw.args.webhook_path:
            service = "webhook"
        if path == "/_control":
            return self.answer(*self.run(gw.control)[:3])
        if service is None:
            return self.answer(404, {"error": f"no fake serves {path}"}, {})
        allowed = "GET" if service == "lineworks-users" else "POST"
        if self.command != allowed:
            return self.answer(405, {"error": "method not allowed"}, {"Allow": allowed})

        mode = gw.faults.take(service)
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "at": round(time.monotonic(), 3), "service": service,
                 "method": self.command, "path": path, "fault": mode,
                 "headers": {h: self.headers[h] for h in RECORDED_HEADERS if h in self.headers}}
        if mode == "timeout":
            entry.update(status=None, delivered=False)
            gw.record(entry)
            gw.stopping.wait(gw.args.hang_seconds)
            self.close_connection = True  # hang up without an answer
            return
        if mode and mode.startswith("slow:"):
            gw.stopping.wait(int(mode[5:]) / 1000)
            mode = None
        if mode and mode.startswith("taken:"):
            # The service takes the request, and its answer is lost: a 500 instead, or none.
            method = getattr(gw, service.replace("-", "_"))
            status, _, _, delivered = self.run(lambda r: method(r, *groups))
            entry.update(status=status, delivered=delivered, params=self.parsed, **self.extra)
            gw.record(entry)
            if mode == "taken:timeout":
                gw.stopping.wait(gw.args.hang_seconds)
                self.close_connection = True
                return
            e = injected_error(service, "500", self)
            return self.answer(e.status, e.body, e.headers)
        delivered = False
        if mode == "garbage":
            status, body, headers = 200, b"<html><body>upstream hiccup</body></html>", \
                {"Content-Type": "text/html"}
        elif mode:
            try:
                e = injected_error(service, mode, self)
            except HttpError as bad_request:  # the request body did not even parse
                e = bad_request
            status, body, headers = e.status, e.body, e.headers
        else:
            method = getattr(gw, service.replace("-", "_"))
            status, body, headers, delivered = self.run(lambda r: method(r, *groups))
        entry.update(status=status, delivered=delivered)
        if self.parsed is None:
            try:
                self.json() if self.content_type() == "application/json" else self.form()
            except HttpError:
                entry["body"] = self.body.decode(errors="replace")
        entry["params"] = self.parsed
        entry.update(self.extra)
        gw.record(entry)
        self.answer(status, body, headers)

    def run(self, fn):
        """(status, body, headers, succeeded) of fn(self)."""
        try:
            return (*fn(self), True)
        except HttpError as e:
            return e.status, e.body, e.headers, False

    def answer(self, status, body, headers):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Hundreds of clients may connect at once (the channel-isolation benchmark).
    request_queue_size = 1024

    def __init__(self, port, tls, gw, handler=None):
        self.tls, self.gw = tls, gw
        super().__init__(("127.0.0.1", port), handler or Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's own thread.
        request.settimeout(15)
        conn = request
        try:
            if self.tls:
                conn = self.tls.wrap_socket(request, server_side=True)
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            if conn is not request:
                conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--cert", help="server certificate (PEM); without --cert/--key: plain HTTP")
    ap.add_argument("--key", help="its private key (PEM)")
    ap.add_argument("--state-dir", required=True, help="requests.jsonl is appended here")
    ap.add_argument("--hang-seconds", type=float, default=30,
                    help="how long mode 'timeout' holds a request (default 30)")
    ap.add_argument("--twilio-account-sid", default="AC" + "a" * 32)
    ap.add_argument("--twilio-auth-token", default="twilio-test-token")
    ap.add_argument("--vonage-api-key", default="abcd1234")
    ap.add_argument("--vonage-api-secret", default="Vq7tK2pX9mWz4RbN")
    ap.add_argument("--lineworks-client-id", default="lw-test-client-id")
    ap.add_argument("--lineworks-client-secret", default="lw-test-client-secret")
    ap.add_argument("--lineworks-service-account", default="test.serviceaccount@example")
    ap.add_argument("--lineworks-public-key", help="service account public key (PEM)")
    ap.add_argument("--lineworks-scope", default="bot,bot.message",
                    help="comma-separated scopes a token may be asked for")
    ap.add_argument("--lineworks-bot-id", default="2000001")
    ap.add_argument("--lineworks-users",
                    default="alice@example.com,bob@example.com,"
                            "4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f10",
                    help="comma-separated user IDs and login IDs of the domain's members")
    ap.add_argument("--lineworks-expires-in", type=int, default=86400)
    ap.add_argument("--lineworks-members",
                    help="JSON file: the Directory API's members by login ID "
                         "(default: alice@ and bob@example.com)")
    ap.add_argument("--lineworks-rate-limit", type=int, default=240,
                    help="Directory API requests a minute before 429 (default 240)")
    ap.add_argument("--line-channel-token", default="line-test-channel-token")
    ap.add_argument("--line-user-ids", default="U0123456789abcdef0123456789abcdef",
                    help="comma-separated user IDs the channel's provider has")
    ap.add_argument("--webhook-secret", default="webhook-test-secret")
    ap.add_argument("--webhook-path", default="/webhook")
    ap.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = ap.parse_args()
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")
    Path(args.state_dir).mkdir(parents=True, exist_ok=True)

    serve(Server(args.port, tls_context(args.cert, args.key), Gateways(args)))


def tls_context(cert, key):
    """The server's TLS context, or None (plain HTTP) without a certificate."""
    if not cert:
        return None
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(cert, key)
    return tls


def serve(server):
    """Prints "LISTENING <port>" and serves until SIGTERM or SIGINT; sets
    server.gw.stopping at once so that held requests end."""
    server.gw.stopping = threading.Event()

    def stop(*_):
        server.gw.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    sys.exit(main())
