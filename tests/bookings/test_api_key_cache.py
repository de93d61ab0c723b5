"""The cached key lookup (bookings/api_key_cache.py): used, and never trusted past a change.

Each change below is made after the key's entry is in the cache, and the very next call
must see it: in every process, since the cache (Redis) is shared. Keys are cached only in
a shared cache, so these tests run on a Redis (tests/conftest.py, `redis_url`).
"""

import io
import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.api_key_cache import api_key_cache_add, api_key_cache_get, entry_name
from bookings.api_keys import api_key_revoke, hash_key
from bookings.models import ApiKey, Business
from calendence.settings import redis_cache

WEBHOOKS = "/api/v1/webhooks"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def shared_cache(redis_url, settings):
    settings.CACHES = {"default": redis_cache(redis_url)}


def cached(tenant) -> ApiKey | None:
    return api_key_cache_get(hash_key(tenant.key))


def key_queries(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if '"bookings_apikey"' in query["sql"]]


def uncached(tenant) -> None:
    """What a process finds when the entry has expired."""
    caches["default"].delete(entry_name(hash_key(tenant.key)))


def called_and_cached(tenant) -> None:
    assert tenant.client.get(WEBHOOKS).status_code == 200
    assert cached(tenant) is not None, "the call should have cached its key"


def test_a_cached_key_authenticates_without_a_query(tenant):
    called_and_cached(tenant)

    with CaptureQueriesContext(connection) as captured:
        assert tenant.client.get(WEBHOOKS).status_code == 200

    assert key_queries(captured) == []
    assert len(captured.captured_queries) == 1  # the list itself


def test_the_cached_key_has_its_business_loaded(tenant):
    called_and_cached(tenant)

    with CaptureQueriesContext(connection) as captured:
        assert cached(tenant).business.has_webhooks

    assert captured.captured_queries == []


@pytest.mark.parametrize("how", ["service", "command", "admin"])
def test_a_revoked_key_fails_at_once_although_cached(tenant, how, admin_client):
    called_and_cached(tenant)

    if how == "service":
        api_key_revoke(api_key=ApiKey.objects.get(pk=tenant.api_key.pk))
    elif how == "command":
        call_command("revoke_api_key", str(tenant.api_key.pk), stdout=io.StringIO())
    else:
        response = admin_client.post(
            f"/admin/bookings/apikey/{tenant.api_key.pk}/change/",
            {"name": "", "revoked_at_0": "2026-11-30", "revoked_at_1": "09:00:00"},
        )
        assert response.status_code == 302, response.content

    assert tenant.client.get(WEBHOOKS).status_code == 401


@pytest.mark.parametrize("how", ["save", "update", "admin"])
def test_a_business_moved_off_growth_pro_loses_webhooks_at_once(tenant, how, admin_client):
    called_and_cached(tenant)

    if how == "save":
        business = Business.objects.get(pk=tenant.business.pk)
        business.plan = Business.Plan.GROWTH
        business.save()
    elif how == "update":
        Business.objects.filter(pk=tenant.business.pk).update(plan=Business.Plan.GROWTH)
    else:
        response = admin_client.post(
            f"/admin/bookings/business/{tenant.business.pk}/change/",
            {"name": tenant.business.name, "plan": Business.Plan.GROWTH, "hub": ""},
        )
        assert response.status_code == 302, response.content

    response = tenant.client.get(WEBHOOKS)
    assert response.status_code == 403 and response.json()["error"]["code"] == "plan_required"


def test_a_key_revoked_by_update_fails_at_once(tenant):
    called_and_cached(tenant)

    ApiKey.objects.filter(pk=tenant.api_key.pk).update(revoked_at=T0)

    assert tenant.client.get(WEBHOOKS).status_code == 401


@pytest.mark.parametrize("deleted", ["key", "business"])
def test_a_deleted_key_or_business_fails_at_once(tenant, deleted):
    called_and_cached(tenant)

    if deleted == "key":
        ApiKey.objects.get(pk=tenant.api_key.pk).delete()
    else:
        Business.objects.get(pk=tenant.business.pk).delete()

    assert tenant.client.get(WEBHOOKS).status_code == 401


