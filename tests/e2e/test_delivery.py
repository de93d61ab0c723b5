"""End to end: the API, a real worker on the real broker, real receivers checking signatures."""

import time

import pytest

from deliveries.models import Delivery
from tests.e2e.api import create_booking, deliveries_of, register_webhook
from tests.support.receiver import Answer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def register(tenant, receiver, events=("booking.created",)) -> dict:
    """Register a webhook at the receiver, which learns the secret to check signatures."""
    webhook = register_webhook(tenant, receiver.url, events)
    receiver.secret = webhook["secret"]
    return webhook


def test_signed_event_arrives_with_every_header(celery_worker, tenant, make_receiver):
    receiver = make_receiver()
    webhook = register(tenant, receiver)
    booking = create_booking(tenant)

    [received] = receiver.wait_for(1)
    assert received.signature_valid is True
    body = received.json
    assert body["event"] == "booking.created" and body["id"].startswith("evt_")
    assert body["data"] == booking
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Calendence-Event"] == "booking.created"
    assert received.headers["X-Calendence-Event-Id"] == body["id"]
    assert received.headers["X-Calendence-Attempt"] == "1"
    assert received.headers["User-Agent"].startswith("Calendence-Webhooks/")

    assert wait_until(lambda: deliveries_of(tenant, webhook)[0]["status"] == "succeeded")
    [delivery] = deliveries_of(tenant, webhook)
    assert received.headers["X-Calendence-Delivery-Id"] == delivery["id"]
    assert delivery["event_id"] == body["id"]
    assert [(a["number"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [(1, 200, None)]


def test_every_lifecycle_event_reaches_its_subscriber(celery_worker, tenant, make_receiver):
    receiver = make_receiver()
    register(tenant, receiver, events=["booking.created", "booking.updated", "booking.cancelled", "booking.completed"])
    first = create_booking(tenant)
    tenant.client.patch(
        f"/api/v1/bookings/{first['id']}",
        {"starts_at": "2026-12-02T10:00:00+00:00", "ends_at": "2026-12-02T10:30:00+00:00"},
        format="json",
    )
    tenant.client.post(f"/api/v1/bookings/{first['id']}/cancel")
    second = create_booking(tenant)
    tenant.client.post(f"/api/v1/bookings/{second['id']}/complete")

    received = receiver.wait_for(5)
    assert all(r.signature_valid for r in received)
    seen = sorted((r.json["data"]["id"], r.json["event"], r.json["data"]["status"]) for r in received)
    assert seen == sorted([
        (first["id"], "booking.created", "confirmed"),
        (first["id"], "booking.updated", "confirmed"),
        (first["id"], "booking.cancelled", "cancelled"),
        (second["id"], "booking.created", "confirmed"),
        (second["id"], "booking.completed", "completed"),
    ])
    assert len({r.json["id"] for r in received}) == 5


def test_failing_endpoint_gets_exactly_three_attempts_with_growing_gaps(celery_worker, tenant, make_receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver = make_receiver(Answer(status=500))
    webhook = register(tenant, receiver)
    create_booking(tenant)

    attempts = receiver.wait_for(3, timeout=15)
    assert len(attempts) == 3
    assert len(receiver.wait_for(4, timeout=2.5)) == 3  # and no fourth
    first_gap, second_gap = attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at
    # Never early: base 0.5 s, then base * 2. How late is up to the machine's load, so no upper
    # bound here: the schedule itself (backoff and jitter) is tested on retry_delay.
    assert first_gap >= 0.5 and second_gap >= 1.0
    assert [a.headers["X-Calendence-Attempt"] for a in attempts] == ["1", "2", "3"]
    assert len({a.json["id"] for a in attempts}) == 1
    assert len({a.headers["X-Calendence-Delivery-Id"] for a in attempts}) == 1

    assert wait_until(lambda: deliveries_of(tenant, webhook)[0]["status"] == "failed")
    logged = deliveries_of(tenant, webhook)[0]["attempts"]
    assert [(a["number"], a["status_code"]) for a in logged] == [(1, 500), (2, 500), (3, 500)]


def test_hanging_endpoint_times_out_and_does_not_delay_a_healthy_one(celery_worker, tenant, make_receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_TIMEOUT_SECONDS = 4.0  # room between picking the message up and the deadline
    hanging = make_receiver(Answer(delay=30))
    healthy = make_receiver()
    hanging_webhook = register(tenant, hanging)
    register(tenant, healthy)
    created_at = time.monotonic()
    create_booking(tenant)

    [on_time] = healthy.wait_for(1, timeout=5)
    assert on_time.at - created_at < 3.0  # not behind the 4 s deadline of the hanging attempt
    assert hanging.wait_for(1)  # the hanging endpoint was tried

    assert wait_until(lambda: deliveries_of(tenant, hanging_webhook)[0]["status"] == "failed")
    [attempt] = deliveries_of(tenant, hanging_webhook)[0]["attempts"]
    assert attempt["error"] == "timeout" and attempt["status_code"] is None
    assert 4000 <= attempt["duration_ms"] < 5000


def test_redirect_is_recorded_not_followed(celery_worker, tenant, make_receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    elsewhere = make_receiver()
    redirecting = make_receiver(Answer(status=301, headers={"Location": elsewhere.url}))
    webhook = register(tenant, redirecting)
    create_booking(tenant)

    assert wait_until(lambda: deliveries_of(tenant, webhook)[0]["status"] == "failed")
    [attempt] = deliveries_of(tenant, webhook)[0]["attempts"]
    assert (attempt["status_code"], attempt["error"]) == (301, "redirect_not_followed")
    assert elsewhere.requests == []


def test_deleted_webhook_gets_nothing_more(celery_worker, tenant, make_receiver):
    receiver = make_receiver()
    webhook = register(tenant, receiver)
    create_booking(tenant)
    assert len(receiver.wait_for(1)) == 1

    assert tenant.client.delete(f"/api/v1/webhooks/{webhook['id']}").status_code == 204
    create_booking(tenant, "2026-12-03T09:00:00+00:00", "2026-12-03T09:30:00+00:00")
    assert len(receiver.wait_for(2, timeout=2)) == 1
    assert Delivery.objects.filter(endpoint_id=webhook["id"]).count() == 1


def test_pending_retry_to_a_deleted_webhook_is_dropped(celery_worker, tenant, make_receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1.5
    receiver = make_receiver(Answer(status=500))
    webhook = register(tenant, receiver)
    create_booking(tenant)
    assert len(receiver.wait_for(1)) == 1

    tenant.client.delete(f"/api/v1/webhooks/{webhook['id']}")
    assert len(receiver.wait_for(2, timeout=3)) == 1
    delivery = Delivery.objects.get(endpoint_id=webhook["id"])
    assert delivery.status == "failed" and delivery.last_error.startswith("endpoint_deleted")
