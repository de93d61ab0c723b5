"""/api/v1/docs/ works with no internet: the page and what it loads come from the service itself."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_docs_page_references_no_other_host():
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert re.findall(r"""(?:src|href)=["']?(https?:)?//""", page) == []
    assert "googleapis" not in page and "jsdelivr" not in page


def test_the_docs_script_is_one_of_the_service_static_files():
    page = Client().get("/api/v1/docs/").content.decode()
    [script] = re.findall(r'<script src="([^"]+)"', page)
    assert script.startswith(f"{settings.STATIC_URL}drf_spectacular_sidecar/redoc/")
    assert finders.find(script.removeprefix(settings.STATIC_URL))


# Redoc's attribution logo in its sidebar is an <img> from its CDN that hides itself when it
# cannot load: the one request that leaves, and nothing on the page depends on it.
REDOC_ATTRIBUTION_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.django_db(transaction=True)
def test_the_docs_render_in_a_browser_that_cannot_reach_the_internet(page, live_server):
    outside = []

    def only_this_server(route):
        if route.request.url.startswith(live_server.url):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    page.route("**/*", only_this_server)
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.get_by_role("heading", name=re.compile("Calendence Webhooks API")).first.wait_for(timeout=15_000)
    assert set(outside) <= {REDOC_ATTRIBUTION_LOGO}
