"""Web, worker and beat write to one database at once. On the embedded SQLite file that
must not fail with "database is locked" (WAL, IMMEDIATE transactions, a busy timeout)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections

from deliveries.models import Delivery, Event
from tests.conftest import STARTS_AT
from tests.support.engine import delivery_attempt

WRITERS = 8
BOOKINGS_EACH = 15


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_and_attempts_all_commit(tenant, make_booking, make_endpoint, make_receiver, settings):
    make_endpoint(tenant, make_receiver())
    make_booking(tenant)  # the location and service every writer shares
    settings.WEBHOOK_SWEEP_AFTER_SECONDS = 0

    def book_and_deliver(writer: int) -> int:
        try:
            for n in range(BOOKINGS_EACH):
                make_booking(
                    tenant, starts_at=STARTS_AT + timedelta(days=writer, hours=n), email=f"w{writer}@example.com"
                )
                for delivery_id in Delivery.objects.filter(status="pending").values_list("id", flat=True)[:3]:
                    delivery_attempt(delivery_id)  # a worker's writes, interleaved with the API's
            return BOOKINGS_EACH
        finally:
            connections.close_all()

    with ThreadPoolExecutor(WRITERS) as pool:
        written = sum(pool.map(book_and_deliver, range(WRITERS)))

    assert written == WRITERS * BOOKINGS_EACH
    assert Event.objects.count() == 1 + written
    assert Delivery.objects.count() == 1 + written
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
