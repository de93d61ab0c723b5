"""The console in a real browser: "why did Acme Wash stop getting events since 14:00?", answered
from the admin index, then fixed with Redeliver.

Screenshots of the pages go to SCREENSHOTS_DIR when it is set (docs/screenshots for the README),
so a normal run never rewrites tracked files.
"""

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from deliveries.models import Delivery
from tests.support.receiver import Answer

pytestmark = pytest.mark.django_db(transaction=True)


def screenshot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"console-{name}.png", full_page=True)


def log_in(page, live_server) -> None:
    User.objects.create_superuser("operator", "operator@example.com", "a-long-password")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username:").fill("operator")
    page.get_by_label("Password:").fill("a-long-password")
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def acme_wash_stopped_getting_events(tenant, make_endpoint, make_receiver, make_booking, settings, delivery_engine):
    """Acme Wash's receiver took a booking, then started answering 500; the next booking's
    delivery failed for good. The receiver is returned, to be mended."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver = make_receiver(Answer(status=200))
    make_endpoint(tenant, receiver)
    make_booking(tenant, email="first@example.com")
    assert delivery_engine.work_off() == 1
    receiver.answer = Answer(status=500, body=b'{"error": "database <primary> is read-only"}')
    make_booking(tenant, email="second@example.com")
    assert delivery_engine.work_off() == 1
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["failed", "succeeded"]
    return receiver


def test_an_operator_finds_why_a_business_gets_nothing_and_redelivers(
    page, live_server, acme_wash_stopped_getting_events, delivery_engine
):
    receiver = acme_wash_stopped_getting_events
    log_in(page, live_server)

    # From the admin index to the business, by its name.
    page.get_by_role("link", name="Businesses").first.click()
    page.locator("#searchbar").fill("Acme Wash")
    page.locator("#changelist-search").get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Acme Wash").click()

    # Its endpoint: failing, since when (its last success), and why.
    webhooks = page.locator("#business-webhooks")
    row = webhooks.locator("tbody tr").first
    assert receiver.url in row.inner_text()
    last_success, last_failure = row.locator("td").nth(4).inner_text(), row.locator("td").nth(5).inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", last_success)
    assert "HTTP 500" in last_failure and last_failure >= last_success
    assert "50%" in row.inner_text()
    screenshot(page, "business")

    # The failed delivery, and what the receiver answered.
    page.get_by_role("link", name="failed in the last 24 h").click()
    failed = Delivery.objects.get(status="failed")
    page.locator(f'#result_list a:has(span[title="{failed.id}"])').click()
    attempt = page.locator("#attempt-1")
    assert "HTTP 500" in attempt.inner_text()
    assert "database <primary> is read-only" in attempt.locator(".console-body").nth(1).inner_text()
    screenshot(page, "delivery-failed")

    # Mended receiver; Redeliver; a worker's loop sends it; the page shows it succeeded.
    receiver.answer = Answer(status=200, body=b'{"ok": true}')
    page.locator("#redeliver").click()
    assert "Redelivering 1 delivery." in page.locator(".messagelist").inner_text()
    assert delivery_engine.work_off() == 1
    page.reload()
    assert "Succeeded" in page.locator(".field-status").inner_text()
    assert "HTTP 200" in page.locator("#attempt-2").inner_text()
    screenshot(page, "delivery")


def test_the_overview_is_one_click_from_the_index(page, live_server, acme_wash_stopped_getting_events):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/webhooks/webhookendpoint/")
    assert "HTTP 500" in page.locator("#result_list").inner_text()
    screenshot(page, "endpoints")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Overview").click()
    assert page.locator("#deliveries-per-hour svg rect").count() == 2 * 25
    failing = page.locator("#failing-endpoints")
    assert acme_wash_stopped_getting_events.url in failing.inner_text() and "HTTP 500" in failing.inner_text()
    assert "Due, not yet sent" in page.locator("#backlog").inner_text()
    screenshot(page, "overview")


def test_the_business_picker_filters_the_delivery_log(
    page, live_server, acme_wash_stopped_getting_events, other_tenant
):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/deliveries/delivery/")
    page.locator("#changelist-filter .select2-selection").first.click()
    page.locator(".select2-search__field").fill("acme")
    page.locator(".select2-results__option", has_text="Acme Wash").click()
    page.wait_for_url(re.compile(r"business="))
    assert page.locator("#result_list tbody tr").count() == 2
    visible = page.locator("#changelist .results").bounding_box()
    for column in ("status", "created_at", "business", "endpoint_url", "last_error_short"):  # in view at 1280 px
        box = page.locator(f"#result_list th.column-{column}").bounding_box()
        assert box["x"] + box["width"] <= visible["x"] + visible["width"], column
    screenshot(page, "deliveries")
