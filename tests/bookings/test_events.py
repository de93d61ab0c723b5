"""Booking lifecycle -> Event (+ Delivery) rows: CONTRACT §4 (events from the model) and §6 (payload)."""

import json
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from deliveries.models import Delivery, Event
from webhooks.services import webhook_endpoint_create, webhook_endpoint_delete

BOOKINGS = "/api/v1/bookings"
RESCHEDULE = {"starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T11:00:00Z"}


def payloads(event_type: str) -> list[dict]:
    """The parsed bodies of every Event of this type."""
    return [json.loads(event.body) for event in Event.objects.filter(type=event_type)]


def only_payload(event_type: str) -> dict:
    found = payloads(event_type)
    assert len(found) == 1, f"expected one {event_type} event, got {len(found)}"
    return found[0]


def expected_data(
    booking: Booking, status: str, starts_at="2026-12-01T14:00:00+00:00", ends_at="2026-12-01T14:30:00+00:00"
) -> dict:
    return {
        "id": str(booking.id),
        "status": status,
        "service": {"id": str(booking.service_id), "name": "Express Wash"},
        "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "starts_at": starts_at,
        "ends_at": ends_at,
        "location": {"id": str(booking.location_id), "name": "Main Shop"},
    }


def endpoint(owner, events, **kwargs):
    return webhook_endpoint_create(owner=owner, url="http://127.0.0.1:9/x", events=events, **kwargs)


# --- one event per transition, with the documented body ---------------------------------------


def test_api_create_emits_one_booking_created_event(tenant):
    service = booking_services.service_create(business=tenant.business, name="Express Wash")
    location = booking_services.location_create(business=tenant.business, name="Main Shop")
    body = {
        "service_id": str(service.id),
        "location_id": str(location.id),
        "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "starts_at": "2026-12-01T14:00:00Z",
        "ends_at": "2026-12-01T14:30:00Z",
    }

    response = tenant.client.post(BOOKINGS, body, format="json")

    assert response.status_code == 201
    assert Event.objects.count() == 1
    booking = Booking.objects.get(pk=response.json()["id"])
    assert only_payload("booking.created")["data"] == expected_data(booking, "confirmed")


def test_event_envelope_has_evt_id_type_and_utc_timestamp(tenant, make_booking):
    before = timezone.now()
    booking = make_booking(tenant)
    after = timezone.now()

    event = Event.objects.get()
    body = json.loads(event.body)
    assert set(body) == {"id", "event", "timestamp", "data"}
    assert body["id"].startswith("evt_") and len(body["id"]) > len("evt_")
    assert body["id"] == event.id
    assert body["event"] == "booking.created" == event.type
    assert body["timestamp"].endswith("+00:00")
    assert before <= datetime.fromisoformat(body["timestamp"]) <= after
    assert event.business == tenant.business
    assert body["data"] == expected_data(booking, "confirmed")


