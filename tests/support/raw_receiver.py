"""A receiver that answers with exactly the bytes a test gives it: a hostile HTTP server.

tests.support.receiver speaks well-formed HTTP through http.server; this one reads the
request (headers, then Content-Length bytes of body) and writes whatever it is told,
NUL bytes, broken UTF-8 and malformed headers included, then closes the connection.
"""

import socket
import threading


class RawReceiver:
    def __init__(self, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"):
        self.answer = answer
        self.requests = 0
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/hooks"

    def close(self) -> None:
        self._closed.set()
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() that close() alone would not
        except OSError:
            pass
        self._server.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _address = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            try:
                _read_request(connection)
                self.requests += 1
                connection.sendall(self.answer)
            except OSError:
                pass  # the sender gave up: nothing to answer


def _read_request(connection: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            return received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
