"""The statements a worker makes on every pass over the outbox, written once.

Every pass of a worker loop asks whether anything is due, locks a batch of due
deliveries, marks them claimed, and later locks their claims again and settles the
successes. At low rates a batch holds one or two deliveries, and the ORM compiling
these queries anew each time was most of the engine's CPU: 2 to 3 ms to find nothing
due, 6 ms to claim one delivery, on a 2-vCPU VM where a POST costs 1 ms. On PostgreSQL
they are plain SQL instead, the same text each time (lists travel as arrays), prepared
once per connection (calendence.prepared_statements), and the claim loads each delivery
with its event and endpoint in one round trip. Elsewhere (SQLite in development) the
ORM makes them. `tests/deliveries/test_outbox.py` holds the two to the same answers;
`DeliveryQuerySet.claimable` is what "due" means.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import F, Prefetch

from calendence.prepared_statements import prepared_cursor
from webhooks.models import WebhookEndpoint

from .concurrency import ClaimScope
from .models import Delivery, Event

# The columns an attempt reads, and no others: a batch loads up to 200 rows, and the rest
# (mostly timestamps, and the endpoint's subscriptions as JSON) cost more to load than
# the sending itself. The engine's query-count test fails if one is read lazily.
# Each in its model's field order (Model.from_db expects it).
DELIVERY_FIELDS = ("id", "event_id", "endpoint_id", "status", "attempt_count", "series_start", "claimed_until")
EVENT_FIELDS = ("id", "type", "business_id", "body")
ENDPOINT_FIELDS = ("id", "url", "secret", "previous_secret", "previous_secret_expires_at", "is_active", "deleted_at")

# Due (as DeliveryQuerySet.claimable), within the claim scope and, if given, among some ids.
_CLAIMABLE = """
    d.status = 'pending' AND d.next_attempt_at <= %(now)s
    AND (d.claimed_until IS NULL OR d.claimed_until < %(now)s)
    AND NOT (d.endpoint_id = ANY(%(skip)s::uuid[]))
    AND (%(only)s::uuid[] IS NULL OR d.endpoint_id = ANY(%(only)s::uuid[]))
    AND (%(ids)s::text[] IS NULL OR d.id = ANY(%(ids)s::text[]))
"""
_DUE_EXISTS = f"SELECT EXISTS (SELECT 1 FROM deliveries_delivery d WHERE {_CLAIMABLE})"
# The longest due first, skipping rows another worker has locked; of those, no more per
# endpoint than its room (an endpoint not in the room list: new_room, or no limit). Only
# those are loaded: a busy endpoint's claim, made as its slots come free a few at a time,
# would otherwise load a whole batch of bodies to send a few.
_LOCK_DUE = f"""
    WITH due AS (
        SELECT d.id, d.endpoint_id, d.next_attempt_at FROM deliveries_delivery d
        WHERE {_CLAIMABLE}
        ORDER BY d.next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ), placed AS (
        SELECT due.id, row_number() OVER (PARTITION BY due.endpoint_id ORDER BY due.next_attempt_at) AS place,
               coalesce(room.free, %(new_room)s, %(limit)s) AS free
        FROM due
        LEFT JOIN unnest(%(room_endpoints)s::uuid[], %(room_free)s::int[]) AS room(endpoint_id, free)
            ON room.endpoint_id = due.endpoint_id
    )
    SELECT {", ".join(f"d.{name}" for name in DELIVERY_FIELDS)},
           {", ".join(f"e.{name}" for name in EVENT_FIELDS)},
           {", ".join(f"w.{name}" for name in ENDPOINT_FIELDS)}
    FROM placed
    JOIN deliveries_delivery d ON d.id = placed.id
    JOIN deliveries_event e ON e.id = d.event_id
    JOIN webhooks_webhookendpoint w ON w.id = d.endpoint_id
    WHERE placed.place <= placed.free
    ORDER BY d.next_attempt_at
"""
_MARK_CLAIMED = """
    UPDATE deliveries_delivery SET claimed_until = %s, attempt_count = attempt_count + 1, updated_at = %s
    WHERE id = ANY(%s::text[])
"""
_LOCK_CLAIMS = "SELECT id, claimed_until FROM deliveries_delivery WHERE id = ANY(%s::text[]) FOR UPDATE"
_MARK_SUCCEEDED = """
    UPDATE deliveries_delivery
    SET status = 'succeeded', next_attempt_at = NULL, completed_at = %s, claimed_until = NULL, last_error = '',
        updated_at = %s
    WHERE id = ANY(%s::text[])
