"""The pages people use pass an accessibility checker: axe-core, run in Chromium on each
main page of the portal and the console, with the data a real page would show."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from deliveries.models import Delivery
from portal.links import portal_link_issue
from tests.support.receiver import Answer
from tests.support.waiting import wait_until
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)

# axe-core's impact levels: a page may have nothing worse than "minor".
BLOCKING = {"serious", "critical", "moderate"}


def violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.fixture
def delivered(tenant, make_receiver, make_booking, delivery_engine):
    """An endpoint with one delivery, attempted and logged."""
    receiver = make_receiver(Answer(status=500, body=b"<h1>down</h1>"))
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url=receiver.url, events=["*"])
    make_booking(tenant)
    wait_until(lambda: delivery_engine.work_off(), what="the delivery to be attempted")
    return endpoint, Delivery.objects.get()


def test_the_portals_pages_pass_axe(page, live_server, tenant, delivered):
    endpoint, delivery = delivered
    page.goto(portal_link_issue(business=tenant.business, base_url=live_server.url).url)
    found = {}
    for path in ("/portal/", f"/portal/endpoints/{endpoint.pk}", f"/portal/endpoints/{endpoint.pk}/deliveries",
                 f"/portal/deliveries/{delivery.pk}", "/portal/endpoints/new", "/portal/events"):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        found[path] = violations(page)
    assert found == {path: [] for path in found}


def test_the_consoles_pages_pass_axe(page, live_server, operator, delivered):
    _endpoint, delivery = delivered
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username:").fill(operator.username)
    page.get_by_label("Password:").fill("secret-password")
    page.get_by_role("button", name="Log in").click()
    found = {}
    for path in ("/admin/", "/admin/overview/", "/admin/deliveries/delivery/",
                 f"/admin/deliveries/delivery/{delivery.pk}/change/", "/admin/webhooks/webhookendpoint/"):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        found[path] = violations(page)
    assert found == {path: [] for path in found}