def test_each_event_has_a_distinct_id(tenant, make_booking):
    first = make_booking(tenant, email="a@example.com")
    make_booking(tenant, email="b@example.com")
    booking_services.booking_cancel(booking=first)

    ids = [json.loads(event.body)["id"] for event in Event.objects.all()]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_api_reschedule_emits_one_booking_updated_event_with_new_times(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.patch(f"{BOOKINGS}/{booking.id}", RESCHEDULE, format="json")

    assert response.status_code == 200
    assert Event.objects.count() == 2
    payload = only_payload("booking.updated")
    assert payload["event"] == "booking.updated"
    assert payload["data"] == expected_data(
        booking, "confirmed", starts_at="2026-12-02T10:00:00+00:00", ends_at="2026-12-02T11:00:00+00:00"
    )


def test_api_cancel_emits_one_booking_cancelled_event(tenant, make_booking):
    booking = make_booking(tenant)

    assert tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel").status_code == 200

    assert Event.objects.count() == 2
    payload = only_payload("booking.cancelled")
    assert payload["event"] == "booking.cancelled"
    assert payload["data"] == expected_data(booking, "cancelled")


def test_api_complete_emits_one_booking_completed_event(tenant, make_booking):
    booking = make_booking(tenant)

    assert tenant.client.post(f"{BOOKINGS}/{booking.id}/complete").status_code == 200

    assert Event.objects.count() == 2
    payload = only_payload("booking.completed")
    assert payload["event"] == "booking.completed"
    assert payload["data"] == expected_data(booking, "completed")


def test_rejected_transition_emits_nothing(tenant, make_booking):
    booking = make_booking(tenant)
    tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel")

    assert tenant.client.post(f"{BOOKINGS}/{booking.id}/complete").status_code == 409

    assert [event.type for event in Event.objects.order_by("occurred_at")] == ["booking.created", "booking.cancelled"]


# --- data is the booking as it was at the event ----------------------------------------------------


def test_event_data_is_frozen_at_the_time_of_the_event(tenant, make_booking):
    booking = make_booking(tenant)
    tenant.client.patch(f"{BOOKINGS}/{booking.id}", RESCHEDULE, format="json")
    tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel")

    assert only_payload("booking.created")["data"] == expected_data(booking, "confirmed")
    assert only_payload("booking.updated")["data"] == expected_data(
        booking, "confirmed", starts_at="2026-12-02T10:00:00+00:00", ends_at="2026-12-02T11:00:00+00:00"
    )
    assert only_payload("booking.cancelled")["data"] == expected_data(
        booking, "cancelled", starts_at="2026-12-02T10:00:00+00:00", ends_at="2026-12-02T11:00:00+00:00"
    )


def test_event_data_keeps_the_names_of_the_time_of_the_event(tenant, make_booking):
    booking = make_booking(tenant)

    booking.service.name = "Renamed Service"
    booking.service.save()
    booking.location.name = "Renamed Shop"
    booking.location.save()

    data = only_payload("booking.created")["data"]
    assert data["service"]["name"] == "Express Wash"
    assert data["location"]["name"] == "Main Shop"


# --- saves that are not lifecycle changes ------------------------------------------------------------


def test_saving_a_loaded_booking_without_changes_emits_nothing(tenant, make_booking):
    booking = make_booking(tenant)

    Booking.objects.get(pk=booking.pk).save()

    assert Event.objects.count() == 1


def test_saving_the_created_instance_again_emits_nothing(tenant, make_booking):
    booking = make_booking(tenant)

    booking.save()
    booking.save()

    assert Event.objects.count() == 1


def test_saving_a_cancelled_booking_again_emits_nothing(tenant, make_booking):
    booking = make_booking(tenant)
    booking_services.booking_cancel(booking=booking)

    Booking.objects.get(pk=booking.pk).save()

    assert len(payloads("booking.cancelled")) == 1


def test_saving_after_refresh_from_db_emits_nothing(tenant, make_booking):
    """refresh_from_db brings the saved state up to date: a later save with no change is quiet."""
    booking = make_booking(tenant)
    tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel")

    booking.refresh_from_db()
    booking.save()

    assert len(payloads("booking.cancelled")) == 1
    assert Event.objects.count() == 2


# --- transactions -------------------------------------------------------------------------------------


def test_change_rolled_back_emits_no_event_delivery_or_callback(
    tenant, make_booking, django_capture_on_commit_callbacks
):
    booking = make_booking(tenant)
    endpoint(tenant.api_key, ["*"])

    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            booking_services.booking_cancel(booking=booking)
            raise RuntimeError("roll back")

    assert callbacks == []
    assert Event.objects.filter(type="booking.cancelled").count() == 0
    assert Delivery.objects.count() == 0
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED


def test_creation_rolled_back_emits_nothing(tenant, django_capture_on_commit_callbacks):
    endpoint(tenant.api_key, ["*"])
    service = booking_services.service_create(business=tenant.business, name="Express Wash")
    location = booking_services.location_create(business=tenant.business, name="Main Shop")
    starts_at = timezone.now() + timedelta(days=1)

    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            Booking.objects.create(
                business=tenant.business,
                service=service,
                location=location,
                client=booking_services.client_upsert(
                    business=tenant.business, first_name="Jane", last_name="Doe", email="jane@example.com"
                ),
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=30),
            )
            raise RuntimeError("roll back")

    assert callbacks == []
    assert Booking.objects.count() == 0
    assert Event.objects.count() == 0
    assert Delivery.objects.count() == 0


