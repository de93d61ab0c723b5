"""The bookings API of CONTRACT §4: success, validation, tenancy, transitions, error shape."""

import uuid

import pytest

from bookings import services as booking_services
from bookings.models import Booking, Client, Location, Service
from deliveries.models import Event

BOOKINGS = "/api/v1/bookings"


def error_of(response, status: int, code: str | None = None) -> dict:
    """The `error` object of a JSON error response, after checking status and shape (CONTRACT §3)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"] == error["code"].lower() and " " not in error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if status == 400 and error["code"] == "validation_error":
        assert isinstance(error["fields"], dict) and error["fields"]
    else:
        assert "fields" not in error
    if code is not None:
        assert error["code"] == code
    return error


def catalog(tenant):
    """A service and a location of the tenant's business."""
    business = tenant.business
    return (
        booking_services.service_create(business=business, name="Express Wash"),
        booking_services.location_create(business=business, name="Main Shop"),
    )


def booking_body(service, location, **overrides) -> dict:
    body = {
        "service_id": str(service.id),
        "location_id": str(location.id),
        "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "starts_at": "2026-03-25T14:00:00Z",
        "ends_at": "2026-03-25T14:30:00Z",
    }
    body.update(overrides)
    return body


def assert_nothing_written():
    assert Booking.objects.count() == 0
    assert Client.objects.count() == 0
    assert Event.objects.count() == 0


# --- locations and services ------------------------------------------------------------


