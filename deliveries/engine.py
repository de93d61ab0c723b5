"""The delivery engine: how a worker works off due deliveries, a batch at a time.

A Celery message only says that deliveries are due; the database is the queue. The
task that takes a message claims up to WEBHOOK_BATCH_SIZE due deliveries (the
longest due first, whichever the message named, and no more than it has free send
slots for: deliveries.concurrency), sends them all at once, logs the batch in a few
statements, and claims the next batch, until nothing due is left or it has run for
LOOP_SECONDS. A message that finds nothing due costs one query.

A batch waits BATCH_PATIENCE_SECONDS for its answers. Attempts still in flight then
(slow endpoints) finish in the sender's threads, and the next pass of any loop in
the process logs them (the last loop waits for them), so a slow receiver holds a
few send threads and at most one idle loop, never the worker. A process keeps at
most one idle loop in any case: the others end when they find nothing to claim. Once
the worker starts shutting down, no loop claims again.

All of it belongs to a DeliveryEngine: one per worker process, made when the worker
starts and shut down when it stops (deliveries.tasks), owning the send threads and
slots (deliveries.sender) and the flag that stops its loops. Tests make their own.

While the database cannot be reached, a loop keeps the answers it could not log and
tries again every DATABASE_RETRY_SECONDS. Their claims keep every other worker from
sending those deliveries again, so an outage shorter than WEBHOOK_CLAIM_MARGIN_SECONDS
re-sends nothing.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from calendence.errors import DATABASE_UNREACHABLE

from . import outbox
from .attempts import DeliveryOutcome, attempts_begin, attempts_finish
from .dispatch import enqueue_retries, enqueue_wakeup
from .sender import Sender
from .sending import Finished

logger = logging.getLogger(__name__)

# How long a batch waits for its answers before it leaves the stragglers to the send threads.
BATCH_PATIENCE_SECONDS = 0.25
# A loop gives its worker thread back after this long (and sends a wake-up to carry on),
# so a steady stream of work never keeps a worker from other messages (shutdown has its own flag).
LOOP_SECONDS = 10.0
# Once nothing is due, the process's last loop looks again every IDLE_POLL_SECONDS (one
# cheap query) for LINGER_SECONDS before it ends: under a steady stream, new deliveries
# are taken at once instead of waiting for their message (a broker round trip, and up to
# calendence.celery.EVENT_LOOP_TICK_SECONDS). Other loops of the process end as soon as
# they find nothing to claim.
LINGER_SECONDS = 0.5
IDLE_POLL_SECONDS = 0.02

# While the database cannot be reached, a loop tries again this often, keeping the answers it
# could not log: they are logged, and work resumes, within this long of the database's return.
DATABASE_RETRY_SECONDS = 0.5
# At shutdown, the answers in hand wait this long at most for an unreachable database
# (within docker stop's default 10 s grace).
SHUTDOWN_DATABASE_WAIT_SECONDS = 5.0


class DeliveryEngine:
    """One worker process's delivery: its loops, its send threads and slots, its stop flag."""

    def __init__(self, *, send_threads: int, linger_seconds: float = LINGER_SECONDS,
                 wakeup: Callable[[], None] = enqueue_wakeup, idle: Callable[[float], None] = time.sleep):
        self.sender = Sender(threads=send_threads)
        self.linger_seconds = linger_seconds
        self._wakeup = wakeup  # asks Celery for another loop: this one ends, work remains
        self._idle = idle  # how a lingering loop waits between two looks for work
        self._stopping = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop_claiming(self) -> None:
        """The worker is shutting down: every loop ends before its next claim."""
        self._stopping.set()

    def work_off(self) -> int:
        """Attempt every due delivery this process has room for, batch after batch, the longest
        due first; returns how many attempts this loop made."""
        if not self.sender.needs_collector() and not self._anything_due():
            return 0  # other loops took everything already
        self.sender.enter()
        loop = _Loop(deadline=time.monotonic() + LOOP_SECONDS)
        try:
            while not loop.ended:
                try:
                    self._work_pass(loop)
                except DATABASE_UNREACHABLE:
                    if not self._wait_for_database(until=loop.deadline, stop_with_worker=True) and self.stopping:
                        loop.ended = True  # the worker's shutdown logs the answers this loop kept
                if not loop.ended and time.monotonic() >= loop.deadline:
                    self._wakeup()  # another loop carries on from here
                    loop.ended = True
        finally:
            if not loop.left:
                self.sender.leave()
        return loop.attempts

    def shut_down(self) -> int:
        """At worker shutdown: wait for the attempts in flight and log them (waiting up to
        SHUTDOWN_DATABASE_WAIT_SECONDS for an unreachable database); returns how many."""
        self.sender.shutdown()
        late = self.sender.collect_late()
        give_up_at = time.monotonic() + SHUTDOWN_DATABASE_WAIT_SECONDS
        while True:
            try:
                _log_and_schedule(late)
                return len(late)
            except DATABASE_UNREACHABLE:
                if not self._wait_for_database(until=give_up_at, stop_with_worker=False):
                    logger.warning("The database cannot be reached: %d answers are not logged; their deliveries "
                                   "will be attempted again once their claims run out.", len(late))
                    return len(late)

    def _work_pass(self, loop: "_Loop") -> None:
        """Log what came in, claim and send a batch, log it; or, with nothing to claim, end or wait."""
        self._finish(self.sender.collect_late())
        if self.stopping:
            self._wakeup()  # for a worker that stays (or this one, restarted): what is due now
            loop.ended = True
            return
        sendings, refused = attempts_begin(sender=self.sender, limit=settings.WEBHOOK_BATCH_SIZE)
        loop.attempts += len(sendings)
        if sendings:
            self._finish(self.sender.send(sendings, patience=BATCH_PATIENCE_SECONDS))
        if sendings or refused:
            loop.last_work = time.monotonic()
            return
        lingering = time.monotonic() - loop.last_work < self.linger_seconds
        if self.sender.leave_if_not_alone() or (not lingering and self.sender.leave_unless_late()):
            loop.ended = loop.left = True
            return
        # Lingering for new work, or waiting for answers only this loop can log.
        self._wait_for_work(
            until=min(loop.last_work + self.linger_seconds, loop.deadline) if lingering else loop.deadline
        )

    def _anything_due(self) -> bool:
        """Is a delivery due that this process could claim (a free slot for its endpoint)?
        When the database cannot be reached, yes: a loop must wait for it."""
        scope = self.sender.claim_scope()
        if scope.room <= 0:
            return False
        try:
            return outbox.due_exists(timezone.now(), scope)
        except DATABASE_UNREACHABLE:
            return True

    def _wait_for_work(self, *, until: float) -> None:
        """Sleep until something is due or answers are waiting to be logged, polling every
        IDLE_POLL_SECONDS up to `until` (monotonic; at least one poll)."""
        while True:
            self._idle(IDLE_POLL_SECONDS)
            if self.stopping or self.sender.has_late() or self._anything_due() or time.monotonic() >= until:
                return

    def _finish(self, finished: list[Finished]) -> list[DeliveryOutcome]:
        """Log the answers and hand on their retries; answers the database would not take are kept
        for the next pass (their claims keep anyone else from sending them again meanwhile)."""
        try:
            return _log_and_schedule(finished)
        except DATABASE_UNREACHABLE:
            self.sender.keep_for_later(finished)
            raise

    def _wait_for_database(self, *, until: float, stop_with_worker: bool) -> bool:
        """The database did not answer: try a new connection every DATABASE_RETRY_SECONDS until it
        does (True), or `until` (monotonic) passes or, if `stop_with_worker`, the worker stops (False)."""
        lost_at = time.monotonic()
        logger.warning("The database cannot be reached; trying again every %.1f s.", DATABASE_RETRY_SECONDS)
        while time.monotonic() < until and not (stop_with_worker and self.stopping):
            try:
                connection.close()  # the broken connection; the next query opens a new one
            except DATABASE_UNREACHABLE:
                pass
            time.sleep(DATABASE_RETRY_SECONDS)
            try:
                connection.ensure_connection()
            except DATABASE_UNREACHABLE:
                continue
            logger.warning("The database answers again after %.1f s.", time.monotonic() - lost_at)
            return True
        return False


@dataclass
class _Loop:
    deadline: float  # time.monotonic()
    attempts: int = 0
    last_work: float = float("-inf")
    ended: bool = False
    left: bool = False  # it has already told the sender it is no longer running


def _log_and_schedule(finished: list[Finished]) -> list[DeliveryOutcome]:
    outcomes = attempts_finish(finished)
    enqueue_retries((outcome.delivery_id, outcome.retry_at) for outcome in outcomes if outcome.retry_at)
    return outcomes


# --- The worker process's engine --------------------------------------------------------------------

_process_engine: DeliveryEngine | None = None


def process_engine_start() -> DeliveryEngine:
    """Made when a worker starts (deliveries.tasks); web processes never make one."""
    global _process_engine
    _process_engine = DeliveryEngine(send_threads=settings.WEBHOOK_SEND_THREADS)
    return _process_engine


def process_engine() -> DeliveryEngine:
    if _process_engine is None:
        raise RuntimeError("No delivery engine runs in this process: only a Celery worker starts one.")
    return _process_engine


def process_engine_stop() -> int:
    """At worker shutdown: log the attempts in flight; returns how many."""
    global _process_engine
    engine, _process_engine = _process_engine, None
    return engine.shut_down() if engine is not None else 0
