"""The delivery engine: how a worker works off due deliveries, a batch at a time.

A Celery message only says that deliveries are due; the database is the queue. The
task that takes a message claims up to WEBHOOK_BATCH_SIZE due deliveries (the
longest due first, named in the message or not), sends them all at once, logs the
batch in a few statements, and claims the next batch, until nothing due is left
or it has run for LOOP_SECONDS. Messages whose deliveries another loop already
took cost one query.

A batch waits BATCH_PATIENCE_SECONDS for its answers. Attempts still in flight then
(slow endpoints) finish in the sender's threads, and the next pass of any loop in
the process logs them, so a slow receiver holds a few send threads, never a worker.
"""

import logging
import time

from django.conf import settings
from django.utils import timezone

from .attempts import AttemptOutcome, attempts_begin, attempts_finish
from .dispatch import enqueue_retries, enqueue_wakeup
from .models import Delivery
from .sender import Finished, sender, sender_shutdown

logger = logging.getLogger(__name__)

# How long a batch waits for its answers before it leaves the stragglers to the send threads.
BATCH_PATIENCE_SECONDS = 0.25
# A loop gives its worker thread back after this long (and sends a wake-up to carry on),
# so a steady stream of work never keeps a worker from other messages or from shutting down.
LOOP_SECONDS = 10.0


def deliveries_work_off(delivery_ids: list[str]) -> int:
    """Attempt the named deliveries and every other due one, batch after batch; returns how
    many attempts this loop made. An empty list is a wake-up: look for work regardless."""
    if delivery_ids and not Delivery.objects.due_unclaimed(timezone.now()).filter(pk__in=delivery_ids).exists():
        return 0  # another loop took them already (or they are settled)
    slots = sender()
    slots.enter()
    attempts, left, deadline = 0, False, time.monotonic() + LOOP_SECONDS
    try:
        while True:
            _finish(slots.collect_late())
            sendings, refused = attempts_begin(slots=slots, limit=settings.WEBHOOK_BATCH_SIZE)
            if sendings:
                _finish(slots.send(sendings, patience=BATCH_PATIENCE_SECONDS))
                attempts += len(sendings)
            elif not refused and slots.leave_unless_late():
                left = True
                return attempts
            if time.monotonic() >= deadline:
                enqueue_wakeup()
                return attempts
    finally:
        if not left:
            slots.leave()


def deliveries_finish_in_flight() -> int:
    """At worker shutdown: wait for the attempts in flight, and log them."""
    late = sender_shutdown()
    _finish(late)
    return len(late)


def _finish(finished: list[Finished]) -> list[AttemptOutcome]:
    outcomes = attempts_finish(finished)
    enqueue_retries((outcome.delivery_id, outcome.retry_at) for outcome in outcomes if outcome.retry_at)
    return outcomes
