"""A TCP proxy a test owns, to cut a service (PostgreSQL, Redis, ...) off and bring it back.

    proxy = TcpProxy("127.0.0.1", 5432).start()   # listens on proxy.host:proxy.port
    ...point the process under test at proxy.port...
    proxy.cut()        # every open connection dropped; new ones accepted and closed at once
    proxy.restore()    # new connections are forwarded again
    proxy.close()      # stops listening and forwarding; safe to call twice

Or `with TcpProxy(host, port) as proxy:` (started on entry, closed on exit), or the
`tcp_proxy` fixture in tests/conftest.py, which closes it after the test.

While cut, a client sees what it sees when the server dies or restarts: its open
connection closed under it ("server closed the connection unexpectedly"), and each new
one closed as soon as it is made. Nothing waits for a timeout, so tests stay fast.

Bounded: at most `max_connections` forwarded at once (more are closed), daemon threads
only, and the proxy closes itself `lifetime` seconds after start() if nobody did.
"""

import socket
import threading
import time

ACCEPT_POLL_SECONDS = 0.05
BUFFER_SIZE = 64 * 1024


class TcpProxy:
    def __init__(
        self, target_host: str, target_port: int, *, max_connections: int = 64, lifetime: float = 600.0
    ):
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.max_connections = max_connections
        self.lifetime = lifetime
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []

    # The API ---------------------------------------------------------------------------------

    def start(self) -> "TcpProxy":
        """Listen on a free 127.0.0.1 port (self.port) and forward each connection to the target."""
        assert self._listener is None, "start() once"
        listener = socket.create_server((self.host, 0))
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self._listener, self.port = listener, listener.getsockname()[1]
        self._spawn(self._accept_loop, time.monotonic() + self.lifetime)
        return self

    def cut(self) -> None:
        """Drop every open connection, and close each new one as soon as it is accepted."""
        self._cut.set()
        self._drop_all()

    def restore(self) -> None:
        """Forward new connections again (the dropped ones stay dropped, as after an outage)."""
        self._cut.clear()

    def close(self) -> None:
        """Stop listening, drop every connection and wait briefly for the threads to end."""
        self._closed.set()
        self._drop_all()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=2)

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # The machinery -----------------------------------------------------------------------

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"tcp-proxy-{self.port}")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self, deadline: float) -> None:
        try:
            while not self._closed.is_set() and time.monotonic() < deadline:
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                self._take(client)
        finally:
            self._listener.close()
            if not self._closed.is_set():  # the lifetime ran out: nobody closed us
                self._closed.set()
                self._drop_all()

    def _take(self, client: socket.socket) -> None:
        client.settimeout(None)
        if self._cut.is_set() or self.open_connections >= self.max_connections:
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)  # the target is down: the client sees the same
            return
        upstream.settimeout(None)
        pair = (client, upstream)
        with self._lock:
            dropped = self._cut.is_set() or self._closed.is_set()  # cut while we connected
            if not dropped:
                self._pairs.add(pair)
        if dropped:
            _close(client), _close(upstream)
            return
        self._spawn(self._pump, client, upstream, pair)
        self._spawn(self._pump, upstream, client, pair)

    def _pump(self, source: socket.socket, sink: socket.socket, pair) -> None:
        try:
            while data := source.recv(BUFFER_SIZE):
                sink.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for sock in pair:
            _close(sock)

    def _drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
        for pair in pairs:
            self._drop(pair)


def _close(sock: socket.socket) -> None:
    # shutdown first: it wakes a thread blocked in recv() on this socket, close() alone may not.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
