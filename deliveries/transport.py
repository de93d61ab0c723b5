"""One HTTP attempt: POST the body, and return what happened as a result object.

What this module guarantees, whatever the receiver does:
- a whole-attempt deadline: connect, send and read together. requests' own timeout
  is per socket operation, so a receiver trickling a byte at a time could hold an
  attempt forever; a watchdog thread shuts the socket down when the deadline passes.
- the connection goes to an address vetted by webhooks.url_policy at this attempt
  (pinned: no second DNS lookup that could answer differently), while the Host
  header and TLS SNI/certificate checks keep the endpoint's own name.
- redirects are never followed; the response body is read streaming and capped.
- it never raises for anything the network or the receiver does, and everything of the
  receiver's that it returns (body, headers, error details) is safe to store.

A Transport owns what its attempts share: the watchdog thread and each send thread's
connection pool. The worker's sender makes one and closes it when the worker stops; a
test makes its own. The attempt a thread is making is that thread's context (a ContextVar),
so the connection classes urllib3 instantiates can find its addresses and deadline.
"""

import contextvars
import heapq
import itertools
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webhooks.url_policy import (
    BlockedAddress,
    IPAddress,
    UnresolvableHost,
    default_port,
    resolve,
    resolve_public_addresses,
)

from .models import RESPONSE_BODY_LIMIT
from .storable import storable_bytes, storable_headers, storable_text

logger = logging.getLogger(__name__)

# Answers whose Retry-After header we honour.
RETRY_AFTER_STATUSES = {429, 503}
# Stop reading a response after this much: we keep RESPONSE_BODY_LIMIT of it.
RESPONSE_READ_LIMIT = 64 * 1024


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None  # timeout, connection_refused, dns_error, tls_error, ...
    error_detail: str
    response_body: str
    duration_ms: int
    retry_after: float | None = None  # seconds the receiver asked us to wait (429/503)
    response_headers: dict[str, str] = field(default_factory=dict)
    queued_ms: int = 0  # how long the claimed attempt waited for a send thread
    answered_at: datetime | None = None  # when the attempt ended (it may be logged later)

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


