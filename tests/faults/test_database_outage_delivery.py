"""Database unreachable mid-delivery: answers already received are logged once it is back,
nothing is sent twice, and the worker carries on by itself within seconds.

The worker reaches pytest-django's PostgreSQL test database through a TCP proxy the test
owns; cutting it is what a PostgreSQL restart or a network partition looks like to the
worker (its connection closed under it, new ones failing), while the test's own
connection, and every other test's database, are left alone.
"""

import time

import pytest
from django.db import connection

from deliveries.models import Delivery, DeliveryAttempt
from tests.faults.test_faults import (
    Api,
    assert_nothing_more_arrives,
    assert_the_log_tells_the_truth,
    outcomes,
    wait_until_settled,
)
from tests.support.receiver import Answer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 3.0
ANSWER_DELAY = 0.6


@pytest.fixture
def database_proxy(tcp_proxy):
    database = connection.settings_dict
    return tcp_proxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432))


def test_answers_received_while_postgresql_is_cut_are_logged_once_it_is_back_and_never_sent_again(
    faults, tenant, make_scripted_receiver, database_proxy
):
    # A claim outlasts the outage: nobody may take the deliveries over while it stands.
    faults.configure(WEBHOOK_CLAIM_MARGIN_SECONDS=20.0)
    faults.route_database_through(database_proxy)
    worker = faults.start_worker()
    receiver = make_scripted_receiver(lambda attempt: Answer(200, delay=ANSWER_DELAY))
    api = Api(tenant)
    webhook = api.register(receiver)
    for _ in range(20):
        api.book()

    receiver.wait_for(1, timeout=10)  # attempts in flight, each answered ANSWER_DELAY after it arrives
    database_proxy.cut()
    succeeded = Delivery.objects.filter(endpoint_id=webhook["id"], status="succeeded")
    # The first attempt (the endpoint's only slot at first) may be answered and logged already.
    logged_before_the_cut = succeeded.count()
    in_flight = DeliveryAttempt.objects.filter(finished_at__isnull=True).count()
    assert in_flight >= 1
    time.sleep(OUTAGE_SECONDS)  # the answers come back meanwhile, and cannot be logged
    assert succeeded.count() == logged_before_the_cut
    database_proxy.restore()
    restored = time.monotonic()

    wait_until(
        lambda: succeeded.count() >= logged_before_the_cut + in_flight,
        10, "the answers received during the outage to be logged",
    )
    assert time.monotonic() - restored < 4, "the worker did not resume within seconds of PostgreSQL's return"
    wait_until_settled(webhook, 20, timeout=40)
    assert_nothing_more_arrives(receiver)
    log = assert_the_log_tells_the_truth(api, webhook, receiver, events=20)
    assert all(outcomes(delivery) == [(1, 200, None)] for delivery in log.values())  # none sent twice
    assert "The database cannot be reached" in worker.log()
