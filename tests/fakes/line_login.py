#!/usr/bin/python3
"""A loopback fake of LINE Login v2.1 (OpenID Connect, authorization code + PKCE).

One server on 127.0.0.1 serves, at LINE's paths:
  GET  /oauth2/v2.1/authorize  (access.line.me) approves as a chosen test identity, or
                               redirects with an error, as the test told it
  POST /oauth2/v2.1/token      (api.line.me) exchanges a code for tokens and an ID token
  GET  /oauth2/v2.1/certs      (api.line.me) the JWKS of the fake's ES256 keys
and the test control endpoint /_control. See README.md for the wire format, what the
fake checks, its faults and its control interface.

Debian's python3 and python3-cryptography (ES256) only; the HTTP and TLS plumbing is
gateways.py's.
"""
import argparse
import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateways  # noqa: E402  (HttpError, Handler, Server, tls_context, serve)

AUTHORIZE_PATH = "/oauth2/v2.1/authorize"
TOKEN_PATH = "/oauth2/v2.1/token"
CERTS_PATH = "/oauth2/v2.1/certs"
SERVICES = ("authorize", "token", "certs")

SCOPES = {"openid", "profile", "email"}
# RFC 7636 section 4.1: 43-128 characters of the unreserved set.
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# BASE64URL(SHA256(verifier)) without padding is always 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
AUTHORIZE_ERRORS = ("INVALID_REQUEST", "ACCESS_DENIED", "UNSUPPORTED_RESPONSE_TYPE",
                    "INVALID_SCOPE", "SERVER_ERROR", "LOGIN_REQUIRED", "INTERACTION_REQUIRED")
TRANSPORT_MODES = ("500", "429", "garbage", "timeout")
ID_TOKEN_MODES = ("bad_signature", "wrong_iss", "wrong_aud", "wrong_nonce", "no_nonce",
                  "expired", "iat_future", "old_auth_time", "alg_none", "alg_swap",
                  "hs256_public_key", "unknown_kid", "no_kid", "oversized")
ACCESS_TOKEN_LIFETIME = 2592000  # 30 days, LINE's documented expires_in


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def s256(verifier):
    return b64u(hashlib.sha256(verifier.encode()).digest())


def random_code(n=20):
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


# ---------------------------------------------------------------- JWS (RFC 7515 compact)

def jws(header, claims, sign):
    """header.claims.signature; sign(bytes) -> bytes, or None for an unsecured JWS."""
    part = lambda obj: b64u(json.dumps(obj, separators=(",", ":")).encode())  # noqa: E731
    signing_input = f"{part(header)}.{part(claims)}"
    return f"{signing_input}.{b64u(sign(signing_input.encode())) if sign else ''}"


def hs256(secret):
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def es256(private_key):
    def sign(data):
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # RFC 7518 section 3.4
    return sign


def flipped(sign):
    def sign_wrong(data):
        sig = bytearray(sign(data))
        sig[0] ^= 0x01
        return bytes(sig)
    return sign_wrong


class SigningKeys:
    """The fake's ES256 keys, newest last; the newest signs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = []
        self.rotate()

    def rotate(self, keep_old=True):
        with self.lock:
            if not keep_old:
                self.keys.clear()
            self.keys.append((secrets.token_hex(16), ec.generate_private_key(ec.SECP256R1())))

    def current(self):
        with self.lock:
            return self.keys[-1]

    def jwks(self):
        with self.lock:
            keys = list(self.keys)
        out = []
        for kid, key in keys:
            numbers = key.public_key().public_numbers()
            out.append({"kid": kid, "kty": "EC", "alg": "ES256", "use": "sig", "crv": "P-256",
                        "x": b64u(numbers.x.to_bytes(32, "big")),
                        "y": b64u(numbers.y.to_bytes(32, "big"))})
        return {"keys": out}


# ---------------------------------------------------------------- state

@dataclass
class Channel:
    channel_id: str
    secret: str
    redirect_uris: list
    alg: str = "HS256"


@dataclass
class Grant:
    """What an authorization code stands for."""
    channel_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    scope: str
    max_age: int | None
    sub: str
    amr: list | None
    auth_time: int
    issued: float = field(default_factory=time.time)
    used: bool = False


class Queues(gateways.Faults):
    """Per service, a FIFO of [entry, remaining] (see gateways.Faults); an entry is a dict
    with "mode" and the mode's fields, checked by check_entry."""

    def __init__(self):
        super().__init__(SERVICES, check_entry)

    def take(self, service):
        entry = super().take(service)
        return None if entry is None or entry["mode"] == "ok" else entry


