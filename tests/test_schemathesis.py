"""Schemathesis against the API's own OpenAPI document, in-process, with real keys.

The document is loaded from the running app (GET /api/v1/schema/ through its WSGI
application) and every documented operation is called with generated requests, valid
and invalid ones. Each answer must not be a 5xx, must have a status the document lists
for the operation, the content type it documents, and a body matching the documented
schema (the error shape included).

Requests go through Django's real WSGI handler in this thread, so they see the test's
database transaction: the callers' objects made by the fixtures are there.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bookings.models import Business
from calendence.throttling import ApiKeyRateThrottle
from deliveries.models import Delivery
from deliveries.services import event_send_test
from webhooks import event_types
from webhooks.services import webhook_endpoint_create

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Deterministic for CI (derandomize, no example database); about 15 s for both tests.
# Schemathesis also adds its "coverage" cases (boundary and invalid values) to these.
FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        # The caller's objects are made once per operation, on purpose: state carries over
        # between examples (a DELETE is followed by 404s, a cancel by 409s), all documented.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,  # a loaded 2-core CI machine; the run is bounded by max_examples
    ],
)


@pytest.fixture(autouse=True)
def requests_share_the_test_transaction():
    """Let the WSGI app run inside the test's transaction, as Django's own test client does.

    Django closes "old" connections when a request starts and ends; inside the test's
    transaction (autocommit off) that would close the connection holding the test data.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def no_rate_limit(monkeypatch):
    """Many requests per key in a few seconds: the rate limit is not what is under test here."""
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1000000/min"})


class Caller:
    """A key, and its own objects' ids to put into valid (positive) cases.

    Generated ids are random, so without this every call on /{id} would stop at 404 and
    the 200/202/409 answers (and their schemas) would never be checked. Invalid
    (negative) cases keep their generated values.
    """

    def __init__(self, tenant, *, webhook, delivery, booking=None, member_business=None):
        self.key = tenant.key
        self.path_ids = {
            "/api/v1/bookings/{id}": booking.id if booking else None,
            "/api/v1/webhooks/{id}": webhook.id,
            "/api/v1/webhooks/{webhook_id}": webhook.id,
            "/api/v1/deliveries/{id}": delivery.id,
        }
        business = tenant.business
        self.body_ids = {
            "service_id": business.services.first().id if business else None,
            "location_id": business.locations.first().id if business else None,
            "business_id": member_business.id if member_business else None,
        }

    def fill(self, case) -> None:
        if case.meta is None or case.meta.generation.mode.is_negative:
            return
        for prefix, object_id in self.path_ids.items():
            if object_id is not None and case.operation.path.startswith(prefix):
                case.path_parameters[prefix.rsplit("{", 1)[1].rstrip("}")] = str(object_id)
        if isinstance(case.body, dict):
            for name, object_id in self.body_ids.items():
                if object_id is not None and name in case.body:
                    case.body[name] = str(object_id)


def webhook_with_deliveries(api_key):
    """A webhook of the key's owner, with a pending delivery and a failed one (redeliverable)."""
    webhook = webhook_endpoint_create(
        owner=api_key, url="https://receiver.example.com/hooks", events=list(event_types.EVENT_TYPES)
    )
    event_send_test(endpoint=webhook, event_type="booking.created")
    failed = event_send_test(endpoint=webhook, event_type="booking.cancelled")
    Delivery.objects.filter(pk=failed.pk).update(status=Delivery.Status.FAILED)
    return webhook, failed


@pytest.fixture
def business_caller(make_business, make_booking) -> Caller:
    tenant = make_business("Schema Wash", plan=Business.Plan.GROWTH_PRO)
    booking = make_booking(tenant)
    webhook, delivery = webhook_with_deliveries(tenant.api_key)
    return Caller(tenant, webhook=webhook, delivery=delivery, booking=booking)


@pytest.fixture
def hub_caller(make_hub, make_business) -> Caller:
    tenant = make_hub("Schema Hub")
    member = make_business("Hub Member Wash", plan=Business.Plan.GROWTH_PRO, hub=tenant.hub)
    webhook, delivery = webhook_with_deliveries(tenant.api_key)
    return Caller(tenant, webhook=webhook, delivery=delivery, member_business=member.business)


def call_and_check(case, caller: Caller) -> None:
    caller.fill(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {caller.key}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_every_operation_conforms_to_the_schema_with_a_business_key(case, business_caller):
    call_and_check(case, business_caller)


@schema.parametrize()
@settings(FUZZ, max_examples=5)
def test_every_operation_conforms_to_the_schema_with_a_hub_key(case, hub_caller):
    call_and_check(case, hub_caller)
