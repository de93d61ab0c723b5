"""The engine's statements are prepared once per PostgreSQL connection, and fail as Django's do."""

import os
import subprocess
import sys

import pytest
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendence.prepared_statements import prepared_cursor
from deliveries import outbox
from deliveries.bulk import bulk_insert_rows, bulk_update_rows
from deliveries.concurrency import ClaimScope
from deliveries.models import Delivery, DeliveryAttempt

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL prepares statements")


def prepared_here() -> dict[str, int]:
    """The statements prepared on this connection, by their first 32 characters (spaces collapsed):
    how many times each was run with a generic (planned once) plan."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans FROM pg_prepared_statements")
        return {" ".join(statement.split())[:32]: generic for statement, generic in cursor.fetchall()}


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_claim_and_settling_statements_are_prepared_and_planned_once(make_receiver, deliveries_to):
    (deliveries,) = deliveries_to(make_receiver(), bookings=1).values()
    ids = [delivery.pk for delivery in deliveries]
    for number in range(1, 9):  # PostgreSQL plans the first 5 runs for their values, then once for all
        now = timezone.now()
        with transaction.atomic():
            assert outbox.due_exists(now, ClaimScope(10, []))
            (delivery,) = outbox.lock_due(now, ClaimScope(10, []), limit=10)
            assert [delivery.pk] == ids
            outbox.mark_claimed(ids, claimed_until=now, now=now)  # a claim run out at once: due again next time
            attempt = DeliveryAttempt(delivery=delivery, number=number, started_at=now, request_headers={})
            bulk_insert_rows([attempt])
            assert outbox.lock_claims(ids) == {(ids[0], now)}
            attempt.finished_at, attempt.status_code = now, 200
            bulk_update_rows([attempt], ["finished_at", "status_code"])
            outbox.mark_succeeded(["no-such-delivery"], now)
        list(Delivery.objects.filter(pk__in=ids))  # the ORM's own statements, for contrast

    prepared = prepared_here()
    assert set(prepared) == {
        "SELECT EXISTS (SELECT 1 FROM del", "WITH due AS ( SELECT d.id, d.end", "UPDATE deliveries_delivery SET c",
        'INSERT INTO "deliveries_delivery', "SELECT id, claimed_until FROM de", 'UPDATE "deliveries_deliveryattem',
        "UPDATE deliveries_delivery SET s",
    }
    assert DeliveryAttempt.objects.filter(delivery_id=ids[0], status_code=200).count() == 8
    assert all(generic_runs >= 3 for generic_runs in prepared.values()), prepared


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_captured_queries_show_the_statements_text():
    with CaptureQueriesContext(connection) as queries:
        outbox.due_exists(timezone.now(), ClaimScope(10, []))
    assert [query["sql"].split()[:2] for query in queries] == [["SELECT", "EXISTS"]]
    assert not prepared_here()


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_raises_djangos_error():
    with pytest.raises(DatabaseError) as raised, prepared_cursor(connection) as cursor:
        cursor.execute("SELECT no_such_column FROM deliveries_delivery")
    assert type(raised.value).__module__ == "django.db.utils"


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_raises_djangos_operational_error():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    killer = connections.create_connection("default")
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        killer.close()
    with pytest.raises(OperationalError), prepared_cursor(connection) as cursor:
        cursor.execute("SELECT 1")
    connection.close()  # the lost one: the test database's teardown opens a new one


@pytest.mark.parametrize(("value", "threshold"), [("", "5"), ("true", "5"), ("false", "None")])
def test_database_prepared_statements_turns_preparing_on_and_off(value, threshold):
    """The settings module read in a process of its own, with a PostgreSQL URL (never connected to)."""
    read_threshold = "print(settings.DATABASES['default']['OPTIONS'].get('prepare_threshold'))"
    environment = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "calendence.settings", "DATABASE_PREPARED_STATEMENTS": value,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/any",
    }
    answer = subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; {read_threshold}"],
        env=environment, capture_output=True, text=True, check=True,
    )
    assert answer.stdout.strip() == threshold
