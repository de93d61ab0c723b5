"""The portal's pages through Django's test client: scoping, CSRF, escaping, headers, and each
change going through the API's rules and services."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from deliveries.models import Delivery, DeliveryAttempt
from deliveries.services import event_send_test
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create

URL = "https://hooks.example.com/in"


@pytest.fixture
def endpoint(tenant):
    return webhook_endpoint_create(owner=tenant.api_key, url=URL, events=["booking.created"])


@pytest.fixture
def other_endpoint(other_tenant):
    return webhook_endpoint_create(owner=other_tenant.api_key, url="https://rival.example.com/in", events=["*"])


def csrf(client: Client) -> str:
    """The CSRF token a page's form would carry (the cookie is set by any page with a form)."""
    client.get("/portal/endpoints/new")
    return client.cookies["csrftoken"].value


def post(client: Client, path: str, data: dict | None = None):
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": csrf(client)})


def delivered(endpoint, *, status=Delivery.Status.FAILED, status_code=500, body="", headers=None) -> Delivery:
    delivery = event_send_test(endpoint=endpoint, event_type="booking.created")
    now = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, started_at=now, finished_at=now, duration_ms=12, queued_ms=1,
        status_code=status_code, response_body=body, response_headers=headers or {},
        request_headers={"X-Calendence-Signature": "sha256=abc"},
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, attempt_count=1, next_attempt_at=None, completed_at=now
    )
    return Delivery.objects.get(pk=delivery.pk)


# --- Headers --------------------------------------------------------------------------------------

def test_pages_forbid_framing_and_other_sites_referrers_by_default(portal):
    response = portal.get("/portal/")
    assert response["Referrer-Policy"] == "same-origin"  # no-referrer would make form posts' Origin "null"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"] == "no-store"


def test_configured_frame_ancestors_may_embed_the_portal(tenant, portal_link, settings):
    settings.PORTAL_FRAME_ANCESTORS = ["https://app.example.com", "https://admin.example.com"]
    client = Client()
    client.get(portal_link(tenant))
    response = client.get("/portal/")
    assert "frame-ancestors https://app.example.com https://admin.example.com" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response


def cookie_settings(env: dict) -> dict:
    """The cookie settings a fresh process computes from `env` (settings are read once, at start)."""
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n) for n in "
        "['SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SAMESITE', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE']}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "calendence.settings", **env}
    return json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True).stdout)


def test_frame_ancestors_make_the_cookies_work_in_an_iframe_over_https():
    assert cookie_settings({"PORTAL_FRAME_ANCESTORS": "https://app.example.com"}) == {
        "SESSION_COOKIE_SAMESITE": "None", "CSRF_COOKIE_SAMESITE": "None",
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
    }
    assert cookie_settings({"PORTAL_FRAME_ANCESTORS": ""})["SESSION_COOKIE_SAMESITE"] == "Lax"


# --- Scoping: another business's ids are not found ---------------------------------------------------

@pytest.mark.parametrize(
    "path",
    [
        "/portal/endpoints/{id}", "/portal/endpoints/{id}/edit", "/portal/endpoints/{id}/deliveries",
        "/portal/endpoints/{id}/recover", "/portal/endpoints/{id}/delete",
    ],
)
def test_another_business_endpoint_pages_are_not_found(portal, other_endpoint, path):
    response = portal.get(path.format(id=other_endpoint.pk))
    assert response.status_code == 404
    assert other_endpoint.url not in response.content.decode()


@pytest.mark.parametrize("action", ["reveal-secret", "rotate-secret", "test", "active", "delete", "edit", "recover"])
def test_another_business_endpoint_cannot_be_changed(portal, other_endpoint, action):
    before = WebhookEndpoint.objects.get(pk=other_endpoint.pk)
    data = {"is_active": "false", "url": URL, "events": ["*"], "since": "2026-01-01T00:00", "grace_seconds": "0"}
    response = post(portal, f"/portal/endpoints/{other_endpoint.pk}/{action}", data)
    assert response.status_code == 404
    after = WebhookEndpoint.objects.get(pk=other_endpoint.pk)
    assert (after.secret, after.is_active, after.url, after.deleted_at) == (before.secret, True, before.url, None)
    assert before.secret not in response.content.decode()


