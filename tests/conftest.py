"""Fixtures shared by every test: tenants, keys, API clients and bookings.

Objects are made through the project's own services, the way the API makes them.
"""

import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from bookings import services as booking_services
from bookings.api_keys import api_key_issue
from bookings.models import Business, Hub
from calendence.settings import redis_cache
from deliveries.engine import DeliveryEngine
from tests.support.browser import chromium_path, skip_or_fail_without_browser
from tests.support.receiver import Answer, Receiver
from tests.support.required import skip_or_fail
from tests.support.tcp_proxy import TcpProxy
from webhooks import event_types
from webhooks.services import webhook_endpoint_create

STARTS_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


class Tenant:
    """A business or hub with a live key and an API client that sends it."""

    def __init__(self, *, business: Business | None = None, hub: Hub | None = None):
        self.business, self.hub = business, hub
        issued = api_key_issue(business=business, hub=hub)
        self.api_key, self.key = issued.api_key, issued.key
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")


@pytest.fixture
def make_business(db):
    def make(name: str = "Acme Wash", plan: str = Business.Plan.GROWTH_PRO, hub: Hub | None = None) -> Tenant:
        return Tenant(business=Business.objects.create(name=name, plan=plan, hub=hub))

    return make


@pytest.fixture
def make_hub(db):
    def make(name: str = "North Hub") -> Tenant:
        return Tenant(hub=Hub.objects.create(name=name))

    return make


@pytest.fixture
def tenant(make_business) -> Tenant:
    return make_business("Acme Wash")


@pytest.fixture
def other_tenant(make_business) -> Tenant:
    return make_business("Rival Wash")


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_booking(db):
    """A confirmed booking of the tenant's business, created through the service layer."""

    def make(tenant: Tenant, *, starts_at: datetime = STARTS_AT, minutes: int = 30, email: str = "jane@example.com"):
        business = tenant.business
        location = business.locations.first() or booking_services.location_create(business=business, name="Main Shop")
        service = business.services.first() or booking_services.service_create(business=business, name="Express Wash")
        return booking_services.booking_create(
            business=business,
            service=service,
            location=location,
            client={"first_name": "Jane", "last_name": "Doe", "email": email},
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
        )

    return make


@pytest.fixture
def make_receiver():
    """Real local HTTP receivers, closed after the test."""
    receivers = []

    def make(answer: Answer | None = None) -> Receiver:
        receiver = Receiver(answer)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def tcp_proxy():
    """make(host, port) -> a started TcpProxy in front of host:port, closed after the test."""
    proxies = []

    def make(host: str, port: int) -> TcpProxy:
        proxies.append(TcpProxy(host, port).start())
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def make_endpoint(db):
    """An endpoint of the tenant pointing at a receiver, which learns its secret to verify signatures."""

    def make(tenant: Tenant, receiver: Receiver, events: list[str] | None = None):
        endpoint = webhook_endpoint_create(
            owner=tenant.api_key, url=receiver.url, events=events or list(event_types.EVENT_TYPES)
        )
        receiver.secret = endpoint.secret
        return endpoint

    return make


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's filesystem broker folder (embedded defaults only)."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    folder = options.get("data_folder_in", "")
    if "test-broker-" in folder:
        shutil.rmtree(folder, ignore_errors=True)


# --- Django's cache: local memory or Redis -------------------------------------------------------

@pytest.fixture(scope="session")
def redis_url():
    """A Redis for the cache tests: CACHE_URL's when it names one, else a redis-server of this
    run's own on a free port (without persistence, stopped after the run)."""
    if settings.CACHE_URL.startswith("redis"):
        yield settings.CACHE_URL
        return
    if shutil.which("redis-server") is None:
        skip_or_fail("the Redis cache tests need CACHE_URL=redis://... or the redis-server binary on PATH")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_redis(url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.fixture(params=["local memory", "redis"])
def cache_kind(request, settings) -> str:
    """Runs the test on each cache the service can have: the embedded default and a Redis."""
    if request.param == "redis":
        settings.CACHES = {"default": redis_cache(request.getfixturevalue("redis_url"))}
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return request.param


# --- The admin ---------------------------------------------------------------------------------------

@pytest.fixture
def operator(db):
    """A superuser: the operators who use the console are."""
    return User.objects.create_superuser("ops", "ops@example.com", "secret-password")


@pytest.fixture
def admin_client(client, operator):
    """Django's test client logged in as `operator` (this project's, in place of pytest-django's)."""
    client.force_login(operator)
    return client


# --- The delivery engine, driven from the test ---------------------------------------------------------

@pytest.fixture
def delivery_engine(db):
    """A worker's delivery engine of the test's own (no wake-up messages), shut down (its answers
    in flight logged) after the test, before its database goes."""
    engine = DeliveryEngine(send_threads=settings.WEBHOOK_SEND_THREADS, wakeup=lambda: None)
    yield engine
    engine.shut_down()


# --- Pages in a real browser (tests.support.browser) -------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Chromium, headless, for the whole run (Playwright's sync API)."""
    skip_or_fail_without_browser()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # beside it are still synchronous, which Django would otherwise refuse.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at 1280 x 800, closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()