def test_create_location_returns_201_with_id_and_name(tenant):
    response = tenant.client.post("/api/v1/locations", {"name": "Main Shop"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Main Shop"
    location = Location.objects.get(pk=body["id"])
    assert location.business == tenant.business and location.name == "Main Shop"


def test_create_location_without_name_is_400_with_fields(tenant):
    error = error_of(tenant.client.post("/api/v1/locations", {}, format="json"), 400, "validation_error")

    assert list(error["fields"]) == ["name"]
    assert Location.objects.count() == 0


def test_create_service_returns_201_with_default_duration(tenant):
    response = tenant.client.post("/api/v1/services", {"name": "Express Wash"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Express Wash"
    assert body["duration_minutes"] == 30
    assert Service.objects.get(pk=body["id"]).business == tenant.business


def test_create_service_with_duration(tenant):
    response = tenant.client.post("/api/v1/services", {"name": "Full Detail", "duration_minutes": 90}, format="json")

    assert response.status_code == 201
    assert response.json()["duration_minutes"] == 90
    assert Service.objects.get(pk=response.json()["id"]).duration_minutes == 90


@pytest.mark.parametrize("duration", [0, -5, "long"])
def test_create_service_with_invalid_duration_is_400(tenant, duration):
    response = tenant.client.post("/api/v1/services", {"name": "X", "duration_minutes": duration}, format="json")

    assert list(error_of(response, 400, "validation_error")["fields"]) == ["duration_minutes"]
    assert Service.objects.count() == 0


# --- creating bookings -------------------------------------------------------------------


def test_create_booking_returns_201_with_the_confirmed_booking(tenant):
    service, location = catalog(tenant)

    response = tenant.client.post(BOOKINGS, booking_body(service, location), format="json")

    assert response.status_code == 201
    body = response.json()
    booking = Booking.objects.get(pk=body["id"])
    assert body == {
        "id": str(booking.id),
        "status": "confirmed",
        "service": {"id": str(service.id), "name": "Express Wash"},
        "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "starts_at": "2026-03-25T14:00:00+00:00",
        "ends_at": "2026-03-25T14:30:00+00:00",
        "location": {"id": str(location.id), "name": "Main Shop"},
    }
    assert booking.business == tenant.business
    assert booking.status == Booking.Status.CONFIRMED


def test_create_booking_converts_offset_times_to_utc(tenant):
    service, location = catalog(tenant)
    body = booking_body(service, location, starts_at="2026-03-25T16:00:00+02:00", ends_at="2026-03-25T16:30:00+02:00")

    response = tenant.client.post(BOOKINGS, body, format="json")

    assert response.status_code == 201
    assert response.json()["starts_at"] == "2026-03-25T14:00:00+00:00"
    assert response.json()["ends_at"] == "2026-03-25T14:30:00+00:00"


def test_create_booking_reuses_the_business_client_with_the_same_email(tenant):
    service, location = catalog(tenant)
    tenant.client.post(BOOKINGS, booking_body(service, location), format="json")

    tenant.client.post(BOOKINGS, booking_body(service, location), format="json")

    assert Booking.objects.count() == 2
    assert Client.objects.filter(business=tenant.business).count() == 1


@pytest.mark.parametrize(
    "ends_at", ["2026-03-25T14:00:00Z", "2026-03-25T13:00:00Z"], ids=["equal_to_start", "before_start"]
)
def test_create_booking_with_ends_at_not_after_starts_at_is_400(tenant, ends_at):
    service, location = catalog(tenant)

    response = tenant.client.post(BOOKINGS, booking_body(service, location, ends_at=ends_at), format="json")

    assert list(error_of(response, 400, "validation_error")["fields"]) == ["ends_at"]
    assert_nothing_written()


@pytest.mark.parametrize("missing", ["first_name", "last_name", "email"])
def test_create_booking_with_a_missing_client_field_is_400(tenant, missing):
    service, location = catalog(tenant)
    client = {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}
    del client[missing]

    response = tenant.client.post(BOOKINGS, booking_body(service, location, client=client), format="json")

    fields = error_of(response, 400, "validation_error")["fields"]
    assert list(fields) == ["client"]
    assert fields["client"][0].startswith(f"{missing}: ")
    assert_nothing_written()


def test_create_booking_with_a_bad_email_is_400(tenant):
    service, location = catalog(tenant)
    client = {"first_name": "Jane", "last_name": "Doe", "email": "not-an-email"}

    response = tenant.client.post(BOOKINGS, booking_body(service, location, client=client), format="json")

    fields = error_of(response, 400, "validation_error")["fields"]
    assert list(fields) == ["client"]
    assert fields["client"][0].startswith("email: ")
    assert_nothing_written()


def test_create_booking_without_client_is_400(tenant):
    service, location = catalog(tenant)
    body = booking_body(service, location)
    del body["client"]

    response = tenant.client.post(BOOKINGS, body, format="json")

    assert list(error_of(response, 400, "validation_error")["fields"]) == ["client"]
    assert_nothing_written()


def test_create_booking_with_an_empty_body_lists_every_required_field(tenant):
    response = tenant.client.post(BOOKINGS, {}, format="json")

    fields = error_of(response, 400, "validation_error")["fields"]
    assert set(fields) == {"service_id", "location_id", "client", "starts_at", "ends_at"}
    assert_nothing_written()


def test_create_booking_with_an_invalid_datetime_is_400(tenant):
    service, location = catalog(tenant)

    response = tenant.client.post(BOOKINGS, booking_body(service, location, starts_at="tomorrow"), format="json")

    assert list(error_of(response, 400, "validation_error")["fields"]) == ["starts_at"]
    assert_nothing_written()


def test_create_booking_with_another_business_service_is_400(tenant, other_tenant):
    _, location = catalog(tenant)
    foreign_service, _ = catalog(other_tenant)

    response = tenant.client.post(BOOKINGS, booking_body(foreign_service, location), format="json")

    assert list(error_of(response, 400, "validation_error")["fields"]) == ["service_id"]
    assert_nothing_written()


def test_create_booking_with_another_business_location_is_400(tenant, other_tenant):
    service, _ = catalog(tenant)
    _, foreign_location = catalog(other_tenant)

    response = tenant.client.post(BOOKINGS, booking_body(service, foreign_location), format="json")

    assert list(error_of(response, 400, "validation_error")["fields"]) == ["location_id"]
    assert_nothing_written()


def test_create_booking_with_unknown_ids_is_400(tenant):
    catalog(tenant)
    body = booking_body(Service(id=uuid.uuid4()), Location(id=uuid.uuid4()))

    response = tenant.client.post(BOOKINGS, body, format="json")

    assert set(error_of(response, 400, "validation_error")["fields"]) == {"service_id", "location_id"}
    assert_nothing_written()


def test_create_booking_with_malformed_json_is_400(tenant):
    catalog(tenant)

    response = tenant.client.post(BOOKINGS, data='{"service_id": ', content_type="application/json")

    error_of(response, 400)
    assert response.json()["error"]["code"] != "validation_error"
    assert_nothing_written()


def test_create_booking_with_form_encoded_body_is_415(tenant):
    service, location = catalog(tenant)

    response = tenant.client.post(
        BOOKINGS,
        data=f"service_id={service.id}&location_id={location.id}",
        content_type="application/x-www-form-urlencoded",
    )

    error_of(response, 415)
    assert_nothing_written()


def test_create_booking_with_a_hub_key_is_403(make_hub, tenant):
    service, location = catalog(tenant)
    hub = make_hub()

    response = hub.client.post(BOOKINGS, booking_body(service, location), format="json")

    error_of(response, 403)
    assert_nothing_written()


@pytest.mark.parametrize(
    "method, path", [("post", "/api/v1/locations"), ("post", "/api/v1/services"), ("get", "/api/v1/bookings/{id}")]
)
def test_hub_key_is_403_on_every_bookings_endpoint(make_hub, tenant, make_booking, method, path):
    booking = make_booking(tenant)
    hub = make_hub()

    url = path.format(id=booking.id)
    response = hub.client.post(url, {"name": "X"}, format="json") if method == "post" else hub.client.get(url)

    error_of(response, 403)


# --- reading bookings -----------------------------------------------------------------------


def test_get_booking_returns_200_with_the_booking(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.get(f"{BOOKINGS}/{booking.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(booking.id)
    assert body["status"] == "confirmed"
    assert body["client"] == {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}
    assert body["starts_at"] == "2026-12-01T14:00:00+00:00"
    assert body["ends_at"] == "2026-12-01T14:30:00+00:00"
    assert body["service"] == {"id": str(booking.service.id), "name": "Express Wash"}
    assert body["location"] == {"id": str(booking.location.id), "name": "Main Shop"}


def test_get_unknown_booking_is_404(tenant):
    error_of(tenant.client.get(f"{BOOKINGS}/{uuid.uuid4()}"), 404)


def test_get_booking_with_a_non_uuid_id_is_404(tenant):
    error_of(tenant.client.get(f"{BOOKINGS}/not-a-uuid"), 404)


def test_get_another_tenants_booking_is_404_in_both_directions(tenant, other_tenant, make_booking):
    mine = make_booking(tenant)
    theirs = make_booking(other_tenant)

    error_of(tenant.client.get(f"{BOOKINGS}/{theirs.id}"), 404, "not_found")
    error_of(other_tenant.client.get(f"{BOOKINGS}/{mine.id}"), 404, "not_found")
    assert tenant.client.get(f"{BOOKINGS}/{mine.id}").status_code == 200
    assert other_tenant.client.get(f"{BOOKINGS}/{theirs.id}").status_code == 200


@pytest.mark.parametrize("action", ["cancel", "complete"])
def test_changing_another_tenants_booking_is_404_and_changes_nothing(tenant, other_tenant, make_booking, action):
    theirs = make_booking(other_tenant)
    events_before = Event.objects.count()

    error_of(tenant.client.post(f"{BOOKINGS}/{theirs.id}/{action}"), 404)

    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.CONFIRMED
    assert Event.objects.count() == events_before


def test_rescheduling_another_tenants_booking_is_404_and_changes_nothing(tenant, other_tenant, make_booking):
    theirs = make_booking(other_tenant)
    events_before = Event.objects.count()

    response = tenant.client.patch(
        f"{BOOKINGS}/{theirs.id}",
        {"starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T11:00:00Z"},
        format="json",
    )

    error_of(response, 404)
    theirs.refresh_from_db()
    assert theirs.starts_at.isoformat() == "2026-12-01T14:00:00+00:00"
    assert Event.objects.count() == events_before


@pytest.mark.parametrize("method", ["put", "delete"])
def test_unsupported_method_on_a_booking_is_405(tenant, make_booking, method):
    booking = make_booking(tenant)

    response = getattr(tenant.client, method)(f"{BOOKINGS}/{booking.id}", {}, format="json")

    error_of(response, 405)
    assert Booking.objects.filter(pk=booking.pk).exists()


def test_get_on_cancel_is_405(tenant, make_booking):
    booking = make_booking(tenant)

    error_of(tenant.client.get(f"{BOOKINGS}/{booking.id}/cancel"), 405)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


# --- rescheduling ------------------------------------------------------------------------------


def test_reschedule_returns_200_with_the_new_times(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.patch(
        f"{BOOKINGS}/{booking.id}",
        {"starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T11:00:00Z"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["starts_at"] == "2026-12-02T10:00:00+00:00"
    assert response.json()["ends_at"] == "2026-12-02T11:00:00+00:00"
    assert response.json()["status"] == "confirmed"
    booking.refresh_from_db()
    assert booking.starts_at.isoformat() == "2026-12-02T10:00:00+00:00"
    assert booking.ends_at.isoformat() == "2026-12-02T11:00:00+00:00"


def test_reschedule_with_ends_at_before_starts_at_is_400_and_changes_nothing(tenant, make_booking):
    booking = make_booking(tenant)
    events_before = Event.objects.count()

    response = tenant.client.patch(
        f"{BOOKINGS}/{booking.id}",
        {"starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T09:00:00Z"},
        format="json",
    )

    assert list(error_of(response, 400, "validation_error")["fields"]) == ["ends_at"]
    booking.refresh_from_db()
    assert booking.starts_at.isoformat() == "2026-12-01T14:00:00+00:00"
    assert Event.objects.count() == events_before


def test_reschedule_without_times_is_400(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.patch(f"{BOOKINGS}/{booking.id}", {}, format="json")

    assert set(error_of(response, 400, "validation_error")["fields"]) == {"starts_at", "ends_at"}


def test_reschedule_with_malformed_json_is_400(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.patch(f"{BOOKINGS}/{booking.id}", data="{not json", content_type="application/json")

    error_of(response, 400)
    booking.refresh_from_db()
    assert booking.starts_at.isoformat() == "2026-12-01T14:00:00+00:00"


def test_reschedule_with_wrong_content_type_is_415(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.patch(f"{BOOKINGS}/{booking.id}", data="starts_at=x", content_type="text/plain")

    error_of(response, 415)


def test_reschedule_a_completed_booking_is_409_invalid_transition(tenant, make_booking):
    booking = make_booking(tenant)
    booking_services.booking_complete(booking=booking)
    events_before = Event.objects.count()

    response = tenant.client.patch(
        f"{BOOKINGS}/{booking.id}",
        {"starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T11:00:00Z"},
        format="json",
    )

    error_of(response, 409, "invalid_transition")
    booking.refresh_from_db()
    assert booking.starts_at.isoformat() == "2026-12-01T14:00:00+00:00"
    assert Event.objects.count() == events_before


def test_reschedule_a_cancelled_booking_is_409_invalid_transition(tenant, make_booking):
    booking = make_booking(tenant)
    booking_services.booking_cancel(booking=booking)

    response = tenant.client.patch(
        f"{BOOKINGS}/{booking.id}",
        {"starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T11:00:00Z"},
        format="json",
    )

    error_of(response, 409, "invalid_transition")


# --- cancel and complete ------------------------------------------------------------------------


def test_cancel_returns_200_with_status_cancelled(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel")

    assert response.status_code == 200
    assert response.json()["id"] == str(booking.id)
    assert response.json()["status"] == "cancelled"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_complete_returns_200_with_status_completed(tenant, make_booking):
    booking = make_booking(tenant)

    response = tenant.client.post(f"{BOOKINGS}/{booking.id}/complete")

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED


def test_cancel_a_cancelled_booking_is_409_and_emits_nothing(tenant, make_booking):
    booking = make_booking(tenant)
    assert tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel").status_code == 200
    events_before = Event.objects.count()

    error_of(tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel"), 409, "invalid_transition")

    assert Event.objects.count() == events_before


def test_complete_a_cancelled_booking_is_409_and_changes_nothing(tenant, make_booking):
    booking = make_booking(tenant)
    booking_services.booking_cancel(booking=booking)
    events_before = Event.objects.count()

    error_of(tenant.client.post(f"{BOOKINGS}/{booking.id}/complete"), 409, "invalid_transition")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert Event.objects.count() == events_before


def test_cancel_a_completed_booking_is_409(tenant, make_booking):
    booking = make_booking(tenant)
    booking_services.booking_complete(booking=booking)

    error_of(tenant.client.post(f"{BOOKINGS}/{booking.id}/cancel"), 409, "invalid_transition")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED


def test_complete_a_completed_booking_is_409(tenant, make_booking):
    booking = make_booking(tenant)
    booking_services.booking_complete(booking=booking)

    error_of(tenant.client.post(f"{BOOKINGS}/{booking.id}/complete"), 409, "invalid_transition")


def test_cancel_unknown_booking_is_404(tenant):
    error_of(tenant.client.post(f"{BOOKINGS}/{uuid.uuid4()}/cancel"), 404)


def test_unknown_api_path_is_json_404(tenant):
    error_of(tenant.client.get("/api/v1/no-such-thing"), 404)
