"""The webhook management API of CONTRACT §5, through HTTP, with its auth, plan gate and tenancy rules."""

import base64
import socket
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bookings.api_keys import api_key_revoke
from bookings.models import Business
from webhooks.models import WebhookEndpoint

WEBHOOKS = "/api/v1/webhooks"
URL = "https://hooks.example.com/calendence"
CREATED_FIELDS = {
    "id", "url", "events", "description", "is_active", "secret",
    "business_id", "hub_id", "created_at", "disabled_reason",
}


def detail(webhook_id) -> str:
    return f"{WEBHOOKS}/{webhook_id}"


def create(client, url: str = URL, events=("booking.created",), **extra):
    return client.post(WEBHOOKS, {"url": url, "events": list(events), **extra}, format="json")


def created_id(client, **kwargs) -> str:
    response = create(client, **kwargs)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The contract's error body: JSON {"error": {"code", "message"[, "fields"]}}."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    if status != 400:
        assert "fields" not in error
    return error


def assert_invalid(response, field: str) -> list[str]:
    """400 validation_error naming the top-level `field` (item errors say which item in the message)."""
    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"], error
    messages = error["fields"][field]
    assert messages and all(isinstance(message, str) and message for message in messages)
    return messages


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def stub_dns(monkeypatch, answers: dict[str, list[str]]):
    """socket.getaddrinfo (as webhooks.url_policy calls it) answering from a table, never the network."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in answers[host]
        ]

    monkeypatch.setattr("webhooks.url_policy.socket.getaddrinfo", getaddrinfo)


# --- POST /api/v1/webhooks ------------------------------------------------------------


def test_create_answers_201_with_exactly_the_documented_fields(tenant):
    response = create(tenant.client, events=["booking.created", "booking.cancelled"], description="CRM sync")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == CREATED_FIELDS
    assert body["url"] == URL
    assert body["events"] == ["booking.created", "booking.cancelled"]
    assert body["description"] == "CRM sync"
    assert body["is_active"] is True
    assert body["disabled_reason"] is None
    assert body["business_id"] == str(tenant.business.id)
    assert body["hub_id"] is None
    uuid.UUID(body["id"])


def test_create_stores_the_endpoint_as_given(tenant):
    events = ["booking.completed", "booking.created", "booking.updated"]
    webhook_id = created_id(tenant.client, events=events)

    endpoint = WebhookEndpoint.objects.get(pk=webhook_id)
    assert endpoint.events == events
    assert endpoint.url == URL
    assert endpoint.business_id == tenant.business.id
    assert endpoint.hub_id is None


def test_create_returns_a_whsec_secret_with_at_least_32_random_bytes(tenant):
    created = create(tenant.client).json()
    first, second = created["secret"], create(tenant.client).json()["secret"]

    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) >= 32
    assert first != second
    assert WebhookEndpoint.objects.get(pk=created["id"]).secret == first


def test_description_defaults_to_empty(tenant):
    assert create(tenant.client).json()["description"] == ""


def test_every_known_event_type_is_accepted(tenant):
    events = ["booking.created", "booking.updated", "booking.cancelled", "booking.completed"]
    assert create(tenant.client, events=events).json()["events"] == events


def test_fields_that_try_to_set_owner_or_secret_are_ignored(tenant, make_hub):
    other_hub = make_hub("Someone Else's Hub")
    chosen_id = str(uuid.uuid4())
    response = create(
        tenant.client, secret="whsec_chosen_by_caller", hub_id=str(other_hub.hub.id), id=chosen_id, is_active=False
    )

    assert response.status_code == 201
    body = response.json()
    assert body["secret"] != "whsec_chosen_by_caller"
    assert body["id"] != chosen_id
    assert body["hub_id"] is None
    assert body["is_active"] is True
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert (endpoint.secret, endpoint.hub_id, endpoint.is_active) == (body["secret"], None, True)
    assert endpoint.business_id == tenant.business.id
    assert not WebhookEndpoint.objects.filter(pk=chosen_id).exists()
    assert "whsec_chosen_by_caller" not in [each.secret for each in WebhookEndpoint.objects.all()]


# --- Validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("hooks.example.com/calendence", id="not-absolute"),
        pytest.param("/calendence", id="path-only"),
        pytest.param("ftp://hooks.example.com/calendence", id="ftp-scheme"),
        pytest.param("javascript:alert(1)", id="javascript-scheme"),
        pytest.param("http:///calendence", id="no-host"),
        pytest.param("https://user:password@hooks.example.com/", id="user-and-password"),
        pytest.param("https://user@hooks.example.com/", id="user-only"),
        pytest.param("https://hooks.example.com:99999/", id="bad-port"),
        pytest.param("https://hooks.example.com/" + "a" * 2030, id="2049-chars"),
        pytest.param("", id="empty"),
        pytest.param("https://[not-an-ip/", id="unclosed-ipv6-bracket"),
        pytest.param("http://[::1", id="unclosed-ipv6-literal"),
        pytest.param("https://hooks example.com/", id="space-in-host"),
    ],
)
def test_invalid_url_is_400(tenant, url):
    response = create(tenant.client, url=url)

    assert_invalid(response, "url")
    assert not WebhookEndpoint.objects.exists()


def test_url_of_exactly_2048_characters_is_accepted(tenant):
    url = "https://hooks.example.com/" + "a" * (2048 - len("https://hooks.example.com/"))
    assert len(url) == 2048
    assert create(tenant.client, url=url).status_code == 201


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([], id="empty"),
        pytest.param(["booking.deleted"], id="unknown-type"),
        pytest.param(["booking.created", "booking.created"], id="duplicates"),
        pytest.param("booking.created", id="a-string-not-a-list"),
        pytest.param({"booking.created": True}, id="an-object"),
        pytest.param(None, id="null"),
        pytest.param([1], id="not-strings"),
    ],
)
def test_invalid_events_are_400(tenant, events):
    response = tenant.client.post(WEBHOOKS, {"url": URL, "events": events}, format="json")

    assert_invalid(response, "events")
    assert not WebhookEndpoint.objects.exists()


def test_missing_fields_are_each_reported(tenant):
    error = assert_error(tenant.client.post(WEBHOOKS, {}, format="json"), 400, "validation_error")

    assert set(error["fields"]) == {"url", "events"}


def test_description_over_500_characters_is_400(tenant):
    assert_invalid(create(tenant.client, description="d" * 501), "description")
    assert create(tenant.client, description="d" * 500).status_code == 201


def test_malformed_json_is_400_malformed_json(tenant):
    response = tenant.client.post(WEBHOOKS, '{"url": "https://x.example", "events": [', content_type="application/json")

    assert_error(response, 400, "malformed_json")


def test_body_that_is_not_an_object_is_400(tenant):
    response = tenant.client.post(WEBHOOKS, "[]", content_type="application/json")

    assert_error(response, 400, "validation_error")


def test_wrong_content_type_is_415(tenant):
    response = tenant.client.post(
        WEBHOOKS, f'{{"url": "{URL}", "events": ["booking.created"]}}', content_type="text/plain"
    )

    assert_error(response, 415)
    assert not WebhookEndpoint.objects.exists()


def test_form_encoded_body_is_415(tenant):
    response = tenant.client.post(WEBHOOKS, {"url": URL, "events": "booking.created"}, format="multipart")

    assert_error(response, 415)


@pytest.mark.parametrize(
    "method, on_detail",
    [("put", True), ("post", True), ("put", False), ("delete", False)],
)
def test_unsupported_methods_are_405(tenant, method, on_detail):
    webhook_id = created_id(tenant.client)
    path = detail(webhook_id) if on_detail else WEBHOOKS

    response = getattr(tenant.client, method)(path, {"url": URL, "events": ["booking.created"]}, format="json")

    assert_error(response, 405, "method_not_allowed")
    assert WebhookEndpoint.objects.alive().count() == 1


# --- Production URL rules --------------------------------------------------------------


def test_https_required_rejects_http_urls(tenant, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True

    assert_invalid(create(tenant.client, url="http://hooks.example.com/"), "url")
    assert create(tenant.client, url="https://hooks.example.com/").status_code == 201


def test_http_urls_are_accepted_when_https_not_required(tenant, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = False

    assert create(tenant.client, url="http://hooks.example.com/").status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://10.1.2.3:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://internal.example.com/hook",
        "http://rebind.example.com/hook",
    ],
)
def test_private_addresses_are_refused_when_not_allowed(tenant, settings, monkeypatch, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    stub_dns(monkeypatch, {
        "127.0.0.1": ["127.0.0.1"],
        "::1": ["::1"],
        "10.1.2.3": ["10.1.2.3"],
        "169.254.169.254": ["169.254.169.254"],
        "internal.example.com": ["192.168.0.10"],
        "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
    })

    assert_invalid(create(tenant.client, url=url), "url")
    assert not WebhookEndpoint.objects.exists()


def test_host_resolving_to_public_addresses_is_accepted_when_private_not_allowed(tenant, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    stub_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})

    assert create(tenant.client, url="https://hooks.example.com/").status_code == 201


def test_unresolvable_host_is_refused_when_private_not_allowed(tenant, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    stub_dns(monkeypatch, {})

    assert_invalid(create(tenant.client, url="https://nowhere.example.com/"), "url")


def test_private_addresses_are_accepted_in_development(tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    assert create(tenant.client, url="http://127.0.0.1:9000/hook").status_code == 201


@pytest.mark.parametrize("char", ["\t", "\r", "\n", "\x00", "\x1b", "\x7f"], ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("where", ["inside", "at-the-end"])
def test_url_with_a_control_character_is_400_and_stores_nothing(tenant, char, where):
    url = f"https://hooks.example.com/in{char}x" if where == "inside" else f"https://hooks.example.com/in{char}"

    [message] = assert_invalid(create(tenant.client, url=url), "url")

    assert message.startswith(f"Must not contain control characters (found U+{ord(char):04X}")
    assert not WebhookEndpoint.objects.exists()


def test_internationalized_host_is_stored_and_answered_in_punycode(tenant, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    stub_dns(monkeypatch, {"xn--bcher-kva.example": ["93.184.216.34"]})

    response = create(tenant.client, url="https://bücher.example/hook")

    assert response.status_code == 201, response.content
    assert response.json()["url"] == "https://xn--bcher-kva.example/hook"
    assert WebhookEndpoint.objects.get().url == "https://xn--bcher-kva.example/hook"


def test_internationalized_host_resolving_to_a_private_address_is_refused_in_production(tenant, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_REQUIRE_HTTPS = True
    stub_dns(monkeypatch, {"xn--bcher-kva.example": ["192.168.0.10"]})

    [message] = assert_invalid(create(tenant.client, url="https://bücher.example/hook"), "url")

    assert message == "The host 'xn--bcher-kva.example' resolves to a non-public address (192.168.0.10)."
    assert not WebhookEndpoint.objects.exists()


def test_invalid_internationalized_host_is_400_naming_the_host(tenant):
    [message] = assert_invalid(create(tenant.client, url="https://-bücher.example/hook"), "url")

    assert message.startswith("'-bücher.example' is not a valid internationalized host name")
    assert not WebhookEndpoint.objects.exists()


# --- GET /api/v1/webhooks and /api/v1/webhooks/{id} -------------------------------------


def test_list_is_paginated_newest_first_without_secrets(tenant):
    oldest, middle, newest = (created_id(tenant.client, url=f"{URL}/{n}") for n in range(3))

    response = tenant.client.get(WEBHOOKS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    assert (body["next"], body["previous"]) == (None, None)
    assert [item["id"] for item in body["results"]] == [newest, middle, oldest]
    assert all("secret" not in item for item in body["results"])
    assert body["results"][0]["url"] == f"{URL}/2"
    assert body["results"][0]["events"] == ["booking.created"]


def test_list_of_a_tenant_without_webhooks_is_empty(tenant):
    assert tenant.client.get(WEBHOOKS).json() == {"results": [], "next": None, "previous": None}


def test_list_cursor_pagination_follows_next(tenant):
    created = [created_id(tenant.client, url=f"{URL}/{n}") for n in range(5)]

    pages, url = [], f"{WEBHOOKS}?limit=2"
    while url:
        response = tenant.client.get(url)
        assert response.status_code == 200
        body = response.json()
        pages.append([item["id"] for item in body["results"]])
        if len(pages) > 1:
            assert body["previous"] is not None
        url = body["next"]

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [webhook_id for page in pages for webhook_id in page] == created[::-1]


def test_a_list_and_a_get_cost_one_query_each_with_no_query_per_row(tenant):
    """The page or the webhook, with no query per row; the key with its business is one more
    query (a join) where it is not cached (bookings/api_key_cache.py)."""
    webhook_id = created_id(tenant.client)
    for n in range(4):
        created_id(tenant.client, url=f"{URL}/{n}")

    with CaptureQueriesContext(connection) as listing:
        assert len(tenant.client.get(WEBHOOKS).json()["results"]) == 5
    with CaptureQueriesContext(connection) as one:
        assert tenant.client.get(detail(webhook_id)).status_code == 200

    def of_the_key(captured) -> list[str]:
        return [query["sql"] for query in captured if '"bookings_apikey"' in query["sql"]]

    def besides_the_key(captured) -> list[str]:
        return [query["sql"] for query in captured if '"bookings_apikey"' not in query["sql"]]

    page, webhook = besides_the_key(listing), besides_the_key(one)
    assert (len(page), len(webhook)) == (1, 1), page + webhook
    assert len(of_the_key(listing)) <= 1 and len(of_the_key(one)) <= 1, of_the_key(listing) + of_the_key(one)


def test_a_list_and_a_get_never_load_the_secrets_they_do_not_show(tenant):
    """Secrets are encrypted at rest: decrypting one per row was about a fifth of a list's CPU."""
    webhook_id = created_id(tenant.client)

    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.get(WEBHOOKS).status_code == 200
        assert tenant.client.get(detail(webhook_id)).status_code == 200

    endpoint_queries = [q["sql"] for q in queries if '"webhooks_webhookendpoint"' in q["sql"]]
    assert len(endpoint_queries) == 2
    assert not any('"secret"' in sql or '"previous_secret"' in sql for sql in endpoint_queries), endpoint_queries


