"""The delivery engine: how a worker works off due deliveries, a batch at a time.

A Celery message only says that deliveries are due; the database is the queue. The
task that takes a message claims up to WEBHOOK_BATCH_SIZE due deliveries (the
longest due first, whichever the message named), sends them all at once, logs the
batch in a few statements, and claims the next batch, until nothing due is left
or it has run for LOOP_SECONDS. A message that finds nothing due costs one query.

A batch waits BATCH_PATIENCE_SECONDS for its answers. Attempts still in flight then
(slow endpoints) finish in the sender's threads, and the next pass of any loop in
the process logs them (the last loop waits for them), so a slow receiver holds a
few send threads and at most one idle loop, never the worker. A process keeps at
most one idle loop in any case: the others end when they find nothing to claim. Once
the worker starts shutting down, no loop claims again.
"""

import time

from django.conf import settings
from django.utils import timezone

from .attempts import AttemptOutcome, attempts_begin, attempts_finish
from .dispatch import enqueue_retries, enqueue_wakeup
from .models import Delivery
from .sender import Finished, Sender, sender, sender_shutdown

# How long a batch waits for its answers before it leaves the stragglers to the send threads.
BATCH_PATIENCE_SECONDS = 0.25
# A loop gives its worker thread back after this long (and sends a wake-up to carry on),
# so a steady stream of work never keeps a worker from other messages (shutdown has its own flag).
LOOP_SECONDS = 10.0
# Once nothing is due, the process's last loop looks again every IDLE_POLL_SECONDS (one
# cheap query) for LINGER_SECONDS before it ends: under a steady stream, new deliveries
# are taken at once instead of waiting for their message, which Celery's threads pool
# fetches slowly. Other loops of the process end as soon as they find nothing to claim.
LINGER_SECONDS = 0.5
IDLE_POLL_SECONDS = 0.02

# Set when the worker starts shutting down: loops claim nothing more and end after their
# batch, instead of claiming for up to LOOP_SECONDS while the worker waits for them.
_stopping = False


def deliveries_stop_claiming() -> None:
    """The worker is shutting down: every loop of this process ends before its next claim."""
    global _stopping
    _stopping = True


def deliveries_work_off() -> int:
    """Attempt every due delivery this process has room for, batch after batch, the longest
    due first; returns how many attempts this loop made."""
    slots = sender()
    if not slots.needs_collector() and not _anything_due(slots):
        return 0  # other loops took everything already
    slots.enter()
    attempts, left, last_work = 0, False, float("-inf")
    deadline = time.monotonic() + LOOP_SECONDS
    try:
        while True:
            _finish(slots.collect_late())
            if _stopping:
                enqueue_wakeup()  # for a worker that stays (or this one, restarted): what is due now
                return attempts
            sendings, refused = attempts_begin(slots=slots, limit=settings.WEBHOOK_BATCH_SIZE)
            if sendings:
                _finish(slots.send(sendings, patience=BATCH_PATIENCE_SECONDS))
                attempts += len(sendings)
            if sendings or refused:
                last_work = time.monotonic()
            elif slots.leave_if_not_alone():
                left = True
                return attempts
            else:
                lingering = time.monotonic() - last_work < LINGER_SECONDS
                if not lingering and slots.leave_unless_late():
                    left = True
                    return attempts
                # Lingering for new work, or waiting for answers only this loop can log.
                _wait_for_work(slots, until=min(last_work + LINGER_SECONDS, deadline) if lingering else deadline)
            if time.monotonic() >= deadline:
                enqueue_wakeup()
                return attempts
    finally:
        if not left:
            slots.leave()


def deliveries_finish_in_flight() -> int:
    """At worker shutdown: wait for the attempts in flight, and log them. Loops may claim
    again afterwards (a process that goes on, as in tests), with a new sender."""
    global _stopping
    late = sender_shutdown()
    _finish(late)
    _stopping = False
    return len(late)


def _anything_due(slots: Sender) -> bool:
    """Is a delivery due that this process could claim (its endpoint has a free slot)?"""
    return Delivery.objects.claimable(timezone.now(), skip_endpoints=slots.saturated_endpoints()).exists()


def _wait_for_work(slots: Sender, *, until: float) -> None:
    """Sleep until something is due or answers are waiting to be logged, polling every
    IDLE_POLL_SECONDS up to `until` (monotonic; at least one poll)."""
    while True:
        time.sleep(IDLE_POLL_SECONDS)
        if _stopping or slots.has_late() or _anything_due(slots) or time.monotonic() >= until:
            return


def _finish(finished: list[Finished]) -> list[AttemptOutcome]:
    outcomes = attempts_finish(finished)
    enqueue_retries((outcome.delivery_id, outcome.retry_at) for outcome in outcomes if outcome.retry_at)
    return outcomes