def test_another_business_delivery_is_not_found(portal, other_endpoint):
    delivery = delivered(other_endpoint)
    assert portal.get(f"/portal/deliveries/{delivery.pk}").status_code == 404
    assert post(portal, f"/portal/deliveries/{delivery.pk}/redeliver").status_code == 404
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.FAILED


def test_the_list_shows_only_the_business_endpoints(portal, endpoint, other_endpoint):
    page = portal.get("/portal/").content.decode()
    assert endpoint.url in page and other_endpoint.url not in page


def test_a_hubs_endpoints_are_not_the_business_own(make_hub, make_business, portal_link):
    hub = make_hub()
    member = make_business("Member Wash", hub=hub.hub)
    hub_wide = webhook_endpoint_create(owner=hub.api_key, url="https://hub.example.com/in", events=["*"])
    client = Client()
    client.get(portal_link(member))
    assert hub_wide.url not in client.get("/portal/").content.decode()
    assert client.get(f"/portal/endpoints/{hub_wide.pk}").status_code == 404


# --- CSRF -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["reveal-secret", "rotate-secret", "test", "active", "delete"])
def test_every_change_needs_the_csrf_token(portal, endpoint, action):
    response = portal.post(f"/portal/endpoints/{endpoint.pk}/{action}", {"is_active": "false", "grace_seconds": "0"})
    assert response.status_code == 403
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (stored.secret, stored.is_active, stored.deleted_at) == (endpoint.secret, True, None)
    assert not Delivery.objects.exists()


def test_adding_an_endpoint_needs_the_csrf_token(portal):
    response = portal.post("/portal/endpoints/new", {"url": URL, "events": ["*"]})
    assert response.status_code == 403 and not WebhookEndpoint.objects.exists()


# --- Adding and editing: the API's rules and messages ---------------------------------------------

def test_adding_an_endpoint(portal, tenant):
    response = post(portal, "/portal/endpoints/new", {"url": URL, "events": ["booking.created", "booking.cancelled"],
                                                      "description": "CRM sync"})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/portal/endpoints/{endpoint.pk}"
    assert (endpoint.business_id, endpoint.hub_id, endpoint.events, endpoint.description) == (
        tenant.business.pk, None, ["booking.created", "booking.cancelled"], "CRM sync")
    assert endpoint.secret.startswith("whsec_")


def test_all_types_including_future_ones_is_the_star(portal):
    post(portal, "/portal/endpoints/new", {"url": URL, "events": ["*"]})
    assert WebhookEndpoint.objects.get().events == ["*"]


def api_errors(tenant, body) -> dict:
    return tenant.client.post("/api/v1/webhooks", body, format="json").json()["error"]["fields"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/in", "events": ["*"]},
        {"url": "https://user:pw@example.com/in", "events": ["*"]},
        {"url": "", "events": ["*"]},
        {"url": URL, "events": []},
        {"url": URL, "events": ["booking.exploded"]},
        {"url": URL + "/" + "x" * 2100, "events": ["*"]},
    ],
)
def test_bad_input_gets_the_api_messages(portal, tenant, body):
    response = post(portal, "/portal/endpoints/new", body)
    assert response.status_code == 400
    page = response.content.decode()
    for messages in api_errors(tenant, body).values():
        for message in messages:
            assert str(message).replace("'", "&#x27;").replace('"', "&quot;") in page
    assert not WebhookEndpoint.objects.exists()


