"""The admin shows a signing secret only when asked, and records who asked."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from webhooks.services import webhook_endpoint_create, webhook_endpoint_rotate_secret


@pytest.fixture
def rotated_endpoint(tenant):
    """An endpoint with a current and a previous secret."""
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url="https://example.com/hook", events=["*"])
    old_secret = endpoint.secret
    webhook_endpoint_rotate_secret(endpoint=endpoint, grace_seconds=3600)
    assert endpoint.previous_secret == old_secret
    return endpoint


def change_url(endpoint) -> str:
    return reverse("admin:webhooks_webhookendpoint_change", args=[quote(endpoint.pk)])


def reveal_url(endpoint) -> str:
    return reverse("admin:webhooks_webhookendpoint_reveal_secret", args=[quote(endpoint.pk)])


def test_change_page_shows_neither_secret_but_offers_the_reveal(admin_client, rotated_endpoint):
    response = admin_client.get(change_url(rotated_endpoint))
    assert response.status_code == 200
    page = response.content.decode()
    assert "whsec_" not in page
    assert f'href="{reveal_url(rotated_endpoint)}"' in page
    assert "Signs too until" in page  # the previous secret: only that it exists, and until when


def test_saving_the_change_page_keeps_both_secrets(admin_client, rotated_endpoint):
    data = {"business": rotated_endpoint.business_id, "url": rotated_endpoint.url, "events": ["*"],
            "description": "edited", "is_active": "on"}
    response = admin_client.post(change_url(rotated_endpoint), data)
    assert response.status_code == 302, response.content.decode()
    saved = type(rotated_endpoint).objects.get(pk=rotated_endpoint.pk)
    assert saved.description == "edited"
    assert (saved.secret, saved.previous_secret) == (rotated_endpoint.secret, rotated_endpoint.previous_secret)


def test_asking_to_reveal_shows_nothing_and_records_nothing(admin_client, rotated_endpoint):
    page = admin_client.get(reveal_url(rotated_endpoint)).content.decode()
    assert "whsec_" not in page and 'value="Reveal secret"' in page
    assert not LogEntry.objects.exists()


def test_reveal_shows_the_secret_and_records_who_saw_it(admin_client, operator, rotated_endpoint):
    response = admin_client.post(reveal_url(rotated_endpoint))
    page = response.content.decode()
    assert response.status_code == 200
    assert rotated_endpoint.secret in page and rotated_endpoint.previous_secret not in page
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id, entry.get_change_message()) == (
        operator, str(rotated_endpoint.pk), "Revealed the signing secret"
    )
    history = admin_client.get(change_url(rotated_endpoint).replace("/change/", "/history/")).content.decode()
    assert "Revealed the signing secret" in history


def test_reveal_needs_the_change_permission(client, rotated_endpoint):
    viewer = User.objects.create_user("viewer", password="viewer-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    client.force_login(viewer)
    assert client.get(change_url(rotated_endpoint)).status_code == 200
    response = client.post(reveal_url(rotated_endpoint))
    assert response.status_code == 403 and rotated_endpoint.secret not in response.content.decode()
    assert not LogEntry.objects.exists()


def test_reveal_of_an_unknown_endpoint_is_404(admin_client):
    url = reverse("admin:webhooks_webhookendpoint_reveal_secret", args=["00000000-0000-0000-0000-000000000000"])
    assert admin_client.post(url).status_code == 404


def test_add_page_has_no_secret_to_show(admin_client):
    response = admin_client.get(reverse("admin:webhooks_webhookendpoint_add"))
    assert response.status_code == 200
    assert "Reveal secret" not in response.content.decode()
