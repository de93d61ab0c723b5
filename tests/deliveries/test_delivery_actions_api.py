"""CONTRACT §8 delivery actions: test events, delivery detail, redeliver, recover, and list filters."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from jsonschema import Draft202012Validator

from bookings import services as booking_services
from deliveries.models import Delivery, Event
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer
from webhooks.models import WebhookEndpoint


def send_test(tenant, webhook_id, body: dict | None = None):
    return tenant.client.post(f"/api/v1/webhooks/{webhook_id}/test", body or {}, format="json")


def detail(tenant, delivery_id):
    return tenant.client.get(f"/api/v1/deliveries/{delivery_id}")


def redeliver(tenant, delivery_id):
    return tenant.client.post(f"/api/v1/deliveries/{delivery_id}/redeliver")


def recover(tenant, webhook_id, body: dict):
    return tenant.client.post(f"/api/v1/webhooks/{webhook_id}/recover", body, format="json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def catalog_entry(tenant, name: str) -> dict:
    response = tenant.client.get("/api/v1/event-types")
    assert response.status_code == 200, response.content
    [entry] = [item for item in response.json()["results"] if item["name"] == name]
    return entry


@pytest.fixture
def book(tenant, make_booking, django_capture_on_commit_callbacks):
    """A booking of the tenant (no Celery message sent); returns its new deliveries."""

    def run(**kwargs) -> list[Delivery]:
        already = set(Delivery.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=False):
            make_booking(tenant, **kwargs)
        return list(Delivery.objects.exclude(pk__in=already))

    return run


@pytest.fixture
def failed_delivery(tenant, make_receiver, make_endpoint, book, settings):
    """A delivery whose single attempt got a 500; the receiver now answers 200."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver = make_receiver(Answer(status=500))
    make_endpoint(tenant, receiver)
    [delivery] = book()
    assert delivery_attempt(delivery.id).status == "failed"
    receiver.answer = Answer(status=200)
    return delivery, receiver


# --- POST /api/v1/webhooks/{id}/test ------------------------------------------------------------


def test_test_event_answers_202_with_the_delivery_id_of_a_booking_created_sample(tenant, make_receiver, make_endpoint):
    endpoint = make_endpoint(tenant, make_receiver())

    response = send_test(tenant, endpoint.id)

    assert response.status_code == 202, response.content
    assert set(response.json()) == {"delivery_id"}
    delivery = Delivery.objects.select_related("event").get(pk=response.json()["delivery_id"])
    assert (delivery.endpoint_id, delivery.event.type, delivery.event.is_test) == (endpoint.id, "booking.created", True)


def test_test_event_with_no_data_from_djangos_test_client_sends_the_default_type(tenant, make_receiver, make_endpoint):
    endpoint = make_endpoint(tenant, make_receiver())

    response = Client().post(f"/api/v1/webhooks/{endpoint.id}/test", HTTP_AUTHORIZATION=f"Bearer {tenant.key}")

    assert response.status_code == 202, response.content
    assert Delivery.objects.get(pk=response.json()["delivery_id"]).event.type == "booking.created"


def test_test_event_of_another_known_type(tenant, make_receiver, make_endpoint):
    endpoint = make_endpoint(tenant, make_receiver())

    response = send_test(tenant, endpoint.id, {"event": "booking.cancelled"})

    assert response.status_code == 202, response.content
    assert Delivery.objects.get(pk=response.json()["delivery_id"]).event.type == "booking.cancelled"


@pytest.mark.parametrize("event", ["booking.exploded", "*", "", 7])
def test_test_event_of_an_unknown_type_is_400_and_creates_nothing(tenant, make_receiver, make_endpoint, event):
    endpoint = make_endpoint(tenant, make_receiver())

    error = assert_error(send_test(tenant, endpoint.id, {"event": event}), 400, "validation_error")

    assert "event" in error["fields"]
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_test_delivery_is_in_the_log_pending(tenant, make_receiver, make_endpoint):
    endpoint = make_endpoint(tenant, make_receiver())
    delivery_id = send_test(tenant, endpoint.id).json()["delivery_id"]

    response = detail(tenant, delivery_id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["event"], body["attempts"]) == (
        delivery_id, "pending", "booking.created", []
    )
    listed = tenant.client.get(f"/api/v1/webhooks/{endpoint.id}/deliveries").json()["results"]
    assert [item["id"] for item in listed] == [delivery_id]


