"""The delivery log in Django admin: listed, filtered, searched, shown, and never edited."""

import base64

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from deliveries.models import Delivery, Event
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer
from webhooks.models import WebhookEndpoint


def change_url(obj) -> str:
    """The admin's own link to obj. Ids must be quoted as the admin does: it reads `_22`,
    `_40` and the like as escapes, so a raw `evt_22…` would name another object."""
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])


@pytest.fixture
def logged_delivery(tenant, make_booking, make_endpoint, make_receiver, django_capture_on_commit_callbacks):
    make_endpoint(tenant, make_receiver(Answer(status=502, body=b"upstream down")))
    with django_capture_on_commit_callbacks(execute=False):
        make_booking(tenant)
    delivery = Delivery.objects.get()
    delivery_attempt(delivery.id)
    return delivery


def test_delivery_list_filters_by_status_event_type_and_endpoint(admin_client, logged_delivery):
    url = "/admin/deliveries/delivery/"
    assert logged_delivery.id in admin_client.get(url, {"status__exact": "pending"}).content.decode()
    assert logged_delivery.id not in admin_client.get(url, {"status__exact": "succeeded"}).content.decode()
    assert logged_delivery.id in admin_client.get(url, {"event__type": "booking.created"}).content.decode()
    assert logged_delivery.id not in admin_client.get(url, {"event__type": "booking.cancelled"}).content.decode()
    endpoint_id = logged_delivery.endpoint_id
    assert logged_delivery.id in admin_client.get(url, {"endpoint": endpoint_id}).content.decode()


def test_delivery_search_by_event_id(
    admin_client, logged_delivery, tenant, make_booking, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        make_booking(tenant, email="other@example.com")
    other = Delivery.objects.exclude(pk=logged_delivery.pk).get()
    page = admin_client.get("/admin/deliveries/delivery/", {"q": logged_delivery.event_id}).content.decode()
    assert logged_delivery.id in page and other.id not in page


def test_delivery_page_shows_attempts_and_the_pretty_payload(admin_client, logged_delivery):
    page = admin_client.get(change_url(logged_delivery)).content.decode()
    assert "upstream down" in page and "502" in page
    assert "&quot;event&quot;: &quot;booking.created&quot;" in page  # indented JSON, escaped in HTML


def test_event_page_shows_the_payload_and_its_deliveries(admin_client, logged_delivery):
    response = admin_client.get(change_url(logged_delivery.event))
    assert response.status_code == 200, response
    page = response.content.decode()
    assert logged_delivery.id in page and "&quot;timestamp&quot;:" in page


def test_log_is_read_only(admin_client, logged_delivery):
    assert admin_client.get("/admin/deliveries/delivery/add/").status_code == 403
    assert admin_client.get("/admin/deliveries/event/add/").status_code == 403
    response = admin_client.post(change_url(logged_delivery), {"status": "succeeded"})
    assert response.status_code == 403
    assert Delivery.objects.get(pk=logged_delivery.pk).status == "pending"
    assert Event.objects.count() == 1


def test_endpoint_list_filters_by_active_state(admin_client, logged_delivery):
    page = admin_client.get("/admin/webhooks/webhookendpoint/", {"is_active__exact": "1"}).content.decode()
    assert logged_delivery.endpoint.url in page


@pytest.fixture
def failed_delivery(logged_delivery, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    Delivery.objects.filter(pk=logged_delivery.pk).update(status="failed", next_attempt_at=None)
    return Delivery.objects.get(pk=logged_delivery.pk)


def test_failed_deliveries_page_lists_only_failed_ones_with_their_error(
    admin_client, failed_delivery, tenant, make_booking, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        make_booking(tenant, email="other@example.com")
    pending = Delivery.objects.get(status="pending")
    page = admin_client.get("/admin/deliveries/faileddelivery/").content.decode()
    assert failed_delivery.id in page and pending.id not in page
    assert "HTTP 502" in page


def test_redeliver_action_starts_a_fresh_series(admin_client, failed_delivery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            "/admin/deliveries/delivery/", {"action": "redeliver", "_selected_action": [failed_delivery.pk]}
        )
    assert response.status_code == 302
    delivery = Delivery.objects.get(pk=failed_delivery.pk)
    assert (delivery.status, delivery.series_start) == ("pending", 1)
    assert len(callbacks) == 1


def test_endpoint_actions_disable_and_enable(admin_client, logged_delivery):
    endpoint = logged_delivery.endpoint
    url = "/admin/webhooks/webhookendpoint/"
    admin_client.post(url, {"action": "disable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (False, "manual")
    admin_client.post(url, {"action": "enable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (True, None)


def test_an_endpoint_added_in_the_admin_gets_its_own_signing_secret(admin_client, tenant):
    form = {"business": tenant.business.pk, "url": "https://hooks.example.com/in", "events": ["*"],
            "description": "", "is_active": "on", "disabled_reason": ""}

    add_page = admin_client.get(reverse("admin:webhooks_webhookendpoint_add")).content.decode()
    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get(url="https://hooks.example.com/in")
    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) == 32
    assert "whsec_" not in add_page  # no secret shown before there is one
    assert "whsec_" not in admin_client.get(change_url(endpoint)).content.decode()  # shown only when revealed
    reveal_url = reverse("admin:webhooks_webhookendpoint_reveal_secret", args=[quote(endpoint.pk)])
    assert endpoint.secret in admin_client.post(reveal_url).content.decode()


def test_an_endpoint_added_in_the_admin_is_stored_with_its_host_in_punycode(admin_client, tenant):
    form = {"business": tenant.business.pk, "url": "https://bücher.example/in", "events": ["*"],
            "description": "", "is_active": "on", "disabled_reason": ""}

    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert WebhookEndpoint.objects.get().url == "https://xn--bcher-kva.example/in"

    form["url"] = "https://hooks.example.com/i\x1bn"
    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), form)
    assert response.status_code == 200 and "Must not contain control characters" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 1
