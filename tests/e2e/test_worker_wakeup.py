"""A worker of the threads pool picks up a message promptly after a burst that filled it.

Celery's event loop reads the broker only while the worker may take more messages (its
prefetch limit), and a task ending in a pool thread does not wake the loop: without the
EventLoopTick bootstep, the next message waited for the loop's next timer, up to 10 s
(Celery issue 6941), so an event published right after a burst went out seconds late.

The embedded filesystem broker has no event loop: Celery polls it in a blocking loop that
waits up to 2 s per read, so there a message after a burst may wait that long.
"""

import time

import pytest

from calendence.celery import app as celery_app
from tests.e2e.conftest import HOLD_STARTED, WORKER_THREADS, hold
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def pickup_bound_seconds() -> float:
    with celery_app.connection_for_read() as connection:
        has_event_loop = connection.transport.implements.asynchronous
    return 1.0 if has_event_loop else 2.5


def seconds_to_start_after_a_burst(name: str) -> float:
    """Fill every thread and prefetch slot, let the burst end, then send one more message:
    how long it waited before it started."""
    burst = [f"{name}-burst-{n}" for n in range(WORKER_THREADS)]
    for label in burst:
        hold.delay(label, 0.3)
    wait_until(lambda: all(label in HOLD_STARTED for label in burst), what="the burst to start")
    time.sleep(0.5)  # the burst is over: every thread is free again

    sent_at = time.monotonic()
    hold.delay(name, 0)
    wait_until(lambda: name in HOLD_STARTED, timeout=15, what="the message after the burst")
    return HOLD_STARTED[name] - sent_at


def test_a_message_after_a_burst_that_filled_the_worker_starts_promptly(celery_worker):
    bound = pickup_bound_seconds()
    waits = [seconds_to_start_after_a_burst(f"after-burst-{n}") for n in range(3)]
    assert max(waits) < bound, f"waited {', '.join(f'{w:.1f}' for w in waits)} s"