def test_test_event_is_sent_signed_with_the_catalogs_shape(tenant, make_receiver, make_endpoint):
    receiver = make_receiver()
    endpoint = make_endpoint(tenant, receiver)
    delivery_id = send_test(tenant, endpoint.id, {"event": "booking.cancelled"}).json()["delivery_id"]

    assert delivery_attempt(delivery_id).status == "succeeded"

    [received] = receiver.wait_for(1)
    body = received.json
    assert body["test"] is True
    assert body["event"] == received.headers["X-Calendence-Event"] == "booking.cancelled"
    assert received.headers["X-Calendence-Delivery-Id"] == delivery_id
    assert received.signature_valid is True
    entry = catalog_entry(tenant, "booking.cancelled")
    errors = [error.message for error in Draft202012Validator(entry["schema"]).iter_errors(body)]
    assert errors == []
    assert set(body["data"]) == set(entry["example"]["data"])
    assert body["data"]["status"] == "cancelled"
    assert detail(tenant, delivery_id).json()["status"] == "succeeded"


def test_hub_wide_webhook_can_be_tested_with_the_hub_key(make_hub, make_receiver, make_endpoint):
    hub = make_hub()
    receiver = make_receiver()
    endpoint = make_endpoint(hub, receiver)
    assert (endpoint.hub_id, endpoint.business_id) == (hub.hub.id, None)

    response = send_test(hub, endpoint.id, {"event": "booking.completed"})

    assert response.status_code == 202, response.content
    assert delivery_attempt(response.json()["delivery_id"]).status == "succeeded"
    [received] = receiver.wait_for(1)
    assert (received.json["event"], received.json["test"], received.signature_valid) == (
        "booking.completed", True, True
    )


@pytest.mark.parametrize("reason", ["manual", "gone", "failing"])
def test_test_of_a_disabled_webhook_is_409_and_creates_nothing(tenant, make_receiver, make_endpoint, reason):
    endpoint = make_endpoint(tenant, make_receiver())
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, disabled_reason=reason)

    assert_error(send_test(tenant, endpoint.id), 409, "webhook_disabled")
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_test_of_another_tenants_webhook_is_404(tenant, other_tenant, make_receiver, make_endpoint):
    endpoint = make_endpoint(other_tenant, make_receiver())

    assert_error(send_test(tenant, endpoint.id), 404, "not_found")
    assert not Delivery.objects.exists()


# --- GET /api/v1/deliveries/{id} ------------------------------------------------------------------


def test_delivery_detail_keeps_the_first_4_kib_of_the_response_body(tenant, make_receiver, make_endpoint, book):
    answer = "".join(f"{n:05d}," for n in range(1000)).encode()  # 6000 bytes, each offset distinct
    make_endpoint(tenant, make_receiver(Answer(status=200, body=answer)))
    [delivery] = book()
    delivery_attempt(delivery.id)

    response = detail(tenant, delivery.id)

    assert response.status_code == 200, response.content
    [attempt] = response.json()["attempts"]
    assert (attempt["number"], attempt["status_code"]) == (1, 200)
    assert len(attempt["response_body"]) == 4096
    assert attempt["response_body"] == answer[:4096].decode()


