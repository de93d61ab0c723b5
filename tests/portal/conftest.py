import pytest
from django.test import Client

from portal.links import portal_link_issue

BASE_URL = "http://testserver"


@pytest.fixture
def portal_link():
    """make(tenant) -> a fresh one-time link (its path) into the tenant's business's portal."""

    def make(tenant) -> str:
        return portal_link_issue(business=tenant.business, base_url=BASE_URL).url.removeprefix(BASE_URL)

    return make


@pytest.fixture
def portal(tenant, portal_link) -> Client:
    """A browser-like client (CSRF checks on) signed in to the tenant's portal."""
    client = Client(enforce_csrf_checks=True)
    response = client.get(portal_link(tenant))
    assert response.status_code == 302, response.content
    return client
