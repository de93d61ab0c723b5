"""Tests that need what this machine may lack (PostgreSQL, redis-server, a browser) skip
without it, saying why, except where CALENDENCE_REQUIRE_SERVICES=1 (CI): there they fail,
so that CI can never pass with them silently skipped."""

import os

import pytest

REQUIRE_SERVICES_ENV = "CALENDENCE_REQUIRE_SERVICES"


def skip_or_fail(reason: str | None) -> None:
    """Nothing if `reason` is None; else skip with it, or fail where skipping is forbidden."""
    if reason is None:
        return
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_SERVICES_ENV}=1 forbids skipping them.", pytrace=False)
    pytest.skip(reason)
