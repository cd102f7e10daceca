#!/usr/bin/python3
"""A small HTTPS server for lwauth's HTTP client tests.

Usage: https_test_server.py CERT KEY  -> prints "LISTENING <port>" when ready.

  /status/CODE   answers CODE with a JSON body {"status": CODE}
  /slow/MS       answers 200 after MS milliseconds
  /garbage       answers 200 with a body that is not JSON
  /big           answers 200 with 2 MiB
  /echo          answers 200 with JSON: method, path, Authorization header, body
"""
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        parts = self.path.strip("/").split("/")
        if parts[0] == "status":
            code = int(parts[1])
            self.answer(code, json.dumps({"status": code}))
        elif parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000)
            self.answer(200, json.dumps({"slow": int(parts[1])}))
        elif parts[0] == "garbage":
            self.answer(200, "<html>not json", "text/html")
        elif parts[0] == "big":
            self.answer(200, b"x" * (2 << 20), "text/plain")
        elif parts[0] == "echo":
            self.answer(200, json.dumps({
                "method": self.command,
                "path": self.path,
                "authorization": self.headers.get("Authorization", ""),
                "content_type": self.headers.get("Content-Type", ""),
                "body": body,
            }))
        else:
            self.answer(404, json.dumps({"error": "not found"}))

    do_GET = do_POST = do_PUT = handle_any


def main():
    cert, key = sys.argv[1], sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("LISTENING %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
