"""Sending a batch of attempts at once, in this worker process's pool of send threads.

A worker hands the pool a claimed batch and waits a short while (its patience) for
the answers; whatever is still in flight then (a slow endpoint) is left to finish
on its own, so one slow receiver never holds up the worker's next batch. Its result
is kept here until a worker loop collects it and writes it to the log; the last loop
in the process does not end while such answers are still to come. Answers that could
not be logged (the database was unreachable) come back here to be logged again.

Each attempt holds one of the send slots (deliveries.concurrency) from its claim to its
answer: no endpoint takes more than its share, and no claim takes more than the free
threads, so nothing claimed ever waits in the pool's queue.
"""

import dataclasses
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.utils import timezone

from . import transport
from .concurrency import ClaimScope, SendSlots, Slot
from .sending import Finished, Sending


class Sender:
    def __init__(self, threads: int):
        self._slots = SendSlots(threads)
        self._transport = transport.Transport()
        # A thread for every slot there can be (deliveries.concurrency), made as needed.
        self._pool = ThreadPoolExecutor(max_workers=self._slots.capacity, thread_name_prefix="webhook-send")
        self._lock = threading.Lock()
        self._late: list[Finished] = []  # answers that came after their batch stopped waiting
        self._collectors = 0  # worker loops running in this process
        self._handed_off = 0  # attempts still in flight after their batch stopped waiting

    # --- slots ---------------------------------------------------------------------------------

    def claim_scope(self) -> ClaimScope:
        return self._slots.claim_scope()

    def take_slot(self, endpoint_id: str) -> Slot | None:
        return self._slots.take(endpoint_id)

    def give_back(self, slots: Iterable[Slot]) -> None:
        """Slots taken for attempts that were never sent."""
        for slot in slots:
            self._slots.give_back(slot)

    # --- sending -------------------------------------------------------------------------------

    def send(self, sendings: list[Sending], *, patience: float | None = None) -> list[Finished]:
        """Send every attempt (each already holds a slot) and return those answered within
        `patience` seconds (None: all of them). The rest are collected later."""
        futures: dict[Future, Sending] = {}
        for sending in sendings:
            future = self._pool.submit(self._post, sending)  # _post never raises: result() is the answer
            future.add_done_callback(lambda f, slot=sending.slot: self._answered(slot, f.result()))
            futures[future] = sending
        done, pending = wait(futures, timeout=patience)
        with self._lock:
            self._handed_off += len(pending)
        for future in pending:
            future.add_done_callback(lambda f, sending=futures[future]: self._answered_late(sending, f))
        return [(futures[future], future.result()) for future in done]

    def _answered(self, slot: Slot, result: transport.AttemptResult) -> None:
        self._slots.give_back(slot, answered_in=result.duration_ms / 1000, timed_out=result.error == "timeout")

    def keep_for_later(self, finished: list[Finished]) -> None:
        """Answers a loop could not log: the next loop logs them (while their claims hold)."""
        with self._lock:
            self._late.extend(finished)

    def _answered_late(self, sending: Sending, future: Future) -> None:
        with self._lock:
            self._late.append((sending, future.result()))
            self._handed_off -= 1

    # --- worker loops ----------------------------------------------------------------------------

    def enter(self) -> None:
        with self._lock:
            self._collectors += 1

    def needs_collector(self) -> bool:
        """Answers are waiting to be logged, or will be and no loop is here to log them."""
        with self._lock:
            return bool(self._late) or (self._handed_off > 0 and self._collectors == 0)

    def has_late(self) -> bool:
        with self._lock:
            return bool(self._late)

    def collect_late(self) -> list[Finished]:
        with self._lock:
            late, self._late = self._late, []
            return late

    def leave(self) -> None:
        with self._lock:
            self._collectors -= 1

    def leave_if_not_alone(self) -> bool:
        """Leave if another loop of this process is still running: that one watches for new
        work and logs the late answers, so idle loops do not poll side by side."""
        with self._lock:
            if self._collectors > 1:
                self._collectors -= 1
                return True
            return False

    def leave_unless_late(self) -> bool:
        """Leave, unless late answers are waiting, or will be and this is the last loop to
        log them (checked and left in one step, so no answer is ever left unlogged)."""
        with self._lock:
            if self._late or (self._handed_off and self._collectors == 1):
                return False
            self._collectors -= 1
            return True

    def shutdown(self) -> None:
        """Wait for the attempts in flight, then close the transport."""
        self._pool.shutdown(wait=True)
        self._transport.close()

    def _post(self, sending: Sending) -> transport.AttemptResult:
        queued_ms = int((time.monotonic() - sending.slot.taken_at) * 1000)
        result = self._transport.post(
            sending.url,
            sending.body,
            sending.headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS,
        )
        return dataclasses.replace(result, queued_ms=queued_ms, answered_at=timezone.now())
