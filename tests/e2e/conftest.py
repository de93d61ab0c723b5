"""A real Celery worker, in threads of the test process, on the configured broker.

With CELERY_BROKER_URL set (CI: the machine's Redis) it uses that broker; with
nothing set, kombu's filesystem transport. Each test run has its own queue
(tests/settings.py), so runs sharing a Redis do not take each other's tasks.

One worker serves all the tests of this package, started once: Celery's embedded
test worker does not survive being started and stopped repeatedly in one process (a
later worker's ETA timer stops firing), and one start is faster too. It stops when
the package is done: a worker loop takes any due delivery in the database, so a
worker left running would deliver the later tests' deliveries (tests/faults runs its
own workers and counts what they do). A task left over from an earlier test of the
package finds nothing due (the database is flushed) and does nothing.
"""

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from calendence.celery import app as celery_app

WORKER_THREADS = 4

# When each task started (time.monotonic()), by label: the worker runs in this process.
HOLD_STARTED: dict[str, float] = {}
_hold_started_lock = threading.Lock()


@celery_app.task(name="tests.e2e.hold")
def hold(label: str, seconds: float) -> None:
    """A test-only task that keeps a worker thread (and its unacknowledged message) for `seconds`.
    Defined here, before the worker starts, so the worker knows it."""
    with _hold_started_lock:
        HOLD_STARTED[label] = time.monotonic()
    time.sleep(seconds)


def _close_this_threads_connections(**_kwargs) -> None:
    connections.close_all()


@pytest.fixture(scope="package")
def session_worker():
    # Each task's thread closes its database connection when the task ends, so none is
    # left open when the worker stops (it would keep the test database from being dropped).
    task_postrun.connect(_close_this_threads_connections, weak=False)
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=WORKER_THREADS,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as worker:
        yield worker
    task_postrun.disconnect(_close_this_threads_connections)
    connections.close_all()


@pytest.fixture
def celery_worker(session_worker, transactional_db, settings):
    """The running worker, with delays short enough for tests."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.5
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    return session_worker
