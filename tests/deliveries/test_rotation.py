"""Secret rotation and Standard Webhooks signatures, checked on real attempts at a real receiver.

Signatures are recomputed here with hmac (not with the project's signing module) and
verified with the official `standardwebhooks` package, as an integrator would.
"""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bookings import services as booking_services
from deliveries.models import Delivery
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer, Receiver

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def hex_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, headers: dict, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verifies(secret: str, received) -> bool:
    try:
        Webhook(secret).verify(received.body, received.headers)
    except WebhookVerificationError:
        return False
    return True


def rotate(tenant, endpoint, grace_seconds: int) -> str:
    response = tenant.client.post(
        f"/api/v1/webhooks/{endpoint.id}/rotate-secret", {"grace_seconds": grace_seconds}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["secret"]


@pytest.fixture
def send(tenant, make_booking, django_capture_on_commit_callbacks):
    """Book (no Celery message), make the new delivery's attempt now, and return what the receiver got."""

    def run(receiver):
        with django_capture_on_commit_callbacks(execute=False):
            make_booking(tenant)
        delivery = Delivery.objects.get(status="pending")
        count = len(receiver.requests)
        assert delivery_attempt(delivery.id).status == "succeeded"
        return receiver.wait_for(count + 1)[count]

    return run


@pytest.fixture
def standard_receiver():
    receivers = []

    def make() -> "StandardWebhooksReceiver":
        receivers.append(StandardWebhooksReceiver())
        return receivers[-1]

    yield make
    for receiver in receivers:
        receiver.close()


class StandardWebhooksReceiver(Receiver):
    """A receiver that checks each request with the official standardwebhooks library:
    200 when it verifies, 400 when it does not (requests arrive one at a time here)."""

    def _record(self, handler, body):
        try:
            Webhook(self.secret).verify(body, dict(handler.headers.items()))
            self.answer = Answer(status=200)
        except WebhookVerificationError as exc:
            self.answer = Answer(status=400, body=str(exc).encode())
        super()._record(handler, body)


# --- rotation -------------------------------------------------------------------------------


def test_before_rotation_one_secret_signs(tenant, make_receiver, make_endpoint, send):
    receiver = make_receiver()
    endpoint = make_endpoint(tenant, receiver)

    received = send(receiver)

    assert received.headers["X-Calendence-Signature"] == hex_signature(endpoint.secret, received.body)
    assert "X-Calendence-Signature-Previous" not in received.headers
    assert received.headers["webhook-signature"] == standard_signature(endpoint.secret, received.headers, received.body)
    assert verifies(endpoint.secret, received)


@pytest.mark.parametrize("after", [timedelta(seconds=1), timedelta(minutes=30), timedelta(seconds=3599)])
def test_during_the_grace_period_both_secrets_sign(tenant, make_receiver, make_endpoint, send, after):
    receiver = make_receiver()
    endpoint = make_endpoint(tenant, receiver)
    old = endpoint.secret
    with time_machine.travel(T0, tick=False):
        new = rotate(tenant, endpoint, 3600)
    assert new != old

    with time_machine.travel(T0 + after, tick=False):
        received = send(receiver)
        assert verifies(new, received) and verifies(old, received)

    headers, body = received.headers, received.body
    assert headers["X-Calendence-Signature"] == hex_signature(new, body)
    assert headers["X-Calendence-Signature-Previous"] == hex_signature(old, body)
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(entry.startswith("v1,") for entry in entries)
    assert set(entries) == {standard_signature(new, headers, body), standard_signature(old, headers, body)}
    assert headers["webhook-timestamp"] == str(int((T0 + after).timestamp()))


def test_after_the_grace_period_only_the_new_secret_signs(tenant, make_receiver, make_endpoint, send):
    receiver = make_receiver()
    endpoint = make_endpoint(tenant, receiver)
    old = endpoint.secret
    with time_machine.travel(T0, tick=False):
        new = rotate(tenant, endpoint, 3600)

    with time_machine.travel(T0 + timedelta(seconds=3601), tick=False):
        received = send(receiver)
        assert verifies(new, received)
        assert not verifies(old, received)

    assert received.headers["X-Calendence-Signature"] == hex_signature(new, received.body)
    assert "X-Calendence-Signature-Previous" not in received.headers
    assert received.headers["webhook-signature"] == standard_signature(new, received.headers, received.body)


def test_grace_zero_retires_the_old_secret_at_once(tenant, make_receiver, make_endpoint, send):
    receiver = make_receiver()
    endpoint = make_endpoint(tenant, receiver)
    old = endpoint.secret
    with time_machine.travel(T0, tick=False):
        new = rotate(tenant, endpoint, 0)
        received = send(receiver)
        assert verifies(new, received)
        assert not verifies(old, received)

    assert received.headers["X-Calendence-Signature"] == hex_signature(new, received.body)
    assert "X-Calendence-Signature-Previous" not in received.headers
    assert len(received.headers["webhook-signature"].split(" ")) == 1


def test_receiver_that_learned_only_the_new_secret_accepts_during_the_grace(
    tenant, make_endpoint, standard_receiver, send
):
    receiver = standard_receiver()
    endpoint = make_endpoint(tenant, receiver)
    with time_machine.travel(T0, tick=False):
        receiver.secret = rotate(tenant, endpoint, 3600)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        received = send(receiver)

    assert received.signature_valid is True  # X-Calendence-Signature with the new secret
    assert Delivery.objects.get().status == "succeeded"


# --- Standard Webhooks with the official library ---------------------------------------------


def test_standard_webhooks_receiver_accepts_every_kind_of_delivery(
    tenant, make_endpoint, standard_receiver, make_booking, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver = standard_receiver()
    make_endpoint(tenant, receiver)
    first = make_booking(tenant)
    booking_services.booking_reschedule(
        booking=first, starts_at=first.starts_at + timedelta(hours=2), ends_at=first.ends_at + timedelta(hours=2)
    )
    booking_services.booking_complete(booking=first)
    booking_services.booking_cancel(booking=make_booking(tenant, starts_at=first.starts_at + timedelta(days=1)))
    test_delivery = tenant.client.post(f"/api/v1/webhooks/{tenant.business.webhook_endpoints.get().id}/test")
    assert test_delivery.status_code == 202, test_delivery.content

    outcomes = [delivery_attempt(delivery.id).status for delivery in Delivery.objects.order_by("created_at")]

    assert outcomes == ["succeeded"] * 6
    received = receiver.wait_for(6)
    assert sorted(r.headers["X-Calendence-Event"] for r in received) == sorted(
        ["booking.created", "booking.updated", "booking.completed", "booking.created", "booking.cancelled",
         "booking.created"]  # the last one the test event
    )
    assert [r.json.get("test") for r in received].count(True) == 1
    assert all(r.headers["webhook-id"] == r.json["id"] for r in received)


def test_each_attempt_of_a_retried_delivery_verifies_with_its_own_timestamp(
    tenant, make_receiver, make_endpoint, make_booking, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver = make_receiver(Answer(status=500))
    endpoint = make_endpoint(tenant, receiver)
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            make_booking(tenant)
        delivery = Delivery.objects.get()
        assert delivery_attempt(delivery.id).status == "pending"
        first = receiver.wait_for(1)[0]
        assert verifies(endpoint.secret, first)
    receiver.answer = Answer(status=200)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert delivery_attempt(delivery.id).status == "succeeded"
        second = receiver.wait_for(2)[1]
        assert verifies(endpoint.secret, second)

    assert first.headers["webhook-id"] == second.headers["webhook-id"] == first.json["id"]
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 3600
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]


def test_replay_older_than_the_tolerance_is_rejected_by_the_library(tenant, make_receiver, make_endpoint, send):
    receiver = make_receiver()
    endpoint = make_endpoint(tenant, receiver)
    with time_machine.travel(T0, tick=False):
        recorded = send(receiver)

    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        assert verifies(endpoint.secret, recorded)  # within the tolerance: fine
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        with pytest.raises(WebhookVerificationError, match="too old"):
            Webhook(endpoint.secret).verify(recorded.body, recorded.headers)
        # Refreshing the timestamp to pass the age check breaks the signature instead.
        refreshed = {**recorded.headers, "webhook-timestamp": str(int((T0 + timedelta(minutes=10)).timestamp()))}
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(endpoint.secret).verify(recorded.body, refreshed)


def test_standard_webhooks_receiver_answers_400_to_a_late_replay(tenant, make_endpoint, standard_receiver, send):
    receiver = standard_receiver()
    make_endpoint(tenant, receiver)
    with time_machine.travel(T0, tick=False):
        recorded = send(receiver)
    replayed = ("Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature")
    replay_headers = {name: recorded.headers[name] for name in replayed}

    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        replay = requests.post(receiver.url, data=recorded.body, headers=replay_headers, timeout=5)

    assert replay.status_code == 400
    assert b"too old" in replay.content