class _Attempt:
    """What the connection classes need to know about the attempt in flight on this thread."""

    def __init__(self, addresses: list[IPAddress], deadline: float):
        self.addresses = addresses
        self.deadline = deadline
        self.connections: list[HTTPConnection] = []
        self.expired = False
        self.finished = False  # the watchdog then has nothing to do

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.001)

    def expire(self) -> None:
        """Called by the watchdog at the deadline: break every socket of this attempt."""
        self.expired = True
        for connection in self.connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Watchdog:
    """One thread for every attempt of a transport: breaks each attempt's sockets at its deadline.

    (A timer thread per attempt would cost a thread start per POST.) The thread starts with
    the first attempt watched, and ends at stop()."""

    def __init__(self):
        self._due: list[tuple[float, int, _Attempt]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, attempt: _Attempt) -> None:
        with self._wakeup:
            if self._stopped:
                raise RuntimeError("the transport is closed: no attempt may start without its deadline")
            heapq.heappush(self._due, (attempt.deadline, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():  # also in a forked child
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            if self._due[0][2] is attempt:  # the earliest deadline now: wake the thread to heed it
                self._wakeup.notify()

    def stop(self) -> None:
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        with self._wakeup:
            while not self._stopped:
                now = time.monotonic()
                while self._due and (self._due[0][2].finished or self._due[0][0] <= now):
                    _deadline, _order, attempt = heapq.heappop(self._due)
                    if not attempt.finished:
                        attempt.expire()
                self._wakeup.wait(timeout=self._due[0][0] - now if self._due else None)


# The attempt the current thread is making (set only around one POST).
_attempt_in_flight: contextvars.ContextVar[_Attempt] = contextvars.ContextVar("attempt_in_flight")


class _GuardedConnectionMixin:
    """Connects to the attempt's vetted addresses and registers itself with the watchdog."""

    def _new_conn(self):
        attempt = _attempt_in_flight.get()
        last_error: OSError | None = None
        for address in attempt.addresses:
            self._dns_host = str(address)  # connect here; self.host stays the endpoint's name
            self.timeout = attempt.remaining()
            try:
                return super()._new_conn()
            except OSError as exc:
                last_error = exc
        raise last_error or OSError("no address to connect to")

    def request(self, *args, **kwargs):
        _attempt_in_flight.get().connections.append(self)
        return super().request(*args, **kwargs)


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


class Transport:
    """Sends attempts; owns their watchdog and a connection pool per send thread."""

    def __init__(self):
        self._watchdog = _Watchdog()
        self._threads = threading.local()
        self._adapters: list[GuardedAdapter] = []
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout: float,
             allow_private: bool) -> AttemptResult:
        """POST `body` to `url` within `timeout` seconds in all. Never raises: whatever happens
        is an attempt to log."""
        started = time.monotonic()
        try:
            return self._post_vetted(url, body, headers, started=started, timeout=timeout,
                                     allow_private=allow_private)
        except Exception as exc:  # noqa: BLE001 - a bug of ours meeting an answer we did not foresee
            logger.exception("The attempt to %s failed inside the sender; it is logged as internal_error.", url)
            return _failure("internal_error", _describe(exc), started)

    def close(self) -> None:
        """Once no attempt is in flight any more: end the watchdog, close every pooled connection.
        An attempt after this fails as internal_error, without a connection."""
        self._watchdog.stop()
        with self._lock:
            adapters, self._adapters = self._adapters, []
        for adapter in adapters:
            adapter.close()

    def _post_vetted(self, url, body, headers, *, started: float, timeout: float,
                     allow_private: bool) -> AttemptResult:
        try:
            addresses = _vetted_addresses(url, allow_private)
        except BlockedAddress as exc:
            return _failure("blocked_address", str(exc), started)
        except UnresolvableHost as exc:
            return _failure("dns_error", str(exc), started)
        attempt = _Attempt(addresses, deadline=started + timeout)
        self._watchdog.watch(attempt)
        in_flight = _attempt_in_flight.set(attempt)
        try:
            return _send(self._adapter(), url, body, headers, attempt, started)
        finally:
            attempt.finished = True
            attempt.connections.clear()  # the watchdog keeps the attempt until its deadline
            _attempt_in_flight.reset(in_flight)

    def _adapter(self) -> GuardedAdapter:
        """One adapter (connection pool) per thread: connections to a host are reused between
        attempts. Requests go to it directly: a Session's cookies, proxies from the environment,
        .netrc and redirect handling are all things an attempt must not have, and cost time."""
        adapter = getattr(self._threads, "adapter", None)
        if adapter is None:
            adapter = self._threads.adapter = GuardedAdapter(pool_connections=32, pool_maxsize=4, max_retries=0)
            with self._lock:
                self._adapters.append(adapter)
        return adapter


def request_headers(url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """Every header the request will carry: `headers` and the three the HTTP client would add.
    Sent explicitly (the client then adds none), so the log can show the request as sent."""
    return {
        "Host": urlsplit(url).netloc,
        **headers,
        "Content-Length": str(len(body)),
        "Accept-Encoding": "identity",
    }


def _vetted_addresses(url: str, allow_private: bool) -> list[IPAddress]:
    """Resolved once per attempt; the connection may go nowhere else."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or default_port(parts.scheme)
    return resolve(host, port) if allow_private else resolve_public_addresses(host, port)


def _send(adapter: GuardedAdapter, url: str, body: bytes, headers: dict[str, str], attempt: _Attempt,
          started: float) -> AttemptResult:
    remaining = attempt.remaining()
    try:
        request = requests.Request("POST", url, data=body, headers=headers).prepare()
        response = adapter.send(request, stream=True, timeout=(remaining, remaining))
        try:
            excerpt = _read_capped(response, attempt)
        finally:
            response.close()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded attempt
        return _failure(*_classify(exc, attempt), started)
    error, detail = None, ""
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        error, detail = "redirect_not_followed", f"Redirects are not followed (Location: {location})"[:500]
    retry_after = None
    if response.status_code in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(response.headers.get("Retry-After", ""))
    return AttemptResult(
        response.status_code, error, storable_text(detail), excerpt, _elapsed_ms(started), retry_after,
        response_headers=storable_headers(response.headers.items()),
    )


def parse_retry_after(value: str, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110); None if absent or bad."""
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # str.isdigit() alone also takes "²"
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _read_capped(response: requests.Response, attempt: _Attempt) -> str:
    received = bytearray()
    for chunk in response.iter_content(chunk_size=8192):
        received += chunk
        if attempt.expired or time.monotonic() > attempt.deadline:
            raise TimeoutError("the response did not complete before the deadline")
        if len(received) >= RESPONSE_READ_LIMIT:
            break
    return storable_bytes(bytes(received[:RESPONSE_BODY_LIMIT]))


def _classify(exc: Exception, attempt: _Attempt) -> tuple[str, str]:
    if attempt.expired or time.monotonic() >= attempt.deadline or isinstance(exc, (requests.Timeout, TimeoutError)):
        return "timeout", "No complete response before the attempt's deadline."
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls_error", _describe(exc)
    if _caused_by(exc, ConnectionRefusedError):
        return "connection_refused", "The endpoint refused the connection."
    if _caused_by(exc, ConnectionResetError):
        return "connection_reset", "The endpoint reset the connection."
    return "connection_error", _describe(exc)


def _caused_by(exc: BaseException, kind: type) -> bool:
    seen = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        pending += [current.__cause__, current.__context__, *[a for a in current.args if isinstance(a, BaseException)]]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return False


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _failure(error: str, detail: str, started: float) -> AttemptResult:
    return AttemptResult(None, error, storable_text(detail[:500]), "", _elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