def test_retrieve_returns_the_webhook_without_secret(tenant):
    created = create(tenant.client, description="CRM").json()

    response = tenant.client.get(detail(created["id"]))

    assert response.status_code == 200
    body = response.json()
    assert "secret" not in body
    assert body == {key: value for key, value in created.items() if key != "secret"}


def test_retrieve_of_random_uuid_is_404(tenant):
    assert_error(tenant.client.get(detail(uuid.uuid4())), 404, "not_found")


def test_retrieve_of_a_malformed_id_is_404(tenant):
    assert_error(tenant.client.get(detail("not-a-uuid")), 404)


# --- DELETE /api/v1/webhooks/{id} -------------------------------------------------------


def test_delete_answers_204_and_the_webhook_is_gone(tenant):
    kept = created_id(tenant.client, url=f"{URL}/kept")
    deleted = created_id(tenant.client, url=f"{URL}/deleted")

    response = tenant.client.delete(detail(deleted))

    assert response.status_code == 204
    assert response.content == b""
    assert_error(tenant.client.get(detail(deleted)), 404)
    assert ids(tenant.client.get(WEBHOOKS)) == [kept]
    assert_error(tenant.client.delete(detail(deleted)), 404)
    assert WebhookEndpoint.objects.get(pk=deleted).is_active is False


