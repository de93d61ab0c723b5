"""A tiny local receiver for trying webhooks out: prints each event and whether its signature verifies."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand

from deliveries.signing import verify_calendence_signature


class ListenServer(ThreadingHTTPServer):
    # Workers send a batch to one endpoint at once: room for more than http.server's
    # default backlog of 5 pending connections, which would refuse part of a burst.
    request_queue_size = 128


class Command(BaseCommand):
    help = "Receive webhooks on 127.0.0.1:PORT and print each one, checking its signature with --secret."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=9000)
        parser.add_argument("--secret", default="", help="The webhook's whsec_… secret, to verify signatures.")
        parser.add_argument("--status", type=int, default=200, help="The status code to answer with.")

    def handle(self, *args, port, secret, status, **options):
        handler = make_handler(self.stdout.write, secret, status)
        server = ListenServer(("127.0.0.1", port), handler)
        self.stdout.write(f"Listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


def make_handler(write, secret: str, status: int):
    class WebhookHandler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            write(describe(body, self.headers, secret))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"received": true}')

        def log_message(self, format, *args):
            pass  # one line per event is printed by do_POST

    return WebhookHandler


def describe(body: bytes, headers, secret: str) -> str:
    if not secret:
        verdict = "not checked (start with --secret whsec_…)"
    elif verify_calendence_signature(secret, body, headers.get("X-Calendence-Signature", "")):
        verdict = "valid"
    elif verify_calendence_signature(secret, body, headers.get("X-Calendence-Signature-Previous", "")):
        verdict = "valid (with the previous secret: the webhook's secret was rotated)"
    else:
        verdict = "INVALID"
    try:
        event = json.loads(body)
        summary = f"{event.get('event')} {event.get('id')} booking {event.get('data', {}).get('id')}"
    except ValueError:
        summary = f"{len(body)} bytes of non-JSON"
    attempt = headers.get("X-Calendence-Attempt", "?")
    return f"{summary} (attempt {attempt}) signature: {verdict}"
