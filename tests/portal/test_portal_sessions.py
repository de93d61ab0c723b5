"""Getting in: POST /api/v1/portal-sessions, manage.py portal_link, and opening the link."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from bookings.models import Business
from portal.models import PortalLink

SESSIONS = "/api/v1/portal-sessions"
MOMENT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def create_link(tenant, body=None):
    return tenant.client.post(SESSIONS, body or {}, format="json")


def link_path(response) -> str:
    assert response.status_code == 201, response.content
    return urlsplit(response.json()["url"]).path


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def test_a_business_key_gets_a_one_time_link_that_expires_in_ten_minutes(tenant):
    with time_machine.travel(MOMENT, tick=False):
        response = create_link(tenant)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"url", "expires_at"}
    assert body["url"].startswith("http://testserver/portal/enter/")
    assert datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")) == MOMENT + timedelta(seconds=600)


def test_only_a_hash_of_the_token_is_stored(tenant):
    token = link_path(create_link(tenant)).rsplit("/", 1)[1]
    link = PortalLink.objects.get()
    assert token not in link.token_hash and len(link.token_hash) == 64


def test_opening_the_link_starts_a_session_and_redirects_to_a_url_without_the_token(tenant):
    client = Client()
    response = client.get(link_path(create_link(tenant)))
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert response["Referrer-Policy"] == "no-referrer"
    page = client.get("/portal/")
    assert page.status_code == 200 and tenant.business.name in page.content.decode()


def test_the_link_works_only_once(tenant):
    path = link_path(create_link(tenant))
    assert Client().get(path).status_code == 302
    reused = Client().get(path)
    assert reused.status_code == 403
    assert "Link expired or invalid" in reused.content.decode()


def test_the_link_expires_after_portal_link_seconds(tenant, settings):
    settings.PORTAL_LINK_SECONDS = 60
    with time_machine.travel(MOMENT, tick=False):
        path = link_path(create_link(tenant))
    with time_machine.travel(MOMENT + timedelta(seconds=61), tick=False):
        assert Client().get(path).status_code == 403


def test_a_forged_link_gets_the_same_plain_403(tenant):
    create_link(tenant)
    for token in ("forged", "x" * 43, "a" * 500):
        response = Client().get(f"/portal/enter/{token}")
        assert response.status_code == 403
        assert "Link expired or invalid" in response.content.decode()


def test_the_session_ends_after_portal_session_seconds_however_active(tenant, settings):
    settings.PORTAL_SESSION_SECONDS = 120
    client = Client()
    with time_machine.travel(MOMENT, tick=False):
        client.get(link_path(create_link(tenant)))
    with time_machine.travel(MOMENT + timedelta(seconds=100), tick=False):
        assert client.get("/portal/").status_code == 200
    with time_machine.travel(MOMENT + timedelta(seconds=121), tick=False):
        ended = client.get("/portal/")
    assert ended.status_code == 403 and "session has ended" in ended.content.decode()


def test_a_new_link_replaces_the_session_with_a_new_key(tenant, other_tenant):
    client = Client()
    client.get(link_path(create_link(other_tenant)))
    first_key = client.cookies["sessionid"].value
    client.get(link_path(create_link(tenant)))
    assert client.cookies["sessionid"].value != first_key
    page = client.get("/portal/").content.decode()
    assert tenant.business.name in page and other_tenant.business.name not in page


def test_without_a_link_the_portal_is_closed():
    response = Client().get("/portal/")
    assert response.status_code == 403


def test_a_hub_key_gets_a_link_for_one_of_its_businesses(make_hub, make_business):
    hub = make_hub()
    member = make_business("Member Wash", hub=hub.hub)
    client = Client()
    client.get(link_path(create_link(hub, {"business_id": str(member.business.id)})))
    assert "Member Wash" in client.get("/portal/").content.decode()


def test_a_hub_key_must_name_a_business_of_its_own(make_hub, make_business, other_tenant):
    hub = make_hub()
    assert_error(create_link(hub), 400, "validation_error")
    assert_error(create_link(hub, {"business_id": "not-a-uuid"}), 400, "validation_error")
    assert_error(create_link(hub, {"business_id": str(other_tenant.business.id)}), 404, "not_found")
    assert not PortalLink.objects.exists()


def test_a_business_key_cannot_choose_a_business(tenant, other_tenant):
    assert_error(create_link(tenant, {"business_id": str(other_tenant.business.id)}), 400, "validation_error")


@pytest.mark.parametrize("plan", [Business.Plan.STARTER, Business.Plan.GROWTH])
def test_a_business_without_growth_pro_gets_403(make_business, make_hub, plan):
    assert_error(create_link(make_business("Small Wash", plan=plan)), 403, "plan_required")
    hub = make_hub()
    member = make_business("Small Member", plan=plan, hub=hub.hub)
    assert_error(create_link(hub, {"business_id": str(member.business.id)}), 403, "plan_required")


def test_a_link_stops_working_if_the_business_leaves_growth_pro(tenant):
    path = link_path(create_link(tenant))
    Business.objects.filter(pk=tenant.business.pk).update(plan=Business.Plan.STARTER)
    assert Client().get(path).status_code == 403


def test_no_key_no_link(anonymous_client):
    assert_error(anonymous_client.post(SESSIONS, {}, format="json"), 401, "invalid_api_key")


def test_the_command_prints_a_link(tenant):
    out = StringIO()
    with time_machine.travel(MOMENT, tick=False):
        call_command("portal_link", "--business", str(tenant.business.id), stdout=out)
        printed = json.loads(out.getvalue())
        assert Client().get(urlsplit(printed["url"]).path).status_code == 302
    assert set(printed) == {"url", "expires_at"}
    assert datetime.fromisoformat(printed["expires_at"]) == MOMENT + timedelta(seconds=600)


def test_the_command_refuses_an_unknown_business_or_plan(make_business):
    with pytest.raises(CommandError, match="No business"):
        call_command("portal_link", "--business", "00000000-0000-0000-0000-000000000000", stdout=StringIO())
    small = make_business("Small Wash", plan=Business.Plan.STARTER)
    with pytest.raises(CommandError, match="growth_pro"):
        call_command("portal_link", "--business", str(small.business.id), stdout=StringIO())


def test_portal_link_base_url_names_the_links_origin(tenant, settings):
    settings.PORTAL_BASE_URL = "https://webhooks.example.com"
    assert create_link(tenant).json()["url"].startswith("https://webhooks.example.com/portal/enter/")
