"""Whatever a receiver answers, its attempt is logged, and nobody else's delivery suffers."""

import dataclasses

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from deliveries.attempts import attempts_begin, attempts_finish
from deliveries.engine import DeliveryEngine
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import Sender
from deliveries.storable import RESPONSE_HEADERS_LIMIT, storable_bytes, storable_headers, storable_text
from tests.support.raw_receiver import RawReceiver
from webhooks.models import WebhookEndpoint

NUL_ANSWER = b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 4\r\n\r\nok\x00\x00"


@pytest.fixture
def quick_engine(db):
    """No lingering after the batch: Hypothesis runs many examples."""
    engine = DeliveryEngine(send_threads=8, linger_seconds=0, wakeup=lambda: None)
    yield engine
    engine.shut_down()


@pytest.fixture
def raw_receiver():
    receiver = RawReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def hostile_and_healthy(tenant, other_tenant, make_endpoint, make_receiver, raw_receiver):
    """Two businesses: one whose receiver answers raw bytes, one with a well-behaved receiver."""
    healthy = make_receiver()
    return (make_endpoint(tenant, raw_receiver), raw_receiver), (make_endpoint(other_tenant, healthy), healthy)


def book_both(tenant, other_tenant, make_booking, django_capture_on_commit_callbacks, email: str) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # the engine is driven directly
        make_booking(tenant, email=email)
        make_booking(other_tenant, email=email)


def stored_text(attempt: DeliveryAttempt) -> list[str]:
    headers = [text for pair in attempt.response_headers.items() for text in pair]
    return [attempt.response_body, attempt.error_detail, *headers]


# --- Making text storable ----------------------------------------------------------------------

def test_storable_text_replaces_nul_and_lone_surrogates_and_keeps_the_rest():
    assert storable_text("ok") == "ok"
    assert storable_text("ok\x00\x00") == "ok\ufffd\ufffd"
    assert storable_text("caf\u00e9 \ud800!") == "caf\u00e9 ?!"
    assert storable_bytes(b"\xff\xfeok\x00") == "\ufffd\ufffdok\ufffd"


def test_storable_headers_keeps_the_first_ones_in_order_up_to_4_kib_of_utf8():
    assert storable_headers([("X\x00", "v\x00")]) == {"X\ufffd": "v\ufffd"}
    many = [(f"X-{number}", "\u00e9" * 100) for number in range(100)]  # 2 bytes a character in UTF-8
    kept = storable_headers(many)
    stored = sum(len(name.encode()) + len(value.encode()) for name, value in kept.items())
    assert RESPONSE_HEADERS_LIMIT - 205 < stored <= RESPONSE_HEADERS_LIMIT
    assert list(kept) == [name for name, _value in many[: len(kept)]]


# --- Through the engine ------------------------------------------------------------------------------

def test_an_answer_with_nul_bytes_succeeds_and_the_other_business_is_untouched(
    tenant, other_tenant, make_booking, hostile_and_healthy, django_capture_on_commit_callbacks, delivery_engine
):
    (hostile, raw), (healthy, receiver) = hostile_and_healthy
    raw.answer = NUL_ANSWER
    for number in range(3):
        book_both(tenant, other_tenant, make_booking, django_capture_on_commit_callbacks, f"c{number}@example.com")

    assert delivery_engine.work_off() == 6

    assert len(receiver.wait_for(4, timeout=0.5)) == 3 and all(r.signature_valid for r in receiver.requests)
    assert set(Delivery.objects.values_list("status", "attempt_count")) == {("succeeded", 1)}
    for attempt in DeliveryAttempt.objects.filter(delivery__endpoint=hostile):
        assert (attempt.status_code, attempt.response_body) == (200, "ok\ufffd\ufffd")
        assert attempt.response_headers["X-Nul"] == "a\ufffdb"


ANSWERS = st.one_of(
    st.binary(max_size=600),  # anything at all, malformed HTTP included
    st.builds(
        lambda status, reason, header, body: b"HTTP/1.1 %d %s\r\n%s\r\nContent-Length: %d\r\n\r\n%s"
        % (status, reason, header, len(body), body),
        st.integers(100, 599),
        st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b),
        st.binary(max_size=200).filter(lambda b: b"\r\n\r\n" not in b),
        st.binary(max_size=5000),
    ),
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=ANSWERS)
@example(answer=b"HTTP/1.1 429 Slow down\r\nRetry-After: \xb2\r\nContent-Length: 0\r\n\r\n")  # "2", superscript
@example(answer=b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"\xe9" * 6000 + b"\r\nContent-Length: 2\r\n\r\nok")
@example(answer=b"HTTP/1.1 200 \x00\xff\r\nContent-Length: 4\r\n\r\n\x00\x00\xc3(")
def test_any_answer_is_logged_and_the_other_deliveries_of_its_batch_are_untouched(
    answer, tenant, other_tenant, make_booking, hostile_and_healthy, django_capture_on_commit_callbacks, quick_engine
):
    (hostile, raw), (healthy, receiver) = hostile_and_healthy
    raw.answer = answer
    # An earlier example may have answered 410 Gone, which disables the endpoint: start afresh.
    WebhookEndpoint.objects.filter(pk=hostile.pk).update(is_active=True, disabled_reason=None)
    arrived = len(receiver.requests)
    book_both(tenant, other_tenant, make_booking, django_capture_on_commit_callbacks, "jane@example.com")
    batch = list(Delivery.objects.filter(attempt_count=0))

    assert quick_engine.work_off() == 2

    assert len(receiver.wait_for(arrived + 1)) == arrived + 1  # the healthy one arrived, once
    settled = {delivery.endpoint_id: delivery for delivery in Delivery.objects.filter(pk__in=[d.pk for d in batch])}
    assert (settled[healthy.id].status, settled[healthy.id].attempt_count) == ("succeeded", 1)
    [attempt] = DeliveryAttempt.objects.filter(delivery=settled[hostile.id])
    assert attempt.finished_at is not None and attempt.number == 1
    assert attempt.error != "internal_error", attempt.error_detail  # every answer is one the sender foresaw
    assert (attempt.status_code is None) == (attempt.error is not None and attempt.error != "redirect_not_followed")
    assert not any("\x00" in text for text in stored_text(attempt))
    assert sum(len(name.encode()) + len(value.encode()) for name, value in attempt.response_headers.items()) <= 4096


# --- The log itself ----------------------------------------------------------------------------------------

@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL refuses NUL in text")
def test_a_row_the_database_refuses_costs_only_its_own_receivers_text(
    tenant, other_tenant, make_booking, hostile_and_healthy, django_capture_on_commit_callbacks
):
    """The transport never returns such a row; if one got through, the others still log."""
    (hostile, _raw), (healthy, _receiver) = hostile_and_healthy
    book_both(tenant, other_tenant, make_booking, django_capture_on_commit_callbacks, "jane@example.com")
    sender = Sender(threads=4)
    sendings, _refused = attempts_begin(sender=sender, limit=10)
    answers = sender.send(sendings)
    sender.shutdown()
    poisoned = [
        (sending, dataclasses.replace(result, response_body="ok\x00") if sending.endpoint_id == hostile.id else result)
        for sending, result in answers
    ]

    outcomes = attempts_finish(poisoned)

    assert sorted(outcome.status for outcome in outcomes) == ["succeeded", "succeeded"]
    bodies = dict(DeliveryAttempt.objects.values_list("delivery__endpoint_id", "response_body"))
    assert bodies == {hostile.id: "", healthy.id: '{"ok": true}'}
