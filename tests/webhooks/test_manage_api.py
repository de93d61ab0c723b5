"""CONTRACT §8 management calls: PATCH a webhook, rotate its secret, and the event-type catalog."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from jsonschema import Draft202012Validator

from bookings import services as booking_services
from bookings.models import Business
from deliveries.models import Delivery
from webhooks.models import WebhookEndpoint

WEBHOOKS = "/api/v1/webhooks"
URL = "https://hooks.example.com/calendence"
OTHER_URL = "https://other.example.com/in"
EVENT_TYPES = {"booking.created", "booking.updated", "booking.cancelled", "booking.completed"}
MOMENT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def create(tenant, events=("booking.created",), url: str = URL, **extra) -> dict:
    response = tenant.client.post(WEBHOOKS, {"url": url, "events": list(events), **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def patch(tenant, webhook_id, body: dict):
    return tenant.client.patch(f"{WEBHOOKS}/{webhook_id}", body, format="json")


def rotate(tenant, webhook_id, body: dict | None = None):
    return tenant.client.post(f"{WEBHOOKS}/{webhook_id}/rotate-secret", body or {}, format="json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def stored(webhook_id) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=webhook_id)


def snapshot(webhook_id) -> tuple:
    endpoint = stored(webhook_id)
    return (endpoint.url, endpoint.events, endpoint.description, endpoint.is_active, endpoint.disabled_reason)


# --- PATCH /api/v1/webhooks/{id} ------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("url", OTHER_URL),
        ("events", ["booking.cancelled", "booking.completed"]),
        ("description", "Front desk tablet"),
        ("is_active", False),
    ],
)
def test_patch_changes_one_field_and_answers_the_webhook_without_secret(tenant, field, value):
    webhook = create(tenant, description="Original")

    response = patch(tenant, webhook["id"], {field: value})

    assert response.status_code == 200, response.content
    body = response.json()
    assert "secret" not in body
    assert body[field] == value
    assert body["id"] == webhook["id"]
    assert getattr(stored(webhook["id"]), field) == value
    untouched = {"url", "events", "description", "is_active"} - {field}
    assert {name: body[name] for name in untouched} == {name: webhook[name] for name in untouched}


def test_patch_several_fields_at_once(tenant):
    webhook = create(tenant)

    response = patch(tenant, webhook["id"], {"url": OTHER_URL, "events": ["booking.updated"], "description": "v2"})

    assert response.status_code == 200, response.content
    assert snapshot(webhook["id"])[:3] == (OTHER_URL, ["booking.updated"], "v2")


def test_disabling_by_patch_records_the_reason_manual(tenant):
    webhook = create(tenant)

    body = patch(tenant, webhook["id"], {"is_active": False}).json()

    assert (body["is_active"], body["disabled_reason"]) == (False, "manual")
    assert stored(webhook["id"]).disabled_reason == "manual"


@pytest.mark.parametrize("reason", ["gone", "failing", "manual"])
def test_re_enabling_clears_any_disabled_reason(tenant, reason):
    webhook = create(tenant)
    WebhookEndpoint.objects.filter(pk=webhook["id"]).update(is_active=False, disabled_reason=reason)

    response = patch(tenant, webhook["id"], {"is_active": True})

    assert response.status_code == 200, response.content
    assert (response.json()["is_active"], response.json()["disabled_reason"]) == (True, None)
    assert (stored(webhook["id"]).is_active, stored(webhook["id"]).disabled_reason) == (True, None)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://hooks.example.com/in"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/in"}, "url"),
        ({"url": "https://hooks.example.com/" + "a" * 2100}, "url"),
        ({"events": []}, "events"),
        ({"events": ["booking.exploded"]}, "events"),
        ({"events": ["booking.created", "booking.created"]}, "events"),
        ({"events": "booking.created"}, "events"),
        ({"is_active": "maybe"}, "is_active"),
        ({"description": "x" * 501}, "description"),
        ({"description": "fine", "url": "ftp://hooks.example.com/in"}, "url"),
    ],
)
def test_patch_with_an_invalid_value_is_400_and_changes_nothing(tenant, body, field):
    webhook = create(tenant, description="Original")
    before = snapshot(webhook["id"])

    response = patch(tenant, webhook["id"], body)

    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"], error
    assert snapshot(webhook["id"]) == before


@pytest.mark.parametrize("url", ["https://hooks.example.com/in\r\nX-Injected: 1", "https://hooks.example.com/in\t", "https://hooks.exa\x00mple.com/"])
def test_patch_to_a_url_with_a_control_character_is_400_and_changes_nothing(tenant, url):
    webhook = create(tenant)
    before = snapshot(webhook["id"])

    error = assert_error(patch(tenant, webhook["id"], {"url": url}), 400, "validation_error")

    assert error["fields"]["url"][0].startswith("Must not contain control characters")
    assert snapshot(webhook["id"]) == before


def test_patch_to_an_internationalized_host_stores_punycode(tenant):
    webhook = create(tenant)

    response = patch(tenant, webhook["id"], {"url": "https://BÜCHER.example/in"})

    assert response.status_code == 200, response.content
    assert response.json()["url"] == "https://xn--bcher-kva.example/in"
    assert stored(webhook["id"]).url == "https://xn--bcher-kva.example/in"


def test_wildcard_events_accepted_on_create(tenant):
    webhook = create(tenant, events=["*"])

    assert webhook["events"] == ["*"]
    assert stored(webhook["id"]).events == ["*"]


def test_wildcard_events_accepted_on_patch(tenant):
    webhook = create(tenant, events=["booking.created"])

    response = patch(tenant, webhook["id"], {"events": ["*"]})

    assert response.status_code == 200, response.content
    assert response.json()["events"] == ["*"]
    assert stored(webhook["id"]).events == ["*"]


def test_wildcard_webhook_gets_a_delivery_of_every_event_type(tenant, make_booking):
    webhook = create(tenant, events=["*"])
    narrow = create(tenant, events=["booking.created"], url=OTHER_URL)

    first = make_booking(tenant)
    booking_services.booking_reschedule(
        booking=first, starts_at=first.starts_at + timedelta(hours=1), ends_at=first.ends_at + timedelta(hours=1)
    )
    booking_services.booking_complete(booking=first)
    booking_services.booking_cancel(booking=make_booking(tenant, starts_at=first.starts_at + timedelta(days=1)))

    wildcard_types = Delivery.objects.filter(endpoint_id=webhook["id"]).values_list("event__type", flat=True)
    assert sorted(wildcard_types) == sorted(
        ["booking.created", "booking.updated", "booking.completed", "booking.created", "booking.cancelled"]
    )
    narrow_types = Delivery.objects.filter(endpoint_id=narrow["id"]).values_list("event__type", flat=True)
    assert list(narrow_types) == ["booking.created", "booking.created"]


def test_patch_of_another_tenants_webhook_is_404_and_changes_nothing(tenant, other_tenant):
    webhook = create(other_tenant)
    before = snapshot(webhook["id"])

    assert_error(patch(tenant, webhook["id"], {"is_active": False, "url": OTHER_URL}), 404, "not_found")
    assert snapshot(webhook["id"]) == before


def test_patch_off_growth_pro_is_403(tenant):
    webhook = create(tenant)
    Business.objects.filter(pk=tenant.business.pk).update(plan=Business.Plan.GROWTH)

    assert_error(patch(tenant, webhook["id"], {"description": "no"}), 403, "plan_required")
    assert stored(webhook["id"]).description == ""


# --- POST /api/v1/webhooks/{id}/rotate-secret ---------------------------------------------


def test_rotate_secret_with_no_data_from_djangos_test_client_takes_the_default(tenant):
    """Django's Client posts an empty multipart form when given no data: that is no body, not a 415."""
    webhook = create(tenant)

    response = Client().post(f"{WEBHOOKS}/{webhook['id']}/rotate-secret", HTTP_AUTHORIZATION=f"Bearer {tenant.key}")

    assert response.status_code == 200, response.content
    endpoint = WebhookEndpoint.objects.get(pk=webhook["id"])
    assert endpoint.secret == response.json()["secret"] and endpoint.previous_secret == webhook["secret"]
    grace = endpoint.previous_secret_expires_at - endpoint.updated_at
    assert abs(grace.total_seconds() - 86400) < 5  # the default grace period


