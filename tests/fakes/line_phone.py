#!/usr/bin/python3
"""A test "phone": opens a LINE login link the way a phone's browser would.

It follows the redirects one by one (link -> LINE authorize -> the fake's approval ->
lwauthd's callback), keeping cookies, and can then pick a number on the confirmation page:
it submits the page's form by POST with every hidden input as it is and the picked number
in the field `number` (see README.md, "The confirmation page").

  line_phone.py URL [--ca-file CA] [--pick N] [--field number]

prints one JSON object: {"hops": [{"status", "url"}, ...], "status", "url", "body"} for
the last answer (after the pick, when --pick is given), and exits 0 when its status is
2xx, 1 otherwise, 2 when a page or form could not be used.
"""
import argparse
import http.cookiejar
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

REDIRECTS = (301, 302, 303, 307, 308)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # every hop is followed and recorded by Phone.open


class Page:
    def __init__(self, status, url, headers, body, hops):
        self.status, self.url, self.headers, self.body, self.hops = \
            status, url, headers, body, hops

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def as_dict(self):
        return {"hops": self.hops, "status": self.status, "url": self.url, "body": self.text()}


class FormParser(HTMLParser):
    """The page's forms: [{"action", "method", "fields": [(name, value, type)]}]."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": [],
                               "method": (a.get("method") or "get").lower()})
        elif tag in ("input", "button", "select", "textarea") and self.forms and a.get("name"):
            kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
            self.forms[-1]["fields"].append((a["name"], a.get("value") or "", kind))


class Phone:
    def __init__(self, ca_file=None, timeout=10, max_hops=10, accept_language=None):
        self.timeout, self.max_hops = timeout, max_hops
        self.accept_language = accept_language
        ctx = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx),
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect())

    def fetch(self, url, data=None):
        headers = {"User-Agent": "lwauth-test-phone/1"}
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, headers=headers)
        try:
            with self.opener.open(req, timeout=self.timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def open(self, url, data=None):
        """GETs url (POSTs data) and follows redirects; the last answer as a Page."""
        hops = []
        while True:
            status, headers, body = self.fetch(url, data)
            hops.append({"status": status, "url": url})
            location = headers.get("Location")
            if status not in REDIRECTS or not location or len(hops) > self.max_hops:
                return Page(status, url, headers, body, hops)
            url = urllib.parse.urljoin(url, location)
            if status in (301, 302, 303):
                data = None  # as browsers do: the next request is a GET

    def pick(self, page, number, field="number"):
        """Submits the form of page that has `field` (else its only POST form) with the
        hidden inputs as they are and field=number; follows redirects."""
        parser = FormParser()
        parser.feed(page.text())
        forms = [f for f in parser.forms if any(n == field for n, _, _ in f["fields"])] \
            or [f for f in parser.forms if f["method"] == "post"]
        if not forms:
            raise ValueError(f"no form with a field {field!r} on {page.url}")
        form = forms[0]
        fields = [(n, v) for n, v, kind in form["fields"] if kind == "hidden" and n != field]
        fields.append((field, str(number)))
        target = urllib.parse.urljoin(page.url, form["action"] or page.url)
        done = self.open(target, urllib.parse.urlencode(fields).encode())
        done.hops = page.hops + done.hops
        return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="the short link the terminal shows")
    ap.add_argument("--ca-file", help="trust anchor for https:// hops (the test CA)")
    ap.add_argument("--pick", help="the number to pick on the confirmation page")
    ap.add_argument("--field", default="number", help="the form field of the pick")
    ap.add_argument("--timeout", type=float, default=10, help="seconds per request")
    ap.add_argument("--accept-language",
                    help="the Accept-Language header of every request, as a browser sends it")
    args = ap.parse_args()
    phone = Phone(args.ca_file, args.timeout, accept_language=args.accept_language)
    try:
        page = phone.open(args.url)
        if args.pick is not None:
            page = phone.pick(page, args.pick, args.field)
    except (ValueError, OSError) as e:
        print(json.dumps({"error": str(e)}))
        return 2
    print(json.dumps(page.as_dict(), ensure_ascii=False))
    return 0 if 200 <= page.status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