def test_committed_change_registers_one_on_commit_callback(tenant, make_booking, django_capture_on_commit_callbacks):
    booking = make_booking(tenant)
    endpoint(tenant.api_key, ["*"])

    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            booking_services.booking_cancel(booking=booking)

    assert len(callbacks) == 1
    assert Event.objects.filter(type="booking.cancelled").count() == 1
    assert Delivery.objects.count() == 1


def test_outer_rollback_discards_an_inner_committed_savepoint(tenant, make_booking, django_capture_on_commit_callbacks):
    booking = make_booking(tenant)
    endpoint(tenant.api_key, ["*"])

    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            with transaction.atomic():
                booking_services.booking_complete(booking=booking)
            raise RuntimeError("roll back")

    assert callbacks == []
    assert Event.objects.filter(type="booking.completed").count() == 0
    assert Delivery.objects.count() == 0


# --- plain ORM changes -------------------------------------------------------------------------------------


def test_orm_status_change_emits_booking_cancelled_like_the_api(tenant, make_booking):
    booking = make_booking(tenant)

    loaded = Booking.objects.get(pk=booking.pk)
    loaded.status = "cancelled"
    loaded.save()

    payload = only_payload("booking.cancelled")
    assert set(payload) == {"id", "event", "timestamp", "data"}
    assert payload["id"].startswith("evt_")
    assert payload["timestamp"].endswith("+00:00")
    assert payload["data"] == expected_data(booking, "cancelled")


def test_orm_status_change_on_the_created_instance_emits_booking_completed(tenant, make_booking):
    booking = make_booking(tenant)

    booking.status = Booking.Status.COMPLETED
    booking.save()

    assert only_payload("booking.completed")["data"] == expected_data(booking, "completed")
    assert Event.objects.count() == 2


def test_orm_time_change_emits_booking_updated(tenant, make_booking):
    booking = Booking.objects.get(pk=make_booking(tenant).pk)

    booking.starts_at = datetime.fromisoformat("2026-12-02T10:00:00+00:00")
    booking.ends_at = datetime.fromisoformat("2026-12-02T11:00:00+00:00")
    booking.save()

    assert only_payload("booking.updated")["data"] == expected_data(
        booking, "confirmed", starts_at="2026-12-02T10:00:00+00:00", ends_at="2026-12-02T11:00:00+00:00"
    )


def test_orm_create_emits_booking_created(tenant):
    service = booking_services.service_create(business=tenant.business, name="Express Wash")
    location = booking_services.location_create(business=tenant.business, name="Main Shop")
    client = booking_services.client_upsert(
        business=tenant.business, first_name="Jane", last_name="Doe", email="jane@example.com"
    )

    booking = Booking.objects.create(
        business=tenant.business,
        service=service,
        location=location,
        client=client,
        starts_at=datetime.fromisoformat("2026-12-01T14:00:00+00:00"),
        ends_at=datetime.fromisoformat("2026-12-01T14:30:00+00:00"),
    )

    assert only_payload("booking.created")["data"] == expected_data(booking, "confirmed")


# --- fan-out to deliveries ---------------------------------------------------------------------------------


def test_event_creates_one_delivery_per_subscribed_active_endpoint(tenant, other_tenant, make_booking):
    booking = make_booking(tenant)
    cancelled_only = endpoint(tenant.api_key, ["booking.cancelled"])
    everything = endpoint(tenant.api_key, ["*"])
    endpoint(tenant.api_key, ["booking.created", "booking.completed"])
    endpoint(other_tenant.api_key, ["*"])

    booking_services.booking_cancel(booking=booking)

    event = Event.objects.get(type="booking.cancelled")
    deliveries = Delivery.objects.filter(event=event)
    assert {delivery.endpoint_id for delivery in deliveries} == {cancelled_only.id, everything.id}
    assert deliveries.count() == 2
    assert {delivery.status for delivery in deliveries} == {Delivery.Status.PENDING}


def test_no_delivery_to_an_endpoint_of_another_business(tenant, other_tenant, make_booking):
    theirs = endpoint(other_tenant.api_key, ["*"])

    make_booking(tenant)

    assert Event.objects.count() == 1
    assert not Delivery.objects.filter(endpoint=theirs).exists()