def check_entry(service, c):
    """The queue entry a control request asks for, checked; ValueError when it is wrong."""
    mode = str(c.get("mode"))
    kind, _, arg = mode.partition(":")
    entry = {"mode": mode}
    if mode == "ok" or (kind == "slow" and arg.isdigit()):
        return entry
    if service == "authorize":
        return check_decision(mode, c, entry)
    if mode in TRANSPORT_MODES or (service == "token" and mode in ID_TOKEN_MODES):
        return entry
    raise ValueError(f"unknown mode {mode!r} for {service}")


def check_decision(mode, c, entry):
    if mode == "approve":
        sub = c.get("sub")
        if sub is not None and not isinstance(sub, str):
            raise ValueError("sub must be a string")
        amr = c.get("amr", ["pwd"])
        if amr is not None and not (isinstance(amr, list) and all(isinstance(a, str) for a in amr)):
            raise ValueError("amr must be a list of strings or null")
        auth_age = c.get("auth_age", 0)
        if not isinstance(auth_age, int) or auth_age < 0:
            raise ValueError("auth_age must be an integer >= 0")
        entry.update(sub=sub, amr=amr, auth_age=auth_age,
                     friendship_status_changed=bool(c.get("friendship_status_changed", False)))
        return entry
    if mode == "deny":
        entry["error_description"] = c.get("error_description",
                                           "The resource owner denied the request.")
        return entry
    if mode == "error":
        if c.get("error") not in AUTHORIZE_ERRORS:
            raise ValueError(f"error must be one of {', '.join(AUTHORIZE_ERRORS)}")
        entry.update(error=c["error"], error_description=c.get("error_description"))
        return entry
    raise ValueError(f"unknown mode {mode!r} for authorize")


def oauth_error(status, error, description):
    return gateways.HttpError(status, {"error": error, "error_description": description},
                              {"Cache-Control": "no-store"})


def error_page(why):
    """Invalid client_id or redirect_uri: a page for the user, never a redirect
    (RFC 6749 section 4.1.2.1)."""
    body = (f"<!DOCTYPE html><html><head><title>400 Bad Request</title></head><body>"
            f"<h1>400 Bad Request</h1><p>{html.escape(why)}</p></body></html>").encode()
    return gateways.HttpError(400, body, {"Content-Type": "text/html; charset=utf-8"})


def redirect(uri, params):
    """302 to uri with params added to its query (a registered callback URL may have one)."""
    parts = urllib.parse.urlsplit(uri)
    query = "&".join(p for p in (parts.query, urllib.parse.urlencode(params)) if p)
    location = urllib.parse.urlunsplit(parts._replace(query=query))
    return 302, b"", {"Location": location, "Cache-Control": "no-store"}