def test_delete_of_random_uuid_is_404(tenant):
    assert_error(tenant.client.delete(detail(uuid.uuid4())), 404, "not_found")


def test_deleted_webhook_gets_no_more_deliveries(tenant, make_booking):
    webhook_id = created_id(tenant.client)
    tenant.client.delete(detail(webhook_id))

    make_booking(tenant)

    assert not WebhookEndpoint.objects.get(pk=webhook_id).deliveries.exists()


# --- Authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer cal_biz_" + "x" * 43, id="unknown"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("Basic dXNlcjpwYXNz", id="wrong-scheme"),
        pytest.param("Bearer not-a-key", id="malformed"),
    ],
)
@pytest.mark.parametrize("call", ["list", "create", "retrieve", "delete", "deliveries"])
def test_requests_without_a_valid_key_are_401(tenant, authorization, call):
    webhook_id = created_id(tenant.client)
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = {
        "list": lambda: client.get(WEBHOOKS),
        "create": lambda: create(client),
        "retrieve": lambda: client.get(detail(webhook_id)),
        "delete": lambda: client.delete(detail(webhook_id)),
        "deliveries": lambda: client.get(f"{detail(webhook_id)}/deliveries"),
    }[call]()

    assert_error(response, 401, "invalid_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert WebhookEndpoint.objects.alive().count() == 1


def test_revoked_key_is_401(tenant):
    api_key_revoke(api_key=tenant.api_key)

    assert_error(tenant.client.get(WEBHOOKS), 401, "invalid_api_key")


# --- Plan gate -----------------------------------------------------------------------------


@pytest.mark.parametrize("plan", [Business.Plan.STARTER, Business.Plan.GROWTH])
@pytest.mark.parametrize("call", ["list", "create", "retrieve", "delete", "deliveries"])
def test_business_not_on_growth_pro_gets_403_on_every_webhook_call(make_business, plan, call):
    tenant = make_business("Small Wash")
    webhook_id = created_id(tenant.client)  # registered while on Growth Pro
    Business.objects.filter(pk=tenant.business.pk).update(plan=plan)

    response = {
        "list": lambda: tenant.client.get(WEBHOOKS),
        "create": lambda: create(tenant.client),
        "retrieve": lambda: tenant.client.get(detail(webhook_id)),
        "delete": lambda: tenant.client.delete(detail(webhook_id)),
        "deliveries": lambda: tenant.client.get(f"{detail(webhook_id)}/deliveries"),
    }[call]()

    assert_error(response, 403, "plan_required")
    assert WebhookEndpoint.objects.alive().count() == 1


def test_business_created_on_starter_gets_403(make_business):
    tenant = make_business("Starter Wash", plan=Business.Plan.STARTER)

    assert_error(create(tenant.client), 403, "plan_required")
    assert not WebhookEndpoint.objects.exists()


# --- Tenant isolation ------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["retrieve", "delete", "deliveries"])
def test_another_business_webhook_is_404_both_ways(tenant, other_tenant, call):
    mine = created_id(tenant.client)
    theirs = created_id(other_tenant.client)

    request = {
        "retrieve": lambda client, foreign: client.get(detail(foreign)),
        "delete": lambda client, foreign: client.delete(detail(foreign)),
        "deliveries": lambda client, foreign: client.get(f"{detail(foreign)}/deliveries"),
    }[call]
    for client, foreign in ((tenant.client, theirs), (other_tenant.client, mine)):
        assert_error(request(client, foreign), 404, "not_found")

    assert WebhookEndpoint.objects.alive().count() == 2


def test_list_shows_only_the_callers_webhooks(tenant, other_tenant):
    mine = created_id(tenant.client)
    theirs = created_id(other_tenant.client)

    assert ids(tenant.client.get(WEBHOOKS)) == [mine]
    assert ids(other_tenant.client.get(WEBHOOKS)) == [theirs]


# --- Hub keys ----------------------------------------------------------------------------------


@pytest.fixture
def hub(make_hub):
    return make_hub("North Hub")


@pytest.fixture
def hub_business(make_business, hub):
    return make_business("North Wash", hub=hub.hub)


def test_hub_key_creates_a_hub_wide_webhook(hub):
    body = create(hub.client).json()

    assert body["business_id"] is None
    assert body["hub_id"] == str(hub.hub.id)
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert (endpoint.business_id, endpoint.hub_id) == (None, hub.hub.id)


def test_hub_key_narrows_a_webhook_to_one_of_its_businesses(hub, hub_business):
    response = create(hub.client, business_id=str(hub_business.business.id))

    assert response.status_code == 201
    body = response.json()
    assert body["business_id"] == str(hub_business.business.id)
    assert body["hub_id"] == str(hub.hub.id)


def test_hub_key_explicit_null_business_id_is_hub_wide(hub):
    body = create(hub.client, business_id=None).json()

    assert (body["business_id"], body["hub_id"]) == (None, str(hub.hub.id))


@pytest.mark.parametrize("outside", ["standalone", "other_hub", "random"])
def test_hub_key_with_a_business_outside_the_hub_is_400(hub, make_business, make_hub, outside):
    business_id = {
        "standalone": lambda: make_business("Independent Wash").business.id,
        "other_hub": lambda: make_business("South Wash", hub=make_hub("South Hub").hub).business.id,
        "random": uuid.uuid4,
    }[outside]()

    assert_invalid(create(hub.client, business_id=str(business_id)), "business_id")
    assert not WebhookEndpoint.objects.exists()


def test_hub_key_with_a_malformed_business_id_is_400(hub):
    assert_invalid(create(hub.client, business_id="not-a-uuid"), "business_id")


def test_business_key_sending_business_id_is_400(tenant, hub_business):
    for business_id in (tenant.business.id, hub_business.business.id):
        assert_invalid(create(tenant.client, business_id=str(business_id)), "business_id")

    assert not WebhookEndpoint.objects.exists()


def test_hub_key_lists_its_own_and_its_businesses_webhooks(hub, hub_business, other_tenant):
    business_own = created_id(hub_business.client, url=f"{URL}/business")
    hub_wide = created_id(hub.client, url=f"{URL}/hub")
    narrowed = created_id(hub.client, url=f"{URL}/narrowed", business_id=str(hub_business.business.id))
    created_id(other_tenant.client, url=f"{URL}/outsider")

    assert ids(hub.client.get(WEBHOOKS)) == [narrowed, hub_wide, business_own]


def test_business_key_does_not_see_its_hubs_webhooks(hub, hub_business):
    business_own = created_id(hub_business.client, url=f"{URL}/business")
    hub_wide = created_id(hub.client, url=f"{URL}/hub")
    narrowed = created_id(hub.client, url=f"{URL}/narrowed", business_id=str(hub_business.business.id))

    assert ids(hub_business.client.get(WEBHOOKS)) == [business_own]
    for hub_webhook in (hub_wide, narrowed):
        assert_error(hub_business.client.get(detail(hub_webhook)), 404)
        assert_error(hub_business.client.delete(detail(hub_webhook)), 404)


def test_hub_key_gets_and_deletes_its_business_webhook(hub, hub_business):
    webhook_id = created_id(hub_business.client)

    assert hub.client.get(detail(webhook_id)).json()["business_id"] == str(hub_business.business.id)
    assert hub.client.delete(detail(webhook_id)).status_code == 204
    assert_error(hub_business.client.get(detail(webhook_id)), 404)
    assert ids(hub_business.client.get(WEBHOOKS)) == []


def test_hub_key_cannot_see_another_hubs_webhooks(hub, make_hub, make_business):
    other_hub = make_hub("South Hub")
    other_business = make_business("South Wash", hub=other_hub.hub)
    theirs = [created_id(other_hub.client), created_id(other_business.client)]

    assert ids(hub.client.get(WEBHOOKS)) == []
    for webhook_id in theirs:
        assert_error(hub.client.get(detail(webhook_id)), 404)
        assert_error(hub.client.delete(detail(webhook_id)), 404)
