"""The portal in Chromium against a live server and a real receiver: each flow a developer walks.

Deliveries are sent by the engine itself, run from the test (delivery_engine.work_off) once the page
has asked for them, exactly as a worker would run it. With SCREENSHOTS_DIR set, the main pages
are saved there as portal-*.png (docs/portal.md's come from `SCREENSHOTS_DIR=docs/screenshots`).
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from deliveries.models import Delivery
from portal.links import portal_link_issue
from tests.support.receiver import Answer
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 375, "height": 740}
SCRIPT = "<script>document.title='owned'</script>"


def snap(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"portal-{name}.png", full_page=True)


def open_portal(page, live_server, business) -> None:
    page.goto(portal_link_issue(business=business, base_url=live_server.url).url)
    assert page.url == f"{live_server.url}/portal/"  # the token is gone from the address bar


@pytest.fixture
def deliver(delivery_engine):
    """deliver(n): run the engine until n attempts have been made and logged."""

    def run(expected: int) -> None:
        made = 0
        for _ in range(20):
            made += delivery_engine.work_off()
            if made >= expected:
                return
        raise AssertionError(f"only {made} of {expected} attempts made")

    return run


@pytest.fixture
def one_attempt_each(settings):
    """A failure settles at once (no retry to wait for)."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1


def test_add_an_endpoint_send_a_test_and_read_the_exchange(
    page, live_server, tenant, make_receiver, one_attempt_each, deliver
):
    receiver = make_receiver(Answer(status=200, body=b'{"received": true}', headers={"X-Receiver": "demo"}))
    open_portal(page, live_server, tenant.business)
    snap(page, "empty")
    page.get_by_role("link", name="Add your first endpoint").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("Bookings to our CRM")
    page.get_by_role("button", name="Add endpoint").click()

    endpoint = WebhookEndpoint.objects.get()
    receiver.secret = endpoint.secret
    assert endpoint.events == ["*"] and page.get_by_role("heading", name=receiver.url).is_visible()
    page.get_by_label("Event type").select_option("booking.cancelled")
    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("Pending: its next attempt is on its way").wait_for()
    deliver(1)
    page.reload()

    [received] = receiver.requests
    assert received.signature_valid and received.json["event"] == "booking.cancelled" and received.json["test"]
    attempt = page.locator(".attempt").first
    assert "HTTP 200" in attempt.inner_text()
    assert received.headers["X-Calendence-Signature"] in attempt.inner_text()  # the request as sent
    assert '"received": true' in attempt.inner_text() and "X-Receiver" in attempt.inner_text()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", attempt.inner_text())
    snap(page, "delivery")


def test_a_failing_receiver_redeliver_and_recover(page, live_server, tenant, make_receiver, one_attempt_each, deliver):
    receiver = make_receiver(Answer(status=500, body=SCRIPT.encode(), headers={"X-Html": "<b>bold</b>"}))
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url=receiver.url, events=["*"])
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.dismiss())
    open_portal(page, live_server, tenant.business)
    page.get_by_role("link", name="Manage").click()
    page.get_by_role("button", name="Send test event").click()
    deliver(1)
    page.reload()

    # The receiver's HTML is text on the page, never markup that runs.
    assert page.locator(".attempt pre.body").last.inner_text() == SCRIPT
    assert page.get_by_text("<b>bold</b>").is_visible()
    assert page.title() != "owned" and dialogs == []
    assert "HTTP 500" in page.locator(".attempt").first.inner_text()

    receiver.answer = Answer(status=200)
    page.get_by_role("button", name="Redeliver").click()
    page.get_by_text("Redelivery started").wait_for()
    deliver(1)
    page.reload()
    assert "HTTP 200" in page.locator(".attempt").nth(1).inner_text()
    assert Delivery.objects.get().status == Delivery.Status.SUCCEEDED

    # An outage on the receiver's side: two more failures, then recover them all at once.
    receiver.answer = Answer(status=503, body=b"down for maintenance")
    since = timezone.now() - timedelta(minutes=1)
    for event_type in ("booking.created", "booking.updated"):
        page.goto(f"{live_server.url}/portal/endpoints/{endpoint.pk}")
        page.get_by_label("Event type").select_option(event_type)
        page.get_by_role("button", name="Send test event").click()
    deliver(2)
    page.goto(f"{live_server.url}/portal/endpoints/{endpoint.pk}/deliveries")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("table.deliveries tbody tr").count() == 2
    snap(page, "delivery-log")

    receiver.answer = Answer(status=200)
    page.get_by_role("link", name="Recover failed deliveries").click()
    page.get_by_label("Failed since (UTC)").fill(since.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Count failed deliveries").click()
    page.get_by_role("heading", name=re.compile("2 failed deliveries since")).wait_for()
    snap(page, "recover")
    page.get_by_role("button", name="Redeliver 2").click()
    page.get_by_text("are being redelivered").wait_for()
    deliver(2)
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SUCCEEDED}

    page.goto(f"{live_server.url}/portal/")
    card = page.locator(".endpoint-card").inner_text()  # every delivery succeeded in the end
    assert "100.0 %" in card and "3 succeeded, 0 failed" in card and "HTTP 503" in card
    snap(page, "endpoints")


