"""Endpoint health (410 Gone, sustained failure) and Retry-After backpressure, on real attempts."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as django_timezone

from deliveries.endpoint_health import endpoints_health_record
from deliveries.models import Delivery
from deliveries.transport import parse_retry_after
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer
from webhooks.models import WebhookEndpoint

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def book(tenant, make_booking, django_capture_on_commit_callbacks):
    """A booking of the tenant (no Celery message sent); returns its new pending deliveries."""

    def run() -> list[Delivery]:
        already = set(Delivery.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=False):
            make_booking(tenant)
        return list(Delivery.objects.exclude(pk__in=already))

    return run


def refreshed(endpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def age(deliveries, by: timedelta) -> None:
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(created_at=django_timezone.now() - by)


# --- 410 Gone ---------------------------------------------------------------------------------


def test_410_fails_the_delivery_at_once_and_disables_the_webhook_as_gone(
    tenant, make_receiver, make_endpoint, book, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 5
    endpoint = make_endpoint(tenant, make_receiver(Answer(status=410)))
    [delivery] = book()

    outcome = delivery_attempt(delivery.id)

    assert (outcome.status, outcome.retry_at) == ("failed", None)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at, delivery.attempt_count) == ("failed", None, 1)
    assert (refreshed(endpoint).is_active, refreshed(endpoint).disabled_reason) == (False, "gone")


def test_a_gone_webhook_gets_nothing_more(tenant, make_receiver, make_endpoint, book):
    receiver = make_receiver(Answer(status=410))
    endpoint = make_endpoint(tenant, receiver)
    [gone] = book()
    [queued] = book()  # already pending when the endpoint said 410
    delivery_attempt(gone.id)

    assert delivery_attempt(queued.id).status == "failed"

    queued.refresh_from_db()
    assert queued.status == "failed" and queued.last_error.startswith("endpoint_disabled")
    assert not queued.attempts.exists()
    assert book() == []  # a later booking makes no delivery to it at all
    assert len(receiver.wait_for(2, timeout=0.3)) == 1
    assert refreshed(endpoint).disabled_reason == "gone"


def test_re_enabling_a_gone_webhook_through_patch_delivers_new_events(tenant, make_receiver, make_endpoint, book):
    receiver = make_receiver(Answer(status=410))
    endpoint = make_endpoint(tenant, receiver)
    delivery_attempt(book()[0].id)
    receiver.answer = Answer(status=200)

    response = tenant.client.patch(f"/api/v1/webhooks/{endpoint.id}", {"is_active": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["disabled_reason"] is None

    [delivery] = book()
    assert delivery_attempt(delivery.id).status == "succeeded"
    received = receiver.wait_for(2)
    assert len(received) == 2 and received[1].json["id"] == delivery.event_id
    assert received[1].signature_valid is True


# --- sustained failure ------------------------------------------------------------------------


@pytest.fixture
def failing(tenant, make_receiver, make_endpoint, book, settings):
    """An endpoint answering 500, each delivery with one attempt; disable after 3 failures over 1 hour."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 1
    receiver = make_receiver(Answer(status=500))
    endpoint = make_endpoint(tenant, receiver)

    def fail() -> Delivery:
        [delivery] = book()
        assert delivery_attempt(delivery.id).status == "failed"
        return delivery

    return endpoint, receiver, fail


def test_failing_for_longer_than_the_window_disables_the_webhook(failing):
    endpoint, _, fail = failing
    age([fail(), fail()], by=timedelta(hours=2))
    assert refreshed(endpoint).is_active

    fail()

    assert (refreshed(endpoint).is_active, refreshed(endpoint).disabled_reason) == (False, "failing")


def test_as_many_failures_within_the_window_do_not_disable_it(failing):
    endpoint, _, fail = failing
    age([fail(), fail()], by=timedelta(minutes=50))

    fail()
    fail()

    assert (refreshed(endpoint).is_active, refreshed(endpoint).disabled_reason) == (True, None)


def test_too_few_failures_over_a_long_time_do_not_disable_it(failing):
    endpoint, _, fail = failing
    age([fail()], by=timedelta(hours=5))

    fail()

    assert (refreshed(endpoint).is_active, refreshed(endpoint).disabled_reason) == (True, None)


