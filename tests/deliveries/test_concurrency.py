"""Send slots: per-endpoint limits learnt from answers, and a slow lane that keeps hanging
endpoints out of the way of the ones that answer."""

import time

import pytest

from deliveries.concurrency import SLOW_SECONDS, START_SLOTS, SendSlots
from deliveries.engine import deliveries_work_off
from deliveries.models import DeliveryAttempt
from deliveries.sender import sender_shutdown
from tests.support.receiver import Answer


def take_all(slots: SendSlots, endpoint_id: str) -> list:
    taken = []
    while slot := slots.take(endpoint_id):
        taken.append(slot)
    return taken


def hang(slots_in_flight) -> None:
    """As if these attempts had been in flight for longer than SLOW_SECONDS."""
    for slot in slots_in_flight:
        slot.taken_at -= SLOW_SECONDS + 1


def test_a_new_endpoint_starts_with_a_few_slots_and_doubles_them_by_answering_quickly_when_full():
    slots = SendSlots(threads=100)
    first = take_all(slots, "a")
    assert len(first) == START_SLOTS and "a" in slots.closed_endpoints()

    slots.give_back(first[0], answered_in=0.01)  # all its slots were busy: it earns more
    for slot in first[1:]:
        slots.give_back(slot, answered_in=0.01)  # no longer full: nothing more to earn
    assert len(take_all(slots, "a")) == 2 * START_SLOTS


def test_a_timeout_sends_an_endpoint_back_to_the_start_and_into_the_slow_lane():
    slots = SendSlots(threads=100)
    for slot in take_all(slots, "a"):
        slots.give_back(slot, answered_in=0.01)
    assert len(take_all(slots, "a")) == 2 * START_SLOTS
    slots = SendSlots(threads=100)
    [first, *rest] = take_all(slots, "a")
    slots.give_back(first, answered_in=2.0, timed_out=True)
    assert slots.take("a") is not None and slots.take("a") is None  # still START_SLOTS in all
    assert all(not slot.slow_lane for slot in rest) and slots.take("b").slow_lane is False


def test_slots_never_exceed_the_endpoint_ceiling(settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 3
    slots = SendSlots(threads=100)
    taken = take_all(slots, "a")
    assert len(taken) == 3
    for slot in taken:
        slots.give_back(slot, answered_in=0.01)
    assert len(take_all(slots, "a")) == 3


def test_hanging_attempts_move_to_the_slow_lane_and_free_the_fast_lane_for_others():
    slots = SendSlots(threads=4)
    hanging = take_all(slots, "hangs")[:4]
    assert len(hanging) == 4 and slots.take("answers") is None  # the fast lane is full
    hang(hanging)

    closed = slots.closed_endpoints()  # each claim looks for hanging attempts first

    assert all(slot.slow_lane for slot in hanging)
    assert "hangs" in closed and "answers" not in closed  # the slow lane is full now; the fast one free
    assert len(take_all(slots, "answers")) == 4
    assert slots.take("hangs") is None and slots.free() == 0


def test_any_number_of_hanging_endpoints_leaves_the_fast_lane_to_those_that_answer():
    slots = SendSlots(threads=4)
    for wave in range(3):  # three waves of new endpoints that all hang
        in_flight = [slots.take(f"hangs-{wave}-{n}") for n in range(4)]
        assert all(in_flight), f"wave {wave}: the fast lane is free again for new endpoints"
        hang(in_flight)
        closed = slots.closed_endpoints()
        assert all(f"hangs-{wave}-{n}" in closed for n in range(4))  # slow, and their lane is full
    assert slots.take("answers") is not None
    assert slots.free() == 3  # the fast lane's room, within the capacity of 4 x 4


def test_no_slot_is_taken_past_the_capacity():
    slots = SendSlots(threads=2)
    for wave in range(4):
        hang([slots.take(f"hangs-{wave}-{n}") for n in range(2)])
        slots.closed_endpoints()
    assert slots.free() == 0 and slots.take("answers") is None  # 8 attempts hang: the capacity


@pytest.fixture
def small_sender(settings):
    """The process's sender made anew with these settings, and again after the test."""
    settings.WEBHOOK_SEND_THREADS = 4
    settings.WEBHOOK_TIMEOUT_SECONDS = 4
    sender_shutdown()
    yield
    sender_shutdown()


def test_deliveries_to_an_endpoint_that_answers_do_not_wait_for_hanging_endpoints_backlogs(
    small_sender, make_receiver, deliveries_to
):
    """Three hanging endpoints with six deliveries each: more than both lanes' eight slots."""
    hanging = [make_receiver(Answer(delay=8)) for _ in range(3)]
    healthy = make_receiver()
    deliveries_to(*hanging, healthy, bookings=6)

    started = time.monotonic()
    deliveries_work_off()  # until every attempt it made is answered or timed out

    arrivals = [request.at - started for request in healthy.wait_for(6)]
    assert len(arrivals) == 6
    assert max(arrivals) < 4 - 1, arrivals  # well before the hanging attempts' 4 s deadline
    assert DeliveryAttempt.objects.filter(error="timeout").count() > 4  # more than the fast lane holds