class LineLogin:
    """The state and the request logic of the fake provider."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.queues = Queues()
        self.keys = SigningKeys()
        self.codes = {}
        self.channels = {}
        self.add_channel(Channel(args.channel_id, args.channel_secret, list(args.redirect_uri),
                                 args.id_token_alg))
        self.journal = Path(args.state_dir) / "requests.jsonl" if args.state_dir else None

    def add_channel(self, channel):
        if channel.alg not in ("HS256", "ES256"):
            raise ValueError("id_token_alg must be HS256 or ES256")
        with self.lock:
            self.channels[channel.channel_id] = channel

    def record(self, entry):
        if self.journal:
            line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
            with self.lock, open(self.journal, "a", encoding="utf-8") as f:
                f.write(line)

    # -- GET /oauth2/v2.1/authorize
    def authorize(self, query, decision):
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        q = dict(pairs)
        with self.lock:
            channel = self.channels.get(q.get("client_id", ""))
        if channel is None:
            raise error_page("The client_id is not the ID of a LINE Login channel.")
        if q.get("redirect_uri") not in channel.redirect_uris:
            raise error_page("The redirect_uri does not match a callback URL of the channel.")
        uri, state = q["redirect_uri"], q.get("state")

        def fail(error, why):
            return redirect(uri, {"error": error, **({"error_description": why} if why else {}),
                                  **({"state": state} if state else {})})
        problem = self.authorize_problem(q, len(pairs) != len(q))
        if problem:
            return fail(*problem)
        if decision and decision["mode"] == "deny":
            return fail("ACCESS_DENIED", decision["error_description"])
        if decision and decision["mode"] == "error":
            return fail(decision["error"], decision["error_description"])
        code = self.issue_code(channel, q, decision or {})
        params = {"code": code, "state": state}
        if "bot_prompt" in q:
            changed = bool(decision and decision.get("friendship_status_changed"))
            params["friendship_status_changed"] = "true" if changed else "false"
        return redirect(uri, params)

    @staticmethod
    def authorize_problem(q, repeated):
        """(error, description) for a request LINE would refuse, or None."""
        if repeated:
            return "INVALID_REQUEST", "a parameter is repeated"
        if q.get("response_type") != "code":
            return "UNSUPPORTED_RESPONSE_TYPE", "response_type must be code"
        if not q.get("state"):
            return "INVALID_REQUEST", "state is required"
        scopes = set(q.get("scope", "").split(" ")) - {""}
        if not scopes or not scopes <= SCOPES or "openid" not in scopes:
            return "INVALID_SCOPE", "scope must contain openid (and only openid, profile, email)"
        if not q.get("nonce"):
            return "INVALID_REQUEST", "nonce is required (by this fake)"
        if q.get("code_challenge_method") != "S256":
            return "INVALID_REQUEST", "code_challenge_method must be S256"
        if not S256_CHALLENGE.fullmatch(q.get("code_challenge", "")):
            return "INVALID_REQUEST", "code_challenge must be BASE64URL(SHA256(code_verifier))"
        if "max_age" in q and not q["max_age"].isdigit():
            return "INVALID_REQUEST", "max_age must be a number of seconds"
        return None

    def issue_code(self, channel, q, decision):
        code = random_code()
        grant = Grant(channel.channel_id, q["redirect_uri"], q["code_challenge"], q["nonce"],
                      q["scope"], int(q["max_age"]) if "max_age" in q else None,
                      decision.get("sub") or self.args.sub,
                      decision.get("amr", self.args.amr.split(",") if self.args.amr else None),
                      int(time.time()) - decision.get("auth_age", 0))
        with self.lock:
            self.codes[code] = grant
        return code

    # -- POST /oauth2/v2.1/token
    def token(self, req, fault):
        if req.content_type() != "application/x-www-form-urlencoded":
            raise oauth_error(400, "invalid_request",
                              "Content-Type must be application/x-www-form-urlencoded")
        try:
            p = req.form()
        except gateways.HttpError:
            raise oauth_error(400, "invalid_request", "the body does not parse") from None
        if p.get("grant_type") != "authorization_code":
            raise oauth_error(400, "unsupported_grant_type",
                              "grant_type must be authorization_code")
        missing = [k for k in ("code", "redirect_uri", "client_id", "client_secret")
                   if not p.get(k)]
        if missing:
            raise oauth_error(400, "invalid_request", f"{', '.join(missing)} required")
        with self.lock:
            channel = self.channels.get(p["client_id"])
        if channel is None or not hmac.compare_digest(p["client_secret"].encode(),
                                                      channel.secret.encode()):
            raise oauth_error(401, "invalid_client", "unknown client_id or wrong client_secret")
        grant = self.redeem(p, channel)
        body = {"access_token": random_code(43), "expires_in": ACCESS_TOKEN_LIFETIME,
                "id_token": self.id_token(channel, grant, fault),
                "refresh_token": random_code(20), "scope": grant.scope, "token_type": "Bearer"}
        return 200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"}

    def redeem(self, p, channel):
        """The grant of the form's code, used up by this attempt whatever its outcome."""
        with self.lock:
            grant = self.codes.get(p["code"])
            if grant is None or grant.channel_id != channel.channel_id:
                raise oauth_error(400, "invalid_grant", "invalid authorization code")
            if grant.used:
                raise oauth_error(400, "invalid_grant", "authorization code already used")
            grant.used = True
        if time.time() - grant.issued >= self.args.code_lifetime:
            raise oauth_error(400, "invalid_grant", "authorization code expired")
        if p["redirect_uri"] != grant.redirect_uri:
            raise oauth_error(400, "invalid_grant", "redirect_uri does not match")
        verifier = p.get("code_verifier", "")
        if not VERIFIER.fullmatch(verifier):
            raise oauth_error(400, "invalid_request",
                              "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~")
        if not hmac.compare_digest(s256(verifier), grant.challenge):
            raise oauth_error(400, "invalid_grant", "code_verifier does not match code_challenge")
        return grant

    def id_token(self, channel, grant, fault):
        now = int(time.time())
        life = self.args.id_token_lifetime
        claims = {"iss": self.args.issuer, "sub": grant.sub, "aud": channel.channel_id,
                  "exp": now + life, "iat": now, "nonce": grant.nonce}
        if grant.max_age is not None:
            claims["auth_time"] = grant.auth_time
        if grant.amr is not None:
            claims["amr"] = grant.amr
        claims.update({
            "wrong_iss": {"iss": self.args.issuer + ".example"},
            "wrong_aud": {"aud": "1" + channel.channel_id},
            "wrong_nonce": {"nonce": "not-" + grant.nonce},
            "expired": {"iat": now - life - 600, "exp": now - 600},
            "iat_future": {"iat": now + 600, "exp": now + 600 + life},
            "old_auth_time": {"auth_time": now - 86400},
            "oversized": {"padding": "x" * 65536},
        }.get(fault, {}))
        if fault == "no_nonce":
            del claims["nonce"]
        return self.sign(channel, claims, fault)

    def sign(self, channel, claims, fault):
        alg = channel.alg
        if fault == "alg_swap":
            alg = "ES256" if alg == "HS256" else "HS256"
        kid, key = self.keys.current()
        header = {"typ": "JWT", "alg": alg}
        signer = hs256(channel.secret.encode())
        if alg == "ES256":
            header["kid"] = {"unknown_kid": "unknown-" + secrets.token_hex(8)}.get(fault, kid)
            if fault == "no_kid":
                del header["kid"]
            signer = es256(key)
        if fault == "alg_none":
            return jws({"typ": "JWT", "alg": "none"}, claims, None)
        if fault == "hs256_public_key":
            # The key-confusion attack: HS256 keyed with the ES256 public key's PEM.
            pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
            header, signer = {"typ": "JWT", "alg": "HS256", "kid": kid}, hs256(pem)
        return jws(header, claims, flipped(signer) if fault == "bad_signature" else signer)

    # -- test control
    def control(self, req):
        if req.command == "POST":
            try:
                self.control_post(req.json())
            except (ValueError, TypeError, KeyError) as e:
                raise gateways.HttpError(400, {"error": f"bad control request: {e!r}"}) from None
        with self.lock:
            channels = {c.channel_id: {"redirect_uris": c.redirect_uris, "id_token_alg": c.alg}
                        for c in self.channels.values()}
            codes = {"issued": len(self.codes), "used": sum(g.used for g in self.codes.values())}
        return 200, {"queues": self.queues.state(), "channels": channels, "codes": codes,
                     "kids": [k["kid"] for k in self.keys.jwks()["keys"]]}, {}

    def control_post(self, c):
        service, action = c.get("service"), c.get("action")
        if service is not None and service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        if c.get("reset"):
            self.queues.reset(service)
        elif action == "channel":
            uris = c.get("redirect_uris", [])
            if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
                raise ValueError("redirect_uris must be a list of URLs")
            self.add_channel(Channel(str(c["channel_id"]), str(c["channel_secret"]), uris,
                                     c.get("id_token_alg", "HS256")))
        elif action == "expire_codes":
            with self.lock:
                for grant in self.codes.values():
                    grant.issued = 0
        elif action == "rotate_key":
            self.keys.rotate(keep_old=c.get("keep_old", True))
        elif service and "mode" in c:
            count = c.get("count", 1)
            if not isinstance(count, int) or count < 0:
                raise ValueError("count must be an integer >= 0")
            self.queues.add(service, c, count)
        else:
            raise ValueError("expected {service, mode[, count, ...]}, {reset[, service]} or "
                             "{action: channel | expire_codes | rotate_key}")


