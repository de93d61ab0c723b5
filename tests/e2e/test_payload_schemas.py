"""Every body the service actually sends matches its published JSON Schema.

A real worker delivers every kind of event (the whole booking lifecycle through the
API, and a test event of each type) to a real receiver subscribed to "*". Each body it
got is validated against webhooks.event_types.event_schema(type) and against the schema
GET /api/v1/event-types publishes (the two must be the same), with formats checked; and
each delivery is verified with the official Standard Webhooks library, as an
integrator's receiver would.
"""

import re
from collections import Counter
from datetime import datetime

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.e2e.api import create_booking
from webhooks.event_types import EVENT_TYPES, event_schema

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def format_checker() -> FormatChecker:
    """Every format jsonschema can check here; date-time too, even without rfc3339-validator."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:

        @checker.checks("date-time", raises=ValueError)
        def is_rfc3339(value) -> bool:
            if not isinstance(value, str):
                return True  # formats apply to strings only
            if not RFC3339.match(value):
                return False
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # ValueError: an impossible date or time
            return True

    for name in ("date-time", "uuid", "email"):
        assert name in checker.checkers, f"the format checker cannot check {name!r}"
    return checker


def validator(schema: dict) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=format_checker())


def errors(schema: dict, body: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator(schema).iter_errors(body)
    ]


def published_schemas(tenant) -> dict[str, dict]:
    response = tenant.client.get("/api/v1/event-types")
    assert response.status_code == 200, response.content
    return {entry["name"]: entry for entry in response.json()["results"]}


def test_the_format_checks_bite():
    """So that a valid verdict below means something: a wrong uuid, time, email or id is caught."""
    schema = event_schema("booking.created")
    good = {
        "id": "evt_4f1d2c3b5a6978e0d1c2b3a495867f70",
        "event": "booking.created",
        "timestamp": "2026-03-24T14:30:00+00:00",
        "data": {
            "id": "0b6f3c1e-5d4a-4e0f-9a51-2f1c8e7d9b30",
            "status": "confirmed",
            "service": {"id": "6d1f0a52-8c3e-4b7a-a0d2-95e4c1b7f823", "name": "Express Wash"},
            "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
            "starts_at": "2026-03-25T14:00:00+00:00",
            "ends_at": "2026-03-25T14:30:00+00:00",
            "location": {"id": "c3a9e8b1-7f24-4d6e-b5a0-1e8d2f4c6a97", "name": "Main Shop"},
        },
    }
    assert errors(schema, good) == []
    bad_uuid = {**good, "data": {**good["data"], "id": "not-a-uuid"}}
    bad_time = {**good, "data": {**good["data"], "starts_at": "2026-13-45T99:00:00+00:00"}}
    bad_email = {**good, "data": {**good["data"], "client": {**good["data"]["client"], "email": "jane"}}}
    extra_field = {**good, "data": {**good["data"], "price": 10}}
    for body in (
        bad_uuid, bad_time, bad_email, extra_field, {**good, "id": "4f1d"}, {**good, "event": "booking.updated"}
    ):
        assert errors(schema, body), body


def test_every_body_actually_sent_matches_its_schema(celery_worker, tenant, make_receiver):
    receiver = make_receiver()
    response = tenant.client.post("/api/v1/webhooks", {"url": receiver.url, "events": ["*"]}, format="json")
    assert response.status_code == 201, response.content
    webhook = response.json()
    receiver.secret = webhook["secret"]

    # The whole lifecycle, through the API.
    first = create_booking(tenant, "2026-12-01T14:00:00+00:00", "2026-12-01T14:30:00+00:00")
    rescheduled = tenant.client.patch(
        f"/api/v1/bookings/{first['id']}",
        {"starts_at": "2026-12-02T10:00:00+00:00", "ends_at": "2026-12-02T10:30:00+00:00"},
        format="json",
    )
    assert rescheduled.status_code == 200, rescheduled.content
    assert tenant.client.post(f"/api/v1/bookings/{first['id']}/cancel").status_code == 200
    second = create_booking(tenant, "2026-12-03T09:00:00+00:00", "2026-12-03T09:30:00+00:00")
    assert tenant.client.post(f"/api/v1/bookings/{second['id']}/complete").status_code == 200
    # And a test event of every type.
    for event_type in EVENT_TYPES:
        sent = tenant.client.post(f"/api/v1/webhooks/{webhook['id']}/test", {"event": event_type}, format="json")
        assert sent.status_code == 202, sent.content

    expected = 5 + len(EVENT_TYPES)
    received = receiver.wait_for(expected, timeout=20)
    assert len(received) == expected, [r.json for r in received]
    assert len(receiver.wait_for(expected + 1, timeout=1.0)) == expected  # and nothing more
    bodies = [r.json for r in received]
    assert Counter((b["event"], b.get("test", False)) for b in bodies) == Counter(
        [
            ("booking.created", False),
            ("booking.created", False),
            ("booking.updated", False),
            ("booking.cancelled", False),
            ("booking.completed", False),
            *((event_type, True) for event_type in EVENT_TYPES),
        ]
    )
    assert len({b["id"] for b in bodies}) == expected

    published = published_schemas(tenant)
    assert set(published) == set(EVENT_TYPES)
    for name, entry in published.items():
        assert entry["schema"] == event_schema(name), f"GET /api/v1/event-types publishes another schema for {name}"
        assert errors(entry["schema"], entry["example"]) == [], f"the published example of {name} is invalid"

    problems = {}
    for request in received:
        body = request.json
        assert body["event"] in EVENT_TYPES, body
        found = errors(event_schema(body["event"]), body) + errors(published[body["event"]]["schema"], body)
        if found:
            problems[f"{body['event']} {body['id']}"] = found
    assert problems == {}, problems

    # Every delivery verifies with the official Standard Webhooks library and its X-Calendence signature.
    webhook_verifier = Webhook(webhook["secret"])
    for request in received:
        assert request.signature_valid is True, request.headers
        assert request.headers["webhook-id"] == request.json["id"]
        try:
            verified = webhook_verifier.verify(request.body, request.headers)
        except WebhookVerificationError as error:
            pytest.fail(f"standardwebhooks rejected {request.json['id']}: {error}; headers {request.headers}")
        assert verified == request.json

    # A body altered in transit, or signed with another secret, does not verify.
    sample = received[0]
    with pytest.raises(WebhookVerificationError):
        webhook_verifier.verify(sample.body.replace(b'"Jane"', b'"Eve"'), sample.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(sample.body, sample.headers)
