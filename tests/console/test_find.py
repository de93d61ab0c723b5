"""Start from a business or a time: search, autocomplete filters, time ranges, the business page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from deliveries.models import Delivery
from tests.support.receiver import Answer

from .conftest import change_url

LISTS = [
    "/admin/webhooks/webhookendpoint/",
    "/admin/deliveries/delivery/",
    "/admin/deliveries/faileddelivery/",
    "/admin/deliveries/event/",
]
SECOND_AND_ZONE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


@pytest.fixture
def rival(other_tenant, make_endpoint, make_receiver, deliver, failing):
    """Rival Wash: another business with its own failed delivery."""
    make_endpoint(other_tenant, make_receiver(Answer(status=503)))
    [delivery] = deliver(other_tenant, email="rival@example.com")
    return delivery


@pytest.mark.parametrize("url", LISTS)
def test_every_list_finds_a_business_by_name_and_by_id(admin_client, failing, rival, tenant, url):
    for term in ("Acme Wash", str(tenant.business.pk)):
        page = admin_client.get(url, {"q": term}).content.decode()
        assert "Acme Wash" in page, (url, term)
        assert "Rival Wash" not in page and rival.id not in page, (url, term)


@pytest.mark.parametrize("url", LISTS)
def test_every_list_filters_by_business_with_a_picker_not_a_list(admin_client, failing, rival, tenant, url):
    page = admin_client.get(url, {"business": tenant.business.pk}).content.decode()
    assert "Rival Wash" not in page and rival.id not in page
    # The picker is the admin's autocomplete, showing the chosen business only.
    assert 'data-filter-parameter="business"' in page and "admin-autocomplete" in page
    assert f'<option value="{tenant.business.pk}" selected>Acme Wash</option>' in page


def test_the_endpoint_filter_lists_no_urls_until_asked(admin_client, failing, rival):
    page = admin_client.get("/admin/deliveries/delivery/", {"endpoint": failing.endpoint_id}).content.decode()
    assert failing.id in page and rival.id not in page
    assert rival.endpoint.url not in page  # not offered in the sidebar: typed into the picker instead


def test_the_business_picker_answers_typed_names(admin_client, failing, rival):
    answer = admin_client.get("/admin/autocomplete/", {
        "term": "acme", "app_label": "deliveries", "model_name": "event", "field_name": "business",
    }).json()
    assert [result["text"] for result in answer["results"]] == ["Acme Wash"]


def test_deliveries_and_attempts_filter_by_a_time_range(admin_client, failing):
    later = (timezone.now() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    earlier = (timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    for url, field in (
        ("/admin/deliveries/delivery/", "created_at"), ("/admin/deliveries/deliveryattempt/", "started_at")
    ):
        assert failing.id in admin_client.get(url, {f"{field}__gte": earlier}).content.decode()
        page = admin_client.get(url, {f"{field}__gte": later}).content.decode()
        assert failing.id not in page and f'value="{later}"' in page  # the form shows what is applied
        assert failing.id in admin_client.get(url, {f"{field}__gte": earlier, f"{field}__lt": later}).content.decode()


def test_lists_show_times_to_the_second_with_the_time_zone(admin_client, failing):
    for url in ("/admin/deliveries/delivery/", "/admin/deliveries/deliveryattempt/", change_url(failing)):
        assert SECOND_AND_ZONE.search(admin_client.get(url).content.decode()), url


def test_the_business_page_lists_its_endpoints_with_health_and_links_to_its_deliveries(admin_client, failing, tenant):
    page = admin_client.get(change_url(tenant.business)).content.decode()
    endpoint = failing.endpoint
    assert endpoint.url in page and change_url(endpoint) in page
    assert "0%" in page and "HTTP 500" in page  # success rate and last error
    assert f"/admin/deliveries/delivery/?business={tenant.business.pk}" in page
    assert f"/admin/deliveries/faileddelivery/?business={tenant.business.pk}" in page
    listed = admin_client.get(f"/admin/deliveries/faileddelivery/?business={tenant.business.pk}").content.decode()
    assert failing.id in listed


def test_the_delivery_list_shows_status_business_endpoint_last_error_and_created(admin_client, failing):
    page = admin_client.get("/admin/deliveries/delivery/").content.decode()
    for column in (
        "column-status", "column-business", "column-endpoint_url", "column-last_error_short", "column-created_at"
    ):
        assert column in page
    assert Delivery.objects.get().last_error.startswith("HTTP 500")