def test_a_private_address_is_refused_as_the_api_refuses_it(portal, tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    body = {"url": "http://127.0.0.1:9000/in", "events": ["*"]}
    response = post(portal, "/portal/endpoints/new", body)
    assert response.status_code == 400
    [message] = api_errors(tenant, body)["url"]
    assert message.replace("'", "&#x27;") in response.content.decode()


def test_editing_an_endpoint(portal, endpoint):
    response = post(portal, f"/portal/endpoints/{endpoint.pk}/edit",
                    {"url": "https://new.example.com/in", "events": ["*"], "description": "moved"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.description) == ("https://new.example.com/in", ["*"], "moved")


def test_an_edit_with_bad_input_changes_nothing(portal, endpoint):
    response = post(portal, f"/portal/endpoints/{endpoint.pk}/edit", {"url": "not a url", "events": ["*"]})
    assert response.status_code == 400
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == URL


# --- One endpoint -----------------------------------------------------------------------------------

def test_the_secret_is_hidden_until_revealed(portal, endpoint):
    assert endpoint.secret not in portal.get(f"/portal/endpoints/{endpoint.pk}").content.decode()
    revealed = post(portal, f"/portal/endpoints/{endpoint.pk}/reveal-secret")
    assert revealed.status_code == 200 and endpoint.secret in revealed.content.decode()
    assert revealed["Cache-Control"] == "no-store"


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing(portal, endpoint):
    response = post(portal, f"/portal/endpoints/{endpoint.pk}/rotate-secret", {"grace_seconds": "3600"})
    rotated = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert rotated.secret != endpoint.secret and rotated.previous_secret == endpoint.secret
    assert rotated.secret in response.content.decode()
    assert rotated.previous_secret_expires_at - timezone.now() == pytest.approx(
        timedelta(hours=1), abs=timedelta(seconds=5)
    )


def test_a_grace_period_out_of_range_is_refused(portal, endpoint):
    response = post(portal, f"/portal/endpoints/{endpoint.pk}/rotate-secret", {"grace_seconds": "99999999"})
    assert response.status_code == 400
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_sending_a_test_event_leads_to_its_delivery(portal, endpoint):
    response = post(portal, f"/portal/endpoints/{endpoint.pk}/test", {"event": "booking.cancelled"})
    delivery = Delivery.objects.get()
    assert response["Location"] == f"/portal/deliveries/{delivery.pk}"
    assert delivery.event.is_test and delivery.event.type == "booking.cancelled"
    page = portal.get(response["Location"])
    assert page.status_code == 200 and "booking.cancelled" in page.content.decode()


def test_a_disabled_endpoint_gets_no_test_event(portal, endpoint):
    post(portal, f"/portal/endpoints/{endpoint.pk}/active", {"is_active": "false"})
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (False, "manual")
    response = post(portal, f"/portal/endpoints/{endpoint.pk}/test", {"event": "booking.created"})
    assert not Delivery.objects.exists()
    assert "The webhook is disabled (manual); enable it first." in portal.get(response["Location"]).content.decode()
    post(portal, f"/portal/endpoints/{endpoint.pk}/active", {"is_active": "true"})
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (True, None)


def test_deleting_asks_first(portal, endpoint):
    confirm = portal.get(f"/portal/endpoints/{endpoint.pk}/delete")
    assert confirm.status_code == 200 and "Delete this endpoint?" in confirm.content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).deleted_at is None
    assert post(portal, f"/portal/endpoints/{endpoint.pk}/delete").status_code == 302
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).deleted_at is not None
    assert portal.get(f"/portal/endpoints/{endpoint.pk}").status_code == 404


# --- Deliveries -------------------------------------------------------------------------------------

def test_a_receivers_html_is_shown_as_text(portal, endpoint):
    script = "<script>alert('owned')</script>"
    delivery = delivered(endpoint, body=script, headers={"X-Evil": "<img src=x onerror=alert(1)>"})
    page = portal.get(f"/portal/deliveries/{delivery.pk}").content.decode()
    assert script not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_last_error_on_the_list_is_escaped(portal, endpoint):
    delivery = delivered(endpoint)
    DeliveryAttempt.objects.filter(delivery=delivery).update(error="tls_error", error_detail="<b>bad</b>")
    page = portal.get("/portal/").content.decode()
    assert "<b>bad</b>" not in page and "&lt;b&gt;bad&lt;/b&gt;" in page