def test_a_deleted_hub_leaves_no_cached_business_in_it(make_hub, make_business):
    hub = make_hub()
    member = make_business("Member Wash", hub=hub.hub)
    called_and_cached(member)
    assert cached(member).business.hub_id == hub.hub.pk

    hub.hub.delete()  # its businesses leave it by an UPDATE, which sends no signal

    assert cached(member) is None
    assert member.client.get(WEBHOOKS).status_code == 200
    assert hub.client.get(WEBHOOKS).status_code == 401  # the hub's own key went with it


def test_an_entry_read_before_a_change_cannot_come_back(tenant):
    """A call that read the key just before its revocation committed, and caches it just after."""
    read_before = ApiKey.objects.select_related("business").get(pk=tenant.api_key.pk)
    called_and_cached(tenant)

    api_key_revoke(api_key=ApiKey.objects.get(pk=tenant.api_key.pk))
    api_key_cache_add(read_before, seconds=60)

    assert cached(tenant) is None
    assert tenant.client.get(WEBHOOKS).status_code == 401


def test_an_entry_cached_while_the_change_commits_is_dropped_at_commit(tenant, django_capture_on_commit_callbacks):
    """A transaction that outlives the drop made at save(): a call that read the committed
    (old) row caches it meanwhile, and the drop made at commit takes it out again."""
    read_before = ApiKey.objects.select_related("business").get(pk=tenant.api_key.pk)

    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=ApiKey.objects.get(pk=tenant.api_key.pk))
        uncached(tenant)  # the drop's marker has run out
        api_key_cache_add(read_before, seconds=60)
        assert cached(tenant) is not None

    assert cached(tenant) is None
    assert tenant.client.get(WEBHOOKS).status_code == 401


@pytest.mark.parametrize("which", ["unknown", "revoked"])
def test_a_key_that_fails_is_never_cached(tenant, anonymous_client, which):
    if which == "unknown":
        anonymous_client.credentials(HTTP_AUTHORIZATION="Bearer cal_biz_" + "C" * 43)
    else:
        api_key_revoke(api_key=tenant.api_key)
        anonymous_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.key}")
    assert anonymous_client.get(WEBHOOKS).status_code == 401

    with CaptureQueriesContext(connection) as captured:
        assert anonymous_client.get(WEBHOOKS).status_code == 401

    assert len(key_queries(captured)) == 1


def test_last_used_at_is_written_once_a_minute_whatever_the_cached_entry_holds(tenant):
    """An entry expires when the last_used_at it holds is due, never later: a hit would
    otherwise find it due and write it on every call until the entry expired."""
    redis = caches["default"]._cache.get_client(write=True)
    entry = caches["default"].make_key(entry_name(hash_key(tenant.key)))

    def writes_of_last_used_at(calls: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            for _ in range(calls):
                assert tenant.client.get(WEBHOOKS).status_code == 200
        return sum(sql.startswith('UPDATE "bookings_apikey"') for sql in key_queries(captured))

    with time_machine.travel(T0, tick=False) as clock:
        assert writes_of_last_used_at(3) == 1
        clock.shift(45)
        uncached(tenant)  # the row is read again at T0 + 45 s, when its last_used_at is due in 15 s
        assert writes_of_last_used_at(3) == 0
        assert 0 < redis.ttl(entry) <= 15
        clock.shift(16)
        uncached(tenant)  # as Redis, whose clock time travel does not move, has done by now
        assert writes_of_last_used_at(3) == 1
        assert 45 < redis.ttl(entry) <= 60

    assert ApiKey.objects.get(pk=tenant.api_key.pk).last_used_at == T0 + timedelta(seconds=61)


def test_a_cache_of_one_process_caches_no_key(tenant, settings):
    """A revocation in another process (the command, another web process) could not reach it."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert tenant.client.get(WEBHOOKS).status_code == 200

    with CaptureQueriesContext(connection) as captured:
        assert tenant.client.get(WEBHOOKS).status_code == 200

    assert len(key_queries(captured)) == 1


def test_keys_are_looked_up_in_the_database_while_the_cache_is_unreachable(tenant, settings, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there once the probe is closed
    settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{port}/0")}

    with caplog.at_level(logging.WARNING):
        assert tenant.client.get(WEBHOOKS).status_code == 200
        api_key_revoke(api_key=tenant.api_key)
        assert tenant.client.get(WEBHOOKS).status_code == 401

    assert "API key looked up in the database" in caplog.text
    assert "Cached API keys not dropped" in caplog.text
