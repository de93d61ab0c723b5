from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from webhooks.event_types import BOOKING_CREATED, EVENT_TYPES

from .models import Delivery, DeliveryAttempt


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number", "status_code", "error", "error_detail", "duration_ms", "queued_ms", "started_at", "finished_at",
        ]
        read_only_fields = fields


class DeliveryAttemptDetailSerializer(DeliveryAttemptSerializer):
    request_headers = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="The headers as sent, signatures included."
    )
    response_headers = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="The headers answered (at most 4 KiB in all)."
    )

    class Meta(DeliveryAttemptSerializer.Meta):
        fields = [*DeliveryAttemptSerializer.Meta.fields, "request_headers", "response_headers", "response_body"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.id", read_only=True)
    event = serializers.CharField(source="event.type", read_only=True)
    webhook_id = serializers.UUIDField(source="endpoint_id", read_only=True)
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "event_id", "event", "webhook_id", "status", "attempts",
            "next_attempt_at", "created_at", "completed_at",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    attempts = DeliveryAttemptDetailSerializer(many=True, read_only=True)
    payload = serializers.JSONField(source="event.payload", read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload"]
        read_only_fields = fields


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)
    event = serializers.CharField(required=False, max_length=100)


class TestEventSerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=list(EVENT_TYPES), default=BOOKING_CREATED)


class RecoverSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Redeliver the failed deliveries created since this time.")


# The stats window is at most this long: one bucket an hour.
STATS_MAX_DAYS = 31


class StatsQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Start of the window (default: 24 hours ago).")

    def validate_since(self, since):
        now = timezone.now()
        if since >= now:
            raise serializers.ValidationError("Must be in the past.")
        if since < now - timedelta(days=STATS_MAX_DAYS):
            raise serializers.ValidationError(f"Must be within the last {STATS_MAX_DAYS} days.")
        return since


class HourBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()


class DeliveryCountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()


class WebhookStatsSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    deliveries = DeliveryCountsSerializer(help_text="Deliveries created in the window, by status now.")
    success_rate = serializers.FloatField(
        allow_null=True, help_text="Succeeded among the window's settled deliveries, 0 to 1; null if none settled."
    )
    last_success_at = serializers.DateTimeField(allow_null=True, help_text="The latest success, at any time.")
    last_failure_at = serializers.DateTimeField(allow_null=True, help_text="The latest failed attempt, at any time.")
    last_error = serializers.CharField(allow_null=True, help_text="What went wrong in that attempt.")
    buckets = HourBucketSerializer(many=True, help_text="The window's settled deliveries, by hour of creation.")
