"""Migration 0004 encrypts the secrets stored in clear before it, and decrypts them when reversed."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from bookings.models import Business
from webhooks.models import WebhookEndpoint

BEFORE = [("webhooks", "0003_endpoint_secret_default")]
AFTER = [("webhooks", "0004_encrypt_secrets_at_rest")]
PLAIN_SECRET = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
PLAIN_PREVIOUS = "whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQtb2xkLW9sZC0="


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()  # see what earlier calls applied
    executor.migrate(targets)
    return executor


def raw_rows() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhooks_webhookendpoint ORDER BY url")
        return cursor.fetchall()


@pytest.fixture
def schema_at_0003(transactional_db):
    executor = migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    migrate(executor.loader.graph.leaf_nodes())


def test_plaintext_secrets_are_encrypted_and_read_back_in_clear(schema_at_0003):
    business = Business.objects.create(name="Acme Wash")
    OldEndpoint = schema_at_0003.get_model("webhooks", "WebhookEndpoint")
    OldEndpoint.objects.create(business_id=business.pk, url="https://a.example/hook", events=["*"],
                               secret=PLAIN_SECRET, previous_secret=PLAIN_PREVIOUS)
    OldEndpoint.objects.create(business_id=business.pk, url="https://b.example/hook", events=["*"],
                               secret=PLAIN_SECRET, previous_secret="")
    assert raw_rows()[0] == (PLAIN_SECRET, PLAIN_PREVIOUS)

    migrate(AFTER)

    rows = raw_rows()
    assert not any("whsec_" in value for row in rows for value in row)
    assert rows[1][1] == ""  # no previous secret stays empty
    # Only the columns 0004 knows (later migrations are not applied here).
    endpoint = WebhookEndpoint.objects.only("secret", "previous_secret").get(url="https://a.example/hook")
    assert (endpoint.secret, endpoint.previous_secret) == (PLAIN_SECRET, PLAIN_PREVIOUS)

    migrate(BEFORE)  # and back: the secrets in clear again
    assert raw_rows() == [(PLAIN_SECRET, PLAIN_PREVIOUS), (PLAIN_SECRET, "")]
