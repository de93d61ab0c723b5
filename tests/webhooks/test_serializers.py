"""A webhook as the API writes it: the hand-written answer is the one its declared fields give."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers

from webhooks.models import WebhookEndpoint
from webhooks.serializers import WebhookEndpointCreatedSerializer, WebhookEndpointSerializer
from webhooks.services import webhook_endpoint_create


def field_by_field(serializer_class, endpoint) -> dict:
    """What DRF writes from the serializer's declared and model fields, walking them one by one."""
    return serializers.ModelSerializer.to_representation(serializer_class(), endpoint)


@pytest.fixture
def endpoints(make_business, make_hub):
    business = make_business("Acme Wash")
    hub = make_hub("North Hub")
    narrowed_to = make_business("Hub Member", hub=hub.hub)
    made = [
        webhook_endpoint_create(owner=business.api_key, url="https://a.example.com/h", events=["*"]),
        webhook_endpoint_create(owner=hub.api_key, url="https://b.example.com/h", events=["booking.created"]),
        webhook_endpoint_create(
            owner=hub.api_key, url="https://c.example.com/h", events=["booking.cancelled"],
            description="Narrowed", business=narrowed_to.business,
        ),
    ]
    # Timestamps with and without microseconds, and one stored from another offset.
    WebhookEndpoint.objects.filter(pk=made[0].pk).update(
        created_at=datetime(2026, 3, 24, 14, 30, tzinfo=UTC),
        is_active=False,
        disabled_reason=WebhookEndpoint.DisabledReason.GONE,
    )
    WebhookEndpoint.objects.filter(pk=made[1].pk).update(
        created_at=datetime(2026, 3, 24, 16, 30, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    )
    return list(WebhookEndpoint.objects.filter(pk__in=[e.pk for e in made]))


@pytest.mark.parametrize("serializer_class", [WebhookEndpointSerializer, WebhookEndpointCreatedSerializer])
def test_the_written_answer_is_the_field_by_field_one(endpoints, serializer_class):
    assert len(endpoints) == 3
    for endpoint in endpoints:
        written = serializer_class(endpoint).data
        assert written == field_by_field(serializer_class, endpoint)
        assert list(written) == list(serializer_class.Meta.fields)  # the same keys, in the same order


def test_timestamps_are_utc_with_a_z(endpoints):
    written = {e.url: WebhookEndpointSerializer(e).data["created_at"] for e in endpoints}
    assert written["https://a.example.com/h"] == "2026-03-24T14:30:00Z"
    assert written["https://b.example.com/h"] == "2026-03-24T14:30:00.000005Z"
