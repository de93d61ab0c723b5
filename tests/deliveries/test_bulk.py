"""bulk_insert_rows and bulk_update_rows: each row gets its own values, whatever they are (the engine
writes attempts with them)."""

from datetime import UTC, datetime

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from deliveries.bulk import bulk_insert_rows, bulk_update_rows
from deliveries.models import Delivery, DeliveryAttempt

STARTED = datetime(2030, 1, 1, 9, tzinfo=UTC)


@pytest.fixture
def delivery(tenant, make_booking, make_endpoint, make_receiver, django_capture_on_commit_callbacks) -> Delivery:
    make_endpoint(tenant, make_receiver())
    with django_capture_on_commit_callbacks(execute=False):
        make_booking(tenant)
    return Delivery.objects.get()


def test_every_row_gets_its_own_values_nulls_and_awkward_text_included(delivery):
    attempts = DeliveryAttempt.objects.bulk_create(
        [DeliveryAttempt(delivery=delivery, number=number, started_at=STARTED) for number in (1, 2, 3)]
    )
    finished = datetime(2030, 1, 1, 9, 0, 1, 250000, tzinfo=UTC)
    values = [  # (finished_at, duration_ms, status_code, error, response_body)
        (finished, 1250, 200, None, 'quotes \' " and a backslash \\ and {braces,commas}'),
        (None, None, None, "timeout", ""),
        (finished, 0, 502, None, "ünïcode ✓ and NULL and \n new lines"),
    ]
    for attempt, (finished_at, duration_ms, status_code, error, body) in zip(attempts, values, strict=True):
        attempt.finished_at, attempt.duration_ms, attempt.status_code = finished_at, duration_ms, status_code
        attempt.error, attempt.response_body = error, body

    bulk_update_rows(attempts, ["finished_at", "duration_ms", "status_code", "error", "response_body"])

    stored = DeliveryAttempt.objects.order_by("number").values_list(
        "finished_at", "duration_ms", "status_code", "error", "response_body"
    )
    assert list(stored) == values
    assert list(DeliveryAttempt.objects.order_by("number").values_list("started_at", flat=True)) == [STARTED] * 3


def test_a_column_with_only_nulls_is_written_too(delivery):
    attempts = DeliveryAttempt.objects.bulk_create(
        [DeliveryAttempt(delivery=delivery, number=n, started_at=STARTED, status_code=200) for n in (1, 2)]
    )
    for attempt in attempts:
        attempt.status_code = None

    bulk_update_rows(attempts, ["status_code"])

    assert list(DeliveryAttempt.objects.values_list("status_code", flat=True)) == [None, None]


def test_inserted_rows_get_their_values_and_each_object_its_own_primary_key(delivery):
    awkward = {"X-Quote": 'a " quote, a \\ backslash, {braces,commas}', "X-Unicode": "ünïcode ✓", "X-Empty": ""}
    attempts = [
        DeliveryAttempt(delivery=delivery, number=number, started_at=STARTED.replace(microsecond=number),
                        request_headers={**awkward, "X-Number": str(number)})
        for number in range(1, 251)  # more than a batch, to see the keys follow the objects
    ]

    bulk_insert_rows(attempts)

    stored = {row.pk: row for row in DeliveryAttempt.objects.all()}
    assert len(stored) == 250
    for attempt in attempts:
        row = stored[attempt.pk]
        assert (row.number, row.started_at) == (attempt.number, attempt.started_at)  # microseconds kept
        assert row.request_headers == {**awkward, "X-Number": str(attempt.number)}
        assert (row.response_headers, row.response_body, row.finished_at) == ({}, "", None)  # the defaults
        assert attempt._state.adding is False


def test_an_insert_the_database_refuses_stores_nothing(delivery):
    refused = DeliveryAttempt(delivery=delivery, number=-1, started_at=STARTED)  # number is positive
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert_rows([DeliveryAttempt(delivery=delivery, number=1, started_at=STARTED), refused])
    assert not DeliveryAttempt.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce a column's max_length")
def test_an_over_long_value_is_refused_never_cut_short(delivery):
    too_long = DeliveryAttempt(delivery=delivery, number=1, started_at=STARTED, error="x" * 51)  # max_length 50
    with pytest.raises(DataError), transaction.atomic():
        bulk_insert_rows([too_long])
    assert not DeliveryAttempt.objects.exists()
