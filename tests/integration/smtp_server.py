#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for lwauthd's smtp channel tests.

Every accepted message is appended to --out as one JSON line:
{"mail_from": ..., "rcpt_tos": [...], "content": <the message as received>, "login": ...}.

Modes:
  starttls   plain connection that offers STARTTLS and requires it before MAIL
  smtps      TLS from the first byte (smtps://)
  plain      no STARTTLS offered at all: a client that insists on TLS must send nothing
  silent     accepts connections and never says a word (no greeting): a client must time out
Options:
  --auth USER:PASSWORD   require AUTH (PLAIN/LOGIN) with these credentials, over TLS only
  --refuse-rcpt          answer every RCPT TO with 550

Prints "LISTENING <port>" once the server accepts connections.
"""

import argparse
import json
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, out, refuse_rcpt):
        self.out = out
        self.refuse_rcpt = refuse_rcpt
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return "550 5.1.1 Requested action not taken: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None
        entry = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content": content.decode("utf-8", "replace"),
            # session.ssl after STARTTLS; an SSL transport on smtps://
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "login": login,
        }
        with self.lock, open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        return "250 2.0.0 Message accepted"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_silently():
    """Accepts connections and holds them open without a greeting until killed."""
    held = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        print(f"LISTENING {s.getsockname()[1]}", flush=True)
        try:
            while True:
                conn, _ = s.accept()
                held.append(conn)
        except KeyboardInterrupt:
            pass
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["starttls", "smtps", "plain", "silent"], default="starttls")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--out", required=True)
    parser.add_argument("--auth", help="USER:PASSWORD")
    parser.add_argument("--refuse-rcpt", action="store_true")
    args = parser.parse_args()
    if args.mode == "silent":
        return serve_silently()

    context = None
    if args.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    kwargs = {"hostname": "127.0.0.1", "port": free_port(), "server_hostname": "mx.test"}
    if args.mode == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    elif args.mode == "smtps":
        kwargs.update(ssl_context=context)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        # aiosmtpd only counts a STARTTLS upgrade as TLS for auth_require_tls, so on an
        # smtps:// connection (TLS from the start) the check is left off.
        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=args.mode != "smtps",
        )

    controller = Controller(Recorder(args.out, args.refuse_rcpt), **kwargs)
    controller.start()
    print(f"LISTENING {controller.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
