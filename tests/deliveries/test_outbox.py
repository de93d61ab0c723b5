"""The outbox's hand-written statements answer as the ORM's definitions do (deliveries.outbox)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deliveries import outbox
from deliveries.concurrency import ClaimScope
from deliveries.models import Delivery


@pytest.fixture
def deliveries_in_every_state(make_receiver, deliveries_to):
    """Two endpoints with six deliveries each: due, due later, claimed, claim run out, succeeded, failed."""
    now = timezone.now()
    by_endpoint = deliveries_to(make_receiver(), make_receiver(), bookings=6)
    states = [
        {"next_attempt_at": now - timedelta(seconds=5)},
        {"next_attempt_at": now + timedelta(minutes=5)},
        {"next_attempt_at": now - timedelta(seconds=9), "claimed_until": now + timedelta(seconds=30)},
        {"next_attempt_at": now - timedelta(seconds=7), "claimed_until": now - timedelta(seconds=1)},
        {"status": "succeeded", "next_attempt_at": None},
        {"status": "failed", "next_attempt_at": None},
    ]
    for offset, deliveries in enumerate(by_endpoint.values()):
        for delivery, state in zip(deliveries, states, strict=True):
            if state["next_attempt_at"]:  # one endpoint's a moment later: no two due at the same instant
                state = {**state, "next_attempt_at": state["next_attempt_at"] + timedelta(milliseconds=offset)}
            Delivery.objects.filter(pk=delivery.pk).update(**state)
    return list(by_endpoint), now


def claimable_ids(now, scope: ClaimScope) -> list[str]:
    """What "due" means (DeliveryQuerySet.claimable), the longest due first."""
    due = Delivery.objects.claimable(now, skip_endpoints=scope.skip_endpoints, only_endpoints=scope.only_endpoints)
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_the_claim_takes_exactly_what_is_claimable_in_its_scope(deliveries_in_every_state):
    (first, second), now = deliveries_in_every_state
    scopes = [
        ClaimScope(10, []), ClaimScope(10, [first]), ClaimScope(10, [], [second]), ClaimScope(10, [first, second]),
    ]
    for scope in scopes:
        expected = claimable_ids(now, scope)
        with transaction.atomic():
            locked = [delivery.pk for delivery in outbox.lock_due(now, scope, limit=10)]
        assert locked == expected
        assert outbox.due_exists(now, scope) is bool(expected)
    assert len(claimable_ids(now, scopes[0])) == 4  # due and claim run out, at each endpoint


@pytest.mark.django_db(transaction=True)
def test_the_claim_honours_its_limit_and_ids(deliveries_in_every_state):
    _endpoints, now = deliveries_in_every_state
    everything = ClaimScope(10, [])
    oldest, *others = claimable_ids(now, everything)
    with transaction.atomic():
        assert [delivery.pk for delivery in outbox.lock_due(now, everything, limit=1)] == [oldest]
    with transaction.atomic():
        named = outbox.lock_due(now, everything, limit=10, delivery_ids=[others[-1], "dlv_unknown"])
        assert [delivery.pk for delivery in named] == [others[-1]]


@pytest.mark.django_db(transaction=True)
def test_the_claim_loads_no_more_of_an_endpoints_deliveries_than_its_room(deliveries_in_every_state):
    (first, second), now = deliveries_in_every_state
    due = claimable_ids(now, ClaimScope(10, []))  # two at each endpoint
    endpoint_of = dict(Delivery.objects.filter(pk__in=due).values_list("pk", "endpoint_id"))
    scopes_and_counts = [
        (ClaimScope(10, [], endpoint_room={first: 1}, new_endpoint_room=2), {first: 1, second: 2}),
        (ClaimScope(10, [], endpoint_room={first: 2, second: 1}, new_endpoint_room=1), {first: 2, second: 1}),
        (ClaimScope(10, [], new_endpoint_room=1), {first: 1, second: 1}),
    ]
    for scope, counts in scopes_and_counts:
        with transaction.atomic():
            locked = [delivery.pk for delivery in outbox.lock_due(now, scope, limit=10)]
        assert Counter(endpoint_of[pk] for pk in locked) == counts
        # The longest due first, and of each endpoint its longest due.
        assert locked == [pk for pk in due if pk in locked]
        assert all(due.index(pk) < due.index(other) for pk in locked for other in due
                   if other not in locked and endpoint_of[other] == endpoint_of[pk])


@pytest.mark.django_db(transaction=True)
def test_a_claimed_delivery_comes_with_all_an_attempt_reads(make_receiver, deliveries_to):
    receiver = make_receiver()
    deliveries_to(receiver, bookings=3)
    with transaction.atomic():
        deliveries = outbox.lock_due(timezone.now(), ClaimScope(10, []), limit=10)
    with CaptureQueriesContext(connection) as lazy_loads:
        read = [
            (d.event.type, d.event.body, d.event.business_id, d.endpoint.url, d.endpoint.secret,
             d.endpoint.signing_secrets(timezone.now()), d.endpoint.is_active, d.endpoint.is_deleted,
             d.attempt_count, d.series_start, d.claimed_until, d.status)
            for d in deliveries
        ]
    assert lazy_loads.captured_queries == []
    assert len(read) == 3
    assert {secret for _type, _body, _business, _url, secret, *_rest in read} == {receiver.secret}  # decrypted
    assert len({id(d.endpoint) for d in deliveries}) == 1  # one endpoint, made once for the batch


@pytest.mark.django_db(transaction=True)
def test_claims_are_marked_read_back_and_settled(make_receiver, deliveries_to):
    [deliveries] = deliveries_to(make_receiver(), bookings=2).values()
    ids = [delivery.pk for delivery in deliveries]
    now = timezone.now()
    until = now + timedelta(seconds=40)
    with transaction.atomic():
        outbox.mark_claimed(ids, until, now)
        assert outbox.lock_claims(ids) == {(pk, until) for pk in ids}
    assert set(Delivery.objects.values_list("attempt_count", "claimed_until")) == {(1, until)}
    outbox.mark_succeeded(ids[:1], now)
    settled = Delivery.objects.get(pk=ids[0])
    assert (settled.status, settled.claimed_until, settled.next_attempt_at, settled.completed_at) == (
        "succeeded", None, None, now,
    )
    assert Delivery.objects.get(pk=ids[1]).status == "pending"