def test_the_list_reads_health_without_a_query_per_endpoint(portal, tenant, django_assert_max_num_queries):
    for number in range(12):
        delivered(webhook_endpoint_create(owner=tenant.api_key, url=f"{URL}/{number}", events=["*"]))
    with django_assert_max_num_queries(8):
        response = portal.get("/portal/")
    assert response.content.decode().count('class="panel endpoint-card"') == 12


def test_many_endpoints_are_listed_a_page_at_a_time_newest_first(portal, tenant, django_assert_max_num_queries):
    urls = [webhook_endpoint_create(owner=tenant.api_key, url=f"{URL}/{n}", events=["*"]).url for n in range(30)]
    with django_assert_max_num_queries(10):  # the page, its count, and the health reads: not 30 of anything
        first = portal.get("/portal/").content.decode()
    second = portal.get("/portal/?page=2").content.decode()

    assert first.count('class="panel endpoint-card"') == 25 and "Page 1 of 2" in first and "?page=2" in first
    assert second.count('class="panel endpoint-card"') == 5
    assert urls[-1] in first and urls[0] in second and urls[0] not in first
    assert portal.get("/portal/?page=zzz").status_code == 200  # a bad page number shows the first


def test_the_log_filters_and_pages(portal, endpoint):
    failed = [delivered(endpoint) for _ in range(3)]
    succeeded = delivered(endpoint, status=Delivery.Status.SUCCEEDED, status_code=200)
    log = f"/portal/endpoints/{endpoint.pk}/deliveries"
    page = portal.get(log, {"status": "succeeded"}).content.decode()
    assert succeeded.pk in page and not any(d.pk in page for d in failed)
    page = portal.get(log, {"event_id": failed[0].event_id}).content.decode()
    assert failed[0].pk in page and failed[1].pk not in page
    later = (timezone.now() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    assert "No deliveries match" in portal.get(log, {"since": later}).content.decode()
    first = portal.get(log, {"limit": 2, "status": "failed"})
    assert first.context["next_url"] and "status=failed" in first.context["next_url"]
    second = portal.get(first.context["next_url"])
    seen = {d.pk for d in first.context["deliveries"]} | {d.pk for d in second.context["deliveries"]}
    assert seen == {d.pk for d in failed}


def test_redeliver_and_its_refusals(portal, endpoint):
    delivery = delivered(endpoint)
    post(portal, f"/portal/deliveries/{delivery.pk}/redeliver")
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.PENDING
    response = post(portal, f"/portal/deliveries/{delivery.pk}/redeliver")
    assert "still pending" in portal.get(response["Location"]).content.decode()


def test_recover_counts_before_it_redelivers(portal, endpoint):
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    failures = [delivered(endpoint) for _ in range(2)]
    delivered(endpoint, status=Delivery.Status.SUCCEEDED, status_code=200)
    counted = portal.get(f"/portal/endpoints/{endpoint.pk}/recover", {"since": since})
    assert "2 failed deliveries since" in counted.content.decode()
    assert Delivery.objects.filter(status=Delivery.Status.FAILED).count() == 2
    post(portal, f"/portal/endpoints/{endpoint.pk}/recover", {"since": counted.context["since"].isoformat()})
    assert {d.status for d in Delivery.objects.filter(pk__in=[d.pk for d in failures])} == {Delivery.Status.PENDING}


def test_recover_refuses_a_bad_time(portal, endpoint):
    response = portal.get(f"/portal/endpoints/{endpoint.pk}/recover", {"since": "yesterday"})
    assert response.status_code == 400 and "Datetime has wrong format" in response.content.decode()


def test_the_catalog_shows_every_type_with_its_schema(portal):
    page = portal.get("/portal/events").content.decode()
    for name in ("booking.created", "booking.updated", "booking.cancelled", "booking.completed"):
        assert f'id="{name.replace(".", "")}"' in page
    assert "json-schema.org/draft/2020-12/schema" in page


def test_signing_out_ends_the_session(portal):
    post(portal, "/portal/leave")
    assert portal.get("/portal/").status_code == 403
