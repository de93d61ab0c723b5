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

While the database cannot be reached, a loop keeps the answers it could not log and
tries again every DATABASE_RETRY_SECONDS. Their claims keep every other worker from
sending those deliveries again, so an outage shorter than WEBHOOK_CLAIM_MARGIN_SECONDS
re-sends nothing.
"""

import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from .attempts import AttemptOutcome, Sending, attempts_begin, attempts_finish
from .dispatch import enqueue_retries, enqueue_wakeup
from .models import Delivery
from .sender import Finished, Sender, sender, sender_shutdown

logger = logging.getLogger(__name__)

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

# While the database cannot be reached, a loop tries again this often, keeping the answers it
# could not log: they are logged, and work resumes, within this long of the database's return.
DATABASE_RETRY_SECONDS = 0.5
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)

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
    unreachable_since = None
    try:
        while True:
            try:
                _finish(slots, slots.collect_late())
                if _stopping:
                    enqueue_wakeup()  # for a worker that stays (or this one, restarted): what is due now
                    return attempts
                sendings, refused = _claim(slots)
                attempts += len(sendings)
                if sendings:
                    _finish(slots, slots.send(sendings, patience=BATCH_PATIENCE_SECONDS))
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
                unreachable_since = _database_back(unreachable_since)
            except DATABASE_UNAVAILABLE:
                unreachable_since = _wait_for_database(unreachable_since)
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
    try:
        _log_and_schedule(late)
    except DATABASE_UNAVAILABLE:
        logger.warning("The database cannot be reached: %d answers are not logged; their deliveries will be "
                       "attempted again once their claims run out.", len(late))
    _stopping = False
    return len(late)


def _claim(slots: Sender) -> tuple[list[Sending], list[AttemptOutcome]]:
    """At most a batch, and no more than the free send threads: nothing claimed waits for one."""
    limit = min(settings.WEBHOOK_BATCH_SIZE, slots.free_threads())
    return attempts_begin(slots=slots, limit=limit) if limit > 0 else ([], [])


def _anything_due(slots: Sender) -> bool:
    """Is a delivery due that this process could claim (a free thread, and a slot for its endpoint)?
    When the database cannot be reached, yes: a loop must wait for it."""
    if slots.free_threads() <= 0:
        return False
    try:
        return Delivery.objects.claimable(timezone.now(), skip_endpoints=slots.closed_endpoints()).exists()
    except DATABASE_UNAVAILABLE:
        return True


def _wait_for_work(slots: Sender, *, until: float) -> None:
    """Sleep until something is due or answers are waiting to be logged, polling every
    IDLE_POLL_SECONDS up to `until` (monotonic; at least one poll)."""
    while True:
        time.sleep(IDLE_POLL_SECONDS)
        if _stopping or slots.has_late() or _anything_due(slots) or time.monotonic() >= until:
            return


def _finish(slots: Sender, finished: list[Finished]) -> list[AttemptOutcome]:
    """Log the answers and hand on their retries; answers the database would not take are kept
    for the next pass (their claims keep anyone else from sending them again meanwhile)."""
    try:
        return _log_and_schedule(finished)
    except DATABASE_UNAVAILABLE:
        slots.keep_for_later(finished)
        raise


def _log_and_schedule(finished: list[Finished]) -> list[AttemptOutcome]:
    outcomes = attempts_finish(finished)
    enqueue_retries((outcome.delivery_id, outcome.retry_at) for outcome in outcomes if outcome.retry_at)
    return outcomes


def _wait_for_database(unreachable_since: float | None) -> float:
    """Drop the broken connection and let DATABASE_RETRY_SECONDS pass before the next try."""
    if unreachable_since is None:
        logger.warning("The database cannot be reached; this loop tries again every %.1f s.", DATABASE_RETRY_SECONDS)
        unreachable_since = time.monotonic()
    try:
        connection.close()
    except DATABASE_UNAVAILABLE:
        pass  # it was broken already
    time.sleep(DATABASE_RETRY_SECONDS)
    return unreachable_since


def _database_back(unreachable_since: float | None) -> None:
    if unreachable_since is not None:
        logger.warning("The database answers again after %.1f s.", time.monotonic() - unreachable_since)
