"""Failed admin logins lock out that username from that address, even with the right password."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

LOGIN_URL = "/admin/login/"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def staff(db):
    User.objects.create_superuser("ops", "ops@example.com", "right-password")
    User.objects.create_superuser("other", "other@example.com", "other-password")


def log_in(client: Client, username: str, password: str):
    return client.post(LOGIN_URL, {"username": username, "password": password, "next": "/admin/"})


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, times: int, username: str = "ops") -> None:
    for _ in range(times):
        response = log_in(client, username, "wrong-password")
        assert response.status_code in (200, 429) and not is_logged_in(client)


def test_the_right_password_works_before_the_limit(client, staff, settings):
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "ops", "right-password").status_code == 302 and is_logged_in(client)


def test_after_the_limit_even_the_right_password_is_refused(client, staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5  # ADMIN_LOGIN_FAILURE_LIMIT's default
    fail(client, 5)
    response = log_in(client, "ops", "right-password")
    assert response.status_code == 429 and not is_logged_in(client)


def test_another_user_from_the_same_address_is_not_locked_out(client, staff):
    fail(client, 5)
    assert log_in(client, "other", "other-password").status_code == 302 and is_logged_in(client)


def test_the_limit_is_a_setting(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 2
    fail(client, 2)
    assert log_in(client, "ops", "right-password").status_code == 429 and not is_logged_in(client)


def test_the_api_is_unaffected_by_a_locked_out_admin(client, staff, tenant):
    fail(client, 5)
    assert tenant.client.get("/api/v1/webhooks").status_code == 200
    assert APIClient().get("/api/v1/webhooks").status_code == 401


def test_the_lockout_ends_after_the_cool_off(client, staff, settings):
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)  # ADMIN_LOGIN_COOLOFF_MINUTES' default
    fail(client, 5)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert log_in(client, "ops", "right-password").status_code == 302 and is_logged_in(client)


def settings_probe(tmp_path, **environment) -> subprocess.CompletedProcess:
    """The admin login settings as a process started with `environment` reads them."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "calendence.settings",
                   "CALENDENCE_VAR_DIR": str(tmp_path), **environment}
    probe = ("from django.conf import settings; "
             "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds())")
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_limit_and_cool_off_come_from_the_environment(tmp_path):
    result = settings_probe(tmp_path, ADMIN_LOGIN_FAILURE_LIMIT="3", ADMIN_LOGIN_COOLOFF_MINUTES="2.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "150.0"]


@pytest.mark.parametrize("name", ["ADMIN_LOGIN_FAILURE_LIMIT", "ADMIN_LOGIN_COOLOFF_MINUTES"])
def test_a_limit_or_cool_off_of_zero_is_refused(tmp_path, name):
    result = settings_probe(tmp_path, **{name: "0"})
    assert result.returncode != 0
    assert "ADMIN_LOGIN_FAILURE_LIMIT and ADMIN_LOGIN_COOLOFF_MINUTES must be positive" in result.stderr
