"""A real browser for the tests of pages: Playwright driving the system's Chromium.

Playwright's own browser builds are never downloaded (`playwright install` needs the
internet); Debian's `chromium` package is launched by its path instead. Without it the
page tests skip, saying why, except where CALENDENCE_REQUIRE_SERVICES=1 (CI), where a
page test that cannot run fails.
"""

import os
import shutil

import pytest

REQUIRE_SERVICES_ENV = "CALENDENCE_REQUIRE_SERVICES"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def browser_missing() -> str | None:
    """Why pages cannot be tested here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "page tests need Playwright for Python (pip install -r requirements-dev.txt)"
    if chromium_path() is None:
        return "page tests need Chromium (apt-get install chromium, or CHROMIUM_PATH)"
    return None


def skip_or_fail_without_browser() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_SERVICES_ENV}=1 forbids skipping them.", pytrace=False)
    pytest.skip(reason)