# ---------------------------------------------------------------- HTTP plumbing

ROUTES = {AUTHORIZE_PATH: ("authorize", "GET"), TOKEN_PATH: ("token", "POST"),
          CERTS_PATH: ("certs", "GET")}


class Handler(gateways.Handler):
    server_version = "line-login-fake/1"

    def dispatch(self):
        fake = self.server.gw
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.parsed = None
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_control":
            return self.answer(*self.run(fake.control)[:3])
        if url.path not in ROUTES:
            return self.answer(404, {"error": f"no fake serves {url.path}"}, {})
        service, method = ROUTES[url.path]
        if self.command != method:
            return self.answer(405, {"error": "method not allowed"}, {"Allow": method})
        entry = fake.queues.take(service)
        mode = entry and entry["mode"]
        journal = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "service": service, "method": self.command, "path": url.path, "fault": mode}
        if mode and mode.startswith("slow:"):
            fake.stopping.wait(int(mode[5:]) / 1000)
            entry = mode = None
        if mode == "timeout":
            fake.record({**journal, "status": None})
            fake.stopping.wait(fake.args.hang_seconds)
            self.close_connection = True  # hang up without an answer
            return
        status, body, headers = self.handle_service(fake, service, url.query, entry)
        params = dict(urllib.parse.parse_qsl(url.query)) if service == "authorize" else self.parsed
        fake.record({**journal, "status": status, "params": params})
        self.answer(status, body, {"x-line-request-id": str(uuid.uuid4()), **headers})

    def handle_service(self, fake, service, query, entry):
        mode = entry and entry["mode"]
        if mode == "garbage":
            return 200, b"<html><body>upstream hiccup</body></html>", {"Content-Type": "text/html"}
        if mode == "500":
            return 500, {"error": "server_error", "error_description": "internal error"}, {}
        if mode == "429":
            return 429, {"error": "too_many_requests",
                         "error_description": "rate limit exceeded"}, {}
        if service == "certs":
            return 200, fake.keys.jwks(), {"Cache-Control": "max-age=3600"}
        if service == "authorize":
            return self.run(lambda r: fake.authorize(query, entry))[:3]
        return self.run(lambda r: fake.token(r, mode))[:3]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--cert", help="server certificate (PEM); without --cert/--key: plain HTTP")
    ap.add_argument("--key", help="its private key (PEM)")
    ap.add_argument("--state-dir", help="requests.jsonl is appended here")
    ap.add_argument("--hang-seconds", type=float, default=30,
                    help="how long mode 'timeout' holds a request (default 30)")
    ap.add_argument("--channel-id", default="1234567890")
    ap.add_argument("--channel-secret", default="0123456789abcdef0123456789abcdef")
    ap.add_argument("--redirect-uri", action="append", default=[],
                    help="a callback URL registered for the channel (repeatable)")
    ap.add_argument("--id-token-alg", choices=("HS256", "ES256"), default="HS256")
    ap.add_argument("--issuer", default="https://access.line.me")
    ap.add_argument("--sub", default="Ua1b2c3d4e5f60718293a4b5c6d7e8f90",
                    help="the identity approved when no decision is queued")
    ap.add_argument("--amr", default="pwd", help="comma-separated amr values; '' omits amr")
    ap.add_argument("--code-lifetime", type=float, default=600, help="seconds (LINE: 10 min)")
    ap.add_argument("--id-token-lifetime", type=int, default=3600, help="exp - iat, seconds")
    ap.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = ap.parse_args()
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")
    if args.state_dir:
        Path(args.state_dir).mkdir(parents=True, exist_ok=True)
    gateways.serve(gateways.Server(args.port, gateways.tls_context(args.cert, args.key),
                                   LineLogin(args), Handler))


if __name__ == "__main__":
    sys.exit(main())
