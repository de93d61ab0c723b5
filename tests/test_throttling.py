"""The API's rate limit: a fixed window per key, counted in one Redis round trip, told in
X-RateLimit-* headers; and an API that answers when its cache does not."""

import logging
import signal
import socket
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import caches
from django.test import RequestFactory
from redis.connection import Connection
from rest_framework.request import Request

from calendence.settings import redis_cache
from calendence.throttling import ApiKeyRateThrottle

WEBHOOKS = "/api/v1/webhooks"
T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def rate(monkeypatch):
    def set_rate(value: str) -> None:
        monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": value})

    return set_rate


def test_a_key_gets_its_rate_in_each_window_and_429_until_the_window_ends(cache_kind, tenant, other_tenant, rate):
    rate("5/min")
    with time_machine.travel(T0, tick=False) as clock:
        answers = [tenant.client.get(WEBHOOKS) for _ in range(6)]

        assert [answer.status_code for answer in answers] == [200] * 5 + [429]
        assert [answer["X-RateLimit-Remaining"] for answer in answers] == ["4", "3", "2", "1", "0", "0"]
        assert {answer["X-RateLimit-Limit"] for answer in answers} == {"5"}
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "throttled"
        retry_after, resets_at = int(refused["Retry-After"]), int(refused["X-RateLimit-Reset"])
        assert 1 <= retry_after <= 60
        assert resets_at == T0.timestamp() + retry_after
        assert other_tenant.client.get(WEBHOOKS).status_code == 200  # counted per key

        clock.move_to(datetime.fromtimestamp(resets_at - 1, UTC))
        still_refused = tenant.client.get(WEBHOOKS)
        assert still_refused.status_code == 429 and still_refused["Retry-After"] == "1"

        clock.move_to(datetime.fromtimestamp(resets_at, UTC))
        next_window = tenant.client.get(WEBHOOKS)
        assert next_window.status_code == 200 and next_window["X-RateLimit-Remaining"] == "4"


def test_counting_a_request_is_one_round_trip_to_redis(tenant, redis_url, settings, monkeypatch):
    settings.CACHES = {"default": redis_cache(redis_url)}
    request = Request(RequestFactory().get(WEBHOOKS))
    request.auth = tenant.api_key
    assert ApiKeyRateThrottle().allow_request(request, None)  # connects first: a handshake is not a request's
    sent = []
    send = Connection.send_packed_command

    def counted_send(connection, command, check_health=True):
        sent.append(command)
        return send(connection, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counted_send)
    for _ in range(3):
        assert ApiKeyRateThrottle().allow_request(request, None)

    assert len(sent) == 3
    client = caches["default"]._cache.get_client(write=True)
    [counter] = client.scan_iter(match=f"*throttle:api_key:{tenant.api_key.pk}:*")
    assert int(client.get(counter)) == 4
    assert 0 < client.ttl(counter) <= 60  # the expiry came with the count


def test_the_api_answers_when_its_cache_refuses_connections(tenant, settings, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there once the probe is closed
    settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{port}/0")}

    with caplog.at_level(logging.WARNING, logger="calendence.throttling"):
        response = tenant.client.get(WEBHOOKS)

    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response
    assert "rate limit not applied" in caplog.text


def test_a_cache_that_never_answers_delays_a_call_by_seconds(tenant, settings):
    # The kernel accepts connections into the listener's backlog; nothing ever answers them.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")}
        with failing_after(seconds=10):
            response = tenant.client.get(WEBHOOKS)

    assert response.status_code == 200


@contextmanager
def failing_after(*, seconds: float):
    """Fail the test, instead of hanging it, when the block is still running after `seconds`."""

    def give_up(signum, frame):
        raise AssertionError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