@pytest.mark.parametrize("body, content_type", [
    (b"--BoUnDaRy\r\nContent-Disposition: form-data; name=\"grace_seconds\"\r\n\r\n0\r\n--BoUnDaRy--\r\n",
     "multipart/form-data; boundary=BoUnDaRy"),
    (b"grace_seconds=0", "application/x-www-form-urlencoded"),
    (b"--BoUnDaRy\r\nnot a form", "multipart/form-data; boundary=BoUnDaRy"),
], ids=["multipart-field", "urlencoded-field", "malformed-multipart"])
def test_rotate_secret_with_a_form_that_is_not_empty_is_415_and_keeps_the_secret(tenant, body, content_type):
    webhook = create(tenant)

    response = Client().post(f"{WEBHOOKS}/{webhook['id']}/rotate-secret", body, content_type=content_type,
                             HTTP_AUTHORIZATION=f"Bearer {tenant.key}")

    assert response.status_code == 415, response.content
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert WebhookEndpoint.objects.get(pk=webhook["id"]).secret == webhook["secret"]


def test_patch_with_a_form_body_is_415_and_changes_nothing(tenant):
    webhook = create(tenant)

    response = tenant.client.patch(f"{WEBHOOKS}/{webhook['id']}", "is_active=false",
                                   content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415, response.content
    assert WebhookEndpoint.objects.get(pk=webhook["id"]).is_active


def test_rotate_secret_answers_a_new_whsec_secret(tenant):
    webhook = create(tenant)

    response = rotate(tenant, webhook["id"])

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"secret"}
    secret = response.json()["secret"]
    assert secret.startswith("whsec_") and secret != webhook["secret"]
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 32
    endpoint = stored(webhook["id"])
    assert (endpoint.secret, endpoint.previous_secret) == (secret, webhook["secret"])


