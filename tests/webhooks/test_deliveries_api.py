"""The delivery log API: GET /api/v1/webhooks/{id}/deliveries and GET /api/v1/deliveries/{id}."""

import uuid

import pytest

from bookings import services as booking_services
from bookings.models import Business
from deliveries.models import Delivery

DELIVERY_FIELDS = {"id", "event_id", "event", "status", "attempts", "created_at"}


def register(tenant, events=("booking.created", "booking.cancelled"), **extra) -> str:
    response = tenant.client.post(
        "/api/v1/webhooks", {"url": "https://hooks.example.com/in", "events": list(events), **extra}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def deliveries_of(tenant, webhook_id, query: str = ""):
    return tenant.client.get(f"/api/v1/webhooks/{webhook_id}/deliveries{query}")


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


@pytest.fixture
def booked(tenant, make_booking):
    """A webhook of the tenant, then one booking created and later cancelled: two events."""
    webhook_id = register(tenant)
    booking = make_booking(tenant)
    booking_services.booking_cancel(booking=booking)
    return webhook_id, booking


def test_deliveries_list_shows_each_event_pending_newest_first(tenant, booked):
    webhook_id, booking = booked

    response = deliveries_of(tenant, webhook_id)

    assert set(response.json()) == {"results", "next", "previous"}
    items = results(response)
    assert [item["event"] for item in items] == ["booking.cancelled", "booking.created"]
    for item in items:
        assert DELIVERY_FIELDS <= set(item)
        assert item["status"] == "pending"
        assert item["attempts"] == []
        assert item["event_id"].startswith("evt_")
    stored = Delivery.objects.filter(endpoint_id=webhook_id).select_related("event")
    assert {(d.id, d.event_id, d.event.type) for d in stored} == {
        (item["id"], item["event_id"], item["event"]) for item in items
    }


def test_deliveries_list_only_holds_subscribed_events(tenant, make_booking):
    webhook_id = register(tenant, events=["booking.cancelled"])
    booking_services.booking_cancel(booking=make_booking(tenant))

    assert [item["event"] for item in results(deliveries_of(tenant, webhook_id))] == ["booking.cancelled"]


def test_deliveries_list_is_empty_before_any_booking(tenant):
    webhook_id = register(tenant)

    assert deliveries_of(tenant, webhook_id).json() == {"results": [], "next": None, "previous": None}


def test_deliveries_list_paginates_with_limit(tenant, make_booking, booked):
    webhook_id, _ = booked
    make_booking(tenant, email="second@example.com")

    first = deliveries_of(tenant, webhook_id, "?limit=2").json()
    second = tenant.client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
    assert second["next"] is None
    all_ids = [item["id"] for item in first["results"] + second["results"]]
    assert len(set(all_ids)) == 3


def test_event_filter_narrows_the_list(tenant, booked):
    webhook_id, _ = booked

    created = results(deliveries_of(tenant, webhook_id, "?event=booking.created"))
    cancelled = results(deliveries_of(tenant, webhook_id, "?event=booking.cancelled"))
    completed = results(deliveries_of(tenant, webhook_id, "?event=booking.completed"))

    assert [item["event"] for item in created] == ["booking.created"]
    assert [item["event"] for item in cancelled] == ["booking.cancelled"]
    assert completed == []


def test_status_filter_narrows_the_list(tenant, booked):
    webhook_id, _ = booked
    failed = Delivery.objects.get(endpoint_id=webhook_id, event__type="booking.created")
    Delivery.objects.filter(pk=failed.pk).update(status=Delivery.Status.FAILED)

    pending = results(deliveries_of(tenant, webhook_id, "?status=pending"))
    failed_items = results(deliveries_of(tenant, webhook_id, "?status=failed"))
    succeeded = results(deliveries_of(tenant, webhook_id, "?status=succeeded"))

    assert [item["event"] for item in pending] == ["booking.cancelled"]
    assert [(item["id"], item["status"]) for item in failed_items] == [(failed.id, "failed")]
    assert succeeded == []


def test_status_and_event_filters_combine(tenant, booked):
    webhook_id, _ = booked

    assert results(deliveries_of(tenant, webhook_id, "?status=pending&event=booking.created"))[0]["event"] == (
        "booking.created"
    )
    assert results(deliveries_of(tenant, webhook_id, "?status=failed&event=booking.created")) == []


def test_invalid_status_filter_is_400(tenant, booked):
    webhook_id, _ = booked

    error = assert_error(deliveries_of(tenant, webhook_id, "?status=exploded"), 400, "validation_error")

    assert "status" in error["fields"]


def test_delivery_detail_has_attempts_and_payload(tenant, booked):
    webhook_id, booking = booked
    item = results(deliveries_of(tenant, webhook_id, "?event=booking.created"))[0]

    response = tenant.client.get(f"/api/v1/deliveries/{item['id']}")

    assert response.status_code == 200
    body = response.json()
    assert DELIVERY_FIELDS | {"payload"} <= set(body)
    assert (body["id"], body["event_id"], body["event"], body["status"]) == (
        item["id"], item["event_id"], "booking.created", "pending"
    )
    assert body["attempts"] == []
    payload = body["payload"]
    assert payload["id"] == item["event_id"]
    assert payload["event"] == "booking.created"
    assert payload["data"]["id"] == str(booking.id)
    assert payload["data"]["status"] == "confirmed"  # as it was when created, not as it is now
    assert payload["data"]["client"]["email"] == "jane@example.com"


def test_delivery_detail_of_unknown_id_is_404(tenant):
    assert_error(tenant.client.get("/api/v1/deliveries/dlv_" + "0" * 32), 404, "not_found")


def test_another_tenants_delivery_is_404(tenant, other_tenant, booked):
    webhook_id, _ = booked
    delivery_id = results(deliveries_of(tenant, webhook_id))[0]["id"]

    assert_error(other_tenant.client.get(f"/api/v1/deliveries/{delivery_id}"), 404, "not_found")
    assert_error(other_tenant.client.post(f"/api/v1/deliveries/{delivery_id}/redeliver"), 404, "not_found")
    assert_error(deliveries_of(other_tenant, webhook_id), 404, "not_found")


def test_other_tenants_bookings_do_not_reach_my_webhook(tenant, other_tenant, make_booking):
    webhook_id = register(tenant)
    make_booking(other_tenant)

    assert results(deliveries_of(tenant, webhook_id)) == []


def test_deliveries_of_random_webhook_id_is_404(tenant):
    assert_error(deliveries_of(tenant, uuid.uuid4()), 404, "not_found")


def test_deliveries_of_a_deleted_webhook_are_404(tenant, booked):
    webhook_id, _ = booked
    delivery_id = Delivery.objects.filter(endpoint_id=webhook_id).first().id
    assert tenant.client.delete(f"/api/v1/webhooks/{webhook_id}").status_code == 204

    assert_error(deliveries_of(tenant, webhook_id), 404, "not_found")
    assert_error(tenant.client.get(f"/api/v1/deliveries/{delivery_id}"), 404, "not_found")


def test_delivery_detail_is_403_off_growth_pro(tenant, booked):
    webhook_id, _ = booked
    delivery_id = Delivery.objects.filter(endpoint_id=webhook_id).first().id
    Business.objects.filter(pk=tenant.business.pk).update(plan=Business.Plan.GROWTH)

    assert_error(tenant.client.get(f"/api/v1/deliveries/{delivery_id}"), 403, "plan_required")


def test_hub_key_sees_deliveries_of_its_business_bookings(make_hub, make_business, make_booking):
    hub = make_hub("North Hub")
    business = make_business("North Wash", hub=hub.hub)
    hub_wide = register(hub, events=["booking.created"])
    narrowed = register(hub, events=["booking.created"], business_id=str(business.business.id))

    booking = make_booking(business)

    for webhook_id in (hub_wide, narrowed):
        items = results(deliveries_of(hub, webhook_id))
        assert [item["event"] for item in items] == ["booking.created"]
        payload = hub.client.get(f"/api/v1/deliveries/{items[0]['id']}").json()["payload"]
        assert payload["data"]["id"] == str(booking.id)
    assert_error(deliveries_of(business, hub_wide), 404, "not_found")
