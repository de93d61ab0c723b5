"""`manage.py reencrypt_secrets`: after a new key is put in front, every secret moves to it."""

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from webhooks import services
from webhooks.models import WebhookEndpoint
from webhooks.secret_box import UndecryptableSecret
from webhooks.services import webhook_endpoint_create, webhook_endpoint_delete, webhook_endpoint_rotate_secret

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def reencrypt_secrets() -> dict:
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def endpoints_under_the_old_key(tenant, settings):
    """Three endpoints encrypted with OLD_KEY: one rotated, one deleted; their secrets in clear."""
    settings.WEBHOOK_SECRETS_KEY = OLD_KEY
    made = [
        webhook_endpoint_create(owner=tenant.api_key, url=f"https://example.com/{n}", events=["*"]) for n in range(3)
    ]
    webhook_endpoint_rotate_secret(endpoint=made[0])
    webhook_endpoint_delete(endpoint=made[2])
    return {endpoint.pk: (endpoint.secret, endpoint.previous_secret) for endpoint in made}


def secrets_by_id() -> dict:
    return {endpoint.pk: (endpoint.secret, endpoint.previous_secret) for endpoint in WebhookEndpoint.objects.all()}


def test_reencrypted_secrets_open_with_the_new_key_alone(endpoints_under_the_old_key, settings, monkeypatch):
    monkeypatch.setattr(services, "REENCRYPT_BATCH_SIZE", 2)  # more than one batch
    settings.WEBHOOK_SECRETS_KEY = f"{NEW_KEY},{OLD_KEY}"
    assert reencrypt_secrets() == {"reencrypted": 3}
    settings.WEBHOOK_SECRETS_KEY = NEW_KEY
    assert secrets_by_id() == endpoints_under_the_old_key


def test_without_reencryption_the_old_key_cannot_be_dropped(endpoints_under_the_old_key, settings):
    settings.WEBHOOK_SECRETS_KEY = NEW_KEY
    with pytest.raises(UndecryptableSecret, match="WEBHOOK_SECRETS_KEY"):
        secrets_by_id()


def test_with_no_endpoints_nothing_is_reencrypted(db):
    assert reencrypt_secrets() == {"reencrypted": 0}


def test_reencryption_leaves_every_other_column_alone(endpoints_under_the_old_key, settings):
    before = list(WebhookEndpoint.objects.order_by("pk").values("pk", "updated_at", "is_active", "deleted_at"))
    settings.WEBHOOK_SECRETS_KEY = f"{NEW_KEY},{OLD_KEY}"
    reencrypt_secrets()
    assert list(WebhookEndpoint.objects.order_by("pk").values("pk", "updated_at", "is_active", "deleted_at")) == before
