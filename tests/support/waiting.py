"""Waiting for an outcome, never for a stretch of wall time."""

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "the condition",
               interval: float = 0.05):
    """Poll `condition` until it returns something truthy, and return that; fail the test,
    naming `what`, once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
