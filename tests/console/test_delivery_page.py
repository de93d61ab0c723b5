"""A delivery page an operator can act from: the attempts as a timeline, Redeliver as a button."""

from datetime import timedelta

from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from deliveries.models import Delivery

from .conftest import change_url


def redeliver_url(delivery) -> str:
    return reverse("admin:deliveries_delivery_redeliver", args=[quote(delivery.pk)])


def test_the_page_shows_each_attempt_with_request_and_response_escaped(admin_client, failing):
    page = admin_client.get(change_url(failing)).content.decode()
    assert 'id="attempt-1"' in page and "HTTP 500" in page
    assert "X-Calendence-Signature" in page and "webhook-id" in page  # request headers as sent
    assert "Content-Length" in page  # the answer's headers
    assert "&lt;boom&gt; &amp; down" in page and "<boom>" not in page  # the answer's body, escaped
    assert f'action="{redeliver_url(failing)}"' in page and 'id="redeliver"' in page


def test_the_redeliver_button_starts_a_fresh_series_and_is_recorded(
    admin_client, failing, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(redeliver_url(failing), follow=True)
    assert "Redelivering 1 delivery." in response.content.decode()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.series_start) == ("pending", 1) and len(callbacks) == 1
    assert LogEntry.objects.get().user == operator
    assert 'id="redeliver"' not in response.content.decode()  # pending: nothing to redeliver


def test_redeliver_is_post_only(admin_client, failing):
    assert admin_client.get(redeliver_url(failing)).status_code == 405
    assert Delivery.objects.get().status == "failed"


def test_redeliver_needs_the_change_permission_on_deliveries(client, failing):
    viewer = User.objects.create_user("viewer", password="viewer-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)
    page = client.get(change_url(failing)).content.decode()
    assert 'id="redeliver"' not in page
    assert client.post(redeliver_url(failing)).status_code == 403
    assert Delivery.objects.get().status == "failed"


def test_redeliver_checks_csrf(failing, operator):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(redeliver_url(failing)).status_code == 403
    assert Delivery.objects.get().status == "failed"


def test_recover_asks_since_when_then_redelivers_the_failed_ones(
    admin_client, failing, operator, django_capture_on_commit_callbacks
):
    url = "/admin/webhooks/webhookendpoint/"
    asked = admin_client.post(url, {"action": "recover", "_selected_action": [failing.endpoint_id]})
    assert asked.status_code == 200 and 'name="since"' in asked.content.decode()
    assert Delivery.objects.get().status == "failed"

    since = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    with django_capture_on_commit_callbacks(execute=False):
        done = admin_client.post(
            url, {"action": "recover", "_selected_action": [failing.endpoint_id], "since": since}, follow=True
        )
    assert "Redelivering 1 failed delivery since" in done.content.decode()
    assert Delivery.objects.get().status == "pending"
    change_message = LogEntry.objects.get(user=operator).get_change_message()
    assert "Recovered: redelivered 1 failed deliveries since" in change_message
