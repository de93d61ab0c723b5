"""A real browser for the tests of pages: Playwright driving the system's Chromium.

Playwright's own browser builds are never downloaded (`playwright install` needs the
internet); Debian's `chromium` package is launched by its path instead. Without it the
page tests skip, saying why, or fail in CI (tests.support.required).
"""

import os
import shutil

from tests.support.required import skip_or_fail

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
    skip_or_fail(browser_missing())
