"""One set of rules: the admin edits through the API's services and validation, and records who did what."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from deliveries.models import Delivery, DeliveryAttempt
from webhooks.models import WebhookEndpoint

from .conftest import change_url


def form_of(endpoint, **changes) -> dict:
    data = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description, "is_active": "on"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_event_types_are_checkboxes_from_the_catalog_including_all(admin_client, failing):
    page = admin_client.get(change_url(failing.endpoint)).content.decode()
    for name in ("booking.created", "booking.updated", "booking.cancelled", "booking.completed", "*"):
        assert f'type="checkbox" name="events" value="{name}"' in page


def test_an_unknown_event_type_is_refused_as_the_api_refuses_it(admin_client, failing):
    response = admin_client.post(change_url(failing.endpoint), form_of(failing.endpoint, events=["booking.creatd"]))
    assert response.status_code == 200 and "booking.creatd" in response.content.decode()
    assert WebhookEndpoint.objects.get().events != ["booking.creatd"]


def test_a_url_the_api_refuses_is_refused(admin_client, failing):
    response = admin_client.post(change_url(failing.endpoint), form_of(failing.endpoint, url="ftp://hooks.example.com/in"))
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert WebhookEndpoint.objects.get().url == failing.endpoint.url


def test_unticking_is_active_disables_with_reason_manual_and_ticking_clears_it(admin_client, failing, operator):
    endpoint = failing.endpoint
    response = admin_client.post(change_url(endpoint), form_of(endpoint, is_active=None))
    assert response.status_code == 302, response.content.decode()[:3000]
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (False, "manual") and endpoint.disabled_at
    admin_client.post(change_url(endpoint), form_of(endpoint))
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at) == (True, None, None)
    assert LogEntry.objects.filter(user=operator, object_id=str(endpoint.pk)).count() == 2


def test_the_owner_and_the_previous_secret_cannot_be_edited(admin_client, failing):
    page = admin_client.get(change_url(failing.endpoint)).content.decode()
    assert 'name="business"' not in page and 'name="hub"' not in page
    assert 'name="previous_secret"' not in page and 'name="secret"' not in page and 'name="disabled_reason"' not in page


def test_deleting_an_endpoint_keeps_it_and_its_log(admin_client, failing, operator):
    endpoint = failing.endpoint
    confirm = admin_client.get(reverse("admin:webhooks_webhookendpoint_delete", args=[endpoint.pk])).content.decode()
    assert failing.id not in confirm  # the log is not listed as deleted along with it
    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_delete", args=[endpoint.pk]), {"post": "yes"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.deleted_at and not endpoint.is_active
    assert Delivery.objects.filter(pk=failing.pk).exists() and DeliveryAttempt.objects.exists()
    assert LogEntry.objects.get(user=operator, object_id=str(endpoint.pk)).is_deletion()


def test_deleting_from_the_list_soft_deletes_too(admin_client, failing):
    admin_client.post("/admin/webhooks/webhookendpoint/", {
        "action": "delete_selected", "_selected_action": [failing.endpoint_id], "post": "yes",
    })
    assert WebhookEndpoint.objects.get().deleted_at is not None and Delivery.objects.exists()


def test_disabling_from_the_list_is_recorded_with_who_did_it(admin_client, failing, operator):
    admin_client.post(
        "/admin/webhooks/webhookendpoint/", {"action": "disable", "_selected_action": [failing.endpoint_id]}
    )
    entry = LogEntry.objects.get()
    assert (entry.user, entry.get_change_message()) == (operator, "Disabled (reason: manual)")


@pytest.mark.parametrize(("list_url", "message"), [
    ("/admin/deliveries/delivery/", "Redelivering 1 delivery (1 still pending, left as it is)."),
    ("/admin/deliveries/faileddelivery/", "Redelivering 1 delivery."),
])
def test_the_redeliver_message_counts_right(
    admin_client, failing, tenant, make_booking, django_capture_on_commit_callbacks, list_url, message
):
    with django_capture_on_commit_callbacks(execute=False):
        make_booking(tenant, email="pending@example.com")
    selected = list(Delivery.objects.filter(status__in=["failed", "pending"]).values_list("pk", flat=True))
    if "failed" in list_url:
        selected = [failing.pk]
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(list_url, {"action": "redeliver", "_selected_action": selected}, follow=True)
    assert message in response.content.decode()
    assert LogEntry.objects.get().get_change_message() == "Redelivered (was failed)"


def test_attempts_are_listed_newest_first_with_a_readable_error(admin_client, failing, deliver, tenant):
    deliver(tenant, email="second@example.com")
    page = admin_client.get("/admin/deliveries/deliveryattempt/").content.decode()
    ids = list(Delivery.objects.order_by("-created_at").values_list("pk", flat=True))
    assert page.index(ids[0]) < page.index(ids[1])
    assert "HTTP 500" in page


def test_filtering_attempts_by_error_finds_http_errors(admin_client, failing):
    attempts = "/admin/deliveries/deliveryattempt/"
    filters = admin_client.get(attempts).content.decode()
    assert "HTTP error (non-2xx answer)" in filters
    assert failing.id in admin_client.get(attempts, {"outcome": "http_error"}).content.decode()
    assert failing.id not in admin_client.get(attempts, {"outcome": "succeeded"}).content.decode()