def test_reveal_rotate_disable_and_delete(page, live_server, tenant):
    endpoint = webhook_endpoint_create(owner=tenant.api_key, url="https://hooks.example.com/in", events=["*"])
    open_portal(page, live_server, tenant.business)
    page.goto(f"{live_server.url}/portal/endpoints/{endpoint.pk}")
    assert endpoint.secret not in page.content()
    snap(page, "endpoint")
    page.get_by_role("button", name="Reveal").click()
    assert page.get_by_label("Secret", exact=True).input_value() == endpoint.secret

    page.get_by_label("Keep the old secret signing too for").select_option(label="1 hour")
    page.get_by_role("button", name="Rotate secret").click()
    rotated = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert rotated.secret != endpoint.secret and rotated.previous_secret == endpoint.secret
    assert page.get_by_label(re.compile("The new signing secret")).input_value() == rotated.secret
    snap(page, "secret-rotated")

    page.get_by_role("link", name="Back to the endpoint").click()
    page.get_by_role("button", name="Disable").click()
    page.get_by_text("Endpoint disabled").wait_for()
    assert page.get_by_role("button", name="Send test event").is_disabled()
    page.get_by_role("button", name="Enable").click()
    page.get_by_text("Endpoint enabled.").wait_for()

    page.get_by_role("link", name="Delete endpoint").click()
    page.get_by_role("button", name="Delete endpoint").click()
    page.get_by_text("No endpoints yet").wait_for()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).deleted_at is not None


def test_bad_input(page, live_server, tenant, other_tenant, settings):
    page.goto(f"{live_server.url}/portal/enter/forged-token")
    assert page.get_by_role("heading", name="Link expired or invalid").is_visible()

    link = portal_link_issue(business=tenant.business, base_url=live_server.url).url
    page.goto(link)
    page.goto(link)  # a second use
    assert page.get_by_role("heading", name="Link expired or invalid").is_visible()

    open_portal(page, live_server, tenant.business)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    page.get_by_role("link", name="Add your first endpoint").click()
    page.get_by_label("URL").fill("http://127.0.0.1:9000/in")
    page.get_by_role("button", name="Add endpoint").click()
    assert page.get_by_text("The host '127.0.0.1' resolves to a non-public address (127.0.0.1).").is_visible()
    page.get_by_label("URL").fill("https://hooks.example.com/in")
    page.get_by_label("All, including future types").uncheck()
    page.get_by_role("button", name="Add endpoint").click()
    assert page.get_by_text("This list may not be empty.").is_visible()
    assert page.get_by_label("URL").input_value() == "https://hooks.example.com/in"  # kept for the fix
    snap(page, "add-endpoint-errors")
    assert not WebhookEndpoint.objects.exists()

    theirs = webhook_endpoint_create(owner=other_tenant.api_key, url="https://rival.example.com/in", events=["*"])
    response = page.goto(f"{live_server.url}/portal/endpoints/{theirs.pk}")
    assert response.status == 404 and "rival.example.com" not in page.content()


def test_the_event_catalog(page, live_server, tenant):
    open_portal(page, live_server, tenant.business)
    page.get_by_role("link", name="Event catalog").click()
    for name in ("booking.created", "booking.updated", "booking.cancelled", "booking.completed"):
        assert page.get_by_role("heading", name=name).is_visible()
    page.locator("details summary").first.click()
    assert "json-schema.org" in page.locator("details pre").first.inner_text()
    snap(page, "catalog")


def test_keyboard_alone_reaches_and_submits_the_add_form(page, live_server, tenant):
    open_portal(page, live_server, tenant.business)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("link", name="Add endpoint", exact=True).focus()
    page.keyboard.press("Enter")
    page.get_by_label("URL").focus()
    page.keyboard.type("https://hooks.example.com/keyboard")
    page.keyboard.press("Enter")  # submits the form
    page.get_by_text("Endpoint added.").wait_for()
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.com/keyboard"


def test_nothing_overflows_a_375_px_phone(browser, live_server, tenant, make_receiver, one_attempt_each, deliver):
    receiver = make_receiver(Answer(status=500, body=b"x" * 3000, headers={"X-Long": "y" * 300}))
    endpoint = webhook_endpoint_create(
        owner=tenant.api_key, url=receiver.url + "/a-rather-long-path/that-goes-on-and-on?with=query&and=more",
        events=["*"], description="A description long enough to wrap over a few lines on a narrow phone screen",
    )
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        open_portal(page, live_server, tenant.business)
        page.goto(f"{live_server.url}/portal/endpoints/{endpoint.pk}")
        page.get_by_role("button", name="Send test event").click()
        deliver(1)
        delivery = Delivery.objects.get()
        pages = ["/portal/", f"/portal/endpoints/{endpoint.pk}", f"/portal/endpoints/{endpoint.pk}/edit",
                 f"/portal/endpoints/{endpoint.pk}/deliveries", f"/portal/deliveries/{delivery.pk}",
                 f"/portal/endpoints/{endpoint.pk}/recover", "/portal/events", "/portal/endpoints/new"]
        for path in pages:
            page.goto(live_server.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide"
        page.goto(live_server.url + "/portal/")
        snap(page, "endpoints-phone")
    finally:
        context.close()
