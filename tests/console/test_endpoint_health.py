"""Endpoint health in the list and on the page, from the stats API's selectors, in a fixed number of queries."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.receiver import Answer
from webhooks.services import webhook_endpoint_disable

from .conftest import change_url

LIST = "/admin/webhooks/webhookendpoint/"


def test_a_failing_endpoint_shows_what_is_wrong(admin_client, failing):
    page = admin_client.get(LIST).content.decode()
    assert failing.endpoint.url in page
    assert "Active" in page
    assert "0%" in page  # success rate over 24 h
    assert "HTTP 500" in page  # the last failure's error
    assert f"?endpoint={failing.endpoint_id}&amp;status__exact=failed&amp;created_at__gte=" in page  # "1 failed" links


def test_the_count_links_open_the_same_deliveries(admin_client, failing):
    page = admin_client.get(LIST).content.decode()
    link = page.split('href="/admin/deliveries/delivery/?endpoint=')[1].split('"')[0].replace("&amp;", "&")
    listed = admin_client.get(f"/admin/deliveries/delivery/?endpoint={link}").content.decode()
    assert failing.id in listed and "1 delivery" in listed


def test_a_disabled_endpoint_shows_its_reason_and_since_when(admin_client, failing):
    before = timezone.now()
    webhook_endpoint_disable(endpoint=failing.endpoint, reason="failing")
    failing.endpoint.refresh_from_db()
    assert failing.endpoint.disabled_at >= before
    for page in (
        admin_client.get(LIST).content.decode(), admin_client.get(change_url(failing.endpoint)).content.decode()
    ):
        assert "Disabled: failing" in page
        assert f"since {timezone.localtime(failing.endpoint.disabled_at):%Y-%m-%d %H:%M:%S} UTC" in page


def test_the_change_page_shows_health(admin_client, failing):
    page = admin_client.get(change_url(failing.endpoint)).content.decode()
    for label in ("Success rate (24 h)", "Deliveries (24 h)", "Last success", "Last failure", "HTTP 500"):
        assert label in page


def test_the_list_costs_the_same_queries_for_one_endpoint_or_many(
    admin_client, failing, tenant, make_endpoint, make_receiver, deliver
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    one = queries()
    for status in (200, 500, 503, 410):
        make_endpoint(tenant, make_receiver(Answer(status=status)))
    deliver(tenant, email="more@example.com")
    assert queries() == one
