"""A Calendence webhook receiver in Python 3.8+, standard library only.

Run: CALENDENCE_WEBHOOK_SECRET=whsec_... PORT=9000 python3 receiver.py
It listens on 127.0.0.1: put it behind your HTTPS reverse proxy.
"""

import hashlib
import hmac
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["CALENDENCE_WEBHOOK_SECRET"].encode("utf-8")  # the whole string, whsec_ included
PORT = int(os.environ.get("PORT", "9000"))
SIGNATURE_HEADERS = ("X-Calendence-Signature", "X-Calendence-Signature-Previous")
seen_event_ids = set()  # in production: a unique column in your database


def is_signed_by_calendence(raw_body: bytes, headers) -> bool:
    expected = ("sha256=" + hmac.new(SECRET, raw_body, hashlib.sha256).hexdigest()).encode()
    return any(
        hmac.compare_digest(expected, (headers.get(name) or "").encode("utf-8"))
        for name in SIGNATURE_HEADERS
    )


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not is_signed_by_calendence(raw_body, self.headers):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(raw_body)
        self.send_response(200)  # answer fast; do slow work in a queue
        self.end_headers()
        if event["id"] in seen_event_ids:
            return  # a retry of an event already handled
        seen_event_ids.add(event["id"])
        print("verified", event["event"], event["id"], flush=True)

    def log_message(self, format, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
