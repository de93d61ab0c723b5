"""A real local webhook receiver for the tests.

It listens on 127.0.0.1, records every request with its raw body and arrival
time, checks X-Calendence-Signature exactly as a receiver in any language would
(HMAC-SHA256 of the raw body with the secret, compared after `sha256=`), and
answers as the test scripts it: a status, a delay, a redirect, a trickle.
"""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_is_valid(secret: str, raw_body: bytes, header: str) -> bool:
    """The check a receiver runs: strip `sha256=`, recompute, compare in constant time."""
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    signature_valid: bool | None  # None when the receiver has no secret

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    trickle_interval: float = 0.0  # >0: send the body one byte at a time, this far apart


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A worker sends a batch to one endpoint at once; http.server's backlog of 5 would
    # refuse part of it (connection resets), as few real servers do.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a sender that hangs up mid-answer (deadline, capped read) is expected here


class Receiver:
    def __init__(self, answer: Answer | None = None):
        self.answer = answer or Answer()
        self.secret: str | None = None
        self.requests: list[Received] = []
        self._arrived = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` requests have arrived (or the timeout passes); return them all."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count and time.monotonic() < deadline:
                self._arrived.wait(deadline - time.monotonic())
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = dict(handler.headers.items())
        valid = None
        if self.secret is not None:
            valid = signature_is_valid(self.secret, body, headers.get("X-Calendence-Signature", ""))
        with self._arrived:
            self.requests.append(Received(handler.path, headers, body, time.monotonic(), valid))
            self._arrived.notify_all()

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._record(self, body)
                answer = receiver.answer
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self._write_body(answer)

            def _write_body(self, answer: Answer):
                try:
                    if not answer.trickle_interval:
                        self.wfile.write(answer.body)
                        return
                    for byte in answer.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(answer.trickle_interval)
                except OSError:
                    pass  # the sender gave up on us: that is what some tests check

            def log_message(self, format, *args):
                pass

        return Handler
