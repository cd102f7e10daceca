#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for lwauthd's smtp channel tests.

Every accepted message is appended to --out as one JSON line:
{"mail_from": ..., "rcpt_tos": [...], "content": <the message as received>, "login": ...,
 "ehlo": <the name the client gave with EHLO>, "mail_options": <MAIL FROM's parameters,
 e.g. ["SIZE=344"]>, "body_param": <the value of its BODY= (8BITMIME: the client may send
 8-bit data, RFC 6152), or null>, "seven_bit": <no byte of the message has its high bit set>,
 "longest_line": <octets of the longest line, without CRLF>, "decoded": <the message as a
 mail reader sees it, through Python's email package: "subject", "from_name" (RFC 2047 section 6.2: no white
 space between adjacent encoded-words), "from_address",
 "to", "content_type", "charset", "transfer_encoding", "body" (decoded; null when the
 message does not parse), "defects" (what the parser found wrong)>}.

Modes:
  starttls   plain connection that offers STARTTLS and requires it before MAIL
  smtps      TLS from the first byte (smtps://)
  plain      no STARTTLS offered at all: a client that insists on TLS must send nothing
  silent     accepts connections and never says a word (no greeting): a client must time out
Options:
  --auth USER:PASSWORD   require AUTH (PLAIN/LOGIN) with these credentials, over TLS only
  --refuse-rcpt          answer every RCPT TO with 550
  --greet-delay SECONDS  wait this long before the 220 greeting (a greeting delay, as
                         Postfix postscreen's greet pause or sendmail's GreetPause)
  --dot-delay SECONDS    take the message, then wait this long before answering the "."
  --stall data|dot       data: never answer the DATA command (no 354); dot: take the message
                         (it is recorded) and never answer the final "."

Prints "LISTENING <port>" once the server accepts connections.
"""

import argparse
import asyncio
import email
import email.header
import email.policy
import email.utils
import json
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOUR = 3600


def decode(content):
    """The message as a mail reader shows it (RFC 2047 words and the body decoded)."""
    msg = email.message_from_bytes(content, policy=email.policy.default)
    out = {"defects": [type(d).__name__ for d in msg.defects]}
    try:
        sender = msg["from"].addresses[0]
        # The display name through the older decoder: Python 3.11's address parser keeps the
        # white space between adjacent encoded-words, which RFC 2047 section 6.2 says to
        # ignore (CPython gh-128110), as mail readers do.
        raw_from = email.message_from_bytes(content, policy=email.policy.compat32)["from"]
        name, _ = email.utils.parseaddr(str(email.header.make_header(
            email.header.decode_header(raw_from))))
        out.update(subject=str(msg["subject"]), from_name=name,
                   from_address=sender.addr_spec, to=str(msg["to"]),
                   content_type=msg.get_content_type(), charset=msg.get_content_charset(),
                   transfer_encoding=msg.get("Content-Transfer-Encoding"),
                   body=msg.get_content())
    except (AttributeError, IndexError, LookupError, ValueError) as e:
        out.update(body=None, error=str(e))
    return out


class Recorder:
    def __init__(self, out, refuse_rcpt, dot_delay=0.0, stall_dot=False):
        self.out = out
        self.refuse_rcpt = refuse_rcpt
        self.dot_delay = dot_delay
        self.stall_dot = stall_dot
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
            "ehlo": session.host_name,
            "mail_options": envelope.mail_options,
            "body_param": next((o.split("=", 1)[1] for o in envelope.mail_options
                                if o.upper().startswith("BODY=")), None),
            "seven_bit": all(b < 0x80 for b in content),
            "longest_line": max(len(line) for line in content.split(b"\r\n")),
            "decoded": decode(content),
        }
        with self.lock, open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        # The message is taken; the reply to the "." is late, or never comes.
        await asyncio.sleep(HOUR if self.stall_dot else self.dot_delay)
        return "250 2.0.0 Message accepted"


class FaultySMTP(SMTP):
    """aiosmtpd's server, with a late greeting or a DATA command left unanswered."""

    def __init__(self, handler, greet_delay=0.0, stall_data=False, **kwargs):
        super().__init__(handler, **kwargs)
        self.greet_delay = greet_delay
        self.stall_data = stall_data
        self.greeted = False

    async def push(self, status):
        if not self.greeted:  # the first line a client gets is the 220 greeting
            self.greeted = True
            await asyncio.sleep(self.greet_delay)
        return await super().push(status)

    async def smtp_DATA(self, arg):
        if self.stall_data:
            await asyncio.sleep(HOUR)
            return None
        return await super().smtp_DATA(arg)


class FaultyController(Controller):
    def __init__(self, handler, faults, **kwargs):
        self.faults = faults
        super().__init__(handler, **kwargs)

    def factory(self):
        return FaultySMTP(self.handler, **self.faults, **self.SMTP_kwargs)


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
    parser.add_argument("--greet-delay", type=float, default=0.0)
    parser.add_argument("--dot-delay", type=float, default=0.0)
    parser.add_argument("--stall", choices=["data", "dot"])
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

    recorder = Recorder(args.out, args.refuse_rcpt, args.dot_delay, args.stall == "dot")
    faults = {"greet_delay": args.greet_delay, "stall_data": args.stall == "data"}
    controller = FaultyController(recorder, faults, **kwargs)
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
