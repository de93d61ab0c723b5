"""How many attempts may be in flight in one worker process, per endpoint and in all.

Two lanes. Endpoints that answer within SLOW_SECONDS send in the fast lane, at most
WEBHOOK_SEND_THREADS attempts at once. An endpoint is slow once an answer of its took
longer, or an attempt of its has been in flight for longer: that attempt then moves to
the slow lane, freeing its fast slot. Slow endpoints send only in the slow lane, and are
passed over while it holds WEBHOOK_SEND_THREADS attempts or more. So however many
endpoints hang and however long their backlogs, they hold the fast lane for at most
SLOW_SECONDS, and deliveries to endpoints that answer never queue behind them for longer.
Threads are made as needed, up to LANES_OF_CAPACITY x WEBHOOK_SEND_THREADS in all: only
past that many attempts in flight at once does a claim wait for a hanging one to end.

Per endpoint, Little's law: an endpoint answering in L seconds needs rate x L attempts in
flight to take `rate` deliveries a second. Neither is known up front, so an endpoint
starts with START_SLOTS and earns more by answering while all its slots are busy
(QUICK_GROWTH times as many after a quick answer, one more after a slow one, up to
WEBHOOK_ENDPOINT_CONCURRENCY); a timeout sends it back to the start. Growing fourfold, an
endpoint that answers reaches 200 slots in four rounds of answers, not eight: a worker
draining a backlog to one new endpoint spends its first second ramping up, not two.

A slot is taken when its delivery is claimed, and the claim takes no more than the free
slots, in all and per endpoint, so a claimed attempt never waits in a queue, and a claim
for a busy endpoint loads only the few deliveries its freed slots can send.
"""

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings

# An endpoint we know nothing of yet gets one attempt at a time: many new endpoints that turn
# out to hang then hold one slot each, not the fast lane, until they are known to be slow.
START_SLOTS = 1
QUICK_GROWTH = 4
SLOW_SECONDS = 1.0
# Threads in all, in lanes' worth: the fast lane, the slow lane, and room for attempts moved there.
LANES_OF_CAPACITY = 4

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Slot:
    """One attempt's place in a lane, from its claim until its answer."""

    endpoint_id: str
    taken_at: float  # time.monotonic()
    slow_lane: bool


@dataclass(frozen=True)
class ClaimScope:
    """What a claim may take now: at most `room` deliveries, none to `skip_endpoints`, and
    when the fast lane is full, only deliveries to `only_endpoints` (slow ones with room).
    Per endpoint, at most its `endpoint_room` (those this process sends to), or
    `new_endpoint_room` for any other (None: no limit per endpoint)."""

    room: int
    skip_endpoints: list[str]
    only_endpoints: list[str] | None = None
    endpoint_room: Mapping[str, int] = field(default_factory=dict)
    new_endpoint_room: int | None = None


@dataclass
class _Endpoint:
    limit: int = START_SLOTS
    slow: bool = False
    taken: int = 0
    taken_in_slow_lane: int = 0


class SendSlots:
    def __init__(self, threads: int):
        self.threads = threads  # per lane, for new attempts
        self.capacity = LANES_OF_CAPACITY * threads  # attempts in flight at once, moved ones included
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._fast: set[Slot] = set()
        self._slow: set[Slot] = set()

    def claim_scope(self) -> ClaimScope:
        """Where the next claim may take slots (hanging attempts are moved to the slow lane first)."""
        with self._lock:
            self._move_hanging()
            capacity_room = self.capacity - len(self._fast) - len(self._slow)
            fast_room, slow_room = self.threads - len(self._fast), self.threads - len(self._slow)
            free = {i: self._limit(endpoint) - endpoint.taken for i, endpoint in self._endpoints.items()}
            at_limit = [i for i, room in free.items() if room <= 0]
            with_room = {i: room for i, room in free.items() if room > 0}
            slow = [i for i, endpoint in self._endpoints.items() if endpoint.slow]
            if fast_room > 0:
                skip = at_limit + slow if slow_room <= 0 else at_limit
                return ClaimScope(min(fast_room + max(slow_room, 0), capacity_room), skip,
                                  endpoint_room=with_room, new_endpoint_room=START_SLOTS)
            slow_with_room = sorted(set(slow) & set(with_room)) if slow_room > 0 else []
            return ClaimScope(min(slow_room, capacity_room) if slow_with_room else 0, [], slow_with_room,
                              endpoint_room=with_room, new_endpoint_room=START_SLOTS)

    def take(self, endpoint_id: str) -> Slot | None:
        """A slot for one attempt to the endpoint, or None if it may not have another now."""
        with self._lock:
            endpoint = self._endpoints.setdefault(endpoint_id, _Endpoint())
            lane = self._slow if endpoint.slow else self._fast
            if len(lane) >= self.threads or endpoint.taken >= self._limit(endpoint) or self._at_capacity():
                return None
            slot = Slot(endpoint_id, time.monotonic(), slow_lane=endpoint.slow)
            lane.add(slot)
            endpoint.taken += 1
            endpoint.taken_in_slow_lane += slot.slow_lane
            return slot

    def give_back(self, slot: Slot, *, answered_in: float | None = None, timed_out: bool = False) -> None:
        """Free the slot; `answered_in` (seconds) teaches the endpoint's limit, None if never sent."""
        with self._lock:
            lane = self._slow if slot.slow_lane else self._fast
            if slot not in lane:
                logger.warning("A send slot of endpoint %s was given back twice.", slot.endpoint_id)
                return
            endpoint = self._endpoints[slot.endpoint_id]
            was_full = endpoint.taken >= self._limit(endpoint)
            lane.discard(slot)
            endpoint.taken -= 1
            endpoint.taken_in_slow_lane -= slot.slow_lane
            if answered_in is not None:
                self._learn(endpoint, answered_in, timed_out=timed_out, was_full=was_full)
            if endpoint == _Endpoint():  # idle and nothing learnt: forget it, as if never seen
                del self._endpoints[slot.endpoint_id]

    def _at_capacity(self) -> bool:
        return len(self._fast) + len(self._slow) >= self.capacity

    @staticmethod
    def _limit(endpoint: _Endpoint) -> int:
        return min(endpoint.limit, settings.WEBHOOK_ENDPOINT_CONCURRENCY)

    @staticmethod
    def _learn(endpoint: _Endpoint, seconds: float, *, timed_out: bool, was_full: bool) -> None:
        # One quick answer does not make an endpoint fast while others of its attempts still hang.
        endpoint.slow = timed_out or seconds >= SLOW_SECONDS or endpoint.taken_in_slow_lane > 0
        if timed_out:
            endpoint.limit = START_SLOTS
        elif was_full:
            grown = endpoint.limit + 1 if endpoint.slow else endpoint.limit * QUICK_GROWTH
            endpoint.limit = min(grown, settings.WEBHOOK_ENDPOINT_CONCURRENCY)

    def _move_hanging(self) -> None:
        """Fast-lane attempts in flight for longer than SLOW_SECONDS move to the slow lane
        (whatever it holds: its thread runs already), and their endpoints are slow."""
        hanging_since = time.monotonic() - SLOW_SECONDS
        for slot in [slot for slot in self._fast if slot.taken_at < hanging_since]:
            endpoint = self._endpoints[slot.endpoint_id]
            endpoint.slow = True
            endpoint.taken_in_slow_lane += 1
            self._fast.discard(slot)
            slot.slow_lane = True
            self._slow.add(slot)
