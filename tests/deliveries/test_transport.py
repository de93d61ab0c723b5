"""One HTTP attempt against real local servers: deadline, redirects, caps, pinning."""

import socket
import threading
import time

import pytest

from deliveries import transport
from deliveries.models import RESPONSE_BODY_LIMIT
from tests.support.receiver import Answer
from webhooks.url_policy import validate_endpoint_url

HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def post():
    """POST a small body through a transport of the test's own, closed after the test."""
    own = transport.Transport()

    def post(url: str, *, timeout: float = 2.0, allow_private: bool = True) -> transport.AttemptResult:
        return own.post(url, b'{"hello": "world"}', HEADERS, timeout=timeout, allow_private=allow_private)

    yield post
    own.close()


def test_2xx_succeeds_and_keeps_the_body(make_receiver, post):
    receiver = make_receiver(Answer(status=204, body=b""))
    result = post(receiver.url)
    assert result.succeeded and result.status_code == 204 and result.error is None
    assert receiver.wait_for(1)[0].body == b'{"hello": "world"}'


def test_5xx_fails_with_its_status_and_body(make_receiver, post):
    result = post(make_receiver(Answer(status=500, body=b"boom")).url)
    assert not result.succeeded
    assert (result.status_code, result.error, result.response_body) == (500, None, "boom")


def test_stored_response_body_is_capped(make_receiver, post):
    result = post(make_receiver(Answer(body=b"x" * 100_000)).url)
    assert result.succeeded
    assert len(result.response_body) == RESPONSE_BODY_LIMIT


def test_redirect_is_not_followed(make_receiver, post):
    target = make_receiver()
    result = post(make_receiver(Answer(status=302, headers={"Location": target.url})).url)
    assert (result.status_code, result.error) == (302, "redirect_not_followed")
    assert not result.succeeded
    assert target.wait_for(1, timeout=0.5) == []


def test_slow_answer_times_out_within_the_deadline(make_receiver, post):
    result = post(make_receiver(Answer(delay=5)).url, timeout=1.0)
    assert result.error == "timeout" and result.status_code is None
    assert result.duration_ms < 1800


def test_an_answer_just_inside_the_deadline_succeeds(make_receiver, post):
    deadline = 2.0
    answer_after = 0.65 * deadline  # in proportion: the rest is room for a busy machine
    result = post(make_receiver(Answer(delay=answer_after, body=b"late but in time")).url, timeout=deadline)
    assert (result.succeeded, result.error, result.response_body) == (True, None, "late but in time")
    assert answer_after * 1000 <= result.duration_ms < deadline * 1000


def test_a_retry_after_that_is_not_ascii_digits_is_ignored():
    assert transport.parse_retry_after("\u00b2") is None  # str.isdigit() says yes; float() says no
    assert transport.parse_retry_after(" 120 ") == 120.0


def test_the_answers_headers_are_kept_in_order(make_receiver, post):
    result = post(make_receiver(Answer(headers={"X-Request-Id": "r-1", "Retry-After": "5"})).url)
    assert result.response_headers["X-Request-Id"] == "r-1"
    assert list(result.response_headers).index("X-Request-Id") < list(result.response_headers).index("Retry-After")


def test_trickled_body_cannot_extend_the_attempt(make_receiver, post):
    # Every byte arrives well within a per-read timeout; only a whole-attempt deadline stops it.
    receiver = make_receiver(Answer(body=b"x" * 100, trickle_interval=0.1))
    started = time.monotonic()
    result = post(receiver.url, timeout=1.0)
    assert result.error == "timeout"
    assert time.monotonic() - started < 1.8


def test_refused_connection(unused_port, post):
    result = post(f"http://127.0.0.1:{unused_port}/")
    assert (result.error, result.status_code) == ("connection_refused", None)


def test_dns_failure_fails_closed(monkeypatch, post):
    def no_answer(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    result = post("https://hooks.example.invalid/", allow_private=False)
    assert result.error == "dns_error"


def test_private_address_is_blocked_before_connecting(make_receiver, post):
    receiver = make_receiver()
    result = post(receiver.url, allow_private=False)
    assert result.error == "blocked_address"
    assert receiver.wait_for(1, timeout=0.3) == []


def test_connection_is_pinned_to_the_first_answer_and_keeps_the_host_name(make_receiver, monkeypatch, post):
    """DNS rebinding: the name is resolved once per attempt and the connection goes to that
    answer (the receiver on 127.0.0.1), never to a later one (127.0.0.2, where nothing listens)."""
    receiver = make_receiver()
    port = int(receiver.url.split(":")[2].split("/")[0])
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2"])
    lookups = []

    def rebinding_dns(host, *args, **kwargs):
        if host == "hooks.customer.test":
            lookups.append(host)
            host = next(answers)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    result = post(f"http://hooks.customer.test:{port}/hooks")
    assert result.succeeded, result
    assert receiver.wait_for(1)[0].headers["Host"] == f"hooks.customer.test:{port}"
    assert lookups == ["hooks.customer.test"]


def test_an_internationalized_host_is_resolved_and_sent_as_stored_in_punycode(
    make_receiver, monkeypatch, settings, post
):
    """What registration stores (webhooks.url_policy) is what the attempt looks up and names."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    receiver = make_receiver()
    port = int(receiver.url.split(":")[2].split("/")[0])
    url = validate_endpoint_url(f"http://bücher.example:{port}/hooks")
    assert url == f"http://xn--bcher-kva.example:{port}/hooks"
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def dns(host, *args, **kwargs):
        if host != "127.0.0.1":  # the pinned connection's own call
            lookups.append(host)
        return real_getaddrinfo("127.0.0.1" if host == "xn--bcher-kva.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    result = post(url)
    assert result.succeeded, result
    assert receiver.wait_for(1)[0].headers["Host"] == f"xn--bcher-kva.example:{port}"
    assert lookups == ["xn--bcher-kva.example"]


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_closing_a_transport_ends_its_watchdog_thread(make_receiver):
    def watchdogs() -> int:
        return sum(thread.name == "webhook-deadlines" for thread in threading.enumerate())

    before = watchdogs()
    own = transport.Transport()
    assert own.post(make_receiver().url, b"{}", HEADERS, timeout=2.0, allow_private=True).succeeded
    assert watchdogs() == before + 1
    own.close()
    assert watchdogs() == before


def test_a_closed_transport_sends_nothing(make_receiver):
    receiver = make_receiver()
    own = transport.Transport()
    own.close()
    result = own.post(receiver.url, b"{}", HEADERS, timeout=2.0, allow_private=True)
    assert (result.succeeded, result.error) == (False, "internal_error")
    assert receiver.wait_for(1, timeout=0.5) == []