def test_a_success_after_old_failures_means_not_failing(failing, book):
    endpoint, receiver, fail = failing
    age([fail(), fail()], by=timedelta(hours=2))
    receiver.answer = Answer(status=200)
    assert delivery_attempt(book()[0].id).status == "succeeded"
    receiver.answer = Answer(status=500)

    fail()

    assert (refreshed(endpoint).is_active, refreshed(endpoint).disabled_reason) == (True, None)


def test_a_batch_of_failures_asks_once_whether_the_endpoint_is_failing(failing):
    endpoint, _, fail = failing
    age([fail(), fail()], by=timedelta(hours=2))
    fail()  # the batch's first failure for good disables the endpoint: ask with it enabled again
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=True, disabled_reason=None)

    with CaptureQueriesContext(connection) as captured:
        endpoints_health_record([(refreshed(endpoint), 500, True)] * 3)  # a batch's three failures for good

    assert (refreshed(endpoint).is_active, refreshed(endpoint).disabled_reason) == (False, "failing")
    last_success_lookups = [q for q in captured.captured_queries if "MAX(" in q["sql"] and "completed_at" in q["sql"]]
    assert len(last_success_lookups) == 1


def test_a_webhook_disabled_for_failing_gets_nothing(failing, book):
    endpoint, receiver, fail = failing
    age([fail(), fail()], by=timedelta(hours=2))
    fail()
    assert refreshed(endpoint).disabled_reason == "failing"

    assert book() == []
    assert len(receiver.wait_for(4, timeout=0.3)) == 3


# --- Retry-After --------------------------------------------------------------------------------


@pytest.fixture
def first_attempt(tenant, make_receiver, make_endpoint, book, settings):
    """The first attempt at T0 (clock frozen) against a receiver answering `answer`; the next attempt's time."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1
    settings.WEBHOOK_MAX_ATTEMPTS = 3

    def run(answer: Answer) -> timedelta:
        make_endpoint(tenant, make_receiver(answer))
        with time_machine.travel(T0, tick=False):
            [delivery] = book()
            outcome = delivery_attempt(delivery.id)
        assert outcome.status == "pending"
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == outcome.retry_at
        return outcome.retry_at - T0

    return run


def test_429_retry_after_seconds_delays_the_next_attempt(first_attempt):
    assert first_attempt(Answer(status=429, headers={"Retry-After": "120"})) == timedelta(seconds=120)


def test_503_retry_after_http_date_delays_the_next_attempt(first_attempt):
    date = format_datetime(T0 + timedelta(seconds=300), usegmt=True)

    assert first_attempt(Answer(status=503, headers={"Retry-After": date})) == timedelta(seconds=300)


def test_retry_after_is_capped_at_one_hour(first_attempt):
    assert first_attempt(Answer(status=429, headers={"Retry-After": "7200"})) == timedelta(seconds=3600)


def test_retry_after_shorter_than_the_backoff_keeps_the_backoff(first_attempt, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60

    delay = first_attempt(Answer(status=429, headers={"Retry-After": "5"}))

    assert timedelta(seconds=60) <= delay <= timedelta(seconds=66)


@pytest.mark.parametrize("status", [500, 502, 404])
def test_retry_after_on_other_statuses_is_not_honoured(first_attempt, status):
    delay = first_attempt(Answer(status=status, headers={"Retry-After": "120"}))

    assert timedelta(seconds=1) <= delay <= timedelta(seconds=1.1)


def test_unparseable_retry_after_falls_back_to_the_backoff(first_attempt):
    delay = first_attempt(Answer(status=429, headers={"Retry-After": "soon"}))

    assert timedelta(seconds=1) <= delay <= timedelta(seconds=1.1)


# --- parse_retry_after ------------------------------------------------------------------------------


@pytest.mark.parametrize("value, seconds", [("120", 120.0), (" 0 ", 0.0), ("3600", 3600.0)])
def test_parse_retry_after_reads_delta_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_reads_an_http_date():
    now = datetime(2015, 10, 21, 7, 23, tzinfo=UTC)

    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 300.0


def test_parse_retry_after_of_a_past_date_is_zero():
    now = datetime(2015, 10, 21, 8, 0, tzinfo=UTC)

    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", "12abc", "Wed, 99 Foo 2015", "", "   "])
def test_parse_retry_after_of_garbage_or_empty_is_none(value):
    assert parse_retry_after(value) is None
