"""Signing secrets are stored encrypted with WEBHOOK_SECRETS_KEY; code reads them in clear."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection

from calendence.secrets_key import development_secrets_key
from webhooks.models import WebhookEndpoint
from webhooks.secret_box import UndecryptableSecret
from webhooks.services import webhook_endpoint_create, webhook_endpoint_rotate_secret

ROOT = Path(__file__).resolve().parent.parent.parent


def raw_secrets(endpoint) -> tuple[str, str]:
    """The columns as the database holds them, past the field's decryption."""
    table, pk = WebhookEndpoint._meta.db_table, WebhookEndpoint._meta.pk.get_db_prep_value(endpoint.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret, previous_secret FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


def test_a_new_endpoint_is_read_in_clear_and_stored_encrypted(tenant):
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url="https://example.com/hook", events=["*"])
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
    assert endpoint.secret.startswith("whsec_")
    stored, previous = raw_secrets(endpoint)
    assert "whsec_" not in stored and endpoint.secret not in stored
    assert previous == ""  # no previous secret: empty, not an encrypted empty string


def test_both_secrets_of_a_rotation_are_stored_encrypted_and_still_sign(tenant):
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url="https://example.com/hook", events=["*"])
    old_secret = endpoint.secret
    webhook_endpoint_rotate_secret(endpoint=endpoint, grace_seconds=3600)
    assert not any("whsec_" in value for value in raw_secrets(endpoint))
    # The delivery engine loads endpoints with .only(...): the secrets arrive decrypted.
    loaded = WebhookEndpoint.objects.only("secret", "previous_secret", "previous_secret_expires_at").get(pk=endpoint.pk)
    assert loaded.signing_secrets(endpoint.updated_at) == [endpoint.secret, old_secret]


def test_no_stored_value_holds_a_secret_in_clear(tenant):
    for n in range(3):
        endpoint = webhook_endpoint_create(owner=tenant.api_key, url=f"https://example.com/{n}", events=["*"])
        webhook_endpoint_rotate_secret(endpoint=endpoint)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret, previous_secret FROM {WebhookEndpoint._meta.db_table}")
        rows = cursor.fetchall()
    assert len(rows) == 3 and not any("whsec_" in value for row in rows for value in row)


def test_a_secret_under_a_key_no_longer_configured_fails_loudly(tenant, settings):
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url="https://example.com/hook", events=["*"])
    settings.WEBHOOK_SECRETS_KEY = Fernet.generate_key().decode()
    with pytest.raises(UndecryptableSecret, match="WEBHOOK_SECRETS_KEY"):
        WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_a_malformed_key_is_a_clear_configuration_error(tenant, settings):
    settings.WEBHOOK_SECRETS_KEY = "not-a-fernet-key"
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_SECRETS_KEY must be comma-separated Fernet keys"):
        webhook_endpoint_create(owner=tenant.api_key, url="https://example.com/hook", events=["*"])


def test_development_key_is_made_once_private_and_reused(tmp_path):
    path = tmp_path / "secrets.key"
    key = development_secrets_key(path)
    Fernet(key)  # a usable key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert development_secrets_key(path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.key"]  # no temporary file left


def start_django(tmp_path, **environment) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "calendence.settings",
        "DJANGO_SECRET_KEY": "x" * 50, "CALENDENCE_VAR_DIR": str(tmp_path), **environment,
    }
    return subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_a_secrets_key(tmp_path):
    result = start_django(tmp_path, CALENDENCE_ENV="production")
    assert result.returncode != 0
    assert "ImproperlyConfigured: WEBHOOK_SECRETS_KEY is required when CALENDENCE_ENV=production" in result.stderr
    assert not (tmp_path / "secrets.key").exists()


def test_a_malformed_key_stops_the_process_at_start(tmp_path):
    result = start_django(tmp_path, WEBHOOK_SECRETS_KEY=f"{Fernet.generate_key().decode()},not-a-fernet-key")
    assert result.returncode != 0
    assert "ImproperlyConfigured: WEBHOOK_SECRETS_KEY must be comma-separated Fernet keys" in result.stderr


def test_filtering_on_a_secret_is_refused_rather_than_silently_empty(tenant):
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url="https://example.com/hook", events=["*"])
    with pytest.raises(FieldError, match="secret is stored encrypted"):
        WebhookEndpoint.objects.filter(secret=endpoint.secret).exists()
    assert WebhookEndpoint.objects.filter(previous_secret__isnull=False).count() == 1
