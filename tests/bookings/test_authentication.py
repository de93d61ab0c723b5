"""Bearer API keys (CONTRACT §2, §3): one 401 for every bad key, hashed storage, key format."""

import base64
import hashlib
import re

import pytest

from bookings.api_keys import api_key_issue, api_key_revoke
from bookings.models import ApiKey, Booking

URL = "/api/v1/locations"


def assert_unauthorized(response) -> dict:
    """A 401 with a JSON error body and a Bearer challenge; returns the body."""
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["message"]
    assert "fields" not in body["error"]
    return body


def random_part(key: str) -> bytes:
    """The bytes a cal_biz_/cal_hub_ key's URL-safe base64 tail encodes."""
    tail = key[len("cal_biz_"):]
    return base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4))


def test_missing_header_is_401(db, anonymous_client):
    assert_unauthorized(anonymous_client.post(URL, {"name": "X"}, format="json"))


@pytest.mark.parametrize(
    "header", ["Token x", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "cal_biz_abc", "Bearer cal_biz_"]
)
def test_malformed_header_is_401(db, anonymous_client, header):
    anonymous_client.credentials(HTTP_AUTHORIZATION=header)

    assert_unauthorized(anonymous_client.post(URL, {"name": "X"}, format="json"))


def test_unknown_key_is_401(db, anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Bearer cal_biz_" + "A" * 43)

    assert_unauthorized(anonymous_client.get("/api/v1/bookings/00000000-0000-0000-0000-000000000000"))


def test_key_with_a_wrong_character_is_401(tenant, anonymous_client):
    wrong = tenant.key[:-1] + ("A" if tenant.key[-1] != "A" else "B")
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Bearer {wrong}")

    assert_unauthorized(anonymous_client.post(URL, {"name": "X"}, format="json"))


def test_revoked_key_is_401(tenant):
    assert tenant.client.post(URL, {"name": "Before"}, format="json").status_code == 201

    api_key_revoke(api_key=tenant.api_key)

    assert_unauthorized(tenant.client.post(URL, {"name": "After"}, format="json"))
    assert list(tenant.business.locations.values_list("name", flat=True)) == ["Before"]


def test_revoking_one_key_leaves_the_other_keys_of_the_business_working(tenant):
    second = api_key_issue(business=tenant.business)

    api_key_revoke(api_key=tenant.api_key)

    tenant.client.credentials(HTTP_AUTHORIZATION=f"Bearer {second.key}")
    assert tenant.client.post(URL, {"name": "X"}, format="json").status_code == 201


def test_every_bad_key_gets_the_same_401_body(tenant, anonymous_client):
    revoked = api_key_issue(business=tenant.business)
    api_key_revoke(api_key=revoked.api_key)
    headers = [None, "Token x", "Bearer", "Bearer cal_biz_" + "A" * 43, f"Bearer {revoked.key}"]

    bodies = []
    for header in headers:
        anonymous_client.credentials(**({"HTTP_AUTHORIZATION": header} if header else {}))
        response = anonymous_client.post(URL, {"name": "X"}, format="json")
        bodies.append((response.status_code, response["WWW-Authenticate"], assert_unauthorized(response)))

    assert all(body == bodies[0] for body in bodies), bodies


def test_bad_key_is_401_before_a_404(db, anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token x")

    assert_unauthorized(anonymous_client.post("/api/v1/bookings/00000000-0000-0000-0000-000000000000/cancel"))


def test_valid_key_is_accepted(tenant):
    assert tenant.client.post(URL, {"name": "Main Shop"}, format="json").status_code == 201


def test_key_is_stored_only_as_its_sha256_hash(tenant):
    stored = ApiKey.objects.get(pk=tenant.api_key.pk)

    assert stored.key_hash == hashlib.sha256(tenant.key.encode()).hexdigest()
    secret_tail = tenant.key[len("cal_biz_") :]
    for field in ApiKey._meta.concrete_fields:
        assert secret_tail not in str(field.value_from_object(stored)), field.name


def test_last_used_at_is_set_after_use(tenant):
    assert ApiKey.objects.get(pk=tenant.api_key.pk).last_used_at is None

    tenant.client.post(URL, {"name": "X"}, format="json")

    assert ApiKey.objects.get(pk=tenant.api_key.pk).last_used_at is not None


def test_last_used_at_is_not_set_by_a_rejected_key(tenant):
    api_key_revoke(api_key=tenant.api_key)

    tenant.client.post(URL, {"name": "X"}, format="json")

    assert ApiKey.objects.get(pk=tenant.api_key.pk).last_used_at is None


def test_business_key_format_has_32_random_bytes(tenant):
    assert re.fullmatch(r"cal_biz_[A-Za-z0-9_-]+", tenant.key)
    assert len(random_part(tenant.key)) >= 32


def test_hub_key_format_has_32_random_bytes(make_hub):
    hub = make_hub()

    assert re.fullmatch(r"cal_hub_[A-Za-z0-9_-]+", hub.key)
    assert len(random_part(hub.key)) >= 32


def test_keys_are_unique(tenant):
    keys = {api_key_issue(business=tenant.business).key for _ in range(20)}

    assert len(keys) == 20


def test_hub_key_authenticates_but_is_forbidden_on_bookings(make_hub):
    hub = make_hub()

    response = hub.client.post(URL, {"name": "X"}, format="json")

    assert response.status_code == 403
    assert ApiKey.objects.get(pk=hub.api_key.pk).last_used_at is not None


def test_booking_untouched_by_a_request_with_a_bad_key(tenant, make_booking, anonymous_client):
    booking = make_booking(tenant)
    anonymous_client.credentials(HTTP_AUTHORIZATION="Bearer cal_biz_" + "B" * 43)

    assert_unauthorized(anonymous_client.post(f"/api/v1/bookings/{booking.id}/cancel"))

    assert Booking.objects.get(pk=booking.pk).status == "confirmed"
