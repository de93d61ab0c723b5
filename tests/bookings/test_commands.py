"""Operator commands of CONTRACT §2: one JSON object on stdout, keys that work, clear errors."""

import hashlib
import io
import json
import re
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from bookings.models import ApiKey, Business, Hub


def run(*args) -> dict:
    """Run a command; its stdout must be exactly one JSON object, which is returned."""
    stdout = io.StringIO()
    call_command(*args, stdout=stdout)
    printed = json.loads(stdout.getvalue())
    assert isinstance(printed, dict)
    return printed


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_create_business_prints_id_name_and_default_plan(db):
    printed = run("create_business", "Acme Wash")

    business = Business.objects.get(pk=printed["id"])
    assert uuid.UUID(printed["id"]) == business.id
    assert printed["name"] == "Acme Wash" == business.name
    assert printed["plan"] == "growth_pro" == business.plan
    assert business.hub is None


@pytest.mark.parametrize("plan", ["starter", "growth", "growth_pro"])
def test_create_business_with_plan(db, plan):
    printed = run("create_business", "Acme Wash", "--plan", plan)

    assert printed["plan"] == plan
    assert Business.objects.get(pk=printed["id"]).plan == plan


def test_create_business_with_unknown_plan_is_a_command_error(db):
    with pytest.raises(CommandError):
        call_command("create_business", "Acme Wash", "--plan", "enterprise", stdout=io.StringIO())

    assert Business.objects.count() == 0


def test_create_business_in_a_hub(db):
    hub = run("create_hub", "North Hub")

    printed = run("create_business", "Acme Wash", "--hub", hub["id"])

    assert str(Business.objects.get(pk=printed["id"]).hub_id) == hub["id"]


@pytest.mark.parametrize("hub_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_create_business_with_unknown_hub_is_a_command_error(db, hub_id):
    with pytest.raises(CommandError):
        call_command("create_business", "Acme Wash", "--hub", hub_id, stdout=io.StringIO())

    assert Business.objects.count() == 0


def test_create_hub_prints_id_and_name(db):
    printed = run("create_hub", "North Hub")

    assert set(printed) == {"id", "name"}
    assert printed["name"] == "North Hub"
    assert Hub.objects.get(pk=printed["id"]).name == "North Hub"


def test_create_api_key_for_a_business_prints_a_working_key(db):
    business = run("create_business", "Acme Wash")

    printed = run("create_api_key", "--business", business["id"])

    assert set(printed) == {"id", "key"}
    assert re.fullmatch(r"cal_biz_[A-Za-z0-9_-]{43,}", printed["key"])
    api_key = ApiKey.objects.get(pk=printed["id"])
    assert str(api_key.business_id) == business["id"] and api_key.hub_id is None
    assert api_key.key_hash == hashlib.sha256(printed["key"].encode()).hexdigest()
    response = client_with(printed["key"]).post("/api/v1/locations", {"name": "Main Shop"}, format="json")
    assert response.status_code == 201
    assert Business.objects.get(pk=business["id"]).locations.get().name == "Main Shop"


def test_create_api_key_for_a_hub_prints_a_hub_key(db):
    hub = run("create_hub", "North Hub")

    printed = run("create_api_key", "--hub", hub["id"])

    assert re.fullmatch(r"cal_hub_[A-Za-z0-9_-]{43,}", printed["key"])
    api_key = ApiKey.objects.get(pk=printed["id"])
    assert str(api_key.hub_id) == hub["id"] and api_key.business_id is None
    # Authenticated (not 401), but bookings need a business key.
    assert client_with(printed["key"]).post("/api/v1/locations", {"name": "X"}, format="json").status_code == 403


def test_create_api_key_with_a_name(db):
    business = run("create_business", "Acme Wash")

    printed = run("create_api_key", "--business", business["id"], "--name", "zapier")

    assert ApiKey.objects.get(pk=printed["id"]).name == "zapier"


def test_create_api_key_prints_a_new_key_each_time(db):
    business = run("create_business", "Acme Wash")

    first = run("create_api_key", "--business", business["id"])
    second = run("create_api_key", "--business", business["id"])

    assert first["key"] != second["key"] and first["id"] != second["id"]


@pytest.mark.parametrize("option", ["--business", "--hub"])
@pytest.mark.parametrize("owner_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_create_api_key_for_an_unknown_owner_is_a_command_error(db, option, owner_id):
    with pytest.raises(CommandError):
        call_command("create_api_key", option, owner_id, stdout=io.StringIO())

    assert ApiKey.objects.count() == 0


def test_create_api_key_needs_exactly_one_owner(db):
    business = run("create_business", "Acme Wash")
    hub = run("create_hub", "North Hub")

    with pytest.raises(CommandError):
        call_command("create_api_key", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_key", "--business", business["id"], "--hub", hub["id"], stdout=io.StringIO())

    assert ApiKey.objects.count() == 0


def test_create_api_key_for_a_business_id_given_as_hub_is_a_command_error(db):
    business = run("create_business", "Acme Wash")

    with pytest.raises(CommandError):
        call_command("create_api_key", "--hub", business["id"], stdout=io.StringIO())


def test_revoke_api_key_prints_revoked_and_the_key_gets_401(db):
    business = run("create_business", "Acme Wash")
    issued = run("create_api_key", "--business", business["id"])
    client = client_with(issued["key"])
    assert client.post("/api/v1/locations", {"name": "Before"}, format="json").status_code == 201

    printed = run("revoke_api_key", issued["id"])

    assert printed == {"id": issued["id"], "revoked": True}
    assert ApiKey.objects.get(pk=issued["id"]).revoked_at is not None
    response = client.post("/api/v1/locations", {"name": "After"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_revoke_api_key_twice_keeps_it_revoked(db):
    business = run("create_business", "Acme Wash")
    issued = run("create_api_key", "--business", business["id"])
    run("revoke_api_key", issued["id"])
    revoked_at = ApiKey.objects.get(pk=issued["id"]).revoked_at

    printed = run("revoke_api_key", issued["id"])

    assert printed == {"id": issued["id"], "revoked": True}
    assert ApiKey.objects.get(pk=issued["id"]).revoked_at == revoked_at


@pytest.mark.parametrize("key_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_revoke_unknown_api_key_is_a_command_error(db, key_id):
    with pytest.raises(CommandError):
        call_command("revoke_api_key", key_id, stdout=io.StringIO())


def test_setup_demo_creates_the_demo_business_once_and_prints_its_key_the_first_time(db):
    first, second = io.StringIO(), io.StringIO()

    call_command("setup_demo", stdout=first)
    call_command("setup_demo", stdout=second)

    business = Business.objects.get()
    assert business.plan == "growth_pro"
    assert business.api_keys.count() == 1
    keys = re.findall(r"cal_biz_[A-Za-z0-9_-]{43,}", first.getvalue())
    assert len(keys) == 1
    assert "cal_biz_" not in second.getvalue()
    assert client_with(keys[0]).post("/api/v1/locations", {"name": "Main Shop"}, format="json").status_code == 201
    assert business.locations.get().name == "Main Shop"