def test_no_delivery_to_an_inactive_or_deleted_endpoint(tenant, make_booking):
    inactive = endpoint(tenant.api_key, ["*"])
    inactive.is_active = False
    inactive.save()
    deleted = endpoint(tenant.api_key, ["*"])
    webhook_endpoint_delete(endpoint=deleted)
    live = endpoint(tenant.api_key, ["booking.created"])

    make_booking(tenant)

    assert [delivery.endpoint_id for delivery in Delivery.objects.all()] == [live.id]


def test_each_event_type_goes_only_to_its_subscribers(tenant, make_booking):
    created = endpoint(tenant.api_key, ["booking.created"])
    updated = endpoint(tenant.api_key, ["booking.updated"])
    completed = endpoint(tenant.api_key, ["booking.completed"])

    booking = make_booking(tenant)
    tenant.client.patch(f"{BOOKINGS}/{booking.id}", RESCHEDULE, format="json")
    tenant.client.post(f"{BOOKINGS}/{booking.id}/complete")

    sent = {(d.event.type, d.endpoint_id) for d in Delivery.objects.select_related("event")}
    assert sent == {
        ("booking.created", created.id),
        ("booking.updated", updated.id),
        ("booking.completed", completed.id),
    }


def test_hub_endpoint_gets_its_businesses_events_and_a_narrowed_one_only_its_business(
    make_hub, make_business, make_booking
):
    hub = make_hub()
    shop_a = make_business("Shop A", hub=hub.hub)
    shop_b = make_business("Shop B", hub=hub.hub)
    whole_hub = endpoint(hub.api_key, ["*"])
    only_b = endpoint(hub.api_key, ["*"], business=shop_b.business)

    make_booking(shop_a)

    assert [delivery.endpoint_id for delivery in Delivery.objects.all()] == [whole_hub.id]
    assert only_b.business == shop_b.business


# --- the Django admin --------------------------------------------------------------------------------------


@pytest.fixture
def admin_browser(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "a-long-password")
    client.force_login(user)
    return client


def admin_form(booking: Booking, **changes) -> dict:
    form = {
        "business": str(booking.business_id),
        "service": str(booking.service_id),
        "location": str(booking.location_id),
        "client": str(booking.client_id),
        "status": booking.status,
        "starts_at_0": "2026-12-01",
        "starts_at_1": "14:00:00",
        "ends_at_0": "2026-12-01",
        "ends_at_1": "14:30:00",
        "_save": "Save",
    }
    form.update(changes)
    return form


def test_admin_status_change_emits_booking_cancelled(admin_browser, tenant, make_booking):
    booking = make_booking(tenant)

    response = admin_browser.post(
        f"/admin/bookings/booking/{booking.id}/change/", admin_form(booking, status="cancelled")
    )

    assert response.status_code == 302, response.content[:2000]
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"
    assert only_payload("booking.cancelled")["data"] == expected_data(booking, "cancelled")


def test_admin_time_change_emits_booking_updated(admin_browser, tenant, make_booking):
    booking = make_booking(tenant)
    form = admin_form(
        booking, starts_at_0="2026-12-02", starts_at_1="10:00:00", ends_at_0="2026-12-02", ends_at_1="11:00:00"
    )

    response = admin_browser.post(f"/admin/bookings/booking/{booking.id}/change/", form)

    assert response.status_code == 302, response.content[:2000]
    assert only_payload("booking.updated")["data"] == expected_data(
        booking, "confirmed", starts_at="2026-12-02T10:00:00+00:00", ends_at="2026-12-02T11:00:00+00:00"
    )


def test_admin_refuses_a_service_or_location_of_another_business(admin_browser, tenant, other_tenant, make_booking):
    booking = make_booking(tenant)
    theirs = make_booking(other_tenant)

    response = admin_browser.post(
        f"/admin/bookings/booking/{booking.id}/change/",
        admin_form(booking, service=str(theirs.service_id), location=str(theirs.location_id)),
    )

    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert errors["service"] == errors["location"] == ["This belongs to another business."]
    assert (Booking.objects.get(pk=booking.pk).service_id, Event.objects.count()) == (booking.service_id, 2)


def test_admin_save_without_changes_emits_nothing(admin_browser, tenant, make_booking):
    booking = make_booking(tenant)

    response = admin_browser.post(f"/admin/bookings/booking/{booking.id}/change/", admin_form(booking))

    assert response.status_code == 302, response.content[:2000]
    assert Event.objects.count() == 1
