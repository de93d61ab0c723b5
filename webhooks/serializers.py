from datetime import UTC

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.models import Business

from .event_types import ALL_EVENTS, EVENT_TYPES
from .models import WebhookEndpoint
from .services import DEFAULT_ROTATION_GRACE_SECONDS, MAX_ROTATION_GRACE_SECONDS
from .url_policy import MAX_URL_LENGTH, clean_endpoint_url

EVENT_CHOICES = [*EVENT_TYPES, ALL_EVENTS]
MAX_SUBSCRIBED_EVENTS = 20


class WebhookEndpointSerializer(serializers.ModelSerializer):
    business_id = serializers.UUIDField(read_only=True, allow_null=True)
    hub_id = serializers.UUIDField(read_only=True, allow_null=True)
    events = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "disabled_reason",
            "business_id",
            "hub_id",
            "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, endpoint):
        # Written out, as the fields above would write it: DRF building each field and
        # walking it per row was a third of the CPU of a list page. The fields stay for
        # the OpenAPI schema, and a test holds the two to the same answer.
        return {
            "id": str(endpoint.id),
            "url": endpoint.url,
            "events": endpoint.events,
            "description": endpoint.description,
            "is_active": endpoint.is_active,
            "disabled_reason": endpoint.disabled_reason,
            "business_id": _uuid_or_none(endpoint.business_id),
            "hub_id": _uuid_or_none(endpoint.hub_id),
            "created_at": _iso_8601(endpoint.created_at),
        }


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The one answer that shows the signing secret: the answer to registration."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def to_representation(self, endpoint):
        return {**super().to_representation(endpoint), "secret": endpoint.secret}


def _uuid_or_none(value) -> str | None:
    return None if value is None else str(value)


def _iso_8601(moment) -> str:
    """As DRF's DateTimeField writes it (settings: UTC, USE_TZ): 2026-03-24T14:30:00.123456Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": EVENT_CHOICES},
        "minItems": 1,
        "maxItems": MAX_SUBSCRIBED_EVENTS,
        "uniqueItems": True,
        "description": 'Event types to receive; "*" means every type, present and future.',
    }
)
class EventListField(serializers.ListField):
    child = serializers.ChoiceField(choices=EVENT_CHOICES)

    def __init__(self, **kwargs):
        super().__init__(allow_empty=False, min_length=1, max_length=MAX_SUBSCRIBED_EVENTS, **kwargs)

    def to_internal_value(self, data):
        events = super().to_internal_value(data)
        if len(set(events)) != len(events):
            raise serializers.ValidationError("Each event type may appear only once.")
        return events


class EndpointUrlField(serializers.CharField):
    """A webhook URL, checked by webhooks.url_policy and returned as it is stored (host in ASCII)."""

    def __init__(self, **kwargs):
        # Surrounding spaces are trimmed; surrounding tabs or newlines are refused like inner ones.
        super().__init__(max_length=MAX_URL_LENGTH, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip(" ")
        url = super().to_internal_value(data)
        try:
            return clean_endpoint_url(url)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code="invalid_url") from exc


class WebhookEndpointCreateSerializer(serializers.ModelSerializer):
    """Input of registration."""

    url = EndpointUrlField(help_text="Absolute http(s) URL; an internationalized host is stored in punycode.")
    events = EventListField()
    business_id = serializers.UUIDField(
        required=False, allow_null=True, default=None,
        help_text="Hub keys only: send only this business's events.",
    )

    def validate_business_id(self, business_id):
        if business_id is None:
            return None
        api_key = self.context["request"].auth
        if api_key.hub_id is None:
            raise serializers.ValidationError("Only hub keys may choose a business.")
        business = Business.objects.filter(pk=business_id, hub_id=api_key.hub_id).first()
        if business is None:
            raise serializers.ValidationError("No business with this id belongs to your hub.")
        return business

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "business_id"]


class WebhookEndpointUpdateSerializer(serializers.ModelSerializer):
    """PATCH: any of url, events, description, is_active."""

    url = EndpointUrlField(required=False)
    events = EventListField(required=False)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "is_active"]
        extra_kwargs = {field: {"required": False} for field in fields}


class RotateSecretSerializer(serializers.Serializer):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_ROTATION_GRACE_SECONDS,
        default=DEFAULT_ROTATION_GRACE_SECONDS,
        help_text="How long the previous secret keeps signing too (0 ends it now).",
    )


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret (whsec_…). Shown only here.")


class EventTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    schema = serializers.JSONField(help_text="JSON Schema of the delivered body.")
    example = serializers.JSONField()