def test_rotating_twice_gives_two_different_secrets(tenant):
    webhook = create(tenant)

    first = rotate(tenant, webhook["id"]).json()["secret"]
    second = rotate(tenant, webhook["id"]).json()["secret"]

    assert len({webhook["secret"], first, second}) == 3
    assert stored(webhook["id"]).previous_secret == first


def test_rotation_grace_defaults_to_one_day(tenant):
    webhook = create(tenant)

    with time_machine.travel(MOMENT, tick=False):
        assert rotate(tenant, webhook["id"]).status_code == 200

    assert stored(webhook["id"]).previous_secret_expires_at == MOMENT + timedelta(seconds=86400)


@pytest.mark.parametrize("grace", [0, 1, 604800])
def test_rotation_grace_accepts_the_bounds(tenant, grace):
    webhook = create(tenant)

    with time_machine.travel(MOMENT, tick=False):
        response = rotate(tenant, webhook["id"], {"grace_seconds": grace})

    assert response.status_code == 200, response.content
    endpoint = stored(webhook["id"])
    assert endpoint.secret == response.json()["secret"]
    old_still_signs_until = MOMENT + timedelta(seconds=grace)
    assert endpoint.signing_secrets(old_still_signs_until - timedelta(microseconds=1)) == (
        [endpoint.secret, webhook["secret"]] if grace else [endpoint.secret]
    )
    assert endpoint.signing_secrets(old_still_signs_until) == [endpoint.secret]


@pytest.mark.parametrize("grace", [-1, 604801, "soon", 1.5, None])
def test_rotation_grace_out_of_bounds_or_not_an_integer_is_400_and_keeps_the_secret(tenant, grace):
    webhook = create(tenant)

    error = assert_error(rotate(tenant, webhook["id"], {"grace_seconds": grace}), 400, "validation_error")

    assert "grace_seconds" in error["fields"]
    endpoint = stored(webhook["id"])
    assert (endpoint.secret, endpoint.previous_secret) == (webhook["secret"], "")


def test_rotate_another_tenants_webhook_is_404_and_keeps_its_secret(tenant, other_tenant):
    webhook = create(other_tenant)

    assert_error(rotate(tenant, webhook["id"]), 404, "not_found")
    assert stored(webhook["id"]).secret == webhook["secret"]


# --- GET /api/v1/event-types --------------------------------------------------------------


def catalog(tenant) -> list[dict]:
    response = tenant.client.get("/api/v1/event-types")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"results"}
    return response.json()["results"]


def test_event_types_lists_exactly_the_four_booking_types(tenant):
    results = catalog(tenant)

    assert sorted(item["name"] for item in results) == sorted(EVENT_TYPES)
    for item in results:
        assert set(item) == {"name", "description", "schema", "example"}
        assert isinstance(item["description"], str) and item["description"]
        assert item["example"]["event"] == item["name"]


def test_each_example_validates_against_its_own_schema(tenant):
    for item in catalog(tenant):
        Draft202012Validator.check_schema(item["schema"])
        errors = list(Draft202012Validator(item["schema"]).iter_errors(item["example"]))
        assert errors == [], (item["name"], [error.message for error in errors])


def test_each_schema_rejects_another_types_example(tenant):
    by_name = {item["name"]: item for item in catalog(tenant)}

    schema = by_name["booking.created"]["schema"]
    assert not Draft202012Validator(schema).is_valid(by_name["booking.cancelled"]["example"])
    assert not Draft202012Validator(schema).is_valid({**by_name["booking.created"]["example"], "id": 7})


def test_event_types_need_an_api_key(anonymous_client):
    response = anonymous_client.get("/api/v1/event-types")

    assert_error(response, 401, "invalid_api_key")