"""


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def due_exists(now: datetime, scope: ClaimScope) -> bool:
    """Is a delivery due that a claim within `scope` could take?"""
    if not _on_postgresql():
        return _claimable(now, scope).exists()
    with prepared_cursor(connection) as cursor:
        cursor.execute(_DUE_EXISTS, _claimable_params(now, scope, None))
        return cursor.fetchone()[0]


def lock_due(now: datetime, scope: ClaimScope, limit: int, delivery_ids: list[str] | None = None) -> list[Delivery]:
    """Lock up to `limit` due deliveries (among `delivery_ids`, if given), the longest due first,
    and return those within their endpoint's room in `scope`, each with its event and endpoint
    loaded; the caller's transaction holds the locks."""
    if not _on_postgresql():
        return _within_room(_lock_due_with_the_orm(now, scope, limit, delivery_ids), scope)
    room = scope.endpoint_room
    with prepared_cursor(connection) as cursor:
        cursor.execute(_LOCK_DUE, {
            **_claimable_params(now, scope, delivery_ids), "limit": limit, "new_room": scope.new_endpoint_room,
            "room_endpoints": list(room), "room_free": list(room.values()),
        })
        rows = cursor.fetchall()
    return _deliveries_from_rows(rows)


def mark_claimed(delivery_ids: list[str], claimed_until: datetime, now: datetime) -> None:
    """Claim locked deliveries until `claimed_until`, counting the attempt about to be made."""
    if not _on_postgresql():
        Delivery.objects.filter(pk__in=delivery_ids).update(
            claimed_until=claimed_until, attempt_count=F("attempt_count") + 1, updated_at=now
        )
        return
    with prepared_cursor(connection) as cursor:
        cursor.execute(_MARK_CLAIMED, [claimed_until, now, delivery_ids])


def lock_claims(delivery_ids: Iterable[str]) -> set[tuple[str, datetime]]:
    """(delivery, claimed_until) of each delivery, the rows locked until the caller's transaction ends."""
    ids = list(delivery_ids)
    if not _on_postgresql():
        return set(Delivery.objects.filter(pk__in=ids).select_for_update().values_list("pk", "claimed_until"))
    with prepared_cursor(connection) as cursor:
        cursor.execute(_LOCK_CLAIMS, [ids])
        return set(cursor.fetchall())


def mark_succeeded(delivery_ids: list[str], now: datetime) -> None:
    if not delivery_ids:
        return
    if not _on_postgresql():
        Delivery.objects.filter(pk__in=delivery_ids).update(
            status=Delivery.Status.SUCCEEDED, next_attempt_at=None, completed_at=now, claimed_until=None,
            last_error="", updated_at=now,
        )
        return
    with prepared_cursor(connection) as cursor:
        cursor.execute(_MARK_SUCCEEDED, [now, now, delivery_ids])


def _claimable_params(now: datetime, scope: ClaimScope, delivery_ids: list[str] | None) -> dict:
    return {"now": now, "skip": list(scope.skip_endpoints), "only": scope.only_endpoints, "ids": delivery_ids}


def _deliveries_from_rows(rows: list[tuple]) -> list[Delivery]:
    """Models from the joined rows: each endpoint made (and its secrets decrypted) once per batch."""
    event_start = len(DELIVERY_FIELDS)
    endpoint_start = event_start + len(EVENT_FIELDS)
    endpoints: dict = {}
    deliveries = []
    for row in rows:
        delivery = Delivery.from_db(connection.alias, DELIVERY_FIELDS, row[:event_start])
        delivery.event = Event.from_db(connection.alias, EVENT_FIELDS, row[event_start:endpoint_start])
        endpoint_row = row[endpoint_start:]
        if endpoint_row[0] not in endpoints:
            endpoints[endpoint_row[0]] = _endpoint_from_row(endpoint_row)
        delivery.endpoint = endpoints[endpoint_row[0]]
        deliveries.append(delivery)
    return deliveries


def _endpoint_from_row(row: tuple) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.from_db(connection.alias, ENDPOINT_FIELDS, row)
    for name in WebhookEndpoint.SECRET_FIELDS:  # stored encrypted: the ORM would decrypt them on loading
        field = WebhookEndpoint._meta.get_field(name)
        setattr(endpoint, name, field.from_db_value(getattr(endpoint, name), None, connection))
    return endpoint


def _claimable(now: datetime, scope: ClaimScope):
    return Delivery.objects.claimable(now, skip_endpoints=scope.skip_endpoints, only_endpoints=scope.only_endpoints)


def _within_room(deliveries: list[Delivery], scope: ClaimScope) -> list[Delivery]:
    """The deliveries, in their order, but no more per endpoint than its room in `scope`."""
    placed: Counter = Counter()
    kept = []
    for delivery in deliveries:
        room = scope.endpoint_room.get(delivery.endpoint_id, scope.new_endpoint_room)
        placed[delivery.endpoint_id] += 1
        if room is None or placed[delivery.endpoint_id] <= room:
            kept.append(delivery)
    return kept


def _lock_due_with_the_orm(now, scope: ClaimScope, limit: int, delivery_ids: list[str] | None) -> list[Delivery]:
    # Each endpoint loaded once however many of the batch's deliveries go to it.
    event_fields = [f"event__{name}" for name in EVENT_FIELDS]
    due = _claimable(now, scope).select_related("event").only(*DELIVERY_FIELDS, *event_fields)
    due = due.prefetch_related(Prefetch("endpoint", queryset=WebhookEndpoint.objects.only(*ENDPOINT_FIELDS)))
    if delivery_ids is not None:
        due = due.filter(pk__in=delivery_ids)
    return list(due.order_by("next_attempt_at").select_for_update(skip_locked=True, of=("self",))[:limit])