def test_failed_attempt_detail_shows_the_receivers_answer(tenant, make_receiver, make_endpoint, book, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    make_endpoint(tenant, make_receiver(Answer(status=422, body=b'{"error": "unknown booking"}')))
    [delivery] = book()
    delivery_attempt(delivery.id)

    [attempt] = detail(tenant, delivery.id).json()["attempts"]

    assert (attempt["status_code"], attempt["response_body"]) == (422, '{"error": "unknown booking"}')


def test_delivery_detail_shows_the_request_as_sent_and_the_response_headers(
    tenant, make_receiver, make_endpoint, book
):
    receiver = make_receiver(Answer(status=200, headers={"X-Request-Id": "req-42"}))
    make_endpoint(tenant, receiver)
    [delivery] = book()
    delivery_attempt(delivery.id)

    [attempt] = detail(tenant, delivery.id).json()["attempts"]

    [sent] = receiver.wait_for(1)
    assert {name.lower(): value for name, value in attempt["request_headers"].items()} == {
        name.lower(): value for name, value in sent.headers.items()
    }  # every header, as it arrived: signatures, Host, Content-Length and all
    assert attempt["response_headers"]["X-Request-Id"] == "req-42"
    assert isinstance(attempt["queued_ms"], int) and attempt["queued_ms"] >= 0
    assert "whsec_" not in str(attempt["request_headers"])  # signatures, never the secret


# --- POST /api/v1/deliveries/{id}/redeliver ----------------------------------------------------------


def test_redeliver_of_a_failed_delivery_keeps_its_ids_and_continues_the_attempt_numbers(tenant, failed_delivery):
    delivery, receiver = failed_delivery

    response = redeliver(tenant, delivery.id)

    assert response.status_code == 202, response.content
    assert detail(tenant, delivery.id).json()["status"] == "pending"
    assert delivery_attempt(delivery.id).status == "succeeded"
    first, second = receiver.wait_for(2)
    assert [r.headers["X-Calendence-Attempt"] for r in (first, second)] == ["1", "2"]
    assert first.headers["X-Calendence-Delivery-Id"] == second.headers["X-Calendence-Delivery-Id"] == delivery.id
    assert first.headers["X-Calendence-Event-Id"] == second.headers["X-Calendence-Event-Id"] == delivery.event_id
    assert first.json["id"] == second.json["id"] == delivery.event_id
    assert first.body == second.body
    attempts = detail(tenant, delivery.id).json()["attempts"]
    assert [(a["number"], a["status_code"]) for a in attempts] == [(1, 500), (2, 200)]


def test_redelivery_gets_max_attempts_fresh_attempts(tenant, make_receiver, make_endpoint, book, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver = make_receiver(Answer(status=500))
    make_endpoint(tenant, receiver)
    [delivery] = book()

    def attempt_now() -> str:
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        return delivery_attempt(delivery.id).status

    assert [attempt_now(), attempt_now()] == ["pending", "failed"]
    assert redeliver(tenant, delivery.id).status_code == 202
    assert [attempt_now(), attempt_now()] == ["pending", "failed"]

    assert [r.headers["X-Calendence-Attempt"] for r in receiver.wait_for(4)] == ["1", "2", "3", "4"]
    assert [a["number"] for a in detail(tenant, delivery.id).json()["attempts"]] == [1, 2, 3, 4]


def test_redeliver_of_a_succeeded_delivery_sends_it_again(tenant, make_receiver, make_endpoint, book):
    receiver = make_receiver()
    make_endpoint(tenant, receiver)
    [delivery] = book()
    delivery_attempt(delivery.id)

    assert redeliver(tenant, delivery.id).status_code == 202
    assert delivery_attempt(delivery.id).status == "succeeded"
    assert [r.headers["X-Calendence-Attempt"] for r in receiver.wait_for(2)] == ["1", "2"]


def test_redeliver_of_a_pending_delivery_is_409(tenant, make_receiver, make_endpoint, book):
    make_endpoint(tenant, make_receiver())
    [delivery] = book()

    assert_error(redeliver(tenant, delivery.id), 409, "delivery_pending")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.series_start) == ("pending", 0, 0)


def test_redeliver_of_another_tenants_delivery_is_404(other_tenant, failed_delivery):
    delivery, _ = failed_delivery

    assert_error(redeliver(other_tenant, delivery.id), 404, "not_found")
    assert_error(detail(other_tenant, delivery.id), 404, "not_found")
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_redeliver_is_handed_to_celery_only_after_commit(tenant, failed_delivery, django_capture_on_commit_callbacks):
    delivery, _ = failed_delivery

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert redeliver(tenant, delivery.id).status_code == 202

    assert len(callbacks) == 1


# --- POST /api/v1/webhooks/{id}/recover ----------------------------------------------------------------


def test_recover_redelivers_exactly_the_failed_deliveries_since(tenant, make_receiver, make_endpoint, book, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver = make_receiver(Answer(status=500))
    endpoint = make_endpoint(tenant, receiver)
    [before] = book()
    delivery_attempt(before.id)
    Delivery.objects.filter(pk=before.pk).update(created_at=timezone.now() - timedelta(hours=3))
    since = timezone.now() - timedelta(hours=1)
    failed = [book()[0], book()[0]]
    for delivery in failed:
        delivery_attempt(delivery.id)
    receiver.answer = Answer(status=200)
    [succeeded] = book()
    delivery_attempt(succeeded.id)
    [pending] = book()

    response = recover(tenant, endpoint.id, {"since": since.isoformat()})

    assert response.status_code == 202, response.content
    assert response.json() == {"redelivered": 2}
    status = dict(Delivery.objects.values_list("pk", "status"))
    assert [status[d.pk] for d in failed] == ["pending", "pending"]
    assert (status[before.pk], status[succeeded.pk], status[pending.pk]) == ("failed", "succeeded", "pending")
    assert [delivery_attempt(d.id).status for d in failed] == ["succeeded", "succeeded"]


def test_recover_counts_nothing_when_nothing_failed_since(tenant, failed_delivery):
    delivery, _ = failed_delivery
    since = timezone.now() + timedelta(minutes=1)

    response = recover(tenant, delivery.endpoint_id, {"since": since.isoformat()})

    assert (response.status_code, response.json()) == (202, {"redelivered": 0})
    delivery.refresh_from_db()
    assert delivery.status == "failed"


@pytest.mark.parametrize("body", [{}, {"since": ""}, {"since": "yesterday"}, {"since": "2026-13-45T00:00:00Z"}])
def test_recover_without_a_valid_since_is_400(tenant, failed_delivery, body):
    delivery, _ = failed_delivery

    error = assert_error(recover(tenant, delivery.endpoint_id, body), 400, "validation_error")

    assert "since" in error["fields"]
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_recover_of_another_tenants_webhook_is_404(other_tenant, failed_delivery):
    delivery, _ = failed_delivery

    assert_error(recover(other_tenant, delivery.endpoint_id, {"since": "2020-01-01T00:00:00Z"}), 404, "not_found")
    delivery.refresh_from_db()
    assert delivery.status == "failed"


# --- GET /api/v1/webhooks/{id}/deliveries?status=&event= -------------------------------------------------


def test_deliveries_filtered_by_status_and_event(tenant, make_receiver, make_endpoint, make_booking, settings,
                                                 django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver = make_receiver(Answer(status=500))
    endpoint = make_endpoint(tenant, receiver, events=["booking.created", "booking.cancelled"])
    with django_capture_on_commit_callbacks(execute=False):
        failing = make_booking(tenant)
        booking_services.booking_cancel(booking=failing)
    for delivery in Delivery.objects.all():
        delivery_attempt(delivery.id)
    receiver.answer = Answer(status=200)
    with django_capture_on_commit_callbacks(execute=False):
        booking_services.booking_cancel(booking=make_booking(tenant, email="joe@example.com"))
    for delivery in Delivery.objects.filter(status="pending"):
        delivery_attempt(delivery.id)
    wanted = Delivery.objects.get(status="failed", event__type="booking.cancelled")

    def listed(query: str) -> list[tuple]:
        response = tenant.client.get(f"/api/v1/webhooks/{endpoint.id}/deliveries?{query}")
        assert response.status_code == 200, response.content
        return sorted((item["status"], item["event"]) for item in response.json()["results"])

    only = tenant.client.get(f"/api/v1/webhooks/{endpoint.id}/deliveries?status=failed&event=booking.cancelled")
    assert [item["id"] for item in only.json()["results"]] == [wanted.id]
    assert listed("status=failed") == [("failed", "booking.cancelled"), ("failed", "booking.created")]
    assert listed("event=booking.cancelled") == [("failed", "booking.cancelled"), ("succeeded", "booking.cancelled")]
    assert listed("status=succeeded&event=booking.cancelled") == [("succeeded", "booking.cancelled")]
    assert listed("status=pending") == []


# --- a disabled webhook ---------------------------------------------------------------------------


def test_redeliver_and_recover_to_a_disabled_webhook_are_409_and_change_nothing(tenant, failed_delivery):
    delivery, _ = failed_delivery
    tenant.client.patch(f"/api/v1/webhooks/{delivery.endpoint_id}", {"is_active": False}, format="json")

    assert_error(redeliver(tenant, delivery.id), 409, "webhook_disabled")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert_error(recover(tenant, delivery.endpoint_id, {"since": since}), 409, "webhook_disabled")
    assert Delivery.objects.get(pk=delivery.pk).status == "failed"
