"""Send slots: per-endpoint limits learnt from answers, and a slow lane that keeps hanging
endpoints out of the way of the ones that answer."""

import time

import pytest

from deliveries.concurrency import QUICK_GROWTH, SLOW_SECONDS, START_SLOTS, SendSlots
from deliveries.engine import DeliveryEngine
from deliveries.models import DeliveryAttempt
from tests.support.receiver import Answer


def take_all(slots: SendSlots, endpoint_id: str) -> list:
    taken = []
    while slot := slots.take(endpoint_id):
        taken.append(slot)
    return taken


def grow(slots: SendSlots, endpoint_id: str, *, to: int) -> None:
    """Quick answers while full, until the endpoint may have `to` attempts in flight at once."""
    while len(taken := take_all(slots, endpoint_id)) < to:
        for slot in taken:
            slots.give_back(slot, answered_in=0.01)
    for slot in taken:
        slots.give_back(slot)


def hang(slots_in_flight) -> None:
    """As if these attempts had been in flight for longer than SLOW_SECONDS."""
    for slot in slots_in_flight:
        slot.taken_at -= SLOW_SECONDS + 1


def test_a_new_endpoint_starts_with_one_slot_and_earns_more_by_answering_quickly_when_full():
    slots = SendSlots(threads=100)
    first = take_all(slots, "a")
    assert len(first) == START_SLOTS and "a" in slots.claim_scope().skip_endpoints

    slots.give_back(first[0], answered_in=0.01)  # all its slots were busy: it earns more
    for slot in first[1:]:
        slots.give_back(slot, answered_in=0.01)  # no longer full: nothing more to earn
    assert len(take_all(slots, "a")) == QUICK_GROWTH * START_SLOTS


def test_a_claim_scope_gives_each_endpoint_its_free_slots_and_a_new_one_the_start():
    slots = SendSlots(threads=100)
    grow(slots, "busy", to=QUICK_GROWTH * START_SLOTS)
    in_flight = [slots.take("busy") for _ in range(QUICK_GROWTH * START_SLOTS - 1)]
    scope = slots.claim_scope()
    assert dict(scope.endpoint_room) == {"busy": 1}  # one of its slots is free
    assert scope.new_endpoint_room == START_SLOTS  # any endpoint it is not sending to
    slots.take("busy")
    assert "busy" not in slots.claim_scope().endpoint_room and "busy" in slots.claim_scope().skip_endpoints
    assert all(in_flight)


def test_a_timeout_sends_an_endpoint_back_to_the_start_and_into_the_slow_lane():
    slots = SendSlots(threads=100)
    for slot in take_all(slots, "a"):
        slots.give_back(slot, answered_in=0.01)
    grown = take_all(slots, "a")
    assert len(grown) == QUICK_GROWTH * START_SLOTS and not any(slot.slow_lane for slot in grown)

    slots.give_back(grown[0], answered_in=2.0, timed_out=True)
    for slot in grown[1:]:
        slots.give_back(slot)  # never sent: teaches nothing
    again = take_all(slots, "a")
    assert len(again) == START_SLOTS and all(slot.slow_lane for slot in again)


def test_slots_never_exceed_the_endpoint_ceiling(settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 3
    slots = SendSlots(threads=100)
    for _ in range(5):  # quick answers while full, again and again: 1, then 3 and no more
        taken = take_all(slots, "a")
        for slot in taken:
            slots.give_back(slot, answered_in=0.01)
    assert len(taken) == 3


def test_hanging_attempts_move_to_the_slow_lane_and_free_the_fast_lane_for_others():
    slots = SendSlots(threads=4)
    grow(slots, "hangs", to=4)  # an endpoint that answered quickly, until it hangs
    hanging = take_all(slots, "hangs")
    assert len(hanging) == 4 and slots.take("answers") is None  # the fast lane is full
    hang(hanging)

    scope = slots.claim_scope()  # each claim moves hanging attempts first

    assert all(slot.slow_lane for slot in hanging)
    assert scope.room == 4 and "hangs" in scope.skip_endpoints  # the slow lane is full; the fast one free
    assert all(slots.take(f"answers-{n}") for n in range(4))
    assert slots.take("hangs") is None


def test_any_number_of_hanging_endpoints_leaves_the_fast_lane_to_those_that_answer():
    slots = SendSlots(threads=4)
    for wave in range(3):  # three waves of new endpoints that all hang: three times the fast lane
        in_flight = [slots.take(f"hangs-{wave}-{n}") for n in range(4)]
        assert all(in_flight), f"wave {wave}: the fast lane is free again for new endpoints"
        hang(in_flight)
        scope = slots.claim_scope()
        assert scope.room > 0 and all(f"hangs-{wave}-{n}" in scope.skip_endpoints for n in range(4))
    assert slots.take("answers") is not None


def test_no_slot_is_taken_past_the_capacity():
    slots = SendSlots(threads=2)
    for wave in range(4):
        hang([slots.take(f"hangs-{wave}-{n}") for n in range(2)])
        slots.claim_scope()
    assert slots.claim_scope().room == 0 and slots.take("answers") is None  # 8 attempts hang: the capacity


def test_with_the_fast_lane_full_a_claim_may_only_take_slow_endpoints_with_room():
    slots = SendSlots(threads=4)
    slots.give_back(slots.take("slow"), answered_in=2.0, timed_out=True)  # known slow, idle now
    grow(slots, "busy", to=4)
    assert len(take_all(slots, "busy")) == 4  # quick attempts in flight: the fast lane is full

    scope = slots.claim_scope()

    assert (scope.room, scope.only_endpoints) == (4, ["slow"])
    assert SendSlots(threads=1).claim_scope().only_endpoints is None  # a free fast lane: any endpoint


def test_a_full_fast_lane_and_no_slow_endpoint_leave_nothing_to_claim():
    slots = SendSlots(threads=4)
    grow(slots, "busy", to=4)
    assert len(take_all(slots, "busy")) == 4
    assert (slots.claim_scope().room, slots.claim_scope().only_endpoints) == (0, [])


def test_one_quick_answer_does_not_make_a_hanging_endpoint_fast():
    slots = SendSlots(threads=4)
    grow(slots, "flaky", to=4)
    first, *others = take_all(slots, "flaky")
    hang(others)
    slots.claim_scope()  # the others move to the slow lane
    slots.give_back(first, answered_in=0.01)
    assert slots.take("flaky").slow_lane


@pytest.fixture
def small_engine(settings, db):
    """An engine with 4 send threads a lane, whose attempts time out after 4 s."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 4
    engine = DeliveryEngine(send_threads=4, wakeup=lambda: None)
    yield engine
    engine.shut_down()


def test_deliveries_to_an_endpoint_that_answers_do_not_wait_for_hanging_endpoints_backlogs(
    small_engine, make_receiver, deliveries_to
):
    """Three hanging endpoints with six deliveries each: more than both lanes' eight slots."""
    hanging = [make_receiver(Answer(delay=8)) for _ in range(3)]
    healthy = make_receiver()
    deliveries_to(*hanging, healthy, bookings=6)

    started = time.monotonic()
    small_engine.work_off()  # until every attempt it made is answered or timed out

    arrivals = [request.at - started for request in healthy.wait_for(6)]
    assert len(arrivals) == 6
    assert max(arrivals) < 4 - 1, arrivals  # well before the hanging attempts' 4 s deadline
    timed_out = set(DeliveryAttempt.objects.filter(error="timeout").values_list("delivery__endpoint_id", flat=True))
    assert len(timed_out) == 3  # every hanging endpoint was attempted meanwhile, and hung
