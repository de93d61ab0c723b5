"""Bad input gets a clear JSON error and changes nothing; keys are rate limited."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from cryptography.fernet import Fernet
from rest_framework.test import APIClient

from bookings.models import Booking, Location
from calendence.throttling import ApiKeyRateThrottle
from webhooks.models import WebhookEndpoint

ROOT = Path(__file__).resolve().parent.parent


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_body_over_one_mebibyte_is_413(tenant):
    body = '{"name": "' + "x" * (1024 * 1024) + '"}'
    response = tenant.client.post("/api/v1/locations", body, content_type="application/json")
    assert_error(response, 413, "request_too_large")
    assert not Location.objects.exists()


def test_body_just_under_the_limit_is_read(tenant):
    body = '{"name": "Main Shop", "padding": "' + "x" * (1024 * 1024 - 100) + '"}'
    response = tenant.client.post("/api/v1/locations", body, content_type="application/json")
    assert response.status_code == 201


def test_nul_byte_in_a_string_is_400_and_stores_nothing(tenant):
    response = tenant.client.post("/api/v1/locations", {"name": "Main\u0000Shop"}, format="json")
    assert "name" in assert_error(response, 400, "validation_error")["fields"]
    assert not Location.objects.exists()


def test_invalid_utf8_is_400(tenant):
    response = tenant.client.post("/api/v1/locations", b'{"name": "\xff\xfe"}', content_type="application/json")
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("body", ["[]", "42", '"a string"', "null"])
def test_json_that_is_not_an_object_is_400(tenant, body):
    response = tenant.client.post("/api/v1/webhooks", body, content_type="application/json")
    assert_error(response, 400, "validation_error")
    assert not WebhookEndpoint.objects.exists()


def test_wrong_json_types_are_400_not_500(tenant, make_booking):
    booking = make_booking(tenant)
    response = tenant.client.patch(f"/api/v1/bookings/{booking.id}", {"starts_at": [1], "ends_at": {}}, format="json")
    fields = assert_error(response, 400, "validation_error")["fields"]
    assert set(fields) == {"starts_at", "ends_at"}
    assert Booking.objects.get(pk=booking.pk).starts_at == booking.starts_at


def test_huge_event_list_is_400(tenant):
    response = tenant.client.post(
        "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["booking.created"] * 10_000}, format="json"
    )
    assert "events" in assert_error(response, 400, "validation_error")["fields"]


@time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False)  # no window ends in the middle
def test_each_key_is_rate_limited_with_retry_after(tenant, other_tenant, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    for _ in range(3):
        assert tenant.client.get("/api/v1/webhooks").status_code == 200
    response = tenant.client.get("/api/v1/webhooks")
    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert other_tenant.client.get("/api/v1/webhooks").status_code == 200  # counted per key


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_unknown_api_path_is_a_json_404_in_every_mode(tenant, settings, debug, method):
    settings.DEBUG = debug
    client = APIClient(enforce_csrf_checks=True)  # as a real client meets it: no CSRF 403 page
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.key}")
    response = getattr(client, method)("/api/v1/bookings/0.5", {}, format="json")
    assert_error(response, 404, "not_found")


def test_a_host_that_is_not_allowed_gets_a_json_400(settings):
    settings.ALLOWED_HOSTS = ["api.example.com"]
    response = APIClient().get("/healthz", HTTP_HOST="elsewhere.example")
    assert_error(response, 400, "bad_request")


PRODUCTION_PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client
print(json.dumps({"allowed": settings.ALLOWED_HOSTS,
                  "answers": {host: Client().get("/healthz", HTTP_HOST=host).status_code
                              for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "elsewhere.example")}}))
"""


def production_probe(tmp_path, **environment) -> dict:
    """ALLOWED_HOSTS and /healthz's status per Host, in a process with production settings."""
    environment = {
        "PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "calendence.settings",
        "CALENDENCE_ENV": "production", "DJANGO_SECRET_KEY": "x" * 50,
        "WEBHOOK_SECRETS_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CALENDENCE_VAR_DIR": str(tmp_path), **environment,
    }
    result = subprocess.run([sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_answers_this_machines_own_names_by_default(tmp_path):
    """With CALENDENCE_ENV=production and no DJANGO_ALLOWED_HOSTS, a local client (a health
    check beside the process, a production-shaped run on one machine) is answered."""
    probe = production_probe(tmp_path)
    assert probe["allowed"] == ["localhost", "127.0.0.1", "[::1]"]
    assert probe["answers"] == {"127.0.0.1:8000": 200, "localhost": 200, "[::1]:8000": 200, "elsewhere.example": 400}


def test_production_answers_the_names_it_is_given_spaces_and_all(tmp_path):
    probe = production_probe(tmp_path, DJANGO_ALLOWED_HOSTS="elsewhere.example, localhost")
    assert probe["allowed"] == ["elsewhere.example", "localhost"]
    assert probe["answers"] == {"127.0.0.1:8000": 400, "localhost": 200, "[::1]:8000": 400, "elsewhere.example": 200}
